"""Transaction and batch Bundles: reading the request, shaping the response (pure).

http.html#transaction: entries are processed DELETE, POST, PUT, PATCH, GET; `fullUrl` references
between entries are rewritten to the ids the server assigns; a transaction succeeds or
fails whole, and its failure's OperationOutcome points at `Bundle.entry[i]...`. A batch
entry that cannot be read fails alone (`read_bundle`). Every Bundle: fullUrl unique
(bdl-7). A transaction: no two DELETE/PUT/PATCH entries on one resource (http.html#trules).
A PATCH entry carries its JSON Patch as a Binary (`contentType` application/json-patch+json,
the patch base64 in `data`), as http.html#transaction describes.
"""

from __future__ import annotations

import base64
import binascii
import http
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import orjson

from profiles.issues import Issue, to_operation_outcome
from service.api.headers import (
    Freshness,
    Prefer,
    VersionMatch,
    check_if_none_exist,
    etag,
    media_type,
    parse_freshness,
    parse_version_match,
)
from service.api.json_patch import PATCH_MEDIA_TYPE
from service.api.references import local_ref
from service.api.urls import Urls
from service.errors import BadRequest, FhirError
from service.store.model import StoredResource

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
NO_CONDITION: Final = Freshness()  # a read that asks for the resource whatever it holds
METHODS: tuple[Method, ...] = ("DELETE", "POST", "PUT", "PATCH", "GET")  # processing order
BundleKind = Literal["transaction", "batch"]


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    method: Method
    url: str  # relative to the base: `Patient`, `Patient/1`, `Patient?identifier=...`
    full_url: str | None = None
    resource: dict[str, Any] | None = None
    if_none_exist: str | None = None
    if_match: VersionMatch | None = None
    patch: Any = None  # a PATCH entry's JSON Patch operations, decoded from its Binary
    fresh: Freshness = NO_CONDITION  # a GET's ifNoneMatch / ifModifiedSince (http.html#cread)

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def path(self) -> str:
        return self.url.split("?", 1)[0].strip("/")

    @property
    def query(self) -> str:
        return self.url.partition("?")[2]

    @property
    def resource_type(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def conditional(self) -> bool:
        """A conditional update, `PUT Type?criteria` (http.html#cond-update): which resource
        it writes is known only when the transaction runs its search."""
        return self.method == "PUT" and "/" not in self.path and bool(self.query)

    @property
    def by_criteria(self) -> bool:
        """A conditional update, patch or delete: its resource is its criteria's match."""
        return self.conditional or self.targeted

    @property
    def targeted(self) -> bool:
        """A conditional patch or delete, `PATCH|DELETE Type?criteria`: the one resource
        its criteria match when the transaction runs is the one it patches or deletes."""
        return self.method in ("PATCH", "DELETE") and "/" not in self.path and bool(self.query)


@dataclass(frozen=True, slots=True)
class EntryResult:
    entry: Entry
    status: int
    stored: StoredResource | None = None
    resource: dict[str, Any] | None = None  # a GET's searchset Bundle
    issues: tuple[Issue, ...] = ()


def parse_bundle(body: Mapping[str, Any], base_url: str) -> tuple[BundleKind, list[Entry]]:
    """Every entry, or the first entry's error (a transaction fails whole)."""
    kind, read = read_bundle(body, base_url)
    entries = [e for e in read if isinstance(e, Entry)]
    failed = [e for e in read if isinstance(e, FhirError)]
    if failed:
        raise failed[0]
    if kind == "transaction":
        check_overlaps(entries)
    return kind, entries


def read_bundle(
    body: Mapping[str, Any], base_url: str
) -> tuple[BundleKind, list[Entry | FhirError]]:
    """Each entry parsed, or its own error (a batch answers that entry alone)."""
    if body.get("resourceType") != "Bundle":
        raise BadRequest.of("POST to the base takes a transaction or batch Bundle", "resourceType")
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        raise BadRequest.of(
            f"Bundle.type must be transaction or batch, got {kind!r}", "Bundle.type"
        )
    raw = body.get("entry") or []
    if not isinstance(raw, list):
        raise BadRequest.of("Bundle.entry must be a list", "Bundle.entry")
    check_full_urls(raw)
    return kind, [_parsed(i, e, base_url) for i, e in enumerate(raw)]


def _parsed(index: int, raw: Any, base_url: str) -> Entry | FhirError:
    try:
        return parse_entry(index, raw, base_url)
    except FhirError as exc:
        return exc


def check_full_urls(raw: list[Any]) -> None:
    """bdl-7: a fullUrl appears once (or with a different meta.versionId)."""
    seen: set[tuple[str, Any]] = set()
    for index, entry in enumerate(raw):
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if not isinstance(url, str):
            continue
        resource = entry.get("resource")
        meta = resource.get("meta") if isinstance(resource, dict) else None
        key = (url, meta.get("versionId") if isinstance(meta, dict) else None)
        if key in seen:
            raise BadRequest.of(
                f"fullUrl {url!r} appears more than once (bdl-7)",
                f"Bundle.entry[{index}].fullUrl",
                code="invariant",
            )
        seen.add(key)


def check_overlaps(entries: Iterable[Entry]) -> None:
    """http.html#trules: identities may not overlap in DELETE, PUT and PATCH; 400."""
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.method in ("DELETE", "PUT", "PATCH") and not (
                entry.by_criteria):
            check_overlap(seen, entry.path, entry)


def check_overlap(seen: dict[str, Entry], ref: str, entry: Entry) -> None:
    """400 when `entry` touches `ref` (Type/id) that an entry in `seen` touches already;
    else it joins `seen` (a conditional update once its search has found `ref`)."""
    first = seen.setdefault(ref, entry)
    if first is not entry:
        raise BadRequest.of(
            f"{entry.method} {ref} overlaps {first.method} in {first.where}: a "
            "transaction may touch a resource once",
            f"{entry.where}.request.url",
            code="invariant",
        )


def parse_entry(index: int, raw: Any, base_url: str) -> Entry:
    where = f"Bundle.entry[{index}]"
    request = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(request, dict):
        raise BadRequest.of("each entry needs a request", f"{where}.request", code="required")
    method = str(request.get("method", "")).upper()
    url = request.get("url")
    if method not in METHODS or not isinstance(url, str) or not url:
        raise BadRequest.of(
            "request.method (GET/POST/PUT/PATCH/DELETE) and url are required",
            f"{where}.request",
            code="required",
        )
    resource = raw.get("resource")
    if method in ("POST", "PUT", "PATCH") and not isinstance(resource, dict):
        raise BadRequest.of(
            f"a {method} entry needs a resource", f"{where}.resource", code="required"
        )
    patch = None
    if method == "PATCH":
        patch, resource = patch_of(resource, f"{where}.resource"), None
    entry = Entry(
        index,
        method,
        local_ref(url, base_url),
        raw.get("fullUrl"),
        resource if isinstance(resource, dict) else None,
        _if_none_exist(request.get("ifNoneExist"), where),
        _if_match(request.get("ifMatch"), where),
        patch,
        _freshness(request, where) if method == "GET" else NO_CONDITION,
    )
    check_entry(entry)
    return entry


def _freshness(request: Mapping[str, Any], where: str) -> Freshness:
    """`request.ifNoneMatch` (an ETag, as the header) and `request.ifModifiedSince` (an
    instant, not an HTTP-date: malformed is 400 here, as any element of the Bundle)."""
    none_match = request.get("ifNoneMatch")
    since = request.get("ifModifiedSince")
    if none_match is not None and not isinstance(none_match, str):
        raise BadRequest.of("ifNoneMatch must be a string (an ETag)",
                            f"{where}.request.ifNoneMatch", code="structure")
    fresh = parse_freshness(none_match, None)
    if since is None or fresh.none_match is not None:
        return fresh
    try:
        when = datetime.fromisoformat(since) if isinstance(since, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise BadRequest.of("ifModifiedSince must be an instant (with its time zone)",
                            f"{where}.request.ifModifiedSince", code="value")
    return Freshness(None, when, to_millisecond=True)


_XSD_SPACE = re.compile(r"[ \t\n\r]")


def patch_of(binary: Any, where: str) -> Any:
    """The JSON Patch a PATCH entry's Binary holds (400 for anything else: FHIRPath Patch,
    another content type, data that is not base64 JSON)."""
    if binary.get("resourceType") != "Binary":
        raise BadRequest.of(
            "a PATCH entry takes a JSON Patch as a Binary (FHIRPath Patch is not supported)",
            f"{where}.resourceType", code="not-supported",
        )
    kind = binary.get("contentType")
    if not isinstance(kind, str) or media_type(kind) != PATCH_MEDIA_TYPE:
        raise BadRequest.of(f"the Binary of a PATCH entry must be {PATCH_MEDIA_TYPE}",
                            f"{where}.contentType", code="not-supported")
    data = binary.get("data")
    try:  # base64Binary may hold whitespace (datatypes.html#base64Binary)
        text = _XSD_SPACE.sub("", data) if isinstance(data, str) else ""
        return orjson.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        raise BadRequest.of("the Binary's data must be a base64-encoded JSON Patch",
                            f"{where}.data", code="structure") from None


def _if_match(value: Any, where: str) -> VersionMatch | None:
    try:
        return parse_version_match(value if isinstance(value, str) else None)
    except FhirError as exc:
        raise rebased(exc, f"{where}.request.ifMatch") from exc


def _if_none_exist(value: Any, where: str) -> str | None:
    try:
        return check_if_none_exist(value if isinstance(value, str) else None)
    except FhirError as exc:
        raise rebased(exc, f"{where}.request.ifNoneExist") from exc


def check_entry(entry: Entry) -> None:
    """The url fits the method: `Type` for POST, `Type/id` or `Type?criteria` (conditional)
    for PUT, PATCH and DELETE."""
    parts = entry.path.split("/")
    wants = {"POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 2}.get(entry.method)
    if wants is not None and (len(parts) != wants or entry.query) and not (
            entry.by_criteria):
        shape = "Type" if entry.method == "POST" else "Type/id or Type?criteria"
        raise BadRequest.of(
            f"{entry.method} url must be {shape}, got {entry.url!r}", f"{entry.where}.request.url"
        )
    if entry.resource is not None and entry.resource.get("resourceType") != parts[0]:
        raise BadRequest.of(
            f"resourceType does not match request.url {entry.url!r}",
            f"{entry.where}.resource.resourceType",
        )
    if (entry.method == "PUT" and not entry.conditional and entry.resource
            and entry.resource.get("id") != parts[1]):
        raise BadRequest.of(
            "the resource id must equal the id in request.url", f"{entry.where}.resource.id"
        )


def in_order(entries: Iterable[Entry], method: Method) -> list[Entry]:
    return [e for e in entries if e.method == method]


def rebase(issue: Issue, where: str) -> Issue:
    """`ServiceRequest.subject` -> `Bundle.entry[2].resource.subject`."""
    expr = issue.expression
    if expr and expr.startswith("Bundle.entry["):
        return issue
    head, dot, tail = (expr or "").partition(".")
    if expr and head[:1].isupper() and "[" not in head:
        path = f"{where}.resource" + (f".{tail}" if dot else "")
    else:
        path = f"{where}" + (f".{expr}" if expr else "")
    return Issue(issue.severity, issue.code, path, issue.message)


def rebased(exc: FhirError, where: str) -> FhirError:
    """The same error (class, status, attributes) with its issues pointing into the entry."""
    return with_issues(exc, lambda issue: rebase(issue, where))


def with_issues(exc: FhirError, change: Callable[[Issue], Issue]) -> FhirError:
    """The same error (class, status, attributes) with each issue changed by `change`."""
    moved = exc.__class__.__new__(exc.__class__)
    Exception.__init__(moved, *exc.args)
    moved.__dict__.update(exc.__dict__)
    moved.issues = tuple(change(i) for i in exc.issues)
    return moved


def response_entry(urls: Urls, result: EntryResult, prefer: Prefer) -> dict[str, Any]:
    """A DELETE answers its status and the deleted version's etag, and no resource."""
    stored = result.stored
    response: dict[str, Any] = {"status": status_line(result.status)}
    out: dict[str, Any] = {}
    if stored is not None and stored.deleted:
        response["etag"] = etag(stored.version_id)
        response["lastModified"] = stored.last_updated.isoformat(timespec="milliseconds")
        stored = None
    if stored is not None:
        out["fullUrl"] = urls.full_url(stored.ref)
        response |= {
            "etag": etag(stored.version_id),
            "lastModified": stored.last_updated.isoformat(timespec="milliseconds"),
        }
        if result.entry.method in ("POST", "PUT", "PATCH"):
            response["location"] = f"{stored.ref}/_history/{stored.version_id}"
    body = result.resource if result.resource is not None else (stored.content if stored else None)
    if result.status == 304:  # not modified: the client holds this version
        body = None
    if prefer.return_ == "OperationOutcome" and result.entry.method != "GET":
        response["outcome"] = to_operation_outcome(result.issues)
    elif body is not None and (prefer.return_ == "representation" or result.entry.method == "GET"):
        out["resource"] = body
    warnings = [i for i in result.issues if i.severity == "warning"]
    if warnings and "outcome" not in response:
        response["outcome"] = to_operation_outcome(warnings)  # e.g. imaging without indication
    return out | {"response": response}


def error_entry(exc: FhirError) -> dict[str, Any]:
    return {
        "response": {"status": status_line(exc.status), "outcome": to_operation_outcome(exc.issues)}
    }


def status_line(status: int) -> str:
    return f"{status} {http.HTTPStatus(status).phrase}"


def response_bundle(kind: BundleKind, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": f"{kind}-response", "entry": entries}
