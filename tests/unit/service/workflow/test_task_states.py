"""The Task status machine: the table, who may act, and what a PUT may change."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from service.errors import IllegalTransition, Unprocessable
from service.workflow.task_states import (
    ACTION_PARTIES,
    OPEN,
    TERMINAL,
    TRANSITIONS,
    Action,
    TaskStatus,
    check_update,
    closed,
    first_immutable_change,
    is_open,
    may_take,
    next_status,
    transition_for,
)

HAPPY_PATH: list[tuple[TaskStatus, Action, TaskStatus]] = [
    ("requested", "receive", "received"),
    ("received", "accept", "accepted"),
    ("accepted", "start", "in-progress"),
    ("in-progress", "complete", "completed"),
]


@pytest.mark.parametrize(("current", "action", "expected"), HAPPY_PATH)
def test_happy_path(current: TaskStatus, action: Action, expected: TaskStatus) -> None:
    assert next_status(current, action) == expected


@pytest.mark.parametrize("current", ["requested", "received"])
def test_reject_before_acceptance(current: TaskStatus) -> None:
    assert next_status(current, "reject") == "rejected"


@pytest.mark.parametrize("current", sorted(OPEN))
def test_every_open_state_can_be_cancelled_or_failed(current: TaskStatus) -> None:
    assert next_status(current, "cancel") == "cancelled"
    assert next_status(current, "fail") == "failed"


def test_hold_and_resume() -> None:
    assert next_status("in-progress", "hold") == "on-hold"
    assert next_status("on-hold", "resume") == "in-progress"


@pytest.mark.parametrize(
    ("current", "action"),
    [
        ("accepted", "reject"),
        ("in-progress", "reject"),
        ("completed", "cancel"),
        ("rejected", "accept"),
        ("cancelled", "fail"),
        ("requested", "complete"),
        ("accepted", "complete"),
        ("received", "receive"),
    ],
)
def test_illegal_transition_is_refused_with_task_status(
    current: TaskStatus, action: Action
) -> None:
    with pytest.raises(IllegalTransition) as err:
        next_status(current, action)
    assert err.value.status == 409
    (issue,) = err.value.issues
    assert (issue.expression, issue.code) == ("Task.status", "business-rule")
    assert action in issue.message and current in issue.message


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_states_have_no_way_out(status: TaskStatus) -> None:
    assert not is_open(status)
    assert [a for (s, a) in TRANSITIONS if s == status] == []


def test_table_uses_every_action_and_one_action_per_status_pair() -> None:
    assert {a for _, a in TRANSITIONS} == set(get_args(Action)) == set(ACTION_PARTIES)
    pairs = [(s, to) for (s, _), to in TRANSITIONS.items()]
    assert len(pairs) == len(set(pairs))
    assert set(get_args(TaskStatus)) == OPEN | TERMINAL


def test_who_may_act() -> None:
    assert may_take("owner", "accept") and not may_take("requester", "accept")
    assert may_take("requester", "cancel") and not may_take("owner", "cancel")
    assert may_take("system", "fail") and not may_take("owner", "fail")
    assert may_take("system", "complete")  # on intake of the feedback Bundle
    assert not may_take("owner", "complete")  # a clinic completes only by sending feedback
    assert not may_take("requester", "complete")


# --- transition_for: a PUT that changes Task.status ---------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "action"),
    [
        ("requested", "accepted", "accept"),
        ("received", "rejected", "reject"),
        ("accepted", "in-progress", "start"),
        ("on-hold", "in-progress", "resume"),
        ("in-progress", "cancelled", "cancel"),
        ("requested", "failed", "fail"),
    ],
)
def test_transition_for_derives_the_action(current: TaskStatus, new: str, action: Action) -> None:
    assert transition_for(current, new) == action


def test_transition_for_unchanged_status_is_none() -> None:
    assert transition_for("accepted", "accepted") is None


@pytest.mark.parametrize(
    ("current", "new"),
    [("completed", "in-progress"), ("accepted", "rejected"), ("requested", "draft")],
)
def test_transition_for_illegal_change(current: TaskStatus, new: str) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
        transition_for(current, new)


# --- what a PUT may change ----------------------------------------------------------------

TASK: dict[str, Any] = {
    "resourceType": "Task",
    "id": "t1",
    "meta": {"versionId": "1"},
    "basedOn": [{"reference": "ServiceRequest/r1"}],
    "status": "requested",
    "intent": "order",
    "focus": {"reference": "ServiceRequest/r1"},
    "for": {"reference": "Patient/p1"},
    "requester": {"reference": "PractitionerRole/gp1"},
    "owner": {"reference": "Organization/c1"},
    "restriction": {"period": {"end": "2025-12-01"}},
}


def test_clinic_may_accept_with_a_note() -> None:
    new = {
        **TASK,
        "status": "accepted",
        "note": [{"text": "Tid 3. des"}],
        "executionPeriod": {"start": "2026-12-03"},
        "meta": {"versionId": "9"},
    }
    assert first_immutable_change(TASK, new, "owner") is None
    check_update(TASK, new, "owner")  # no error


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"businessStatus": {"text": "booked"}}, "Task.businessStatus"),
        ({"output": [{"type": {"text": "x"}, "valueString": "y"}]}, "Task.output"),
    ],
)
def test_business_status_and_output_are_the_services(change: dict[str, Any], path: str) -> None:
    for party in ("owner", "requester"):
        assert first_immutable_change(TASK, {**TASK, **change}, party) == path
    assert first_immutable_change(TASK, {**TASK, **change}, "system") is None


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_a_closed_task_refuses_every_change(status: str) -> None:
    refusal = closed(status)
    assert refusal is not None and refusal.status == 409
    assert refusal.issues[0].expression == "Task.status"
    assert refusal.issues[0].code == "business-rule"
    assert "the Task is closed" in refusal.issues[0].message


@pytest.mark.parametrize("status", sorted(OPEN))
def test_an_open_task_is_not_closed(status: str) -> None:
    assert closed(status) is None


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"focus": {"reference": "ServiceRequest/other"}}, "Task.focus"),
        ({"for": {"reference": "Patient/p2"}}, "Task.for"),
        ({"requester": None}, "Task.requester"),
        ({"intent": "plan"}, "Task.intent"),
        ({"basedOn": []}, "Task.basedOn"),
        ({"owner": {"reference": "Organization/c2"}}, "Task.owner"),
        ({"restriction": {"period": {"end": "2030-01-01"}}}, "Task.restriction"),
        ({"somethingNew": 1}, "Task.somethingNew"),
    ],
)
def test_clinic_may_not_change_immutable_elements(change: dict[str, Any], path: str) -> None:
    new = {**TASK, "status": "accepted", **change}
    assert first_immutable_change(TASK, new, "owner") == path
    with pytest.raises(Unprocessable) as err:
        check_update(TASK, new, "owner")
    assert err.value.status == 422
    assert err.value.issues[0].expression == path


def test_first_changed_element_follows_fhir_order() -> None:
    # basedOn comes before intent, focus and for in the R4 Task definition
    new = {**TASK, "for": {"reference": "Patient/x"}, "intent": "plan", "basedOn": []}
    assert first_immutable_change(TASK, new, "owner") == "Task.basedOn"


def test_removing_an_element_is_a_change() -> None:
    new = {k: v for k, v in TASK.items() if k != "focus"}
    assert first_immutable_change(TASK, new, "owner") == "Task.focus"


def test_requester_may_cancel_but_not_add_output() -> None:
    cancel = {**TASK, "status": "cancelled", "statusReason": {"text": "patient moved"}}
    assert first_immutable_change(TASK, cancel, "requester") is None
    output = {**cancel, "output": [{"type": {"text": "x"}, "valueString": "y"}]}
    assert first_immutable_change(TASK, output, "requester") == "Task.output"


def test_system_is_not_restricted() -> None:
    assert first_immutable_change(TASK, {**TASK, "owner": None}, "system") is None
