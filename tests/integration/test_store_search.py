"""Search semantics on both engines: every parameter type and modifier, paging, sort."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.errors import BadRequest
from service.store.db import Store
from service.store.model import SYSTEM, Caller, NewResource, SearchParam, SearchQuery

New = Callable[..., NewResource]
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
SCT = "http://snomed.info/sct"


def _q(rtype: str, *params: tuple[str, str], **kw: object) -> SearchQuery:
    parsed = []
    for key, value in params:
        name, _, modifier = key.partition(":")
        parsed.append(SearchParam(name, tuple(value.split(",")), modifier or None))
    return SearchQuery(rtype, tuple(parsed), **kw)  # type: ignore[arg-type]


@pytest.fixture
async def data(store: Store, store_new: New) -> dict[str, NewResource]:
    items = {
        "sr1": store_new(
            "ServiceRequest", orgs={"Organization/clinic-a"},
            status="active", identifier=[{"system": "urn:gp", "value": "R-1"}],
            subject={"reference": "Patient/p1"}, requester={"reference": "PractitionerRole/gp"},
            performer=[{"reference": "Organization/clinic-a"}],
            authoredOn="2026-11-25T10:00:00+01:00",
            code={"coding": [{"system": SCT, "code": "183545006"}]},
            category=[{"coding": [{"code": "imaging"}]}],
        ),
        "sr2": store_new(
            "ServiceRequest", orgs={"Organization/clinic-b"},
            status="draft", subject={"reference": "https://other.example/fhir/Patient/p1"},
            authoredOn="2026-10-01",
            performer=[{"identifier": {"system": "urn:sor", "value": "42"}}],
        ),
        "sr3": store_new(
            "ServiceRequest", status="active", subject={"reference": "Group/p1"},
            authoredOn="2026-11-25T23:30:00Z",
        ),
        "pat": store_new(
            "Patient", birthDate="1980-05",
            name=[{"family": "Ødegård", "given": ["Kari", "Hélène"]}],
            identifier=[{"system": FNR, "value": "01018012345"}],
        ),
        "org": store_new("Organization", name="Kiropraktor_100% Sør", alias=["KS"]),
        "hs": store_new("HealthcareService", active=True),
        "qr": store_new("QuestionnaireResponse", questionnaire="https://q.example/odi|2"),
    }
    async with store.begin(SYSTEM) as repo:
        await repo.create_many(list(items.values()))
    return items


async def _ids(store: Store, query: SearchQuery, caller: Caller = SYSTEM) -> set[str]:
    async with store.begin(caller) as repo:
        page = await repo.search(query)
    assert page.total == len(page.items) or query.count < page.total
    return {r.id for r in page.items}


CASES: list[tuple[str, tuple[tuple[str, str], ...], set[str]]] = [
    ("ServiceRequest", (("status", "active"),), {"sr1", "sr3"}),
    ("ServiceRequest", (("status", "draft,active"),), {"sr1", "sr2", "sr3"}),
    ("ServiceRequest", (("status", "active"), ("subject", "p1")), {"sr1", "sr3"}),
    ("ServiceRequest", (("status:not", "active"),), {"sr2"}),
    ("ServiceRequest", (("code", f"{SCT}|183545006"),), {"sr1"}),
    ("ServiceRequest", (("code", "183545006"),), {"sr1"}),
    ("ServiceRequest", (("code", f"{SCT}|"),), {"sr1"}),
    ("ServiceRequest", (("code", "urn:other|183545006"),), set()),
    ("ServiceRequest", (("category", "|imaging"),), {"sr1"}),
    ("ServiceRequest", (("identifier", "urn:gp|R-1"),), {"sr1"}),
    ("ServiceRequest", (("code:missing", "true"),), {"sr2", "sr3"}),
    ("ServiceRequest", (("code:missing", "false"),), {"sr1"}),
    ("ServiceRequest", (("subject", "Patient/p1"),), {"sr1"}),
    ("ServiceRequest", (("subject:Group", "p1"),), {"sr3"}),
    ("ServiceRequest", (("patient", "p1"),), {"sr1"}),
    ("ServiceRequest", (("subject", "https://other.example/fhir/Patient/p1"),), {"sr2"}),
    ("ServiceRequest", (("performer:identifier", "urn:sor|42"),), {"sr2"}),
    ("ServiceRequest", (("requester", "PractitionerRole/gp/_history/3"),), {"sr1"}),
    ("ServiceRequest", (("authored", "2026-11-25"),), {"sr1", "sr3"}),
    ("ServiceRequest", (("authored", "2026-11"),), {"sr1", "sr3"}),
    ("ServiceRequest", (("authored", "2026"),), {"sr1", "sr2", "sr3"}),
    ("ServiceRequest", (("authored", "2026-11-25T09:00:00Z"),), {"sr1"}),
    ("ServiceRequest", (("authored", "ne2026-11-25"),), {"sr2"}),
    ("ServiceRequest", (("authored", "gt2026-11-25T09:00:00Z"),), {"sr3"}),
    ("ServiceRequest", (("authored", "ge2026-11-25T09:00:00Z"),), {"sr1", "sr3"}),
    ("ServiceRequest", (("authored", "lt2026-11-25T09:00:00Z"),), {"sr2"}),
    ("ServiceRequest", (("authored", "le2026-11-25T09:00:00Z"),), {"sr1", "sr2"}),
    ("ServiceRequest", (("authored", "sa2026-10-01"),), {"sr1", "sr3"}),
    ("ServiceRequest", (("authored", "eb2026-11"),), {"sr2"}),
    ("ServiceRequest", (("authored", "ge2026-10-01"), ("authored", "lt2026-11-25")), {"sr2"}),
    ("Patient", (("name", "ØDEG"),), {"pat"}),
    ("Patient", (("name", "odeg"),), set()),  # Ø is a letter of its own, not O + accent
    ("Patient", (("name", "helene"),), {"pat"}),
    ("Patient", (("name", "KARI"),), {"pat"}),
    ("Patient", (("name", "ari"),), set()),
    ("Patient", (("name:contains", "ari"),), {"pat"}),
    ("Patient", (("name:exact", "Ødegård"),), {"pat"}),
    ("Patient", (("name:exact", "ødegård"),), set()),
    ("Patient", (("birthdate", "1980"),), {"pat"}),
    ("Patient", (("birthdate", "1980-05-17"),), set()),
    ("Patient", (("birthdate", "ge1980-05-17"),), {"pat"}),
    ("Patient", (("identifier", f"{FNR}|01018012345"),), {"pat"}),
    ("Organization", (("name", "ks"),), {"org"}),
    ("Organization", (("name:contains", "_100%"),), {"org"}),
    ("Organization", (("name:contains", "1000"),), set()),
    ("HealthcareService", (("active", "true"),), {"hs"}),
    ("HealthcareService", (("active", "false"),), set()),
    ("QuestionnaireResponse", (("questionnaire", "https://q.example/odi|2"),), {"qr"}),
]


@pytest.mark.parametrize(("rtype", "params", "expected"), CASES)
async def test_search(
    store: Store, data: dict[str, NewResource], rtype: str,
    params: tuple[tuple[str, str], ...], expected: set[str],
) -> None:
    want = {data[k].id for k in expected}
    assert await _ids(store, _q(rtype, *params)) == want


async def test_id_and_last_updated(store: Store, data: dict[str, NewResource]) -> None:
    sr1, sr2 = data["sr1"].id, data["sr2"].id
    async with store.begin(SYSTEM) as repo:
        stamp = (await repo.read("ServiceRequest", sr1)).content["meta"]["lastUpdated"]
    assert await _ids(store, _q("ServiceRequest", ("_id", f"{sr1},{sr2}"))) == {sr1, sr2}
    assert len(await _ids(store, _q("ServiceRequest", ("_lastUpdated", stamp)))) == 3
    assert await _ids(store, _q("ServiceRequest", ("_lastUpdated", f"gt{stamp}"))) == set()
    assert len(await _ids(store, _q("ServiceRequest", ("_lastUpdated", f"le{stamp}")))) == 3
    assert len(await _ids(store, _q("ServiceRequest", ("_lastUpdated", "ge2020")))) == 3


async def test_deleted_resources_are_not_found(store: Store, data: dict[str, NewResource]) -> None:
    async with store.begin(SYSTEM) as repo:
        await repo.delete("ServiceRequest", data["sr1"].id)
    assert await _ids(store, _q("ServiceRequest", ("status", "active"))) == {data["sr3"].id}


async def test_search_sees_the_current_version(store: Store, data: dict[str, NewResource]) -> None:
    sr2 = data["sr2"]
    async with store.begin(SYSTEM) as repo:
        await repo.update("ServiceRequest", sr2.id, {**sr2.content, "status": "revoked"}, sr2.orgs)
    assert await _ids(store, _q("ServiceRequest", ("status", "draft"))) == set()
    assert await _ids(store, _q("ServiceRequest", ("status", "revoked"))) == {sr2.id}


async def test_search_is_isolated(store: Store, data: dict[str, NewResource]) -> None:
    clinic_a = Caller("a", frozenset({"Organization/clinic-a"}))
    query = _q("ServiceRequest", ("status", "active,draft"))
    assert await _ids(store, query, clinic_a) == {data["sr1"].id}


async def test_paging_total_and_sort(store: Store, store_new: New) -> None:
    tasks = [store_new("Task", status="requested", lastModified=f"2026-01-{d:02d}")
             for d in (5, 3, 9, 1, 7)]
    async with store.begin(SYSTEM) as repo:
        await repo.create_many(tasks)
        pages = [await repo.search(_q("Task", count=2, offset=o, sort=("-modified",)))
                 for o in (0, 2, 4, 6)]
        counted = await repo.search(_q("Task", ("status", "requested"), summary="count"))
        by_id = await repo.search(_q("Task", sort=("_id",)))
    assert [p.total for p in pages] == [5, 5, 5, 5] and counted.total == 5
    assert counted.items == [] and pages[3].items == []
    modified = [r.content["lastModified"][-2:] for p in pages for r in p.items]
    assert modified == ["09", "07", "05", "03", "01"]
    assert [r.id for r in by_id.items] == sorted(t.id for t in tasks)


@pytest.mark.parametrize(
    ("rtype", "key", "value"),
    [
        ("ServiceRequest", "authored", "2026-13"),
        ("ServiceRequest", "authored", "yesterday"),
        ("ServiceRequest", "_lastUpdated", "gt20261"),
        ("ServiceRequest", "status:missing", "maybe"),
        ("ServiceRequest", "status:exact", "active"),
        ("ServiceRequest", "subject", "Patient/"),
        ("ServiceRequest", "nonsense", "x"),
    ],
)
async def test_malformed_values_are_bad_requests(
    store: Store, rtype: str, key: str, value: str
) -> None:
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(BadRequest):
            await repo.search(_q(rtype, (key, value)))


async def test_bad_date_names_the_parameter(store: Store) -> None:
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(BadRequest) as caught:
            await repo.search(_q("Task", ("modified", "2026-02-30")))
    assert caught.value.issues[0].expression == "Task.lastModified"


async def test_unsortable_parameter_is_a_bad_request(store: Store) -> None:
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(BadRequest):
            await repo.search(_q("Task", sort=("status",)))
