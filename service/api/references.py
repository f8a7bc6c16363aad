"""Reference rewriting inside Bundles (pure).

In a transaction, entries refer to each other by `fullUrl` (`urn:uuid:...` or an absolute
URL); the server assigns ids and rewrites every `Reference.reference` that equals such a
`fullUrl`, wherever it sits in a resource (http.html#trules).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def rewrite_references(value: Any, mapping: Mapping[str, str]) -> Any:
    """A copy of `value` with each `reference` found in `mapping` replaced by its target."""
    if isinstance(value, dict):
        out = {k: rewrite_references(v, mapping) for k, v in value.items()}
        ref = value.get("reference")
        if isinstance(ref, str) and ref in mapping:
            out["reference"] = mapping[ref]
        return out
    if isinstance(value, list):
        return [rewrite_references(v, mapping) for v in value]
    return value


def iter_references(value: Any) -> Iterator[str]:
    """Every `reference` string found anywhere in `value`."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield ref
        for child in value.values():
            if isinstance(child, dict | list):
                yield from iter_references(child)
    elif isinstance(value, list):
        for child in value:
            yield from iter_references(child)


def local_ref(reference: str, base_url: str) -> str:
    """`http://base/fhir/Patient/1` -> `Patient/1` when it points at this server."""
    prefix = base_url.rstrip("/") + "/"
    return reference[len(prefix) :] if reference.startswith(prefix) else reference
