"""Builders of the messages chiroref sends. Pure: dicts in, a FHIR R4 dict out.

`feedback_message` wraps an AssessmentFeedback (a DiagnosticReport and what it references)
in a FHIR message Bundle: `type` message, `id` = the message id (= the outbox row id, so a
receiver can spot a resend) and `identifier` = `urn:uuid:<message id>` (system
urn:ietf:rfc:3986, as the MedCom and ADHA message profiles require), a MessageHeader first
whose `focus` is the DiagnosticReport, then the report, its Observations/CarePlans, then
what they reference (`referenced`: the Patient, the referral ServiceRequest, the performer
Organization, the requester PractitionerRole and Practitioner, the GP's Organization), so
the receiver resolves every reference inside the message. Each resource once; every
`fullUrl` is absolute (`{source_url}/{type}/{id}`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from profiles.canonical import BASE

__all__ = ["FEEDBACK_EVENT", "MESSAGE_EVENTS", "URI_SYSTEM", "feedback_message"]

URI_SYSTEM: Final = "urn:ietf:rfc:3986"

MESSAGE_EVENTS: Final = f"{BASE}/CodeSystem/message-events"
FEEDBACK_EVENT: Final = {
    "system": MESSAGE_EVENTS,
    "code": "assessment-feedback",
    "display": "Chiropractor assessment feedback to the referring GP",
}


def feedback_message(
    message_id: str,
    now: datetime,
    report: Mapping[str, Any],
    included_resources: Iterable[Mapping[str, Any]],
    sender_org: str,
    receiver_org: str,
    destination_endpoint_url: str,
    source_url: str,
    referenced: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """`sender_org` / `receiver_org`: references (`Organization/<id>`); `source_url`: our
    FHIR base, also MessageHeader.source.endpoint; `referenced`: what the report, its
    results and the header reference, placed after them."""
    base = source_url.rstrip("/")
    resources = _unique([report, *included_resources, *referenced])
    header = _header(message_id, report, sender_org, receiver_org, destination_endpoint_url, base)
    return {
        "resourceType": "Bundle",
        "id": message_id,
        "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{message_id}"},
        "type": "message",
        "timestamp": _instant(now),
        "entry": [_entry(base, header), *(_entry(base, r) for r in resources)],
    }


def _header(
    message_id: str,
    report: Mapping[str, Any],
    sender_org: str,
    receiver_org: str,
    destination: str,
    base: str,
) -> dict[str, Any]:
    return {
        "resourceType": "MessageHeader",
        "id": message_id,
        "eventCoding": dict(FEEDBACK_EVENT),
        "destination": [{"endpoint": destination, "receiver": {"reference": receiver_org}}],
        "sender": {"reference": sender_org},
        "source": {"name": "chiroref", "endpoint": base},
        "focus": [{"reference": f"{base}/DiagnosticReport/{report['id']}"}],
    }


def _entry(base: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}


def _unique(resources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """First occurrence of each (type, id), in the given order."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        seen.setdefault((resource["resourceType"], resource["id"]), dict(resource))
    return list(seen.values())


def _instant(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("naive datetime given as the message timestamp")
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
