"""SearchQuery -> SQL. Comma-separated values are ORed, repeated parameters ANDed; each
indexed parameter becomes `resources.id IN (SELECT resource_id FROM search_index ...)`.

Semantics follow the FHIR search page: tokens `[system]|[code]`, `:not`, `:missing`;
references `Type/id`, bare id, `:Type`, `:identifier`, chained one level
(`subject:Patient.identifier`: the target must match and be visible to the caller) and
reversed (`_has`); dates as ranges with the prefixes eq ne gt lt ge le sa eb; strings
case- and accent-insensitive starts-with, `:exact`, `:contains`; uri exact. Malformed
values raise BadRequest with the parameter's FHIRPath.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select

from service.errors import BadRequest, FhirError
from service.store.dates import InvalidDate, date_range
from service.store.indexing import normalise, split_reference
from service.store.model import SearchParam, SearchQuery
from service.store.search_params import SEARCH_PARAMS, SearchParamDef, chain_targets
from service.store.tables import resources, search_index

r, si = resources.c, search_index.c
Condition = ColumnElement[bool]
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def where(query: SearchQuery, visible: Condition) -> list[Condition]:
    """Every condition on `resources` that a query's matches satisfy."""
    conditions: list[Condition] = [
        r.resource_type == query.resource_type,
        r.deleted.is_(False),
        visible,
    ]
    defs = SEARCH_PARAMS.get(query.resource_type, {})
    _check_breadth(query)
    for param in query.params:
        if param.has is not None:
            conditions.append(_referred_by(query.resource_type, param, visible))
            continue
        definition = defs.get(param.name)
        if definition is None:
            raise BadRequest.of(f"unknown search parameter {param.name!r}", None, "not-supported")
        if param.chain is not None:
            conditions.append(_chained(query.resource_type, definition, param, visible))
        else:
            conditions.append(_param_condition(query.resource_type, definition, param))
    return conditions


def order_by(query: SearchQuery) -> list[Any]:
    """The page order: `_sort` keys, then a deterministic tie-break (lastUpdated, id)."""
    keys: list[Any] = []
    for key in query.sort:
        name, descending = key.removeprefix("-"), key.startswith("-")
        column = _sort_column(query.resource_type, name)
        keys.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    return [*keys, r.last_updated, r.id]


def count_statement(conditions: list[Condition]) -> Select[int]:
    return select(func.count()).select_from(resources).where(*conditions)


def _sort_column(rtype: str, name: str) -> Any:
    if name == "_lastUpdated":
        return r.last_updated
    if name == "_id":
        return r.id
    definition = SEARCH_PARAMS.get(rtype, {}).get(name)
    if definition is None or definition.type != "date":
        raise BadRequest.of(f"cannot sort {rtype} by {name!r}", None, "not-supported")
    first = select(func.min(si.low)).where(
        si.resource_type == r.resource_type, si.resource_id == r.id, si.param == name
    )
    return first.scalar_subquery()


def _param_condition(rtype: str, definition: SearchParamDef, param: SearchParam) -> Condition:
    if param.modifier == "missing":
        return _missing(rtype, definition, param)
    if definition.name == "_id":
        matched: Condition = r.id.in_(param.values)
        return not_(matched) if param.modifier == "not" else matched
    if definition.name == "_lastUpdated":
        _no_modifier(definition, param)
        return or_(*(_point_date(definition, v) for v in param.values))
    if param.modifier == "not" and definition.type == "token":
        return not_(_indexed(rtype, definition.name, _any_of(definition, param, None)))
    return _indexed(rtype, *_target(definition, param))


MAX_CHAIN_BREADTH = 16  # target searches one chained parameter may make (one hop: <= 15)
MAX_QUERY_BREADTH = 64  # and all the chained parameters of one search together


def _chain_breadth(rtype: str, param: SearchParam) -> int:
    """How many searches of a target type a chained parameter makes (`_chained` makes one
    per target type at each hop, so untyped hops multiply)."""
    chain = param.chain
    if chain is None:
        return 1
    return sum(_chain_breadth(t, chain) for t in _hop_targets(rtype, chain, param))


def _hop_targets(rtype: str, chain: SearchParam, param: SearchParam) -> list[str]:
    """The types a chained parameter's reference is searched at: its `:Type`, else every
    type it may point at that has the chained parameter (a reference parameter, when the
    chain goes on)."""
    if param.modifier:
        targets = [param.modifier] if chain.name in SEARCH_PARAMS.get(param.modifier, {}) else []
    else:
        targets = list(chain_targets(rtype, param.name, chain.name))
    if chain.chain is not None:
        targets = [t for t in targets if SEARCH_PARAMS[t][chain.name].type == "reference"]
    return targets


