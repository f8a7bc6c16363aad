"""Walking CodeableConcepts in raw (possibly malformed) resource JSON. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["codings"]


def codings(concepts: Any) -> list[Mapping[str, Any]]:
    """The codings of a CodeableConcept or of a list of them; anything malformed is skipped.
    (A list, not a generator: cheaper for the one or two codings of a concept.)"""
    out: list[Mapping[str, Any]] = []
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        found = concept.get("coding") if isinstance(concept, dict) else None
        if isinstance(found, list):
            out += [coding for coding in found if isinstance(coding, dict)]
    return out
