"""Who a caller is to a Task, and the service's own view of a transaction.

The caller's organisations come from `Caller.org_refs` (today the trusted-network header
`X-Acting-Organization`, later the SMART token). The workflow reads the directory and the
GP's resources as the service itself (`as_system`): the caller's isolation has already
decided what the caller may see and touch; routing and delivery need the whole directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.store.model import SYSTEM, Caller
from service.store.repository import Repository
from service.workflow.ownership import party_org
from service.workflow.task_states import Party

__all__ = ["as_system", "party_of", "task_parties"]

_ORDER: tuple[Party, ...] = ("owner", "requester")  # an org that is both acts as owner


def as_system(repo: Repository) -> Repository:
    """The same connection and transaction (and `now`), seen by the service itself."""
    if repo.caller.org_refs is None:
        return repo
    return repo.as_caller(SYSTEM)


def task_parties(task: Mapping[str, Any], roles: Mapping[str, str]) -> dict[Party, str | None]:
    """Pure: the organisation of the owner and of the requester of a Task."""
    return {
        "owner": party_org((task.get("owner") or {}).get("reference"), roles),
        "requester": party_org((task.get("requester") or {}).get("reference"), roles),
    }


def party_of(caller: Caller, task: Mapping[str, Any], roles: Mapping[str, str]) -> Party | None:
    """Pure: "system" for SYSTEM, "owner" / "requester" by organisation, else None."""
    if caller.org_refs is None:
        return "system"
    parties = task_parties(task, roles)
    for party in _ORDER:
        if parties[party] is not None and parties[party] in caller.org_refs:
            return party
    return None
