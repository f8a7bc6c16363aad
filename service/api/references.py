"""Reference rewriting inside Bundles (pure).

In a transaction, entries refer to each other by `fullUrl` (`urn:uuid:...` or an absolute
URL); the server assigns ids and rewrites every `Reference.reference` that equals such a
`fullUrl`, wherever it sits in a resource (http.html#trules).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from profiles.issues import Issue
from service.errors import BadRequest


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


def iter_references(value: Any) -> list[str]:
    """Every `reference` string found anywhere in `value`, in document order."""
    return _collect_references(value, [])


def _collect_references(value: Any, out: list[str]) -> list[str]:
    """A recursive walk appending to one list: half the cost of nested generators."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            out.append(ref)
        for child in value.values():
            if isinstance(child, dict | list):
                _collect_references(child, out)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict | list):
                _collect_references(child, out)
    return out


def local_ref(reference: str, base_url: str) -> str:
    """`http://base/fhir/Patient/1` -> `Patient/1` when it points at this server: the base
    as configured, or spelled otherwise where URLs do not differ (RFC 3986 section 6.2.2-3:
    scheme and host in any case, the scheme's default port written out)."""
    prefix = base_url.rstrip("/") + "/"
    if reference.startswith(prefix):
        return reference[len(prefix) :]
    if "://" not in reference:
        return reference
    try:
        ref, base = urlsplit(reference), urlsplit(prefix)
        same = (ref.scheme.lower() == base.scheme.lower() and ref.hostname == base.hostname
                and _port(ref) == _port(base) and not ref.username and not ref.password
                and ref.path.startswith(base.path))
    except ValueError:  # a port that is not a number
        return reference
    if not same:
        return reference
    return reference[len(f"{ref.scheme}://{ref.netloc}{base.path}"):]


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def reference_paths(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """`(FHIRPath, reference)` for every `reference` string under `value` at `path`."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield f"{path}.reference", ref
        for key, child in value.items():
            if isinstance(child, dict | list):
                yield from reference_paths(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from reference_paths(child, f"{path}[{i}]")


def is_conditional(reference: str) -> bool:
    """`Patient?identifier=s|v`: a search URI, not a literal reference (http.html#trules)."""
    return "?" in reference


def localise_references(content: dict[str, Any], base_url: str) -> dict[str, Any]:
    """References to this server's own base made relative (`Patient/1`); the same object
    when there are none."""
    return _localised(content, [ref for _, ref in reference_paths(content, "")], base_url)


def literal_references(content: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Outside a transaction: a conditional reference is 400 (nothing resolves it there),
    and references to this server's base become relative; `content` itself when nothing
    changes. The FHIRPaths are built only for the 400 (a second walk): the hot path walks
    once, without them."""
    refs = iter_references(content)
    if not any(is_conditional(ref) for ref in refs):
        return _localised(content, refs, base_url)
    found = list(reference_paths(content, str(content.get("resourceType"))))
    conditional = [
        Issue(
            "error",
            "not-supported",
            path,
            f"conditional reference {ref!r} is resolved "
            "only inside a transaction Bundle (http.html#trules)",
        )
        for path, ref in found
        if is_conditional(ref)
    ]
    raise BadRequest(*conditional)


def _localised(content: dict[str, Any], refs: list[str], base_url: str) -> dict[str, Any]:
    ours = {ref: local for ref in refs
            if "://" in ref and (local := local_ref(ref, base_url)) != ref}
    return rewrite_references(content, ours) if ours else content
