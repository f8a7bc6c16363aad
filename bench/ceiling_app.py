"""The ceiling of the stack: a bare FastAPI endpoint that only reads and parses the body."""

from __future__ import annotations

import uuid

import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/fhir/ServiceRequest")
async def create(request: Request) -> Response:
    body = orjson.loads(await request.body())
    body["id"] = str(uuid.uuid4())
    return Response(orjson.dumps({"resourceType": body["resourceType"], "id": body["id"]}),
                    status_code=201, media_type="application/fhir+json")
