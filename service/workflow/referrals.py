"""Referral intake: a new ChiroAssessmentReferral brings its ReferralTask with it.

When a referral (a ServiceRequest with the referral profile, or with no profile: the
referral is the type's default profile) is created - plain POST, conditional create or a
transaction entry - the caller stores `[referral, task]` with ONE `create_many` call, so
both commit or neither does (DESIGN.md, GP -> chiropractor step 2).

The referral's identifier is unique per sender (the requester's organisation). That claim
rides on the Task (`NewResource` holds one claim key, and the referral's own slot is taken
by a conditional create's `If-None-Exist` key); see `identifier_claim`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from profiles import canonical
from profiles.issues import Issue
from service.errors import Unprocessable
from service.ids import new_id
from service.store.model import NewResource
from service.workflow import ownership

CLAIM_PREFIX = "referral?"


def is_referral(content: Mapping[str, Any]) -> bool:
    if content.get("resourceType") != "ServiceRequest":
        return False
    declared = (content.get("meta") or {}).get("profile") or []
    return not declared or any(p.split("|")[0] == canonical.REFERRAL for p in declared)


def build_referral_task(
    referral: Mapping[str, Any], *, task_id: str, now: datetime
) -> dict[str, Any]:
    """Pure: the ReferralTask for a stored-to-be referral (which already has its id)."""
    focus = {"reference": f"ServiceRequest/{referral['id']}"}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"profile": [canonical.REFERRAL_TASK]},
        "status": "requested",
        "intent": "order",
        "focus": focus,
        "basedOn": [dict(focus)],
        "authoredOn": now.isoformat(timespec="milliseconds"),
        "lastModified": now.isoformat(timespec="milliseconds"),  # Task?modified= finds new work
    }
    for source, target in (("subject", "for"), ("requester", "requester")):
        if isinstance(referral.get(source), dict):
            task[target] = dict(referral[source])
    owner = named_clinic(referral)
    if owner is not None:
        task["owner"] = owner
    return task


def first_performer(referral: Mapping[str, Any]) -> dict[str, Any]:
    """The referral's first performer ({} without one)."""
    performers = referral.get("performer") or []
    return performers[0] if performers and isinstance(performers[0], dict) else {}


def named_clinic(referral: Mapping[str, Any]) -> dict[str, Any] | None:
    first = first_performer(referral)
    named = ownership.ref_type(first.get("reference")) == "Organization"
    return dict(first) if named else None


def check_performer(referral: Mapping[str, Any]) -> None:
    """A clinic the GP names must be one of ours, named by a literal reference
    (`Organization/<id>`), for a clinic here to own the Task: one on another server (an
    absolute URL; ours arrive relative), or an Organization named only by identifier or
    display, is 422 rather than a Task owned by nobody or a silent re-route. A performer
    that names no organisation of ours otherwise (none, a contained `#clinic`, a
    PractitionerRole) leaves the referral to routing."""
    first = first_performer(referral)
    ref = first.get("reference")
    if isinstance(ref, str) and ownership.is_foreign(ref):
        raise Unprocessable(Issue(
            "error", "business-rule", "ServiceRequest.performer[0].reference",
            f"the clinic {ref!r} is on another server; name one of this server's clinics "
            "(Organization/<id>), or none to have the referral routed"))
    if ref is None and first.get("type") == "Organization":
        raise Unprocessable(Issue(
            "error", "business-rule", "ServiceRequest.performer[0]",
            "name the clinic by reference (Organization/<id>), or name none to have the "
            "referral routed; an identifier or display alone names no clinic here"))


def sender_of(referral: Mapping[str, Any], roles: Mapping[str, str]) -> str | None:
    """Who sent it: the requester's organisation, else the requester reference's `Type/id`
    (another server's too: claim keys stored before that server's references stopped
    counting as ours keep matching resends)."""
    ref = (referral.get("requester") or {}).get("reference")
    return ownership.party_org(ref, roles) or (ownership.type_and_id(ref) if ref else None)


def identifier_claim(referral: Mapping[str, Any], sender: str | None) -> str | None:
    """`referral?requester=<sender>&identifier=<system>|<value>`, or None without one."""
    for ident in referral.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
            who = sender or "-"
            return f"{CLAIM_PREFIX}requester={who}&identifier={ident['system']}|{ident['value']}"
    return None


def intake(referral: NewResource, roles: Mapping[str, str], now: datetime) -> list[NewResource]:
    """`[referral, task]` for one `create_many`; the Task carries the identifier claim.

    Only an `active` referral is work for a clinic: a draft stays in the GP system (FHIR
    request-status: draft is "not yet ready for action"), so it is refused here.
    """
    status = referral.content.get("status")
    if status != "active":
        raise Unprocessable(Issue(
            "error", "business-rule", "ServiceRequest.status",
            f"a referral is sent with status 'active' (got '{status}'); drafts stay with the GP",
        ))
    check_performer(referral.content)
    task = build_referral_task(referral.content, task_id=new_id(), now=now)
    claim = identifier_claim(referral.content, sender_of(referral.content, roles))
    return [referral, NewResource(task, ownership.orgs_of(task, roles), claim_key=claim)]


def focus_of(task: Mapping[str, Any]) -> tuple[str, str] | None:
    """`(ServiceRequest, id)` from an intake Task's focus (to resolve an identifier claim)."""
    ref = (task.get("focus") or {}).get("reference") or ""
    kind, _, rid = ownership.local(ref).partition("/")
    return (kind, rid) if kind and rid else None


def same_referral(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """A replay: equal but for id and meta."""

    def strip(c: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in ("id", "meta")}

    return strip(a) == strip(b)
