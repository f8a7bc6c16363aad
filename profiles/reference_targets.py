"""Base R4: the resource types a Reference element may point at (the element's
`type.targetProfile`), checked on every literal reference of a resource.

fhir.resources carries the lists (`enum_reference_types` on each Reference field of the
R4B models) but does not check them, so `Task.owner = Endpoint/1` passed it. The rule
trees of the base types get one check per Reference element of the resource and of the
datatypes it holds (`Identifier.assigner`, ...), to `MAX_DEPTH` elements deep; elements
that may point at any type (`Reference(Any)`: Task.focus, Provenance.target) get none.
R4B lists some more target types than R4 for a few elements (Observation.subject); those
are accepted (the check never refuses what R4 allows).

The check is the profiles' own (`checks.ReferenceTarget`): a reference is judged by the
type it names (`checks.reference_type`: `Type/id`, `[base]/Type/id`, `Type?query`, a
contained `#id`, a Bundle entry's fullUrl), else by `Reference.type`; a `urn:` placeholder
that no Bundle entry names, or a URL that names no FHIR resource type, is left alone.
The trees of the types with base R4 rules get it (`profiles/definitions/r4-core/`); a
contained resource of another type gets no base rules at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from profiles import lean_structure
from profiles.checks import ReferenceTarget
from profiles.rules import RuleTree
from profiles.structure import model_class, targets_of

MAX_DEPTH: Final = 4  # elements below the resource (Patient.contact.organization is 1)
SOURCE: Final = "FHIR R4"
_SKIPPED: Final = frozenset({"extension", "modifierExtension", "contained"})


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
            targets = targets_of(field)
            if targets is not None:
                yield (*path, segment), targets
        elif depth < MAX_DEPTH:
            yield from reference_elements(element, (*path, segment), depth + 1)


def add_to(tree: RuleTree) -> None:
    """The target checks of the tree's resource type, on its rule tree."""
    cls = model_class(tree.resource_type)
    if cls is None:
        return
    for segments, allowed in reference_elements(cls):
        tree.add_check(list(segments), ReferenceTarget(allowed, SOURCE))
