from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from profiles.issues import Issue
from service.api.bundles import (
    Entry,
    EntryResult,
    parse_bundle,
    rebase,
    rebased,
    response_entry,
)
from service.api.headers import Prefer, VersionMatch
from service.api.urls import Urls
from service.errors import BadRequest, PreconditionFailed
from service.store.model import StoredResource

BASE = "http://h/fhir"


def test_parse_bundle_entries() -> None:
    kind, entries = parse_bundle(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:1",
                    "resource": {"resourceType": "Patient"},
                    "request": {
                        "method": "POST",
                        "url": "Patient",
                        "ifNoneExist": "identifier=a|b",
                    },
                },
                {"request": {"method": "get", "url": f"{BASE}/Patient?name=x"}},
                {
                    "resource": {"resourceType": "Patient", "id": "7"},
                    "request": {"method": "PUT", "url": "Patient/7", "ifMatch": 'W/"2"'},
                },
            ],
        },
        BASE,
    )
    assert kind == "transaction"
    assert entries[0] == Entry(
        0, "POST", "Patient", "urn:uuid:1", {"resourceType": "Patient"}, "identifier=a|b"
    )
    assert (entries[1].method, entries[1].path, entries[1].query) == ("GET", "Patient", "name=x")
    assert entries[2].if_match == VersionMatch(frozenset({2}))


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"resource": {"resourceType": "Patient"}}, "Bundle.entry[0].request"),
        ({"request": {"method": "POST", "url": "Patient"}}, "Bundle.entry[0].resource"),
        (
            {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Task"}},
            "Bundle.entry[0].resource.resourceType",
        ),
        (
            {
                "resource": {"resourceType": "Patient", "id": "1"},
                "request": {"method": "PUT", "url": "Patient/2"},
            },
            "Bundle.entry[0].resource.id",
        ),
        ({"request": {"method": "DELETE", "url": "Patient/1?identifier=x"}},
         "Bundle.entry[0].request.url"),  # an id and criteria
        ({"request": {"method": "DELETE", "url": "Patient/1/x"}}, "Bundle.entry[0].request.url"),
        (
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "PUT", "url": "Patient/1?identifier=x"},
            },
            "Bundle.entry[0].request.url",
        ),
        ({"request": {"method": "OPTIONS", "url": "Patient/1"}}, "Bundle.entry[0].request"),
        ({"request": {"method": "PATCH", "url": "Patient/1"}}, "Bundle.entry[0].resource"),
    ],
)
def test_bad_entries_point_at_the_fault(raw: dict[str, object], where: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_bundle({"resourceType": "Bundle", "type": "batch", "entry": [raw]}, BASE)
    assert caught.value.issues[0].expression == where


def test_rebase_expressions() -> None:
    def moved(expr: str | None) -> str | None:
        return rebase(Issue("error", "required", expr, "m"), "Bundle.entry[2]").expression

    assert moved("ServiceRequest.subject") == "Bundle.entry[2].resource.subject"
    assert moved("ServiceRequest") == "Bundle.entry[2].resource"
    assert moved(None) == "Bundle.entry[2]"
    assert moved("request.url") == "Bundle.entry[2].request.url"
    assert moved("Bundle.entry[0].resource") == "Bundle.entry[0].resource"


def test_rebased_keeps_the_error_class() -> None:
    err = rebased(PreconditionFailed.of("stale", "Patient.meta"), "Bundle.entry[1]")
    assert isinstance(err, PreconditionFailed) and err.status == 412
    assert err.issues[0].expression == "Bundle.entry[1].resource.meta"


def test_response_entry_per_prefer() -> None:
    stored = StoredResource(
        "Patient", "1", 3, datetime(2026, 1, 2, tzinfo=UTC), {"resourceType": "Patient"}
    )
    result = EntryResult(Entry(0, "PUT", "Patient/1"), 200, stored)
    full = response_entry(Urls.of(BASE), result, Prefer())
    assert full["fullUrl"] == f"{BASE}/Patient/1" and full["resource"] == stored.content
    assert full["response"] == {
        "status": "200 OK",
        "etag": 'W/"3"',
        "lastModified": "2026-01-02T00:00:00.000+00:00",
        "location": "Patient/1/_history/3",
    }
    assert "resource" not in response_entry(Urls.of(BASE), result, Prefer("minimal"))
    oo = response_entry(Urls.of(BASE), result, Prefer("OperationOutcome"))
    assert oo["response"]["outcome"]["resourceType"] == "OperationOutcome"


def _transaction(*entries: Mapping[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_duplicate_full_urls_are_refused_bdl_7() -> None:
    entry = {
        "fullUrl": "urn:uuid:1",
        "resource": {"resourceType": "Patient"},
        "request": {"method": "POST", "url": "Patient"},
    }
    with pytest.raises(BadRequest) as caught:
        parse_bundle(_transaction(entry, entry), BASE)
    assert caught.value.issues[0].expression == "Bundle.entry[1].fullUrl"
    versioned = [
        {**entry, "resource": {"resourceType": "Patient", "meta": {"versionId": v}}}
        for v in ("1", "2")
    ]
    assert len(parse_bundle(_transaction(*versioned), BASE)[1]) == 2


def test_overlapping_identities_fail_a_transaction_not_a_batch() -> None:
    delete = {"request": {"method": "DELETE", "url": "Patient/1"}}
    put = {
        "resource": {"resourceType": "Patient", "id": "1"},
        "request": {"method": "PUT", "url": "Patient/1"},
    }
    with pytest.raises(BadRequest) as caught:
        parse_bundle(_transaction(delete, put), BASE)
    assert caught.value.issues[0].expression == "Bundle.entry[1].request.url"
    assert len(parse_bundle(_transaction(delete, put, kind="batch"), BASE)[1]) == 2


def test_read_bundle_keeps_each_entrys_error() -> None:
    from service.api.bundles import read_bundle

    ok = {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}
    kind, read = read_bundle(
        _transaction({"resource": {"resourceType": "Patient"}}, ok, kind="batch"), BASE
    )
    assert kind == "batch" and isinstance(read[0], BadRequest) and isinstance(read[1], Entry)
    assert read[0].issues[0].expression == "Bundle.entry[0].request"


def test_delete_entries_answer_no_resource() -> None:
    gone = StoredResource(
        "Patient",
        "1",
        4,
        datetime(2026, 1, 2, tzinfo=UTC),
        {"resourceType": "Patient", "id": "1"},
        deleted=True,
    )
    out = response_entry(
        Urls.of(BASE), EntryResult(Entry(0, "DELETE", "Patient/1"), 204, gone), Prefer()
    )
    assert out == {
        "response": {
            "status": "204 No Content",
            "etag": 'W/"4"',
            "lastModified": "2026-01-02T00:00:00.000+00:00",
        }
    }
