"""Seeded random edits of valid FHIR resources, for the differential test of the lean
structural check against fhir.resources (tests/unit/profiles/test_structure_fast_path.py,
bench/structure_check.py).

Each edit is one small change of the kinds a sender gets wrong: a value of the wrong JSON
type or lexical form (including the near misses: "3" for an integer, 2024-02-30, a time
zone of +14:30), an element dropped or unknown, an array where one value belongs or the
other way round, a second type of a choice element, a primitive's `_x` sibling of every
shape, a resource nested where a resource belongs, an extension with a primitive `value[x]`
of any type (so every primitive type's checks are exercised). The lean check must reject
every edit fhir.resources rejects (it may reject more).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

Edit = Callable[[dict[str, Any], random.Random], None]

# Values of the wrong type or form for some element, and a few right ones.
ODD_VALUES: list[Any] = [
    42, -1, 0, 2147483648, 1.5, 1e3, 1.0, True, False, None, "", " ", "x", " x", "x ",
    "3", "-0", "1.0", "true", "false", "null", [], [None], [1], ["x"], {}, {"a": 1},
    {"extension": []}, {"id": "a"}, [{}], "a" * 65, "2026-13-01", "2026-02-30", "2024-02-29",
    "2026-1-01", "2026-01", "2026", "0000", "2026-01-01T10:00:00", "2026-01-01T10:00:00Z",
    "2026-01-01T25:00:00Z", "2026-01-01T10:00:00+14:30", "2026-01-01T10:00:00.123+01:00",
    "10:00:00", "24:00:00", "urn:uuid:0b7c4e9e-5a3d-4f2b-8c1d-000000000002", "a b",
    "http://x/fhir/Patient/1", "Patient/1", "#1", "\u00e6\u00f8\u00e5", "\t", "\n",
    "PHA+PC9wPg==", "not base64!", 1e308, 10 ** 20,
    # whitespace that is not space, tab, CR or LF (Unicode White_Space, and what only
    # Python's \s counts), where fhir.resources' string and code patterns look
    "\u00a0", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000", "x\u3000", "male\u00a0",
    "a\u00a0b", "\u00a0x",
    # base64 that matches the FHIR regex but does not decode, and that does
    "a=bc", "A===", "AA=A", "====", "AA==AA==", " AAAA ",
    # UUIDs of another version or variant, in capitals, without the urn
    "urn:uuid:0b7c4e9e-5a3d-1f2b-8c1d-000000000002",
    "urn:uuid:0b7c4e9e-5a3d-4f2b-0c1d-000000000002",
    "urn:uuid:0B7C4E9E-5A3D-4F2B-8C1D-000000000002", "0b7c4e9e-5a3d-4f2b-8c1d-000000000002",
    "urn:oid:1.2.3", "urn:oid:3.1", "23:59:60", "2026-01-01T10:00:60Z", 5e-324, -0.0,
]
PRIMITIVE_TYPES = ["Base64Binary", "Boolean", "Canonical", "Code", "Date", "DateTime", "Decimal",
                   "Id", "Instant", "Integer", "Markdown", "Oid", "PositiveInt", "String", "Time",
                   "UnsignedInt", "Uri", "Url", "Uuid"]
# characters to splice into string values: the near misses of every lexical form
SPLICE = [*"0123456789abcdefAZ:+-.=/T Z\t\n\r", "\x0b", "\x0c", "\x1c", "\x85", "\u00a0",
          "\u2028", "\u3000", "\x00", "\u00e6"]
CHOICE_TYPES = ["String", "Boolean", "Integer", "DateTime", "Period", "Reference",
                "CodeableConcept", "Quantity", "Date", "Instant", "Time", "Uri"]
# What a primitive's `_x` sibling may hold, right and wrong.
UNDERSCORE_SHAPES: list[Any] = [
    {}, {"id": "e"}, {"extension": [{"url": "http://x", "valueString": "y"}]},
    {"extension": []}, {"bogus": 1}, [None], [{"id": "e"}], [None, None], [], "x", None, [{}],
    {"id": 3},
]
RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1"},
    {"resourceType": "Patient"},
    {"resourceType": "Organization", "name": 3},
    {"resourceType": "Resource"},
    {"resourceType": "DomainResource"},
    {"resourceType": "Nonsense"},
    {"resourceType": "Patient", "bogus": 1},
    {"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
    {"resourceType": "Observation", "status": "final"},
]


def nodes(value: Any) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value inside a parsed resource."""
    out: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((value, key))
            out += nodes(child)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.append((value, i))
            out += nodes(child)
    return out


def objects(value: Any) -> list[dict[str, Any]]:
    return [value] * isinstance(value, dict) + [
        child for c, k in nodes(value) if isinstance(child := c[k], dict)]


