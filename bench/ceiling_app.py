"""The ceiling of the stack, and two floors under chiroref's create, on one bare FastAPI app:

- `POST /fhir/ServiceRequest`: only reads and parses the body (the ceiling);
- `POST /validated/ServiceRequest`: plus the fhir.resources R4B structural check
  (`model_validate`), nothing stored (DESIGN.md's budget, line 2);
- `POST /profiled/ServiceRequest`: plus everything chiroref's validator checks
  (`profiles.validate.validate_resource`: fhir.resources, the base R4 rules, the profile,
  national identifiers), nothing stored.

What chiroref's create costs beyond the last is storage and workflow.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fhir.resources.R4B.servicerequest import ServiceRequest

from profiles.validate import validate_resource

app = FastAPI()


def created(body: dict[str, Any]) -> Response:
    body["id"] = str(uuid.uuid4())
    return Response(orjson.dumps({"resourceType": body["resourceType"], "id": body["id"]}),
                    status_code=201, media_type="application/fhir+json")


@app.post("/fhir/ServiceRequest")
async def create(request: Request) -> Response:
    return created(orjson.loads(await request.body()))


@app.post("/validated/ServiceRequest")
async def create_validated(request: Request) -> Response:
    body = orjson.loads(await request.body())
    ServiceRequest.model_validate(body)
    return created(body)


@app.post("/profiled/ServiceRequest")
async def create_profiled(request: Request) -> Response:
    body = orjson.loads(await request.body())
    if any(i.severity in ("error", "fatal") for i in validate_resource(body)):
        return Response(b"{}", status_code=422, media_type="application/fhir+json")
    return created(body)
