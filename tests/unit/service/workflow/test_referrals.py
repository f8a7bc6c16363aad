from __future__ import annotations

from datetime import UTC, datetime

import pytest

from profiles import canonical
from profiles.validate import validate_resource
from service.errors import Unprocessable
from service.store.model import NewResource
from service.workflow import ownership, referrals

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REFERRAL = {
    "resourceType": "ServiceRequest",
    "id": "sr-1",
    "status": "active",
    "identifier": [{"system": "urn:sys", "value": "42"}],
    "subject": {"reference": "Patient/p"},
    "requester": {"reference": "PractitionerRole/r"},
    "performer": [{"reference": "Organization/clinic"}],
}


def test_task_for_a_referral() -> None:
    task = referrals.build_referral_task(REFERRAL, task_id="t-1", now=NOW)
    assert task == {
        "resourceType": "Task",
        "id": "t-1",
        "meta": {"profile": [canonical.REFERRAL_TASK]},
        "status": "requested",
        "intent": "order",
        "focus": {"reference": "ServiceRequest/sr-1"},
        "basedOn": [{"reference": "ServiceRequest/sr-1"}],
        "authoredOn": "2026-11-25T12:00:00.000+00:00",
        "lastModified": "2026-11-25T12:00:00.000+00:00",
        "for": {"reference": "Patient/p"},
        "requester": {"reference": "PractitionerRole/r"},
        "owner": {"reference": "Organization/clinic"},
    }
    assert [i for i in validate_resource(task) if i.is_error] == []


def test_no_owner_unless_the_performer_is_an_organization() -> None:
    referral = REFERRAL | {"performer": [{"reference": "Practitioner/x"}]}
    assert "owner" not in referrals.build_referral_task(referral, task_id="t", now=NOW)
    assert "owner" not in referrals.build_referral_task(
        REFERRAL | {"performer": []}, task_id="t", now=NOW
    )


def test_which_service_requests_are_referrals() -> None:
    assert referrals.is_referral(REFERRAL)
    assert referrals.is_referral(REFERRAL | {"meta": {"profile": [canonical.REFERRAL + "|0.1.0"]}})
    assert not referrals.is_referral(REFERRAL | {"meta": {"profile": ["http://other/Imaging"]}})
    assert not referrals.is_referral({"resourceType": "Task"})


def test_identifier_claim_is_scoped_by_the_sender_organisation() -> None:
    roles = {"PractitionerRole/r": "Organization/practice"}
    sender = referrals.sender_of(REFERRAL, roles)
    assert sender == "Organization/practice"
    assert referrals.identifier_claim(REFERRAL, sender) == (
        "referral?requester=Organization/practice&identifier=urn:sys|42"
    )
    assert referrals.identifier_claim(REFERRAL | {"identifier": []}, sender) is None


def test_intake_is_referral_then_task_with_the_claim_and_orgs() -> None:
    roles = {"PractitionerRole/r": "Organization/practice"}
    new = NewResource(REFERRAL, frozenset({"Organization/clinic"}))
    referral, task = referrals.intake(new, roles, NOW)
    assert referral is new and task.resource_type == "Task"
    assert task.claim_key and task.claim_key.startswith(referrals.CLAIM_PREFIX)
    assert task.orgs == {"Organization/practice", "Organization/clinic"}
    assert referrals.focus_of(task.content) == ("ServiceRequest", "sr-1")


def test_orgs_of_resources() -> None:
    roles = {"PractitionerRole/r": "Organization/practice"}
    assert ownership.orgs_of(REFERRAL, roles) == {"Organization/practice", "Organization/clinic"}
    assert ownership.orgs_of(
        {
            "resourceType": "Patient",
            "managingOrganization": {"reference": "http://x/fhir/Organization/gp"},
        },
        {},
    ) == frozenset()  # another server's organisation, not our Organization/gp
    assert ownership.orgs_of({"resourceType": "Organization", "id": "o"}, {}) == {"Organization/o"}
    assert ownership.role_refs(REFERRAL) == {"PractitionerRole/r"}
    assert ownership.role_org({"organization": {"reference": "Organization/z"}}) == "Organization/z"


def test_a_draft_referral_is_refused_with_its_path() -> None:
    draft = NewResource(REFERRAL | {"status": "draft"})
    with pytest.raises(Unprocessable) as refused:
        referrals.intake(draft, {}, NOW)
    assert [i.expression for i in refused.value.issues] == ["ServiceRequest.status"]