def _check_breadth(query: SearchQuery) -> None:
    """400 `too-costly` for a chained parameter whose untyped hops multiply into more than
    MAX_CHAIN_BREADTH target searches, or chains that together make more than
    MAX_QUERY_BREADTH (each is a subquery the database plans and runs, twice per page)."""
    total = 0
    for param in query.params:
        if param.chain is None or param.has is not None:
            continue
        breadth = _chain_breadth(query.resource_type, param)
        if breadth > MAX_CHAIN_BREADTH:
            raise BadRequest.of(
                f"{param.text} searches {breadth} target types through its hops (at most "
                f"{MAX_CHAIN_BREADTH}): name the types with :Type, e.g. "
                "focus:ServiceRequest.subject:Patient.identifier", None, "too-costly")
        total += breadth
    if total > MAX_QUERY_BREADTH:
        raise BadRequest.of(
            f"the chained parameters together search {total} target types (at most "
            f"{MAX_QUERY_BREADTH}): name the types with :Type, or use fewer", None,
            "too-costly")


def _chained(rtype: str, definition: SearchParamDef, param: SearchParam,
             visible: Condition) -> Condition:
    """The resources whose `definition` reference points at a resource (of `param.modifier`,
    else of any type it may point at that has the chained parameter) that matches
    `param.chain` and that the caller may see. Each target's search is its own uncorrelated
    subquery on `resources` (the conditions `where` gives a search of that type); the
    reference rows are read through an alias of `search_index`, so neither level
    correlates with the other."""
    chain = param.chain
    if definition.type != "reference" or chain is None:
        raise _bad(definition, f"{param.text} is not a chain through a reference")
    targets = _hop_targets(rtype, chain, param)
    if not targets:
        raise _bad(definition, f"{param.text} reaches no resource type with that parameter")
    ref = search_index.alias("chain_ref")
    per_target = []
    for target in targets:
        found = _matching_ids(target, chain, visible)
        per_target.append(and_(ref.c.system == target, ref.c.norm.in_(found)))
    rows = select(ref.c.resource_id).where(
        ref.c.resource_type == rtype, ref.c.param == definition.name, or_(*per_target))
    return r.id.in_(rows)


def _referred_by(rtype: str, param: SearchParam, visible: Condition) -> Condition:
    """`_has:Type:reference:param`: the resources that a `Type` the caller may see, and
    that matches `param.chain`, refers to through `reference` (search.html#has). The
    referring search is its own uncorrelated subquery, as in `_chained`."""
    source, _, reference = (param.has or "").partition(":")
    definition = SEARCH_PARAMS.get(source, {}).get(reference)
    if definition is None or definition.type != "reference" or param.chain is None:
        raise BadRequest.of(f"{param.text} is not a reverse chain through a reference", None,
                            "not-supported")
    ref = search_index.alias("has_ref")
    rows = select(ref.c.norm).where(
        ref.c.resource_type == source, ref.c.param == reference, ref.c.system == rtype,
        ref.c.resource_id.in_(_matching_ids(source, param.chain, visible)))
    return r.id.in_(rows)


def _matching_ids(rtype: str, param: SearchParam, visible: Condition) -> Select[Any]:
    """The ids of the `rtype` resources the caller may see that match `param`, as a
    subquery of its own on `resources` (uncorrelated: the enclosing query's `resources`
    is another resource's)."""
    return select(r.id).where(*where(SearchQuery(rtype, (param,)), visible)).correlate(None)


def _target(definition: SearchParamDef, param: SearchParam) -> tuple[str, Condition]:
    """The index param name and value condition a search parameter looks up."""
    if definition.type == "reference" and param.modifier == "identifier":
        return f"{definition.name}:identifier", or_(*(_token(v) for v in param.values))
    return definition.name, _any_of(definition, param, param.modifier)


def _any_of(definition: SearchParamDef, param: SearchParam, modifier: str | None) -> Condition:
    build = _BUILDERS[definition.type]
    return or_(*(build(definition, modifier, v) for v in param.values))


def _indexed(rtype: str, name: str, match: Condition) -> Condition:
    rows = select(si.resource_id).where(si.resource_type == rtype, si.param == name, match)
    return r.id.in_(rows)


def _missing(rtype: str, definition: SearchParamDef, param: SearchParam) -> Condition:
    if param.values not in (("true",), ("false",)) or not definition.indexed:
        raise _bad(definition, f"{param.name}:missing takes true or false")
    present = _indexed(rtype, definition.name, _has_value(definition))
    return not_(present) if param.values == ("true",) else present


def _has_value(definition: SearchParamDef) -> Condition:
    """True of every index row of the parameter; names the column of its partial index."""
    return si.low.is_not(None) if definition.type == "date" else si.value.is_not(None)


