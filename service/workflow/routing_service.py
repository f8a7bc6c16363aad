"""Routing with I/O: load the candidates from the directory, rank them with the pure
`routing.rank_clinics`, and give the Task its owner (or fail it, with the reason).

- At intake (`route_intake`): a referral that names no clinic gets its Task's owner chosen
  in the same `create_many` as the referral.
- After a rejection (`reroute`): in the transaction of the rejection, the previous Task gets
  businessStatus `rerouted` (or `escalated` when no clinic is left) and a NEW Task is created
  for the next clinic. The new Task points back with `Task.input` (type text
  `rerouted-from`, valueReference the previous Task), and every Task of the chain has the same
  `focus` (the referral): `GET /Task?focus=ServiceRequest/<id>` shows the chain.
  The deadline worker calls `reroute(repo, task, reason)` for a silent clinic.
- No clinic left: the new Task has status `failed` and statusReason escalation-kind
  `no-clinic` with the explanation as text.

The explanation of every choice is kept on the Task as a `Task.note` by "chiroref routing".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from profiles import canonical
from service.errors import NotFound
from service.ids import new_id
from service.store import workload
from service.store.model import NewResource, SearchParam, SearchQuery, StoredResource
from service.store.repository import Repository
from service.workflow import ownership, postcodes, referrals
from service.workflow.access import as_system
from service.workflow.routing import (
    Candidate,
    RoutingResult,
    country_code,
    patient_country,
    rank_clinics,
)
from service.workflow.task_states import OPEN

__all__ = [
    "NO_CLINIC",
    "REROUTED_FROM",
    "candidates",
    "choose",
    "patient_position",
    "reroute",
    "route_intake",
    "routed_task",
]

SERVICE_TYPE: Final = (canonical.SERVICE_CS, "chiro-assessment")
ESCALATION_KIND: Final = f"{canonical.BASE}/CodeSystem/escalation-kind"
NO_CLINIC: Final = {"system": ESCALATION_KIND, "code": "no-clinic", "display": "No clinic left"}
REROUTED_FROM: Final = "rerouted-from"
ROUTING_AUTHOR: Final = "chiroref routing"
PAGE: Final = 500


def _business(code: str, display: str, text: str) -> dict[str, Any]:
    coding = {"system": canonical.BUSINESS_STATUS, "code": code, "display": display}
    return {"coding": [coding], "text": text}


def _offers_assessment(service: Mapping[str, Any]) -> bool:
    return any(
        (c.get("system"), c.get("code")) == SERVICE_TYPE
        for concept in service.get("type") or []
        for c in concept.get("coding") or []
    )


async def _all(repo: Repository, rtype: str, *params: SearchParam) -> list[StoredResource]:
    found: list[StoredResource] = []
    while True:
        page = await repo.search(SearchQuery(rtype, params, count=PAGE, offset=len(found)))
        found += page.items
        if not page.items or len(found) >= page.total:
            return found


async def _position(
    repo: Repository, service: Mapping[str, Any]
) -> tuple[postcodes.Position, str | None] | None:
    """The first Location with a position: (position, its address country)."""
    for ref in service.get("location") or []:
        place = (await ownership.read_content(repo, ref.get("reference"))) or {}
        where = place.get("position") or {}
        if isinstance(where.get("latitude"), int | float) and "longitude" in where:
            at = postcodes.Position(float(where["latitude"]), float(where["longitude"]))
            return at, country_code((place.get("address") or {}).get("country"))
    return None


async def candidates(repo: Repository) -> list[Candidate]:
    """Clinics with an active chiro-assessment HealthcareService and a Location position
    (with the country of that Location's address)."""
    found: dict[str, tuple[postcodes.Position, str | None]] = {}
    for service in await _all(repo, "HealthcareService", SearchParam("active", ("true",))):
        clinic = (service.content.get("providedBy") or {}).get("reference")
        if not clinic or ownership.is_foreign(clinic) or not _offers_assessment(
                service.content) or clinic in found:
            continue
        where = await _position(repo, service.content)
        if where is not None:
            found[ownership.local(clinic)] = where
    load = await workload.open_task_counts(repo.connection, found, OPEN)
    return [
        Candidate(ref, True, pos, load.get(ref, 0), country)
        for ref, (pos, country) in found.items()
    ]


async def _patient(
    repo: Repository, referral: Mapping[str, Any], known: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    ref = (referral.get("subject") or {}).get("reference")
    patient = known.get(ownership.local(ref)) if ref else None
    return patient or await ownership.read_content(repo, ref)


async def patient_position(
    repo: Repository, referral: Mapping[str, Any], known: Mapping[str, Mapping[str, Any]]
) -> postcodes.Position | None:
    """Patient.address[0] postalCode + country of the referral's subject, if known."""
    patient = await _patient(repo, referral, known)
    address = ((patient or {}).get("address") or [{}])[0]
    try:
        return postcodes.position(address.get("country") or "", address.get("postalCode") or "")
    except postcodes.PostalCodeError:
        return None


async def choose(
    repo: Repository,
    referral: Mapping[str, Any],
    rejected_by: frozenset[str] = frozenset(),
    known: Mapping[str, Mapping[str, Any]] | None = None,
) -> RoutingResult:
    """Rank the clinics for `referral`: only those in the patient's country
    (`routing.patient_country`; unknown: every country)."""
    system = as_system(repo)
    position = await patient_position(system, referral, known or {})
    country = patient_country(await _patient(system, referral, known or {}))
    return rank_clinics(await candidates(system), position, rejected_by, country=country)


def routed_task(task: Mapping[str, Any], result: RoutingResult, now: datetime) -> dict[str, Any]:
    """Pure: the Task with the chosen owner, or failed with `no-clinic`; explanation noted."""
    out = {k: v for k, v in task.items() if k not in ("owner", "statusReason")}
    note = {"authorString": ROUTING_AUTHOR, "time": _instant(now), "text": result.explanation}
    out["note"] = [*(task.get("note") or []), note]
    if result.chosen is not None:
        out["owner"] = {"reference": result.chosen.clinic_ref}
        return out
    first = result.explanation.splitlines()[0]
    reason = f"No clinic left to take this referral. {first}"
    return out | {"status": "failed", "statusReason": {"coding": [dict(NO_CLINIC)], "text": reason}}


async def route_intake(
    repo: Repository, made: list[NewResource], known: Mapping[str, Mapping[str, Any]]
) -> list[NewResource]:
    """`[referral, task]` from `referrals.intake` with the Task routed (it names no clinic);
    the chosen clinic may read the referral (an organisation of it)."""
    referral, task = made
    result = await choose(repo, referral.content, known=known)
    content = routed_task(task.content, result, repo.now)
    roles = await ownership.resolve_roles(as_system(repo), content, known)
    task = replace(task, content=content, orgs=ownership.orgs_of(content, roles))
    if result.chosen is not None:
        referral = replace(referral, orgs=referral.orgs | {result.chosen.clinic_ref})
    return [referral, task]


async def reroute(repo: Repository, task: StoredResource, reason: str) -> StoredResource:
    """A new Task for the next clinic (or a failed one); the previous Task is marked
    `rerouted` / `escalated` with `reason`. Runs in the caller's transaction."""
    system = as_system(repo)
    focus = referrals.focus_of(task.content)
    if focus is None:
        raise NotFound.of(f"{task.ref} has no focus to reroute", "Task.focus")
    referral = await system.read(*focus)
    result = await choose(system, referral.content, await _tried(system, task))
    fresh = referrals.build_referral_task(referral.content, task_id=new_id(), now=repo.now)
    fresh["input"] = [{"type": {"text": REROUTED_FROM}, "valueReference": {"reference": task.ref}}]
    content = routed_task(fresh, result, repo.now)
    roles = await ownership.resolve_roles(system, content, {})
    new = NewResource(content, ownership.orgs_of(content, roles))
    created = (await system.create_many([new]))[0]
    if result.chosen is not None:
        await workload.grant(system.connection, *focus, result.chosen.clinic_ref)
    await _mark_previous(system, task, created, result, reason)
    return created


async def _tried(repo: Repository, task: StoredResource) -> frozenset[str]:
    """Clinics that rejected this referral before, and the owner of `task` itself."""
    tasks = await _all(repo, "Task", SearchParam("focus", (task.content["focus"]["reference"],)))
    owners = {
        (t.content.get("owner") or {}).get("reference")
        for t in tasks
        if t.content.get("status") == "rejected" or t.id == task.id
    }
    return frozenset(ownership.local(o) for o in owners if o)


async def _mark_previous(
    repo: Repository, task: StoredResource, created: StoredResource, result: RoutingResult,
    reason: str,
) -> None:
    if result.chosen is not None:
        text = f"{reason} Rerouted to {result.chosen.clinic_ref} ({created.ref})."
        status = _business("rerouted", "Rerouted", text)
    else:
        text = f"{reason} No clinic left: {created.ref} failed."
        status = _business("escalated", "Escalated", text)
    content = {**task.content, "businessStatus": status}
    roles = await ownership.resolve_roles(repo, content, {})
    await repo.update("Task", task.id, content, ownership.orgs_of(content, roles), task.version_id)


def _instant(now: datetime) -> str:
    return now.isoformat(timespec="milliseconds")
