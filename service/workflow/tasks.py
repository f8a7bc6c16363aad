"""Changes to a ReferralTask (PUT or JSON Patch), checked against the status machine.

In order, all before anything is written (a refusal changes nothing):
1. the caller must see the Task (isolation: NotFound, as if absent);
2. an organisation must send `If-Match` (412 when missing, as R4 http.html#concurrency
   allows) and a stale version is 412;
3. the caller must be the Task's owner or requester organisation (else 403 Forbidden);
4. a closed Task (completed, rejected, cancelled, failed) takes no change from anyone, the
   system caller included (409 business-rule, expression Task.status, "the Task is closed");
   the service's own later writes (reroute marks, delivery escalation) do not come here;
5. the status change must be a transition of `task_states` (409, expression Task.status)
   that this party may take (403: `complete` is the feedback intake's alone);
6. the party may change only its `MAY_CHANGE` elements (422, expression Task.<element>;
   businessStatus and output are the service's).
The accepted change is a new Task version (the history is the audit trail); a rejection
reroutes the referral in the same transaction (`routing_service.reroute`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from profiles.issues import Issue
from service.errors import FhirError, Forbidden, MethodNotAllowed, PreconditionFailed
from service.store.model import StoredResource
from service.store.repository import Repository
from service.workflow import ownership, routing_service, task_states
from service.workflow.access import as_system, party_of
from service.workflow.task_states import Action, Party, TaskStatus

__all__ = [
    "SERVICE_CREATED",
    "change_task",
    "check_change",
    "check_client_create",
    "rejection_reason",
]

# Types no client may create over HTTP (POST, conditional create, transaction or batch POST
# entry): a ReferralTask is made by the service only, with its referral (referral intake)
# or by rerouting (`routing_service.reroute`). Not `create` in the CapabilityStatement.
SERVICE_CREATED: Final = frozenset({"Task"})


def check_client_create(resource_type: str) -> None:
    """MethodNotAllowed (405) for a type only the service creates, for every caller."""
    if resource_type in SERVICE_CREATED:
        raise client_create_refused(resource_type)


def client_create_refused(resource_type: str) -> FhirError:
    return MethodNotAllowed.of(
        f"{resource_type}s are created by the service with their referral (a ServiceRequest "
        "POSTed by the GP brings its ReferralTask); a client cannot create one",
        code="not-supported",
    )


def _forbidden(message: str, expression: str | None = None) -> Forbidden:
    return Forbidden(Issue("error", "forbidden", expression, message))


def check_change(
    old: Mapping[str, Any], new: Mapping[str, Any], party: Party | None
) -> Action | None:
    """Pure: the action the change amounts to (None: status unchanged); raises Forbidden,
    IllegalTransition (409) or Unprocessable (422)."""
    if party is None:
        raise _forbidden("only the Task's owner or requester organisation may change it")
    status: TaskStatus = old["status"]
    refusal = task_states.closed(status)
    if refusal is not None:
        raise refusal
    action = task_states.transition_for(status, str(new.get("status")))
    if action is not None and not task_states.may_take(party, action):
        raise _forbidden(f"the {party} may not {action} a Task", "Task.status")
    task_states.check_update(old, new, party)
    return action


def rejection_reason(task: Mapping[str, Any]) -> str:
    """Pure: what the clinic said when it rejected, for the reroute's explanation."""
    reason = task.get("statusReason") or {}
    codes = [c.get("code") for c in reason.get("coding") or [] if c.get("code")]
    said = reason.get("text") or ", ".join(codes) or "no reason given"
    owner = (task.get("owner") or {}).get("reference", "the clinic")
    return f"Rejected by {owner} ({said})."


async def change_task(
    repo: Repository, rid: str, content: Mapping[str, Any], expected: int | None
) -> StoredResource:
    """Validate `content` before calling (profile errors are 422 there)."""
    current = await repo.read("Task", rid)
    if expected is None and repo.caller.org_refs is not None:
        raise PreconditionFailed.of(
            "If-Match is required to change a Task (the version you last read)", code="required"
        )
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed.of(
            f"Task/{rid} is at version {current.version_id}, not {expected}"
        )
    system = as_system(repo)
    roles = await ownership.resolve_roles(system, current.content, {})
    action = check_change(current.content, content, party_of(repo.caller, current.content, roles))
    fresh = dict(content)
    if action is not None:
        fresh["lastModified"] = repo.now.isoformat(timespec="milliseconds")
    fresh_roles = await ownership.resolve_roles(system, fresh, {})
    orgs = ownership.orgs_of(fresh, fresh_roles)
    stored = await system.update("Task", rid, fresh, orgs, current.version_id)
    if action == "reject":
        await routing_service.reroute(system, stored, rejection_reason(fresh))
        stored = await system.read("Task", rid)
    return stored
