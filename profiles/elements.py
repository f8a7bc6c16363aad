"""Element paths: from StructureDefinition paths to JSON keys and FHIRPath expressions.

A path segment is one of
- `name`            the JSON key `name`
- `name[x]`         any choice key `nameXxx` (FHIRPath: `name`)
- `name[x]:Type`    the choice key `nameType`
- `extension@URL`   the entries of `extension` whose `url` is URL (an extension slice)
`count(value, segment)` counts the occurrences under one parent (a primitive present only
as `_name` counts: FHIR allows an extension in place of a value); the rule walk
(rules.py) visits them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Segment:
    name: str  # FHIR element name ('occurrence', 'extension')
    key: str | None  # exact JSON key, or None for "any choice key"
    url: str | None = None  # extension slice: only entries with this url

    @property
    def fhirpath(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """'red-flag-screening extension: ' for an extension slice, else ''."""
        return "" if self.url is None else f"{self.url.rsplit('/', 1)[-1]} {self.name}: "

    @classmethod
    def parse(cls, text: str) -> Segment:
        if "@" in text:
            name, url = text.split("@", 1)
            return cls(name, name, url)
        if "[x]:" in text:
            name, type_ = text.split("[x]:", 1)
            return cls(name, name + type_[0].upper() + type_[1:])
        if text.endswith("[x]"):
            return cls(text[:-3], None)
        return cls(text, text)


@lru_cache(maxsize=4096)
def stems(key: str) -> tuple[str, ...]:
    """The element names `key` may be a choice key of: a choice key is the name followed
    by a type name, which starts with a capital (A-Z). 'occurrencePeriod' ->
    ('occurrence',), 'asNeededBoolean' -> ('as', 'asNeeded'), 'status' -> ()."""
    return tuple(key[:i] for i in range(1, len(key)) if "A" <= key[i] <= "Z")


_MAX_CACHED_SHAPE = 64  # keys of an object whose choice keys are cached (_cached_by_name)


def choice_keys_by_name(value: dict[str, Any]) -> Mapping[str, tuple[str, ...]]:
    """Element name -> its choice keys (`nameXxx`) in `value`, in order. Do not mutate
    the result (it may be shared)."""
    keys = tuple(value)
    return _cached_by_name(keys) if len(keys) <= _MAX_CACHED_SHAPE else _by_name(keys)


@lru_cache(maxsize=1024)
def _cached_by_name(keys: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`_by_name`, cached by the object's key tuple: objects of one shape (the hot case:
    one client's resources) share the answer."""
    return _by_name(keys)


def _by_name(keys: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for key in keys:
        for name in stems(key):
            found.setdefault(name, []).append(key)
    return {name: tuple(names) for name, names in found.items()}


def choice_keys(value: dict[str, Any], name: str) -> tuple[str, ...]:
    """The keys `nameXxx` of `value` (`name` is one of their `stems`), in order."""
    return choice_keys_by_name(value).get(name, ())


def count(value: Any, seg: Segment) -> int:
    """How many times `seg` occurs in the parent `value` (each item of a list, slices by
    their `url`, plus a primitive present only as its `_name` extension)."""
    if not isinstance(value, dict):
        return 0
    key = seg.key
    if key is None:
        return count_under(value, choice_keys(value, seg.name))
    if seg.url is not None:
        return _count_slice(value[key], seg.url) if key in value else 0
    found = value.get(key)
    n = len(found) if isinstance(found, list) else int(found is not None)
    if n == 0 and f"_{key}" in value:
        shadow = value[f"_{key}"]
        n = len(shadow) if isinstance(shadow, list) else 1
    return n


def count_under(value: dict[str, Any], keys: Iterable[str]) -> int:
    """Occurrences under `keys` of `value`: a list counts its items, anything else 1."""
    n = 0
    for key in keys:
        found = value[key]
        n += len(found) if isinstance(found, list) else 1
    return n


def _count_slice(found: Any, url: str) -> int:
    """The objects whose `url` is `url` in one key's JSON value (a list or one value)."""
    n = 0
    for item in found if isinstance(found, list) else [found]:
        if isinstance(item, dict) and item.get("url") == url:
            n += 1
    return n


def present(value: dict[str, Any], name: str) -> bool:
    """Is element `name` (`x` or `x[x]`) in `value`, as a value or primitive extension?"""
    if name.endswith("[x]"):
        base = name[:-3]
        return any(k.lstrip("_").startswith(base) for k in value)
    return name in value or f"_{name}" in value
