"""The demo GP / clinic inbox: where the demo directory's Endpoints point, so that the
embedded demo shows a feedback message arrive without a real EHR.

It keeps the last messages per organisation in memory (the demo only; never enabled when
`CHIROREF_LOAD_DEMO` is false) and answers like a FHIR messaging receiver.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

KEEP = 100
router = APIRouter(prefix="/demo/inbox", include_in_schema=False)
_inboxes: defaultdict[str, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=KEEP))

JSON = "application/fhir+json"


@router.post("/Organization/{org_id}")
async def receive(org_id: str, request: Request) -> Response:
    try:
        message = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return Response(status_code=400)
    inbox = _inboxes[org_id]
    if all(m.get("id") != message.get("id") for m in inbox):  # duplicate message ids: once
        inbox.append(message)
    return Response(status_code=200, content=b'{"resourceType":"OperationOutcome","issue":'
                    b'[{"severity":"information","code":"informational"}]}', media_type=JSON)


@router.get("/Organization/{org_id}")
async def list_messages(org_id: str) -> Response:
    entries = [{"resource": m} for m in _inboxes.get(org_id, ())]
    bundle = {"resourceType": "Bundle", "type": "collection", "total": len(entries),
              "entry": entries}
    return Response(orjson.dumps(bundle), media_type=JSON)
