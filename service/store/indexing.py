"""Search-value extraction: pure functions of the resource JSON (no FHIRPath at write time).

Each extractor turns a resource into `IndexValue`s, one per row of `search_index`. The
walkers here know the shapes of FHIR datatypes (Coding, CodeableConcept, Identifier,
Reference, Period, HumanName, Address) and nothing about particular resources; the
registry in search_params.py says which paths to walk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from service.store.dates import MAX_TIME, MIN_TIME, InvalidDate, date_range


class IndexValue(NamedTuple):
    param: str
    system: str | None = None
    value: str | None = None
    norm: str | None = None
    low: datetime | None = None
    high: datetime | None = None


Extractor = Callable[[str, dict[str, Any]], Iterator[IndexValue]]

_REF_RE = re.compile(r"(?:(?P<base>.+)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})")


def walk(node: Any, path: Sequence[str]) -> Iterator[Any]:
    """Every value at `path` under `node`, lists flattened at each step."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item, path)
        return
    if not path:
        if node is not None:
            yield node
        return
    if isinstance(node, dict):
        yield from walk(node.get(path[0]), path[1:])


def normalise(text: str) -> str:
    """Case- and accent-insensitive form for string search (FHIR: "basic" matching)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def split_reference(ref: str) -> tuple[str, str, str | None] | None:
    """(type, "Type/id", id) for a literal reference; None for contained or unparseable.

    References lose any `/_history/n`. Absolute URLs keep their full text as the value and
    no bare id (the API stores our own references relative), so they only match exactly.
    """
    if ref.startswith("#") or ref.startswith("urn:"):
        return None
    ref = ref.split("/_history/", 1)[0]
    match = _REF_RE.fullmatch(ref)
    if match is None:
        return None
    rtype, rid = match["type"], match["id"]
    if match["base"]:
        return rtype, ref, None
    return rtype, f"{rtype}/{rid}", rid


def tokens(param: str, node: Any) -> Iterator[IndexValue]:
    """Tokens of a code, boolean, Coding, CodeableConcept or Identifier."""
    if isinstance(node, bool):
        yield IndexValue(param, None, "true" if node else "false")
    elif isinstance(node, str):
        yield IndexValue(param, None, node)
    elif isinstance(node, dict):
        if "coding" in node:
            for coding in node["coding"]:
                yield from tokens(param, coding)
        elif "code" in node or "value" in node:
            code = node.get("code", node.get("value"))
            if isinstance(code, str):
                yield IndexValue(param, node.get("system"), code)


def references(param: str, node: Any, types: frozenset[str] = frozenset()) -> Iterator[IndexValue]:
    """A Reference's literal target, and its identifier under `<param>:identifier`."""
    if not isinstance(node, dict):
        return
    literal = node.get("reference")
    parts = split_reference(literal) if isinstance(literal, str) else None
    if parts is not None and (not types or parts[0] in types):
        yield IndexValue(param, parts[0], parts[1], parts[2])
    if "identifier" in node and not types:
        yield from tokens(f"{param}:identifier", node["identifier"])


def dates(param: str, node: Any) -> Iterator[IndexValue]:
    """A date, dateTime, instant or Period as one range."""
    try:
        if isinstance(node, str):
            low, high = date_range(node)
        elif isinstance(node, dict) and ("start" in node or "end" in node):
            low = date_range(node["start"])[0] if "start" in node else MIN_TIME
            high = date_range(node["end"])[1] if "end" in node else MAX_TIME
        else:
            return
    except InvalidDate:
        return  # validation rejects these before they reach the store
    yield IndexValue(param, low=low, high=high)


_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def strings(param: str, node: Any) -> Iterator[IndexValue]:
    """A string, or each part of a HumanName or Address."""
    if isinstance(node, str):
        yield IndexValue(param, None, node, normalise(node))
    elif isinstance(node, dict):
        parts = _NAME_PARTS if "family" in node or "given" in node else _ADDRESS_PARTS
        for part in parts:
            for text in walk(node, (part,)):
                yield from strings(param, text)


def uris(param: str, node: Any) -> Iterator[IndexValue]:
    if isinstance(node, str):
        yield IndexValue(param, None, node)


def extract_all(
    content: dict[str, Any], extractors: Sequence[tuple[str, Extractor]]
) -> list[IndexValue]:
    """Every index value of a resource, duplicates removed, in a stable order."""
    seen: dict[IndexValue, None] = {}
    for name, extract in extractors:
        for value in extract(name, content):
            seen.setdefault(value, None)
    return list(seen)
