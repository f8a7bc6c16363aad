"""What a client's DELETE may not remove: the referral workflow's records.

A Task's lifecycle is its status machine (service/workflow/task_states.py) and its history
is the audit trail; deleting it would skip the machine and free the referral's identity
claim (the claim rides on the Task, service/workflow/referrals.py). So DELETE of a Task, and
of a ServiceRequest that has a ReferralTask (a referral), is 405 for every caller over HTTP,
the system included, plain or as a transaction entry; the GP withdraws a referral by setting
its Task's status to `cancelled`. `Repository.delete` itself stays for internal use.
"""

from __future__ import annotations

from typing import Final

from service.errors import FhirError, Gone, MethodNotAllowed
from service.store.model import SearchParam, SearchQuery
from service.store.repository import Repository
from service.workflow.access import as_system

__all__ = ["NEVER_DELETED", "UNDELETABLE", "check_delete", "check_type_deletable"]

UNDELETABLE: Final = frozenset({"Task", "ServiceRequest"})  # not in the CapabilityStatement
NEVER_DELETED: Final = frozenset({"Task"})  # whichever resource: DELETE is never allowed
CANCEL: Final = (
    "close it instead: the requester (GP) sets the referral's Task status to cancelled "
    "(PUT or JSON Patch with If-Match)"
)


def _refused(message: str) -> FhirError:
    return MethodNotAllowed.of(f"{message} and cannot be deleted; {CANCEL}", code="not-supported")


def check_type_deletable(resource_type: str) -> None:
    """405 for a type whose resources are never deleted (a conditional delete of Tasks
    is refused before it searches)."""
    if resource_type in NEVER_DELETED:
        raise _refused(f"a {resource_type} is a ReferralTask (its history is the audit trail)")


async def check_delete(repo: Repository, resource_type: str, rid: str) -> None:
    """MethodNotAllowed (405) for a Task, and for a ServiceRequest with a ReferralTask; the
    caller's own view first (NotFound for what it cannot see, as any write answers)."""
    if resource_type == "Task":
        raise _refused(f"Task/{rid} is a ReferralTask (its history is the audit trail)")
    if resource_type != "ServiceRequest":
        return
    try:
        await repo.read(resource_type, rid)
    except Gone:
        return  # already deleted: DELETE stays idempotent (204)
    focus = SearchParam("focus", (f"ServiceRequest/{rid}",))
    tasks = await as_system(repo).search(SearchQuery("Task", (focus,), summary="count"))
    if tasks.total:
        raise _refused(f"ServiceRequest/{rid} is a referral (it has a ReferralTask)")
