"""Pure parsers for the HTTP headers FHIR gives meaning to (no FastAPI here).

- `If-Match` (http.html#concurrency): `parse_version_match` takes one version ETag
  (`W/"3"`, `"3"`, `3`; malformed -> 400), `*` (any current version) and a list
  (`W/"2", W/"3"`: any of them), RFC 9110 section 13.1.1.
- `If-None-Exist` must hold search criteria (`check_if_none_exist`): an empty value or
  only result parameters (`_count`, `_sort`, ...) would be an unconditional create or a
  match-all, so they are 400.
- `Prefer: return=minimal|representation|OperationOutcome` (http.html#ops) and
  `Prefer: handling=strict|lenient` (search.html#errors).
- Content negotiation (http.html#mime-type): JSON only. A request body in another format
  is 415; asking only for XML (Accept or `_format`) is 406. The FHIR version parameter
  (`application/fhir+json; fhirVersion=4.0`, versioning.html#mt-version): 4.0 is what
  this server speaks; asking only for another version is 406, a body declared as another
  version 415.
- Conditional read (http.html#cread): `If-None-Match` (version ETags, weak comparison, or
  `*`) and `If-Modified-Since` (an HTTP-date; ignored when `If-None-Match` is present or
  when it is not a valid date, RFC 9110 section 13.1.3) -> `Freshness`.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import parse_qsl

from service.errors import BadRequest, NotAcceptable, PreconditionFailed, UnsupportedMediaType

ReturnPref = Literal["minimal", "representation", "OperationOutcome"]
Handling = Literal["strict", "lenient"]

FHIR_JSON = "application/fhir+json"
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir", "text/json"})
ANY_TYPES = frozenset({"*/*", "application/*"})
FORMAT_ALIASES = frozenset({"json", *JSON_TYPES})
_PRODUCIBLE = JSON_TYPES | ANY_TYPES  # media ranges an Accept may name for what we send

FHIR_VERSION = "4.0"  # versioning.html#mt-version: major.minor (4.0.0 and 4.0.1 are R4)

_ETAG = re.compile(r'^\s*(?:W/)?(?:"(\d+)"|(\d+))\s*$')


@dataclass(frozen=True, slots=True)
class Prefer:
    return_: ReturnPref = "representation"
    handling: Handling = "lenient"


@dataclass(frozen=True, slots=True)
class VersionMatch:
    """An `If-Match` condition: `versions` None is `*` (any current version)."""

    versions: frozenset[int] | None

    @property
    def single(self) -> int | None:
        """The one version the store can check itself, else None (a read decides)."""
        if self.versions is not None and len(self.versions) == 1:
            return next(iter(self.versions))
        return None

    def expected(self, ref: str, current: int | None) -> int:
        """The version to write over, given the current one (None: absent or deleted);
        412 when the condition is false (RFC 9110 13.1.1)."""
        if current is None:
            raise PreconditionFailed.of(f"If-Match: {ref} has no current version")
        if self.versions is not None and current not in self.versions:
            wanted = ", ".join(etag(v) for v in sorted(self.versions))
            raise PreconditionFailed.of(f"{ref} is at version {current}, not one of {wanted}")
        return current


def parse_version_match(value: str | None) -> VersionMatch | None:
    """`*`, one version ETag or a comma-separated list of them; absent -> None."""
    if value is None or not value.strip():
        return None
    if value.strip() == "*":
        return VersionMatch(None)
    return VersionMatch(frozenset(_version(part) for part in value.split(",")))


def _version(value: str) -> int:
    found = _ETAG.match(value)
    if found is None:
        raise BadRequest.of(f'If-Match takes *, or version ETags like W/"3", got {value!r}')
    return int(found.group(1) or found.group(2))


RESULT_PARAMS = frozenset(
    {
        "_count",
        "_offset",
        "_sort",
        "_summary",
        "_total",
        "_format",
        "_pretty",
        "_elements",
        "_include",
        "_revinclude",
        "_contained",
        "_containedType",
    }
)


def check_if_none_exist(value: str | None) -> str | None:
    """The header as given when it holds search criteria; absent -> None; else 400."""
    return None if value is None else check_criteria(value, "If-None-Exist")


_CRITERIA_HEAD = re.compile(r"^[A-Za-z]*\?")


def split_criteria(value: str) -> tuple[str, str]:
    """(`Type?` or "", the query) of criteria given as `Type?query` or `query`. Only a
    leading `Type?` is cut: a `?` inside a value is the value's."""
    head = _CRITERIA_HEAD.match(value)
    return (value[: head.end()], value[head.end():]) if head else ("", value)


def check_criteria(value: str, what: str) -> str:
    """`[Type?]query` with at least one search criterion: not only `_count` and kin, and not
    only empty values (`name=` would match every resource of the type that has a name)."""
    pairs = parse_qsl(split_criteria(value)[1], keep_blank_values=True)
    names = {name.partition(":")[0] for name, v in pairs if v != ""}
    if not names - RESULT_PARAMS:
        raise BadRequest.of(f"{what} {value!r} holds no search criteria", code="required")
    return value


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_prefer(values: list[str]) -> Prefer:
    """Every `Prefer` header (comma- or semicolon-separated tokens); unknown tokens ignored."""
    found: dict[str, str] = {}
    for value in values:
        for token in re.split(r"[,;]", value):
            name, _, setting = token.strip().partition("=")
            found[name.strip().lower()] = setting.strip().strip('"')
    return Prefer(_return_pref(found.get("return")), _handling(found.get("handling")))


