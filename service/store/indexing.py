"""Search-value extraction: pure functions of the resource JSON (no FHIRPath at write time).

Each extractor turns a resource into `IndexValue`s, one per row of `search_index`. The
walkers here know the shapes of FHIR datatypes (Coding, CodeableConcept, Identifier,
Reference, Period, HumanName, Address) and nothing about particular resources; the
registry in search_params.py says which paths to walk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from service.store.dates import MAX_TIME, MIN_TIME, InvalidDate, date_range


class IndexValue(NamedTuple):
    param: str
    system: str | None = None
    value: str | None = None
    norm: str | None = None
    low: datetime | None = None
    high: datetime | None = None



_REF_RE = re.compile(r"(?:(?P<base>.+)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})")

# Lists, not generators: a referral and its Task make ~20 steps per create, and at that
# grain the generator frames cost more than the walking (docs/performance.md).


def walk(node: Any, path: Sequence[str]) -> list[Any]:
    """Every value at `path` under `node`, lists flattened at each step, None left out."""
    nodes = _flat(node)
    for key in path:
        found: list[Any] = []
        for item in nodes:
            if isinstance(item, dict) and (value := item.get(key)) is not None:
                if isinstance(value, list):
                    found += _flat(value)
                else:
                    found.append(value)
        nodes = found
    return nodes


def _flat(node: Any) -> list[Any]:
    if not isinstance(node, list):
        return [] if node is None else [node]
    out: list[Any] = []
    for item in node:
        if isinstance(item, list):
            out += _flat(item)
        elif item is not None:
            out.append(item)
    return out


def normalise(text: str) -> str:
    """Case- and accent-insensitive form for string search (FHIR: "basic" matching)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def split_reference(ref: str) -> tuple[str, str, str | None] | None:
    """(type, "Type/id", id) for a literal reference; None for contained or unparseable.

    References lose any `/_history/n`. Absolute URLs keep their full text as the value and
    no bare id (the API stores our own references relative), so they only match exactly.
    Cached: the same patients, roles and clinics recur from one request to the next.
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


def tokens(param: str, node: Any) -> list[IndexValue]:
    """Tokens of a code, boolean, Coding, CodeableConcept or Identifier."""
    if isinstance(node, bool):
        return [IndexValue(param, None, "true" if node else "false")]
    if isinstance(node, str):
        return [IndexValue(param, None, node)]
    if not isinstance(node, dict):
        return []
    if "coding" in node:
        return [value for coding in node["coding"] for value in tokens(param, coding)]
    code = node.get("code", node.get("value"))
    if ("code" in node or "value" in node) and isinstance(code, str):
        return [IndexValue(param, node.get("system"), code)]
    return []


def references(param: str, node: Any, types: frozenset[str] = frozenset()) -> list[IndexValue]:
    """A Reference's literal target, and its identifier under `<param>:identifier`."""
    if not isinstance(node, dict):
        return []
    literal = node.get("reference")
    parts = split_reference(literal) if isinstance(literal, str) else None
    found = []
    if parts is not None and (not types or parts[0] in types):
        found.append(IndexValue(param, parts[0], parts[1], parts[2]))
    if "identifier" in node and not types:
        found += tokens(f"{param}:identifier", node["identifier"])
    return found


def dates(param: str, node: Any) -> list[IndexValue]:
    """A date, dateTime, instant or Period as one range."""
    try:
        if isinstance(node, str):
            low, high = date_range(node)
        elif isinstance(node, dict) and ("start" in node or "end" in node):
            low = date_range(node["start"])[0] if "start" in node else MIN_TIME
            high = date_range(node["end"])[1] if "end" in node else MAX_TIME
        else:
            return []
    except InvalidDate:
        return []  # validation rejects these before they reach the store
    return [IndexValue(param, low=low, high=high)]


_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def strings(param: str, node: Any) -> list[IndexValue]:
    """A string, or each part of a HumanName or Address."""
    if isinstance(node, str):
        return [IndexValue(param, None, node, normalise(node))]
    if not isinstance(node, dict):
        return []
    parts = _NAME_PARTS if "family" in node or "given" in node else _ADDRESS_PARTS
    return [value for part in parts for text in walk(node, (part,))
            for value in strings(param, text)]


def uris(param: str, node: Any) -> list[IndexValue]:
    return [IndexValue(param, None, node)] if isinstance(node, str) else []


Each = Callable[[str, Any], list[IndexValue]]
# One step of a type's plan: (param, first key, rest of the path, what to do with each node).
Step = tuple[str, str, tuple[str, ...], Each]


def extract(content: dict[str, Any], steps: Sequence[Step]) -> list[IndexValue]:
    """Every index value of a resource, duplicates removed, in a stable order.

    The plan's first key is read straight from the resource: nearly every path is one key
    long (`status`, `subject`), and this skips `walk` and its lists for those (a referral
    and its Task: ~140 -> ~75 us per create on a slow moment of the box, docs/performance.md
    round 5)."""
    found: list[IndexValue] = []
    for param, key, rest, each in steps:
        node = content.get(key)
        if node is None:
            continue
        if rest:
            for item in walk(node, rest):
                found += each(param, item)
        elif isinstance(node, list):
            for item in _flat(node):
                found += each(param, item)
        else:
            found += each(param, node)
    return list(dict.fromkeys(found))
