"""Compile a StructureDefinition's differential into a rule tree.

What is read, per differential element: min/max, type (choice types narrowed, Reference
targetProfile), fixed[x] and pattern[x], binding (required -> error, extensible ->
warning; preferred/example ignored) and constraint. Slicing is supported for
extensions only (slice by url: the slice's type profile). A constraint whose key is in
`NATIVE_CHECKS` is run by Python (its FHIRPath in the definition says the same, as far
as FHIRPath can).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from profiles.checks import (
    Binding,
    ChoiceTypes,
    CitesReferral,
    FixedValue,
    NationalId,
    ReferenceTarget,
)
from profiles.indications import IndicationCheck
from profiles.invariants import compile_invariant
from profiles.rules import Check, RuleTree
from profiles.terminology import Expansion

NATIONAL_ID_KEY: Final = "chiro-nid-1"
NATIVE_CHECKS: Final[Mapping[str, Callable[[str, str], Check]]] = {
    NATIONAL_ID_KEY: NationalId,
    "chiro-cp-1": IndicationCheck,  # warning, code business-rule (profiles.indications)
    "chiro-cp-2": CitesReferral,
}
CORE_PREFIX: Final = "http://hl7.org/fhir/StructureDefinition/"

ValueSets = Callable[[str], Expansion]
TypeOf = Callable[[str], str]  # profile URL -> resource type


def segments(element_id: str, slices: dict[str, str]) -> list[str]:
    """'ServiceRequest.extension:redFlag.value[x]' -> ['extension@<url>', 'value[x]']."""
    out: list[str] = []
    for part in element_id.split(".")[1:]:
        if ":" in part and not part.endswith("]"):
            name, slice_name = part.split(":", 1)
            if name not in ("extension", "modifierExtension") or slice_name not in slices:
                raise ValueError(f"unsupported slice {element_id}: only extension slices")
            part = f"{name}@{slices[slice_name]}"
        out.append(part)
    return out


def _first_key(el: Mapping[str, Any], prefix: str) -> str | None:
    return next((k for k in el if k.startswith(prefix)), None)


def compile_element(tree: RuleTree, el: Mapping[str, Any], segs: list[str], source: str,
                    valuesets: ValueSets, type_of: TypeOf) -> None:
    if segs and ("min" in el or "max" in el):
        max_ = el.get("max", "*")
        tree.add_cardinality(segs, el.get("min", 0), None if max_ == "*" else int(max_), source)
    types = el.get("type", [])
    if segs and segs[-1].endswith("[x]") and types:
        name = segs[-1][:-3]
        keys = frozenset(name + t["code"][0].upper() + t["code"][1:] for t in types)
        tree.add_check(segs[:-1], ChoiceTypes(name, keys, source))
    targets = [p for t in types if t["code"] == "Reference" for p in t.get("targetProfile", [])]
    if targets:
        tree.add_check(segs, ReferenceTarget(frozenset(type_of(p) for p in targets), source))
    for prefix, exact in (("fixed", True), ("pattern", False)):
        key = _first_key(el, prefix)
        if key:
            tree.add_check(segs, FixedValue(el[key], exact, source))
    binding = el.get("binding", {})
    if binding.get("strength") in ("required", "extensible") and "valueSet" in binding:
        vs = valuesets(binding["valueSet"].split("|")[0])
        tree.add_check(segs, Binding(vs, binding["strength"], source))
    for c in el.get("constraint", []):
        native = NATIVE_CHECKS.get(c["key"])
        check = native(c["key"], source) if native else compile_invariant(
            c["key"], c["severity"], c["human"], c["expression"], None, source)
        tree.add_check(segs, check)


def compile_profile(sd: Mapping[str, Any], valuesets: ValueSets, type_of: TypeOf) -> RuleTree:
    tree = RuleTree(sd["type"])
    slices: dict[str, str] = {}
    for el in sd["differential"]["element"]:
        if "sliceName" in el:
            profile = el["type"][0]["profile"][0]
            slices[el["sliceName"]] = profile
        segs = segments(el["id"], slices)
        compile_element(tree, el, segs, sd["name"], valuesets, type_of)
    return tree


def core_type(url: str) -> str | None:
    return url[len(CORE_PREFIX):] if url.startswith(CORE_PREFIX) else None
