"""The ReferralTask status machine (FHIR Workflow Task.status), as data. Pure.

    requested -> received -> accepted -> in-progress -> completed
    requested -> accepted                  (a clinic need not mark "received" first)
    requested | received -> rejected
    in-progress <-> on-hold
    requested | received | accepted | in-progress | on-hold -> cancelled | failed

A rejected Task stays rejected: rerouting makes a new Task for the next clinic. Who may take
an action is data too (`ACTION_PARTIES`), and so is which Task elements each party may
change in a PUT (`MAY_CHANGE`): everything else is immutable once the Task exists.
`complete` is the system's alone (the feedback intake completes the Task with the report as
its output), and `businessStatus` and `output` are the service's: no client sets them. A
closed Task (`TERMINAL`) takes no client change at all (`closed`, 409).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from profiles.issues import Issue
from service.errors import IllegalTransition, Unprocessable

__all__ = [
    "ACTION_PARTIES",
    "MAY_CHANGE",
    "OPEN",
    "TERMINAL",
    "TRANSITIONS",
    "Action",
    "Party",
    "TaskStatus",
    "check_update",
    "closed",
    "first_immutable_change",
    "is_open",
    "may_take",
    "next_status",
    "transition_for",
]

TaskStatus = Literal[
    "requested",
    "received",
    "accepted",
    "rejected",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
    "failed",
]
Action = Literal[
    "receive",
    "accept",
    "reject",
    "start",
    "hold",
    "resume",
    "complete",
    "cancel",
    "fail",
]
Party = Literal["owner", "requester", "system"]  # the clinic, the GP (or hospital), us

OPEN: Final[frozenset[TaskStatus]] = frozenset(
    {"requested", "received", "accepted", "in-progress", "on-hold"}
)
TERMINAL: Final[frozenset[TaskStatus]] = frozenset({"rejected", "completed", "cancelled", "failed"})

_FORWARD: Final[dict[tuple[TaskStatus, Action], TaskStatus]] = {
    ("requested", "receive"): "received",
    ("requested", "accept"): "accepted",  # a clinic may accept without marking "received"
    ("requested", "reject"): "rejected",
    ("received", "accept"): "accepted",
    ("received", "reject"): "rejected",
    ("accepted", "start"): "in-progress",
    ("in-progress", "complete"): "completed",
    ("in-progress", "hold"): "on-hold",
    ("on-hold", "resume"): "in-progress",
}
_ABORTS: Final[dict[Action, TaskStatus]] = {"cancel": "cancelled", "fail": "failed"}

TRANSITIONS: Final[Mapping[tuple[TaskStatus, Action], TaskStatus]] = MappingProxyType(
    _FORWARD | {(s, a): to for s in OPEN for a, to in _ABORTS.items()}
)

ACTION_PARTIES: Final[Mapping[Action, frozenset[Party]]] = MappingProxyType(
    {
        "receive": frozenset({"owner", "system"}),  # system: delivered to the clinic's Endpoint
        "accept": frozenset({"owner"}),
        "reject": frozenset({"owner"}),
        "start": frozenset({"owner"}),
        "hold": frozenset({"owner"}),
        "resume": frozenset({"owner"}),
        "complete": frozenset({"system"}),  # only the feedback intake completes a Task
        "cancel": frozenset({"requester"}),
        "fail": frozenset({"system"}),  # no clinic left, deadlines exhausted
    }
)

# Top-level Task elements a party may change in a PUT; meta and text are the server's, and
# so are businessStatus and output (set by routing, the feedback intake and delivery).
MAY_CHANGE: Final[Mapping[Party, frozenset[str]]] = MappingProxyType(
    {
        "owner": frozenset({"status", "statusReason", "lastModified", "executionPeriod", "note"}),
        "requester": frozenset({"status", "statusReason", "lastModified", "note"}),
    }
)
IGNORED_ELEMENTS: Final = frozenset({"meta", "text"})

# Task's elements in FHIR R4 order, so "the first changed element" is well defined.
TASK_ELEMENTS: Final = (
    "resourceType",
    "id",
    "implicitRules",
    "language",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
    "instantiatesCanonical",
    "instantiatesUri",
    "basedOn",
    "groupIdentifier",
    "partOf",
    "status",
    "statusReason",
    "businessStatus",
    "intent",
    "priority",
    "code",
    "description",
    "focus",
    "for",
    "encounter",
    "executionPeriod",
    "authoredOn",
    "lastModified",
    "requester",
    "performerType",
    "owner",
    "location",
    "reasonCode",
    "reasonReference",
    "insurance",
    "note",
    "relevantHistory",
    "restriction",
    "input",
    "output",
)


def _illegal(message: str) -> IllegalTransition:
    return IllegalTransition(Issue("error", "business-rule", "Task.status", message))


def is_open(status: TaskStatus) -> bool:
    return status in OPEN


def closed(status: str) -> IllegalTransition | None:
    """The refusal (409, expression Task.status) of any client change to a Task that is
    closed (completed, rejected, cancelled, failed); None while it is open."""
    if status in OPEN:
        return None
    return _illegal(f"the Task is closed ({status}): it takes no further change")


def next_status(current: TaskStatus, action: Action) -> TaskStatus:
    """The status after `action`; IllegalTransition (409) when not allowed from `current`."""
    to = TRANSITIONS.get((current, action))
    if to is None:
        raise _illegal(f"a Task cannot {action} when its status is {current}")
    return to


def may_take(party: Party, action: Action) -> bool:
    return party in ACTION_PARTIES[action]


def transition_for(current: TaskStatus, new: str) -> Action | None:
    """The action a PUT that sets Task.status from `current` to `new` amounts to.
    None when the status is unchanged; IllegalTransition when no action leads there."""
    if new == current:
        return None
    actions = [a for (s, a), to in TRANSITIONS.items() if s == current and to == new]
    if not actions:
        raise _illegal(f"Task.status cannot change from {current} to {new}")
    return actions[0]  # the table never has two actions between the same two statuses


def first_immutable_change(
    old: Mapping[str, Any], new: Mapping[str, Any], party: Party
) -> str | None:
    """FHIRPath ("Task.focus") of the first element `party` may not change but did."""
    allowed = MAY_CHANGE.get(party)
    if allowed is None:  # the system changes what it needs
        return None
    extra = sorted((old.keys() | new.keys()) - set(TASK_ELEMENTS))
    for name in (*TASK_ELEMENTS, *extra):
        if name in allowed or name in IGNORED_ELEMENTS:
            continue
        if old.get(name) != new.get(name):
            return f"Task.{name}"
    return None


def check_update(old: Mapping[str, Any], new: Mapping[str, Any], party: Party) -> None:
    """Unprocessable (422) naming the first element `party` may not change."""
    path = first_immutable_change(old, new, party)
    if path is not None:
        raise Unprocessable(
            Issue("error", "business-rule", path, f"{path} cannot be changed by the {party}")
        )
