"""Base R4: the resource types a Reference element may point at (the element's
`type.targetProfile`), checked on every literal reference of a resource.

fhir.resources carries the lists (`enum_reference_types` on each Reference field of the
R4B models) but does not check them, so `Task.owner = Endpoint/1` passed it. The rule
trees of the base types get one check per Reference element of the resource and of the
datatypes it holds (`Identifier.assigner`, ...), to `MAX_DEPTH` elements deep; elements
that may point at any type (`Reference(Any)`: Task.focus, Provenance.target) get none.
R4B lists some more target types than R4 for a few elements (Observation.subject); those
are accepted (the check never refuses what R4 allows).

A reference is judged by the type it names: `Type/id`, `[base]/Type/id` and the
conditional `Type?query`. A local `#id`, a `urn:uuid:` / `urn:oid:` placeholder, or a URL
that names no type is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from profiles import lean_structure
from profiles.issues import Issue
from profiles.rules import Context, RuleTree
from profiles.structure import model_class

MAX_DEPTH: Final = 4  # elements below the resource (Patient.contact.organization is 1)
SOURCE: Final = "FHIR R4"
_SKIPPED: Final = frozenset({"extension", "modifierExtension", "contained"})
_TYPE: Final = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[^/]+)?$")


@dataclass(frozen=True, slots=True)
class ReferenceTarget:
    """A Reference element's allowed target types."""

    allowed: frozenset[str]

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        kind = target_type(value.get("reference")) if isinstance(value, dict) else None
        if kind is None or kind in self.allowed:
            return
        ctx.out.append(Issue(
            "error", "invalid", f"{expr}.reference",
            f"{SOURCE}: {expr.split('.', 1)[-1]} may refer to "
            f"{', '.join(sorted(self.allowed))}, not {kind}"))


def target_type(reference: Any) -> str | None:
    """The resource type a literal or conditional reference names; None when it names
    none (a contained `#id`, a `urn:` placeholder, a URL of another kind)."""
    if not isinstance(reference, str) or reference.startswith(("#", "urn:")):
        return None
    if "?" in reference:
        head = reference.split("?", 1)[0]
        return head if re.fullmatch(r"[A-Z][A-Za-z]+", head) else None
    found = _TYPE.search(reference)
    return found[1] if found else None


def reference_elements(cls: Any, path: tuple[str, ...] = (),
                       depth: int = 0) -> Iterator[tuple[tuple[str, ...], frozenset[str]]]:
    """(rule-tree segments, allowed types) of every Reference element under the model
    class `cls` that does not take any type; a choice element as `name[x]:Reference`."""
    for name, field in cls.model_fields.items():
        alias = field.alias or name
        if alias in _SKIPPED or name.endswith("__ext") or name == "fhir_comments":
            continue
        try:
            _, kind, element = lean_structure.classify(field.annotation)
        except NotImplementedError:
            continue
        if kind != "cplx":
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        stem = extra.get("one_of_many")
        segment = f"{stem}[x]:{alias[len(stem):]}" if stem else alias
        if element.__name__ == "Reference":
            types = extra.get("enum_reference_types")
            if isinstance(types, list) and types and "Resource" not in types:
                yield (*path, segment), frozenset(str(t) for t in types)
        elif depth < MAX_DEPTH:
            yield from reference_elements(element, (*path, segment), depth + 1)


def add_to(tree: RuleTree) -> None:
    """The target checks of the tree's resource type, on its rule tree."""
    cls = model_class(tree.resource_type)
    if cls is None:
        return
    for segments, allowed in reference_elements(cls):
        tree.add_check(list(segments), ReferenceTarget(allowed))
