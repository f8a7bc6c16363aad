"""Write chiroref's StructureDefinitions, CodeSystems and ValueSets as JSON.

Build-time only: the JSON files under profiles/definitions/ are the shipped source of
truth; this script is how they are authored, so ids, paths and versions stay consistent.
    python -m profiles.tools.build_definitions
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from profiles import canonical as c

OUT: Final = Path(__file__).resolve().parents[1] / "definitions"
CORE: Final = "http://hl7.org/fhir/StructureDefinition/"
DATE: Final = "2025-11-25"
NID_FORMAT: Final = (
    f"(system = '{c.NO_FNR}' implies value.matches('^[0-9]{{11}}$')) and "
    f"(system = '{c.NO_DNR}' implies value.matches('^[4-7][0-9]{{10}}$')) and "
    f"(system = '{c.NO_ORGNR}' implies value.matches('^[0-9]{{9}}$')) and "
    f"(system = '{c.DK_CPR}' implies value.matches('^[0-9]{{10}}$')) and "
    f"((system = '{c.NO_HPR}' or system = '{c.NO_HER}' or system = '{c.DK_SOR}') "
    "implies value.matches('^[0-9]+$'))"
)
NID: Final = {
    "key": "chiro-nid-1", "severity": "error",
    "human": "A national identifier (fødselsnummer, D-nummer, HPR, HER-id, "
             "organisasjonsnummer, CPR, SOR) has a valid format, check digits and date "
             "(check digits and dates are checked by chiroref's validator in Python; "
             "the expression states the format)",
    "expression": NID_FORMAT,
}


def in_systems(systems: tuple[str, ...]) -> str:
    return " or ".join(f"system = '{s}'" for s in systems)


def el(path: str, **kw: Any) -> dict[str, Any]:
    """A differential element; `id` may carry a slice name, the path drops it."""
    parts = [p.split(":")[0] if not p.endswith("]") else p for p in path.split(".")]
    return {"id": path, "path": ".".join(parts), **kw}


def ref(*targets: str) -> list[dict[str, Any]]:
    return [{"code": "Reference", "targetProfile": list(targets)}]


def card(min_: int, max_: str) -> dict[str, Any]:
    return {"min": min_, "max": max_}


def required(vs: str) -> dict[str, Any]:
    return {"binding": {"strength": "required", "valueSet": vs}}


def sd(name: str, type_: str, title: str, description: str,
       elements: list[dict[str, Any]], kind: str = "resource",
       base: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition", "id": name,
        "url": f"{c.BASE}/StructureDefinition/{name}",
        "version": c.VERSION, "name": name, "title": title, "status": "draft",
        "date": DATE, "publisher": "chiroref", "description": description,
        "fhirVersion": "4.0.1", "kind": kind, "abstract": False, **extra, "type": type_,
        "baseDefinition": base or CORE + type_, "derivation": "constraint",
        "differential": {"element": elements},
    }


def code_system(id_: str, title: str, description: str,
                concepts: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem", "id": id_, "url": f"{c.BASE}/CodeSystem/{id_}",
        "version": c.VERSION, "name": title.replace(" ", ""), "title": title, "status": "draft",
        "date": DATE, "publisher": "chiroref", "description": description,
        "caseSensitive": True, "valueSet": f"{c.BASE}/ValueSet/{id_}", "content": "complete",
        "count": len(concepts),
        "concept": [{"code": k, "display": d, "definition": x} for k, d, x in concepts],
    }


def value_set(id_: str, title: str, description: str,
              include: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet", "id": id_, "url": f"{c.BASE}/ValueSet/{id_}",
        "version": c.VERSION, "name": title.replace(" ", ""), "title": title, "status": "draft",
        "date": DATE, "publisher": "chiroref", "description": description,
        "compose": {"include": include},
    }


def whole(cs: dict[str, Any]) -> dict[str, Any]:
    return value_set(cs["id"], cs["title"], f"All codes of {cs['url']}",
                     [{"system": cs["url"]}])


CODE_SYSTEMS: Final = [
    code_system("triage-category", "Triage category",
                "Diagnostic triage of low back pain (Region Syddanmark pathway, Sundhedsstyrelsen "
                "note on low back pain pathways).", [
        ("non-msk", "Suspected underlying non-musculoskeletal disease",
         "Underlying non-musculoskeletal disease is suspected (rare, <1%)."),
        ("specific-msk", "Specific musculoskeletal condition",
         "Low back pain caused by a specific MSK condition: fracture, disc herniation with "
         "nerve root involvement, spinal stenosis, etc."),
        ("non-specific", "Non-specific low back pain",
         "No specific cause found (about nine in ten); a clinical diagnosis."),
    ]),
    code_system("task-business-status", "Referral task business status",
                "Where a referral task stands beyond its FHIR Task.status.", [
        ("awaiting-acceptance", "Awaiting acceptance", "Sent to the clinic, not yet answered."),
        ("reminded", "Reminded", "A reminder was sent before the deadline in force."),
        ("overdue", "Overdue", "The deadline in force has passed."),
        ("escalated", "Escalated", "Handed to a coordinator after a breached deadline."),
        ("rerouted", "Rerouted", "Rejected or silent; the referral moved to another clinic."),
        ("awaiting-feedback", "Awaiting feedback", "Assessment done; written feedback due."),
        ("feedback-delivered", "Feedback delivered", "Feedback delivered to the GP."),
        ("delivery-failed", "Delivery failed", "Feedback could not be delivered in time."),
    ]),
    code_system("rejection-reason", "Referral rejection reason",
                "Why a clinic rejects a referral (Task.statusReason when status = rejected).", [
        ("not-eligible", "Not eligible for the scheme",
         "The patient or condition falls outside the scheme's criteria."),
        ("red-flags", "Red flags need other care",
         "Red flags suggest non-MSK disease or urgency; the GP should refer elsewhere."),
        ("insufficient-information", "Insufficient information",
         "The referral lacks information needed to triage it."),
        ("no-capacity", "No capacity", "The clinic cannot see the patient in time."),
        ("outside-area", "Outside catchment area", "The patient lives too far away."),
        ("duplicate", "Duplicate referral", "The patient is already referred or in care."),
        ("patient-declined", "Patient declined", "The patient declined the assessment."),
        ("other", "Other", "Another reason, given in Task.statusReason.text."),
    ]),
    code_system("red-flag-screening", "Red flag screening result",
                "The GP's screening for red flags before referring.", [
        ("no-red-flags", "No red flags", "Screened; no red flags found."),
        ("red-flags-considered", "Red flags considered",
         "Screened; findings considered and a chiropractor assessment is still appropriate."),
    ]),
    code_system("practitioner-role", "Practitioner role",
                "Roles in a chiroref referral.", [
        ("gp", "General practitioner", "Fastlege / egen læge; the referring GP."),
        ("chiropractor", "Chiropractor", "Kiropraktor; performs the assessment."),
    ]),
    code_system("escalation-kind", "Escalation kind", "Why a referral task was escalated.", [
        ("acceptance-overdue", "Acceptance overdue", "No answer by the acceptance deadline."),
        ("feedback-overdue", "Feedback overdue", "No feedback by the feedback deadline."),
        ("delivery-failed", "Delivery failed", "Feedback delivery failed for too long."),
        ("no-clinic", "No clinic", "No clinic could take the referral."),
    ]),
    code_system("service", "chiroref services", "Services requested through chiroref.", [
        ("chiro-assessment", "Chiropractor assessment",
         "One funded chiropractor assessment with written feedback to the GP."),
    ]),
]

REFERRAL_REASON: Final = value_set(
    "referral-reason", "Referral reason",
    "Reason for referral: any ICPC-2 code (international or Norwegian OID) or ICD-10 code.",
    [{"system": c.ICPC2}, {"system": c.ICPC2_NO}, {"system": c.ICD10}])

RED_FLAG_EXTENSION: Final = sd(
    "red-flag-screening", "Extension", "Red flag screening",
    "The referring GP's answer to red flag screening (required on a referral).", [
        el("Extension", short="Red flag screening answered"),
        el("Extension.extension", **card(0, "0")),
        el("Extension.url", fixedUri=c.RED_FLAG_SCREENING),
        el("Extension.value[x]", **card(1, "1"), type=[{"code": "CodeableConcept"}],
           **required(c.RED_FLAG_VS)),
    ], kind="complex-type", base=CORE + "Extension",
    context=[{"type": "element", "expression": "ServiceRequest"}])


def referral() -> dict[str, Any]:
    slice_ = "ServiceRequest.extension:redFlagScreening"
    return sd("ChiroAssessmentReferral", "ServiceRequest", "Chiropractor assessment referral",
              "A GP's referral of a patient to one chiropractor assessment with written "
              "feedback to the GP.", [
        el("ServiceRequest", constraint=[{
            "key": "chiro-sr-1", "severity": "error",
            "human": "The subject is a literal reference or carries a national person id",
            "expression": "subject.reference.exists() or subject.identifier.where("
                          + in_systems(c.PERSON_ID_SYSTEMS) + ").exists()"}]),
        el(slice_, sliceName="redFlagScreening", **card(1, "1"),
           type=[{"code": "Extension", "profile": [c.RED_FLAG_SCREENING]}]),
        el(slice_ + ".value[x]", **card(1, "1"), type=[{"code": "CodeableConcept"}],
           **required(c.RED_FLAG_VS)),
        el("ServiceRequest.identifier", **card(1, "*"), short="The sender's referral id"),
        el("ServiceRequest.identifier.system", **card(1, "1")),
        el("ServiceRequest.identifier.value", **card(1, "1")),
        el("ServiceRequest.status", **required("http://hl7.org/fhir/ValueSet/request-status")),
        el("ServiceRequest.intent", fixedCode="order"),
        el("ServiceRequest.code", **card(1, "1"), patternCodeableConcept={
            "coding": [{"system": c.SERVICE_CS, "code": "chiro-assessment"}]}),
        el("ServiceRequest.subject", **card(1, "1"), type=ref(c.PATIENT)),
        el("ServiceRequest.subject.identifier", constraint=[NID]),
        el("ServiceRequest.occurrence[x]", **card(1, "1"), type=[{"code": "Period"}],
           short="When the assessment may take place"),
        el("ServiceRequest.occurrence[x].start", **card(1, "1")),
        el("ServiceRequest.authoredOn", **card(1, "1")),
        el("ServiceRequest.requester", **card(1, "1"), type=ref(c.PRACTITIONER_ROLE),
           short="The referring GP (PractitionerRole with code gp)"),
        el("ServiceRequest.performer", **card(0, "1"), type=ref(c.ORGANIZATION),
           short="The clinic asked; absent: chosen by routing"),
        el("ServiceRequest.reasonCode", **card(1, "*"), **required(c.REFERRAL_REASON_VS)),
    ])


def task() -> dict[str, Any]:
    return sd("ReferralTask", "Task", "Referral task",
              "The work of one clinic on one referral: acceptance, deadline, feedback.", [
        el("Task", constraint=[{
            "key": "chiro-task-1", "severity": "error",
            "human": "A rejected task gives a rejection reason in statusReason",
            "expression": "status = 'rejected' implies statusReason.coding.where(system = '"
                          + c.REJECTION_REASON + "').exists()"}]),
        el("Task.status", **required("http://hl7.org/fhir/ValueSet/task-status")),
        el("Task.statusReason", short="Rejection reason when rejected (chiro-task-1)"),
        el("Task.businessStatus", **card(0, "1"), **required(c.BUSINESS_STATUS_VS)),
        el("Task.intent", fixedCode="order"),
        el("Task.focus", **card(1, "1"), type=ref(CORE + "ServiceRequest")),
        el("Task.for", type=ref(CORE + "Patient")),
        el("Task.owner", **card(0, "1"), type=ref(CORE + "Organization"),
           short="The clinic; absent while unrouted"),
        el("Task.restriction.period", short="end = the deadline in force"),
    ])


def patient() -> dict[str, Any]:
    return sd("ChiroPatient", "Patient", "Patient with a national identifier",
              "A patient identified by a Norwegian fødselsnummer or D-nummer or a Danish CPR.", [
        el("Patient", constraint=[{
            "key": "chiro-pat-1", "severity": "error",
            "human": "The patient has a national identifier (fødselsnummer, D-nummer or CPR)",
            "expression": "identifier.where(" + in_systems(c.PERSON_ID_SYSTEMS) + ").exists()"}]),
        el("Patient.identifier", **card(1, "*"), constraint=[NID]),
        el("Patient.identifier.system", **card(1, "1")),
        el("Patient.identifier.value", **card(1, "1")),
    ])


def directory() -> list[dict[str, Any]]:
    id_rules = [el("X.identifier", **card(1, "*"), constraint=[NID]),
                el("X.identifier.system", **card(1, "1")),
                el("X.identifier.value", **card(1, "1"))]

    def ids(type_: str) -> list[dict[str, Any]]:
        return [{**e, "id": e["id"].replace("X", type_, 1),
                 "path": e["path"].replace("X", type_, 1)} for e in id_rules]

    return [
        sd("ChiroPractitioner", "Practitioner", "Practitioner",
           "A GP or chiropractor; in Norway with HPR-nummer.", ids("Practitioner")),
        sd("ChiroPractitionerRole", "PractitionerRole", "Practitioner role",
           "A practitioner (GP or chiropractor) at an organisation.", [
            el("PractitionerRole.practitioner", **card(1, "1"), type=ref(c.PRACTITIONER)),
            el("PractitionerRole.organization", **card(1, "1"), type=ref(c.ORGANIZATION)),
            el("PractitionerRole.code", **card(1, "*"), **required(c.PRACTITIONER_ROLE_VS)),
            el("PractitionerRole.endpoint", type=ref(c.ENDPOINT)),
        ]),
        sd("ChiroOrganization", "Organization", "Organisation",
           "A GP practice, clinic, hospital or region with HER-id, organisasjonsnummer or SOR.", [
            el("Organization", constraint=[{
                "key": "chiro-org-1", "severity": "error",
                "human": "The organisation has a HER-id, organisasjonsnummer or SOR id",
                "expression": "identifier.where(" + in_systems(c.ORGANIZATION_ID_SYSTEMS)
                              + ").exists()"}]),
            *ids("Organization"),
            el("Organization.name", **card(1, "1")),
            el("Organization.endpoint", type=ref(c.ENDPOINT)),
        ]),
        sd("ChiroEndpoint", "Endpoint", "Delivery endpoint",
           "Where FHIR messages for an organisation are delivered.", [
            el("Endpoint.connectionType", patternCoding={
                "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                "code": "hl7-fhir-msg"}),
            el("Endpoint.managingOrganization", **card(1, "1"), type=ref(c.ORGANIZATION)),
            el("Endpoint.address", **card(1, "1")),
        ]),
    ]


def write(folder: str, resource: dict[str, Any]) -> None:
    path = OUT / folder / f"{resource['resourceType']}-{resource['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(resource, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    for cs in CODE_SYSTEMS:
        write("terminology", cs)
        write("terminology", whole(cs))
    write("terminology", REFERRAL_REASON)
    write("profiles", RED_FLAG_EXTENSION)
    for profile in (referral(), task(), patient(), *directory()):
        write("profiles", profile)
    from profiles.tools import feedback_definitions  # imports this module's helpers

    for folder, resource in feedback_definitions.resources():
        write(folder, resource)


if __name__ == "__main__":
    main()