def _return_pref(value: str | None) -> ReturnPref:
    lowered = (value or "").lower()
    if lowered == "minimal":
        return "minimal"
    if lowered == "operationoutcome":
        return "OperationOutcome"
    return "representation"


def _handling(value: str | None) -> Handling:
    return "strict" if (value or "").lower() == "strict" else "lenient"


def media_type(header: str | None) -> str:
    """`application/fhir+json; charset=utf-8` -> `application/fhir+json`."""
    return (header or "").split(";", 1)[0].strip().lower()


def fhir_version(media_range: str) -> str | None:
    """The `fhirVersion` parameter of one media type or range, if any."""
    for param in media_range.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "fhirversion":
            return value.strip().strip('"')
    return None


def is_r4(version: str) -> bool:
    """`4.0`, `4.0.0`, `4.0.1`: the version parameter names major.minor (a patch level is
    tolerated)."""
    return version == FHIR_VERSION or version.startswith(FHIR_VERSION + ".")


def check_request_type(content_type: str | None) -> None:
    """A FHIR body must be JSON (with or without charset) of FHIR 4.0 (no `fhirVersion`, or
    4.0); no Content-Type is read as JSON."""
    kind = media_type(content_type)
    if kind and kind not in JSON_TYPES:
        raise UnsupportedMediaType.of(
            f"unsupported Content-Type {kind!r}: this server reads {FHIR_JSON} or application/json"
        )
    version = fhir_version(content_type or "")
    if version is not None and not is_r4(version):
        raise UnsupportedMediaType.of(
            f"the body is declared as FHIR {version!r}; this server reads FHIR 4.0 (R4)")


def check_acceptable(accept: str | None, format_param: str | None) -> None:
    """406 when the client can only take a format we do not produce (XML, Turtle, ...), or
    only another FHIR version (`fhirVersion=3.0`)."""
    if format_param is not None:
        if media_type(format_param) not in FORMAT_ALIASES:
            raise NotAcceptable.of(f"_format={format_param!r} is not supported; use json")
        _check_version([format_param])
        return
    if accept is None or not accept.strip():
        return
    ranges = [part for part in accept.split(",") if media_type(part) in _PRODUCIBLE]
    if not ranges:
        raise NotAcceptable.of(f"cannot produce {accept!r}; this server speaks {FHIR_JSON}")
    _check_version(ranges)


def _check_version(ranges: list[str]) -> None:
    versions = [fhir_version(r) for r in ranges]
    if not any(v is None or is_r4(v) for v in versions):
        raise NotAcceptable.of(
            f"cannot produce FHIR {', '.join(sorted({str(v) for v in versions}))}; this "
            "server speaks FHIR 4.0 (R4): fhirVersion=4.0")

@dataclass(frozen=True, slots=True)
class Freshness:
    """A conditional read's headers (http.html#cread): the version ETags of `If-None-Match`
    (`*` for any; None when absent or holding no entity tag) and `If-Modified-Since`."""

    none_match: frozenset[str] | None = None
    modified_since: datetime | None = None
    # an HTTP-date names a second; a Bundle entry's `ifModifiedSince` instant a millisecond
    # (`meta.lastUpdated` as this server writes it)
    to_millisecond: bool = False

    def unchanged(self, version: int, last_updated: datetime) -> bool:
        """Whether the current version is one the client holds: 304 Not Modified."""
        if self.none_match is not None:
            return "*" in self.none_match or str(version) in self.none_match
        if self.modified_since is not None:
            kept = last_updated.microsecond // 1000 * 1000 if self.to_millisecond else 0
            return last_updated.replace(microsecond=kept) <= self.modified_since
        return False


def parse_freshness(if_none_match: str | None, if_modified_since: str | None) -> Freshness:
    """RFC 9110 section 13.1.2-3: If-None-Match compares weakly (`"2"` matches `W/"2"`) and,
    when present, If-Modified-Since is ignored; an invalid date is ignored too."""
    tags: frozenset[str] | None = None
    if if_none_match is not None:  # present: the date is ignored, even if no tag parses
        tags = frozenset(_none_match_tags(if_none_match))
    since = None
    if if_modified_since is not None and tags is None:
        with contextlib.suppress(TypeError, ValueError, IndexError):  # not a date: ignored
            since = parsedate_to_datetime(if_modified_since)
        if since is not None and since.tzinfo is None:  # `-0000`: UTC, RFC 5322
            since = since.replace(tzinfo=UTC)
    return Freshness(tags, since)


def _none_match_tags(value: str) -> set[str]:
    """`*`, or the versions of the listed ETags (`W/"2"`, `"2"`, and a bare `2` as
    If-Match takes it); what is not a version ETag matches nothing."""
    if value.strip() == "*":
        return {"*"}
    return {str(int(m[1] or m[2])) for part in value.split(",") if (m := _ETAG.match(part))}
