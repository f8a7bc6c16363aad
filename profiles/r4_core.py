"""Base FHIR R4 rules (from the generated definitions/r4-core/r4-core.json) as rule trees.

The file is produced at build time by profiles/tools/extract_r4_core.py from the
official R4 4.0.1 definitions; see definitions/r4-core/README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from profiles.checks import Binding
from profiles.invariants import compile_invariant
from profiles.rules import RuleTree
from profiles.terminology import Expansion

SOURCE: Final = "FHIR R4"


def _segments(path: str) -> list[str]:
    return path.split(".")[1:]


def _max(text: str) -> int | None:
    return None if text == "*" else int(text)


def build_tree(resource_type: str, rules: Mapping[str, Any],
               valuesets: Mapping[str, Expansion]) -> RuleTree:
    tree = RuleTree(resource_type)
    for card in rules["cardinality"]:
        tree.add_cardinality(_segments(card["path"]), card["min"], _max(card["max"]), SOURCE)
    for b in rules["bindings"]:
        tree.add_check(_segments(b["path"]), Binding(valuesets[b["valueSet"]], "required", SOURCE))
    for inv in rules["invariants"]:
        check = compile_invariant(inv["key"], inv["severity"], inv["human"], inv["expression"],
                                  inv["when"], SOURCE, native=inv["native"],
                                  names=inv["names"])
        tree.add_check(_segments(inv["path"]), check)
    return tree


def build_all(data: Mapping[str, Any]) -> dict[str, RuleTree]:
    """Rule trees of every resource type the generated file covers."""
    valuesets = {url: Expansion.of(url, [(s, c) for s, c in codes])
                 for url, codes in data["valueSets"].items()}
    return {t: build_tree(t, rules, valuesets) for t, rules in data["types"].items()}


def skipped(data: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """What the base rules leave out, per type, with the reason (for docs and tests)."""
    return {t: rules["skipped"] for t, rules in data["types"].items()}