def _replace(resource: dict[str, Any], rng: random.Random) -> None:
    container, key = rng.choice(nodes(resource))
    container[key] = odd_value(rng)


def _drop(resource: dict[str, Any], rng: random.Random) -> None:
    container, key = rng.choice(nodes(resource))
    if isinstance(container, dict):
        del container[key]
    else:
        container.pop(key)


def _add_key(resource: dict[str, Any], rng: random.Random) -> None:
    target = rng.choice(objects(resource))
    name = rng.choice(["bogus", "valueString", "resourceType", "id", "extension",
                       "modifierExtension", "fhir_comments", "text", "contained", "url",
                       "reference", "system", "code", "value", "div"])
    target[name] = copy.deepcopy(rng.choice(ODD_VALUES))


def _wrap_or_unwrap(resource: dict[str, Any], rng: random.Random) -> None:
    container, key = rng.choice(nodes(resource))
    value = container[key]
    if isinstance(value, list):
        container[key] = value[0] if value else None
    else:
        container[key] = [value]


def _second_choice(resource: dict[str, Any], rng: random.Random) -> None:
    """A second (or a first, odd) type of a choice element: `value[x]`, `occurrence[x]`."""
    target = rng.choice(objects(resource))
    keys = [k for k in target if any(k.endswith(t) for t in CHOICE_TYPES)]
    stem = ""
    if keys:
        key = rng.choice(keys)
        stem = next(key[: -len(t)] for t in CHOICE_TYPES if key.endswith(t))
    stem = stem or rng.choice(["value", "occurrence", "effective", "deceased", "onset"])
    target[stem + rng.choice(CHOICE_TYPES)] = copy.deepcopy(rng.choice(ODD_VALUES))


def _underscore(resource: dict[str, Any], rng: random.Random) -> None:
    """A primitive's `_x` sibling of any shape, beside a primitive or an array of them."""
    target = rng.choice(objects(resource))
    prims = [k for k, v in target.items() if not isinstance(v, dict) and not k.startswith("_")]
    name = rng.choice(prims) if prims else "bogus"
    shape: Any = rng.choice(UNDERSCORE_SHAPES)
    target["_" + name] = copy.deepcopy(shape)
    if rng.random() < 0.3:
        target[name] = None if not isinstance(target.get(name), list) else [None]


def _nest_resource(resource: dict[str, Any], rng: random.Random) -> None:
    target = rng.choice(objects(resource))
    where = rng.choice(["contained", "resource", "entry"])
    item = copy.deepcopy(rng.choice(RESOURCES))
    target[where] = [item] if rng.random() < 0.7 else item


def odd_value(rng: random.Random) -> Any:
    """One of ODD_VALUES, or a string one of them becomes with a few characters spliced in,
    replaced or dropped."""
    value = rng.choice(ODD_VALUES)
    if not isinstance(value, str) or rng.random() < 0.5:
        return copy.deepcopy(value)
    chars = list(value)
    for _ in range(rng.randint(1, 3)):
        at, roll = rng.randint(0, len(chars)), rng.random()
        if roll < 0.4 or not chars:
            chars.insert(at, rng.choice(SPLICE))
        elif roll < 0.7:
            chars[min(at, len(chars) - 1)] = rng.choice(SPLICE)
        else:
            del chars[min(at, len(chars) - 1)]
    return "".join(chars)


def _typed_extension(resource: dict[str, Any], rng: random.Random) -> None:
    """An extension whose `value[x]` is a primitive of any type, on any object: every
    primitive type's checks are exercised, not only those the examples use."""
    target = rng.choice(objects(resource))
    value_type = rng.choice(PRIMITIVE_TYPES)
    target.setdefault("extension", [])
    if isinstance(target["extension"], list):
        target["extension"].append({"url": "http://example.org/x",
                                    f"value{value_type}": odd_value(rng)})


def _retype_key(resource: dict[str, Any], rng: random.Random) -> None:
    """A key renamed to a near miss: case, a suffix, a leading underscore dropped."""
    target = rng.choice(objects(resource))
    if not target:
        return
    key = rng.choice(list(target))
    new = rng.choice([key.upper(), key + "s", key.lstrip("_"), key[:-1] or "x", "_" + key])
    target[new] = target.pop(key)


EDITS: list[tuple[float, Edit]] = [
    (0.3, _replace), (0.08, _drop), (0.1, _add_key), (0.08, _wrap_or_unwrap),
    (0.08, _second_choice), (0.1, _underscore), (0.05, _nest_resource), (0.05, _retype_key),
    (0.16, _typed_extension),
]


def edit(resource: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of `resource` with one to three random edits."""
    out = copy.deepcopy(resource)
    weights = [w for w, _ in EDITS]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if not nodes(out):
            break
        change = rng.choices([e for _, e in EDITS], weights)[0]
        change(out, rng)
    return out
