"""Value set expansions held in memory: membership tests for bindings.

An `Expansion` is a set of (system, code) pairs plus systems included whole (ICPC-2,
ICD-10: any code of the system is a member; chiroref does not carry those code lists).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Expansion:
    url: str
    codes: frozenset[tuple[str, str]]
    systems: frozenset[str]
    bare_codes: frozenset[str]  # the codes without their systems, for `code` elements

    @classmethod
    def of(cls, url: str, codes: Iterable[tuple[str, str]],
           systems: Iterable[str] = ()) -> Expansion:
        pairs = frozenset(codes)
        return cls(url, pairs, frozenset(systems), frozenset(c for _s, c in pairs))

    def has(self, system: Any, code: Any) -> bool:
        """False for a system or code that cannot be hashed (a list or object where a
        string belongs: the structural check reports it)."""
        try:
            return system in self.systems or (system, code) in self.codes
        except TypeError:
            return False

    def has_code(self, code: Any) -> bool:
        """Membership of a `code` element, whose system is implied by the binding."""
        return code in self.bare_codes

    def describe(self, limit: int = 12) -> str:
        codes = sorted(self.bare_codes)
        shown = ", ".join(codes[:limit]) + (", ..." if len(codes) > limit else "")
        parts = [f"{{{shown}}}"] if codes else []
        parts += sorted(self.systems)
        return " or ".join(parts)


def concept_codes(concepts: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for concept in concepts:
        yield concept["code"]
        yield from concept_codes(concept.get("concept", []))


def expand(valueset: Mapping[str, Any],
           code_systems: Mapping[str, Mapping[str, Any]]) -> Expansion:
    """Expand a ValueSet whose compose includes concept lists or whole code systems."""
    codes: set[tuple[str, str]] = set()
    systems: set[str] = set()
    for inc in valueset.get("compose", {}).get("include", []):
        system = inc["system"]
        if "concept" in inc:
            codes |= {(system, c["code"]) for c in inc["concept"]}
        elif system in code_systems:
            codes |= {(system, c) for c in concept_codes(code_systems[system]["concept"])}
        else:
            systems.add(system)
    return Expansion.of(valueset["url"], codes, systems)
