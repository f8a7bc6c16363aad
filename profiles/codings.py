"""Walking CodeableConcepts in raw (possibly malformed) resource JSON. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["codings"]


def codings(concepts: Any) -> Iterator[Mapping[str, Any]]:
    """The codings of a CodeableConcept or of a list of them; anything malformed is skipped."""
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        found = concept.get("coding") if isinstance(concept, dict) else None
        for coding in found if isinstance(found, list) else []:
            if isinstance(coding, dict):
                yield coding
