"""`_summary` and `_elements` (search.html#summary, #elements; http.html#read): a resource
cut down to part of its top-level elements, tagged SUBSETTED. Pure.

- `_summary=true`: the elements the base definition marks as summary (isSummary);
- `_summary=text`: `text`, `id`, `meta` and the mandatory top-level elements;
- `_summary=data`: everything but `text`;
- `_elements=a,b`: `id`, `meta`, the named elements and the mandatory ones ("servers SHOULD
  always return mandatory elements whether they are requested or not").

Which elements are summary or mandatory comes from fhir.resources R4B, the models the
structural check uses (`summary_element_property`; `element_required` or a required field),
per type, once.
A primitive's extension sibling (`_status`) goes with its element.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal, cast

from profiles.issues import Issue
from profiles.structure import model_class
from service.errors import BadRequest

SummaryMode = Literal["true", "text", "data"]
SUMMARY_MODES: Final[tuple[str, ...]] = ("true", "text", "data")
SUBSETTED: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
_ALWAYS: Final = frozenset({"resourceType", "id", "meta"})


@dataclass(frozen=True, slots=True)
class Subset:
    """What to return of each resource; the default (nothing set) is all of it."""

    summary: SummaryMode | None = None
    elements: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.summary is not None or bool(self.elements)

    def pairs(self) -> list[tuple[str, str]]:
        """The query parameters that ask for this subset (for paging links)."""
        out = [("_summary", self.summary)] if self.summary else []
        return out + ([("_elements", ",".join(self.elements))] if self.elements else [])


WHOLE: Final = Subset()  # no subsetting: the whole resource
SUBSET_PARAMS: Final = frozenset({"_summary", "_elements"})


@dataclass(frozen=True, slots=True)
class Asked:
    """What `_summary` and `_elements` ask of a search or read."""

    subset: Subset = WHOLE
    count: bool = False  # _summary=count (search only; it wins over the rest)
    unsupported: tuple[str, ...] = ()  # `name=value`s not understood: reported or refused


def asked(rtype: str, pairs: Iterable[tuple[str, str]]) -> Asked:
    """The `_summary` / `_elements` pairs of a request (names with any `:modifier`), read
    the same way for search, read and a Bundle's GET entries. Conflicting `_summary` modes,
    or a mode with `_elements`, are 400; an unknown mode, a modifier, or a name that is not
    a top-level element of `rtype` (`Type.name` is accepted for the type itself) are
    `unsupported`, for the caller to report (lenient) or refuse (strict). A choice element
    is named by its stem (`value` for `value[x]`)."""
    modes: list[str] = []
    names: list[str] = []
    unsupported: list[str] = []
    known = top_level_elements(rtype)
    for name, value in pairs:
        if name == "_summary":
            if value in (*SUMMARY_MODES, "count"):
                modes.append(value)
            elif value != "false":
                unsupported.append(f"_summary={value}")
        elif name == "_elements":
            for part in filter(None, (p.strip() for p in value.split(","))):
                kind, _, element = part.rpartition(".")
                found = _named(element, known) if kind in ("", rtype) else []
                names += found
                if not found:
                    unsupported.append(f"_elements={part}")
        else:
            unsupported.append(f"{name}={value}")
    if "count" in modes:
        return Asked(WHOLE, True, tuple(unsupported))
    if len(set(modes)) > 1:
        raise BadRequest.of(f"_summary={','.join(dict.fromkeys(modes))}: give one mode",
                            code="value")
    if modes and names:
        raise BadRequest.of(
            "_summary and _elements cannot be combined; use one of them", code="not-supported"
        )
    mode = cast(SummaryMode, modes[0]) if modes else None
    return Asked(Subset(mode, tuple(dict.fromkeys(names))), False, tuple(unsupported))


def for_read(rtype: str, pairs: Iterable[tuple[str, str]], *, strict: bool) -> Subset:
    """The subset a read or vread asks for (http.html#read); `pairs` may hold other
    parameters, which are left alone. `_summary=count` is 400 (search only); what is not
    understood is 400 when `strict`, else ignored (a read has no Bundle to report it in)."""
    wanted = asked(rtype, [(k, v) for k, v in pairs if k.partition(":")[0] in SUBSET_PARAMS])
    if wanted.count:
        raise BadRequest.of("_summary=count is for search, not read", code="not-supported")
    if wanted.unsupported and strict:
        raise BadRequest.of(f"not supported on read: {', '.join(wanted.unsupported)}",
                            code="not-supported")
    return wanted.subset


def _named(element: str, known: frozenset[str]) -> list[str]:
    """`status` -> [status]; a choice's stem `value` -> [valueQuantity, valueString, ...]."""
    if element in known:
        return [element]
    size = len(element)
    return sorted(k for k in known if k.startswith(element) and k[size:size + 1].isupper())


def apply(content: Mapping[str, Any], subset: Subset) -> Mapping[str, Any]:
    """`content` cut down to `subset` and tagged SUBSETTED; `content` itself for no subset."""
    if not subset:
        return content
    rtype = str(content.get("resourceType"))
    if subset.summary == "data":
        kept = {k: v for k, v in content.items() if k not in ("text", "_text")}
    else:
        wanted = _wanted(rtype, subset)
        kept = {k: v for k, v in content.items() if k.removeprefix("_") in wanted}
    meta = dict(kept.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t != SUBSETTED]
    meta["tag"] = [*tags, SUBSETTED]
    return {**kept, "meta": meta}


def subsetted_issues(content: Mapping[str, Any]) -> list[Issue]:
    """A resource tagged SUBSETTED may not be stored: it is a partial view (search.html
    #summary), and writing it back would drop every element the subset left out."""
    tags = (content.get("meta") or {}).get("tag") if isinstance(content, Mapping) else None
    if not isinstance(tags, list):
        return []
    rtype = content.get("resourceType")
    return [
        Issue("error", "business-rule", f"{rtype}.meta.tag[{i}]",
              "a resource tagged SUBSETTED (a _summary or _elements view) cannot be stored; "
              "send the whole resource")
        for i, tag in enumerate(tags)
        if isinstance(tag, dict) and tag.get("system") == SUBSETTED["system"]
        and tag.get("code") == SUBSETTED["code"]
    ]


@cache
def _wanted(rtype: str, subset: Subset) -> frozenset[str]:
    """The top-level keys a subset keeps (once per type and subset, not per resource)."""
    if subset.summary == "true":
        return summary_elements(rtype) | _ALWAYS
    if subset.summary == "text":
        return mandatory_elements(rtype) | _ALWAYS | {"text"}
    return mandatory_elements(rtype) | _ALWAYS | frozenset(subset.elements)


@cache
def top_level_elements(rtype: str) -> frozenset[str]:
    """Every top-level element name of `rtype` as JSON spells it (choice types expanded)."""
    cls = model_class(rtype)
    if cls is None:
        return frozenset()
    return frozenset(f.alias or n for n, f in cls.model_fields.items()
                     if not n.endswith("__ext")) | _ALWAYS


@cache
def summary_elements(rtype: str) -> frozenset[str]:
    """The top-level elements of `rtype` marked isSummary (empty for an unknown type)."""
    return _elements_where(rtype, "summary_element_property")


@cache
def mandatory_elements(rtype: str) -> frozenset[str]:
    """The top-level elements of `rtype` with a minimum cardinality of 1: complex ones are
    required model fields, primitive ones carry `element_required` (their value may sit in
    the `_name` extension sibling instead)."""
    return _elements_where(rtype, "element_required", required=True)


def _elements_where(rtype: str, flag: str, *, required: bool = False) -> frozenset[str]:
    cls = model_class(rtype)
    if cls is None:
        return frozenset()
    return frozenset(
        field.alias or name
        for name, field in cls.model_fields.items()
        if not name.endswith("__ext")
        and ((field.json_schema_extra or {}).get(flag) or (required and field.is_required()))
    )
