"""API test fixtures: `api` (httpx.AsyncClient on create_app, over the store engineer's
`store` fixture, so every API test runs on SQLite and on PostgreSQL; PostgreSQL absent ->
the tests fail) and `kit` (resource builders and assertions).

The project imports tests with --import-mode=importlib, so helpers travel as a fixture
(`kit`) rather than an importable module. The builders make resources that validate
against chiroref's profiles (until profiles/examples/ ships ChiroAssessmentReferral-*.json).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from profiles import canonical
from service.app import create_app
from service.settings import Settings
from service.store.db import Store
from service.store.model import SYSTEM, SearchParam, SearchQuery

BASE = "http://127.0.0.1:8080/fhir"
MAX_BODY = 64_000

FNR = "01017010170"  # a fødselsnummer with valid check digits (synthetic)
ORGNR = "100000008"  # an organisasjonsnummer with a valid check digit (synthetic)


def patient(fnr: str = FNR, family: str = "Nordmann") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": canonical.NO_FNR, "value": fnr}],
        "name": [{"family": family, "given": ["Kari"]}],
    }


def organization(name: str = "Ryggklinikken", her_id: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": canonical.NO_HER, "value": her_id or _digits(6)}],
        "name": name,
    }


def practitioner() -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": canonical.NO_HPR, "value": _digits(7)}],
        "name": [{"family": "Lege"}],
    }


def practitioner_role(practitioner_ref: str, org_ref: str) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": practitioner_ref},
        "organization": {"reference": org_ref},
        "code": [{"coding": [{"system": canonical.PRACTITIONER_ROLE_CS, "code": "gp"}]}],
    }


def referral(
    subject_ref: str,
    requester_ref: str,
    performer_ref: str | None = None,
    identifier: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "extension": [
            {
                "url": canonical.RED_FLAG_SCREENING,
                "valueCodeableConcept": {
                    "coding": [{"system": canonical.RED_FLAG, "code": "no-red-flags"}]
                },
            }
        ],
        "identifier": [
            {"system": "urn:oid:2.16.578.1.12.4.1.2.99999", "value": identifier or _digits(8)}
        ],
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": canonical.SERVICE_CS, "code": "chiro-assessment"}]},
        "subject": {"reference": subject_ref},
        "occurrencePeriod": {"start": "2026-12-01", "end": "2026-12-20"},
        "authoredOn": "2026-11-25T10:00:00+01:00",
        "requester": {"reference": requester_ref},
        "reasonCode": [{"coding": [{"system": canonical.ICPC2, "code": "L03"}]}],
    }
    if performer_ref:
        out["performer"] = [{"reference": performer_ref}]
    return out


def _digits(n: int) -> str:
    return str(uuid.uuid4().int)[:n]


def api_settings(store: Store, **overrides: Any) -> Settings:
    url = store.engine.url.render_as_string(hide_password=False)
    fields: dict[str, Any] = {
        "database_url": url,
        "auto_migrate": False,
        "load_demo": False,
        "base_url": BASE,
        "max_body_bytes": MAX_BODY,
        "max_page_size": 20,
    }
    return Settings(**(fields | overrides))


@pytest.fixture
async def api_app(store: Store) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings(store))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE + "/") as client:
        yield client


class Kit:
    """Builders and assertions for API tests, bound to one client and one store."""

    base = BASE
    max_body = MAX_BODY
    patient = staticmethod(patient)
    organization = staticmethod(organization)
    practitioner = staticmethod(practitioner)
    practitioner_role = staticmethod(practitioner_role)
    referral = staticmethod(referral)

    def __init__(self, api: httpx.AsyncClient, store: Store) -> None:
        self.api, self.store = api, store

    async def count(self, rtype: str, params: dict[str, str] | None = None) -> int:
        """How many live resources of a type the store holds (SYSTEM sees all)."""
        wanted = tuple(SearchParam(k, (v,)) for k, v in (params or {}).items())
        async with self.store.begin(SYSTEM) as repo:
            return (await repo.search(SearchQuery(rtype, wanted, summary="count"))).total

    async def post(self, resource: dict[str, Any], **headers: str) -> dict[str, Any]:
        r = await self.api.post(resource["resourceType"], json=resource, headers=headers)
        assert r.status_code in (200, 201), r.text
        body: dict[str, Any] = r.json()
        return body

    async def outsider(self) -> dict[str, str]:
        """The `X-Acting-Organization` header of a new organisation that holds nothing."""
        made = await self.post(organization("Annen"))
        return {"X-Acting-Organization": f"Organization/{made['id']}"}

    async def gp_and_clinic(self) -> dict[str, str]:
        """A patient, a GP (Practitioner + PractitionerRole at a practice) and a clinic."""
        practice = await self.post(organization("Legekontoret"))
        clinic = await self.post(organization("Ryggklinikken"))
        doctor = await self.post(practitioner())
        role = await self.post(
            practitioner_role(f"Practitioner/{doctor['id']}", f"Organization/{practice['id']}")
        )
        person = await self.post(patient())
        return {
            "patient": f"Patient/{person['id']}",
            "practice": f"Organization/{practice['id']}",
            "clinic": f"Organization/{clinic['id']}",
            "role": f"PractitionerRole/{role['id']}",
        }

    @staticmethod
    def outcome(response: httpx.Response, status: int) -> list[dict[str, Any]]:
        """Assert an OperationOutcome with `status`; its issues."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/fhir+json")
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        issues: list[dict[str, Any]] = body["issue"]
        return issues

    @staticmethod
    def expressions(issues: list[dict[str, Any]]) -> set[str]:
        return {e for i in issues for e in i.get("expression", [])}


@pytest.fixture
def kit(api: httpx.AsyncClient, store: Store) -> Kit:
    return Kit(api, store)
