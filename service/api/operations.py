"""Operations beyond the RESTful interactions.

`GET /Task/{id}/$delivery-status`: the delivery of the Task's outbound messages (the
assessment feedback to the GP) as a Parameters resource, one `message` parameter per
outbox row, oldest first: messageId, kind, status (pending | in-flight | delivered |
failed), attempts, lastError, deliveredAt, nextAttemptAt, endpoint. No message yet: a
Parameters without `message`. The caller must see the Task (404 otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends

from service.api.deps import AppStore, CallerDep, negotiate, resource_id
from service.api.responses import FhirResponse
from service.store import outbox

router = APIRouter(dependencies=[Depends(negotiate)], default_response_class=FhirResponse)


def _part(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"name": name, f"value{kind}": value}


def delivery_parameters(task_ref: str, found: Sequence[outbox.DeliveryStatus]) -> dict[str, Any]:
    """Pure: outbox rows -> Parameters."""
    messages = []
    for item in found:
        row = item.row
        parts = [
            _part("messageId", "String", row.id),
            _part("kind", "Code", row.kind),
            _part("status", "Code", row.status),
            _part("attempts", "Integer", row.attempts),
            _part("endpoint", "Reference", {"reference": row.endpoint_ref}),
        ]
        if row.last_error:
            parts.append(_part("lastError", "String", row.last_error))
        if row.delivered_at:
            parts.append(_part("deliveredAt", "Instant", _instant(row.delivered_at)))
        elif row.status in ("pending", "in-flight"):
            parts.append(_part("nextAttemptAt", "Instant", _instant(row.next_attempt_at)))
        messages.append({"name": "message", "part": parts})
    task = _part("task", "Reference", {"reference": task_ref})
    return {"resourceType": "Parameters", "parameter": [task, *messages]}


def _instant(at: Any) -> str:
    return str(at.isoformat(timespec="milliseconds")).replace("+00:00", "Z")


@router.get("/Task/{rid}/$delivery-status")
async def delivery_status(rid: str, store: AppStore, caller: CallerDep) -> FhirResponse:
    task_id = resource_id(rid)
    async with store.begin(caller, readonly=True) as repo:
        task = await repo.read("Task", task_id)
        found = await outbox.status(repo.connection, task_id=task.id)
    return FhirResponse(delivery_parameters(task.ref, found))
