"""The peer: fhirstarter 4.2 (FHIR_SEQUENCE=R4B) keeping ServiceRequests in a dict.

Runs only inside its own venv (bench/intake.py builds it), never imported by chiroref.
"""

from __future__ import annotations

from uuid import uuid4

from fhir.resources.R4B.servicerequest import ServiceRequest
from fhirstarter import FHIRProvider, FHIRStarter, InteractionContext  # type: ignore[import-not-found]

DATABASE: dict[str, str] = {}
provider = FHIRProvider()


@provider.create(ServiceRequest)
async def service_request_create(context: InteractionContext, resource: ServiceRequest) -> str:
    resource.id = str(uuid4())
    DATABASE[resource.id] = resource.model_dump_json()
    return resource.id


app = FHIRStarter(title="fhirstarter peer")
app.add_providers(provider)
