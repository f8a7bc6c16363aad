"""The CapabilityStatement (capabilitystatement.html): what this server really does.

Built once per app from the registries that drive the behaviour (the store's search
parameters and types, the profile package), so it cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from profiles import canonical
from service.workflow.deletion import UNDELETABLE
from service.workflow.tasks import SERVICE_CREATED

INTERACTIONS = (
    "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
    "search-type",
)
VALIDATE = {
    "name": "validate",
    "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
}
DELIVERY_STATUS = {
    "name": "delivery-status",
    "definition": f"{canonical.BASE}/OperationDefinition/Task-delivery-status",
    "documentation": "GET /Task/{id}/$delivery-status: Parameters with one `message` part per "
    "outbound message of the Task (messageId, status pending|in-flight|delivered|failed, "
    "attempts, lastError, deliveredAt, endpoint)",
}
OPERATIONS: dict[str, list[dict[str, str]]] = {"Task": [DELIVERY_STATUS]}
FORMATS = ["application/fhir+json", "json", "application/json"]


def capability_statement(
    *,
    base_url: str,
    now: datetime,
    resource_types: Sequence[str],
    search_params: Mapping[str, Mapping[str, Any]],
    supported: Mapping[str, Sequence[str]],
    defaults: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    # any stored type's reference parameter may point at any type (_revinclude)
    reverse = [i for t in resource_types for i in _includes(t, search_params)]
    return {
        "resourceType": "CapabilityStatement",
        "url": f"{base_url.rstrip('/')}/metadata",
        "version": canonical.VERSION,
        "name": "ChirorefServer",
        "title": "chiroref FHIR R4 referral-messaging server",
        "status": "active",
        "date": now.isoformat(timespec="milliseconds"),
        "kind": "instance",
        "software": {"name": "chiroref", "version": canonical.VERSION},
        "implementation": {"description": "chiroref gateway", "url": base_url.rstrip("/")},
        "fhirVersion": "4.0.1",
        "format": FORMATS,
        "rest": [
            {
                "mode": "server",
                "resource": [
                    _resource(
                        t, search_params.get(t, {}), supported.get(t, ()), defaults.get(t, ())
                    ) | {"searchInclude": sorted(_includes(t, search_params)),
                         "searchRevInclude": sorted(reverse)}
                    for t in resource_types
                ],
                "interaction": [{"code": "transaction"}, {"code": "batch"},
                                {"code": "history-system"}],
                "security": {
                    "description": "Trusted network only (until SMART Backend Services): a "
                    "request acts for the organisation in X-Acting-Organization: "
                    "Organization/<id>, else as the system."
                },
            }
        ],
    }


def _includes(rtype: str, search_params: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`Type:param` for each reference search parameter of `rtype` (_include)."""
    return [f"{rtype}:{name}" for name, p in search_params.get(rtype, {}).items()
            if p.type == "reference"]


def _resource(
    rtype: str, params: Mapping[str, Any], supported: Sequence[str], defaults: Sequence[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": rtype}
    if defaults:
        out["profile"] = defaults[0]
    if supported:
        out["supportedProfile"] = list(supported)
    return out | {
        "interaction": [
            {"code": code}
            for code in INTERACTIONS
            if not (code == "delete" and rtype in UNDELETABLE)
            and not (code == "create" and rtype in SERVICE_CREATED)
        ],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": False,
        "conditionalCreate": rtype not in SERVICE_CREATED,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "not-supported" if rtype in UNDELETABLE else "single",
        "searchParam": [_param(rtype, p) for p in params.values()],
        "operation": [VALIDATE, *OPERATIONS.get(rtype, [])],
    }


def _param(rtype: str, param: Any) -> dict[str, Any]:
    """Name, type, FHIRPath; `definition` only where the canonical is certain (the registry
    carries no SearchParameter URLs and R4 shares many, e.g. `clinical-patient`)."""
    out = {"name": param.name, "type": param.type, "documentation": f"FHIRPath: {param.expression}"}
    if param.name in ("_id", "_lastUpdated"):
        out["definition"] = f"http://hl7.org/fhir/SearchParameter/Resource-{param.name[1:]}"
    return out
