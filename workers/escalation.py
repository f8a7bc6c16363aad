"""A delivery that failed for good goes to the coordinator: the Task gets businessStatus
`delivery-failed` (a new Task version), visible on the Task and in
`GET /Task?business-status=delivery-failed`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from profiles.canonical import BUSINESS_STATUS
from service.errors import Gone, NotFound
from service.store.repository import Repository
from service.workflow.ownership import orgs_of, resolve_roles

__all__ = ["DELIVERY_FAILED", "escalate_delivery", "with_business_status"]

log = logging.getLogger(__name__)

DELIVERY_FAILED: Final = {
    "system": BUSINESS_STATUS,
    "code": "delivery-failed",
    "display": "Delivery failed",
}


def with_business_status(
    task: Mapping[str, Any], coding: Mapping[str, str], text: str
) -> dict[str, Any]:
    """Pure: a copy of the Task with its businessStatus replaced."""
    return {**task, "businessStatus": {"coding": [dict(coding)], "text": text}}


async def escalate_delivery(repo: Repository, task_id: str, reason: str) -> bool:
    """False when the Task is gone (nothing to escalate on; the outbox row keeps the reason)."""
    try:
        task = await repo.read("Task", task_id)
    except (NotFound, Gone):
        log.warning("delivery failed for an unknown Task %s", task_id)
        return False
    content = with_business_status(task.content, DELIVERY_FAILED, reason)
    orgs = orgs_of(content, await resolve_roles(repo, content, {}))
    await repo.update("Task", task_id, content, orgs)
    log.warning("Task %s escalated: delivery failed", task_id)
    return True
