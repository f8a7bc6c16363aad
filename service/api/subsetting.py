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
from typing import Any, Final, Literal

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


def subset_of(summary: str | None, elements: Iterable[str]) -> Subset:
    """A Subset from the parameters' values (`summary`: true, text or data; `elements`: each
    `_elements` value, comma-separated names, `Type.name` accepted as `name`)."""
    names = tuple(dict.fromkeys(
        name.strip().rpartition(".")[2]
        for value in elements for name in value.split(",") if name.strip()
    ))
    if summary is not None and summary not in SUMMARY_MODES:
        raise ValueError(summary)
    if summary is not None and names:
        raise BadRequest.of(
            "_summary and _elements cannot be combined; use one of them", code="not-supported"
        )
    return Subset(summary, names)  # type: ignore[arg-type]  # checked against SUMMARY_MODES


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


def _wanted(rtype: str, subset: Subset) -> frozenset[str]:
    if subset.summary == "true":
        return summary_elements(rtype) | _ALWAYS
    if subset.summary == "text":
        return mandatory_elements(rtype) | _ALWAYS | {"text"}
    return mandatory_elements(rtype) | _ALWAYS | frozenset(subset.elements)


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
