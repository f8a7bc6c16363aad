from __future__ import annotations

from typing import Any

import pytest

from service.errors import Forbidden, IllegalTransition, Unprocessable
from service.store.model import SYSTEM, Caller
from service.workflow.access import party_of
from service.workflow.tasks import check_change, rejection_reason

TASK: dict[str, Any] = {
    "resourceType": "Task", "id": "t", "status": "requested", "intent": "order",
    "owner": {"reference": "Organization/clinic"},
    "requester": {"reference": "PractitionerRole/gp"},
}
ROLES = {"PractitionerRole/gp": "Organization/practice"}


@pytest.mark.parametrize(
    ("caller", "party"),
    [(SYSTEM, "system"),
     (Caller("c", frozenset({"Organization/clinic"})), "owner"),
     (Caller("g", frozenset({"Organization/practice"})), "requester"),
     (Caller("x", frozenset({"Organization/other"})), None)],
)
def test_party_of(caller: Caller, party: str | None) -> None:
    assert party_of(caller, TASK, ROLES) == party


def test_owner_accepts() -> None:
    assert check_change(TASK, TASK | {"status": "accepted"}, "owner") == "accept"


def test_unchanged_status_is_no_action() -> None:
    assert check_change(TASK, TASK | {"note": [{"text": "x"}]}, "owner") is None


def test_illegal_transition() -> None:
    with pytest.raises(IllegalTransition):
        check_change(TASK, TASK | {"status": "completed"}, "owner")


@pytest.mark.parametrize(("party", "status"), [("requester", "accepted"), ("owner", "cancelled"),
                                                (None, "accepted")])
def test_forbidden(party: Any, status: str) -> None:
    with pytest.raises(Forbidden):
        check_change(TASK, TASK | {"status": status}, party)


@pytest.mark.parametrize("party", ["owner", "requester"])
def test_no_client_party_completes(party: Any) -> None:
    started = TASK | {"status": "in-progress"}
    with pytest.raises(Forbidden) as caught:
        check_change(started, started | {"status": "completed"}, party)
    assert caught.value.issues[0].expression == "Task.status"
    assert check_change(started, started | {"status": "completed"}, "system") == "complete"


@pytest.mark.parametrize("party", ["owner", "requester", "system"])
@pytest.mark.parametrize("status", ["completed", "rejected", "cancelled", "failed"])
def test_closed_task_takes_no_change(party: Any, status: str) -> None:
    done = TASK | {"status": status}
    for change in ({"note": [{"text": "x"}]}, {"businessStatus": None}, {}):
        with pytest.raises(IllegalTransition) as caught:
            check_change(done, done | change, party)
        assert caught.value.status == 409
        assert caught.value.issues[0].expression == "Task.status"
        assert "the Task is closed" in caught.value.issues[0].message


def test_immutable() -> None:
    with pytest.raises(Unprocessable) as caught:
        check_change(TASK, TASK | {"status": "accepted", "intent": "plan"}, "owner")
    assert caught.value.issues[0].expression == "Task.intent"


def test_rejection_reason_text() -> None:
    reason = {"statusReason": {"coding": [{"code": "no-capacity"}]}}
    assert rejection_reason(TASK | reason) == "Rejected by Organization/clinic (no-capacity)."
