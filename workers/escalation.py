"""What a delivery's end does to its Task (a new Task version, codes from the
task-business-status CodeSystem):

- failed for good: escalated to the coordinator, businessStatus `delivery-failed`, visible on
  the Task and in `GET /Task?business-status=delivery-failed`;
- delivered: businessStatus `feedback-delivered`, so the GP and the clinic see it arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from profiles.canonical import BUSINESS_STATUS
from service.errors import Gone, NotFound
from service.store.repository import Repository
from service.workflow.ownership import orgs_of, resolve_roles

__all__ = [
    "DELIVERY_FAILED",
    "FEEDBACK_DELIVERED",
    "escalate_delivery",
    "mark_business_status",
    "with_business_status",
]

log = logging.getLogger(__name__)

DELIVERY_FAILED: Final = {
    "system": BUSINESS_STATUS,
    "code": "delivery-failed",
    "display": "Delivery failed",
}

FEEDBACK_DELIVERED: Final = {
    "system": BUSINESS_STATUS,
    "code": "feedback-delivered",
    "display": "Feedback delivered",
}


def with_business_status(
    task: Mapping[str, Any], coding: Mapping[str, str], text: str
) -> dict[str, Any]:
    """Pure: a copy of the Task with its businessStatus replaced."""
    return {**task, "businessStatus": {"coding": [dict(coding)], "text": text}}


async def escalate_delivery(repo: Repository, task_id: str, reason: str) -> bool:
    """False when the Task is gone (the outbox row keeps the reason)."""
    done = await mark_business_status(repo, task_id, DELIVERY_FAILED, reason)
    log.warning("Task %s: delivery failed; %s", task_id, "escalated" if done else "no Task")
    return done


async def mark_business_status(
    repo: Repository, task_id: str, coding: Mapping[str, str], text: str
) -> bool:
    """A new Task version with this businessStatus; False when the Task is gone."""
    try:
        task = await repo.read("Task", task_id)
    except (NotFound, Gone):
        return False
    content = with_business_status(task.content, coding, text)
    orgs = orgs_of(content, await resolve_roles(repo, content, {}))
    await repo.update("Task", task_id, content, orgs)
    return True