def _no_modifier(definition: SearchParamDef, param: SearchParam) -> None:
    if param.modifier is not None:
        raise _bad(definition, f"modifier :{param.modifier} is not supported on {param.name}")


def _token_value(definition: SearchParamDef, modifier: str | None, value: str) -> Condition:
    if modifier not in (None, "not"):
        raise _bad(definition, f"modifier :{modifier} is not supported on {definition.name}")
    return _token(value)


def _token(value: str) -> Condition:
    if "|" not in value:
        return si.value == value
    system, code = value.split("|", 1)
    on_system = si.system.is_(None) if system == "" else si.system == system
    return and_(on_system, si.value.is_not(None) if code == "" else si.value == code)


def _reference(definition: SearchParamDef, modifier: str | None, value: str) -> Condition:
    if modifier is not None and not modifier[:1].isupper():
        raise _bad(definition, f"modifier :{modifier} is not supported on {definition.name}")
    if modifier is not None and "/" not in value:
        value = f"{modifier}/{value}"
    if "/" not in value:
        return si.norm == value
    parts = split_reference(value)
    if parts is None:
        raise _bad(definition, f"{value!r} is not a reference")
    return si.value == parts[1]


def _string(definition: SearchParamDef, modifier: str | None, value: str) -> Condition:
    if modifier == "exact":
        return si.value == value
    needle = normalise(value)
    if modifier == "contains":
        return si.norm.contains(needle, autoescape=True)
    if modifier is not None:
        raise _bad(definition, f"modifier :{modifier} is not supported on {definition.name}")
    return _starts_with(needle)


def _starts_with(needle: str) -> Condition:
    """A byte-order range, so both engines scan the (type, param, norm) index."""
    if needle == "":
        return si.norm.is_not(None)
    if ord(needle[-1]) >= 0x10FFFF:
        return si.norm.startswith(needle, autoescape=True)
    upper = needle[:-1] + chr(ord(needle[-1]) + 1)
    return and_(si.norm >= needle, si.norm < upper)


def _uri(definition: SearchParamDef, modifier: str | None, value: str) -> Condition:
    if modifier is not None:
        raise _bad(definition, f"modifier :{modifier} is not supported on {definition.name}")
    return si.value == value


def _date(definition: SearchParamDef, modifier: str | None, value: str) -> Condition:
    if modifier is not None:
        raise _bad(definition, f"modifier :{modifier} is not supported on {definition.name}")
    prefix, low, high = _date_search(definition, value)
    return and_(si.low.is_not(None), _RANGE[prefix](si.low, si.high, low, high))


def _point_date(definition: SearchParamDef, value: str) -> Condition:
    prefix, low, high = _date_search(definition, value)
    return _POINT[prefix](r.last_updated, low, high)


def _date_search(definition: SearchParamDef, value: str) -> tuple[str, datetime, datetime]:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    text = value[2:] if value[:2] in PREFIXES else value
    try:
        low, high = date_range(text)
    except InvalidDate:
        raise _bad(definition, f"{value!r} is not a valid date search value") from None
    return prefix, low, high


Col = Any
# Index rows hold ranges [low, high); the search value is the range [sl, sh).
_RANGE: dict[str, Callable[[Col, Col, datetime, datetime], Condition]] = {
    "eq": lambda lo, hi, sl, sh: and_(lo >= sl, hi <= sh),
    "ne": lambda lo, hi, sl, sh: not_(and_(lo >= sl, hi <= sh)),
    "gt": lambda lo, hi, sl, sh: hi > sh,
    "lt": lambda lo, hi, sl, sh: lo < sl,
    "ge": lambda lo, hi, sl, sh: hi > sl,
    "le": lambda lo, hi, sl, sh: lo < sh,
    "sa": lambda lo, hi, sl, sh: lo >= sh,
    "eb": lambda lo, hi, sl, sh: hi <= sl,
}
# _lastUpdated is an instant: the range [at, at + 1 microsecond).
_POINT: dict[str, Callable[[Col, datetime, datetime], Condition]] = {
    "eq": lambda at, sl, sh: and_(at >= sl, at < sh),
    "ne": lambda at, sl, sh: not_(and_(at >= sl, at < sh)),
    "gt": lambda at, sl, sh: at >= sh,
    "lt": lambda at, sl, sh: at < sl,
    "ge": lambda at, sl, sh: at >= sl,
    "le": lambda at, sl, sh: at < sh,
    "sa": lambda at, sl, sh: at >= sh,
    "eb": lambda at, sl, sh: at < sl,
}

_BUILDERS: dict[str, Callable[[SearchParamDef, str | None, str], Condition]] = {
    "token": _token_value,
    "reference": _reference,
    "string": _string,
    "uri": _uri,
    "date": _date,
}


def _bad(definition: SearchParamDef, message: str) -> FhirError:
    return BadRequest.of(message, definition.expression, "value")
