"""The assessment feedback profiles: value ranges, native invariants, default profiles."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.models import models

from profiles import canonical as c
from profiles.native import NATIVE
from profiles.package import default_profiles, package
from profiles.prom_codes import BY_CODE, INSTRUMENTS
from profiles.validate import validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
EXPRESSIONS = {k["key"]: k["expression"] for r in package().resources.values()
               for e in r.get("differential", {}).get("element", [])
               for k in e.get("constraint", [])}


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def prom(code: str, value: Any) -> dict[str, Any]:
    obs = example("ChiroPromObservation-odi.json")
    obs["code"]["coding"][0]["code"] = code
    obs["valueQuantity"]["value"] = value
    return obs


def fhirpath_ok(context: Any, key: str, root: dict[str, Any]) -> bool:
    result = fhirpathpy.evaluate(context, EXPRESSIONS[key], {"resource": root},
                                 model=models["r4"])
    return result in ([], [True])


def edges() -> list[tuple[str, Any, bool]]:
    out = []
    for i in INSTRUMENTS:
        out += [(i.code, i.low, True), (i.code, i.high, True), (i.code, i.low - 1, False),
                (i.code, i.high + 0.5, False), (i.code, i.low + 0.5, not i.integer)]
    return out


@pytest.mark.parametrize(("code", "value", "ok"), edges())
def test_prom_value_ranges(code: str, value: Any, ok: bool) -> None:
    obs = prom(code, value)
    if code == "hscl10-mean" and value > 1.85:
        obs["interpretation"] = [{"coding": [{"system": c.INTERPRETATION, "code": "H"}]}]
    key = BY_CODE[code].invariant_key
    assert NATIVE[key](obs["valueQuantity"], obs) is ok
    assert fhirpath_ok(obs["valueQuantity"], key, obs) is ok
    found = {(i.expression, i.code) for i in validate_resource(obs) if i.is_error}
    assert found == (set() if ok else {("Observation.value", "invariant")})


def test_other_instruments_range_does_not_apply() -> None:
    obs = prom("eq-vas", 90)  # outside the NRS and PGIC ranges, which do not apply
    assert validate_resource(obs) == []


@pytest.mark.parametrize(("value", "flag", "ok"), [
    (2.0, True, True), (2.0, False, False), (1.85, False, True), (1.85, True, False),
    (1.86, True, True)])
def test_hscl_flag_native_matches_fhirpath(value: float, flag: bool, ok: bool) -> None:
    obs = prom("hscl10-mean", value)
    if flag:
        obs["interpretation"] = [{"coding": [{"system": c.INTERPRETATION, "code": "H"}]}]
    assert NATIVE["chiro-prom-hscl"](obs, obs) is ok
    assert fhirpath_ok(obs, "chiro-prom-hscl", obs) is ok


@pytest.mark.parametrize(("codes", "ok"), [
    ([("triage", "non-specific")], True),
    ([("triage", "non-specific"), ("icpc", "L03")], True),
    ([("icpc", "L03")], False),
    ([("triage", "non-msk"), ("triage", "specific-msk")], False),
    ([("triage", "nonspecific")], False),
    ([], False),
])
def test_triage_native_matches_fhirpath(codes: list[tuple[str, str]], ok: bool) -> None:
    systems = {"triage": c.TRIAGE_CATEGORY, "icpc": c.ICPC2}
    report = {"conclusionCode": [{"coding": [{"system": systems[s], "code": k}]}
                                 for s, k in codes]}
    assert NATIVE["chiro-dr-1"](report, report) is ok
    assert fhirpath_ok(report, "chiro-dr-1", report) is ok


def test_triage_codes_match_the_code_system() -> None:
    cs = package().resources[c.TRIAGE_CATEGORY]
    assert tuple(x["code"] for x in cs["concept"]) == c.TRIAGE_CODES


def test_prom_codes_match_the_code_system() -> None:
    cs = package().resources[c.PROM_INSTRUMENT]
    assert [x["code"] for x in cs["concept"]] == [i.code for i in INSTRUMENTS]


def test_imaging_indications_are_the_nine_of_the_box() -> None:
    assert len(package().resources[c.IMAGING_INDICATION]["concept"]) == 9


# --- default profiles by content --------------------------------------------------------


def test_one_argument_form_unchanged() -> None:
    assert default_profiles("ServiceRequest") == (c.REFERRAL,)
    assert default_profiles("DiagnosticReport") == (c.ASSESSMENT_FEEDBACK,)


@pytest.mark.parametrize(("name", "profile"), [
    ("ChiroPromObservation-odi.json", c.PROM_OBSERVATION),
    ("ChiroYellowFlags-example.json", c.YELLOW_FLAGS),
    ("ChiroFunctionSummary-example.json", c.FUNCTION_SUMMARY),
])
def test_observation_profile_by_code(name: str, profile: str) -> None:
    assert default_profiles("Observation", example(name)) == (profile,)


def test_other_observations_get_none() -> None:
    assert default_profiles("Observation", {"code": {"coding": [
        {"system": "http://loinc.org", "code": "8867-4"}]}}) == ()
    assert default_profiles("Observation", {"code": "junk"}) == ()


def test_prom_profile_applies_without_meta_profile() -> None:
    obs = prom("odi", 120)
    del obs["meta"]
    assert ("Observation.value", "invariant") in {
        (i.expression, i.code) for i in validate_resource(obs)}


def test_imaging_service_request_is_not_a_referral() -> None:
    imaging = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
               "category": [{"coding": [{"system": c.SNOMED, "code": c.SNOMED_IMAGING}]}],
               "code": {"coding": [{"system": c.IMAGING_PROCEDURE, "code": "xray-knee"}]},
               "subject": {"reference": "Patient/1"}}
    assert default_profiles("ServiceRequest", imaging) == ()
    assert validate_resource(imaging) == []
    referral = example("ChiroAssessmentReferral-plain.json")
    assert default_profiles("ServiceRequest", referral) == (c.REFERRAL,)


def test_radiology_report_is_not_feedback() -> None:
    report = {"resourceType": "DiagnosticReport", "status": "final",
              "category": [{"coding": [{"system": c.V2_0074, "code": "RAD"}]}],
              "code": {"text": "X-ray knee"}}
    assert default_profiles("DiagnosticReport", report) == ()
    assert validate_resource(report) == []
    del report["category"]
    assert any(i.is_error for i in validate_resource(report))


def test_feedback_report_references_are_typed() -> None:
    report = example("AssessmentFeedback-plain.json")
    report["basedOn"] = [{"reference": "CarePlan/1"}]
    report["result"].append({"reference": "DiagnosticReport/2"})
    found = {(i.expression, i.code) for i in validate_resource(report)}
    assert {("DiagnosticReport.basedOn[0].reference", "value"),
            ("DiagnosticReport.result[10].reference", "value")} <= found


def test_care_plan_activity_must_be_inline_and_coded() -> None:
    plan = example("AssessmentRecommendation-imaging.json")
    bad = copy.deepcopy(plan)
    bad["activity"][0] = {"reference": {"reference": "ServiceRequest/1"}}
    bad["activity"][1]["detail"]["code"] = {"coding": [{"system": "urn:x", "code": "massage"}]}
    bad["intent"] = "order"
    found = {(i.expression, i.code) for i in validate_resource(bad)}
    assert {("CarePlan.activity[0].reference", "structure"),
            ("CarePlan.activity[0].detail", "required"),
            ("CarePlan.activity[1].detail.code", "code-invalid"),
            ("CarePlan.intent", "value")} <= found


OBS7 = ("value.empty() or component.code.where(coding.intersect(%resource.code.coding)"
        ".exists()).empty()")


@pytest.mark.parametrize("case", ["flags", "same-code", "no-value", "no-component"])
def test_obs7_native_matches_fhirpath(case: str) -> None:
    obs = example("ChiroYellowFlags-example.json")
    if case == "same-code":
        obs["component"][1]["code"] = copy.deepcopy(obs["code"])
    elif case == "no-value":
        obs["component"][1]["code"] = copy.deepcopy(obs["code"])
        del obs["valueBoolean"]
    elif case == "no-component":
        del obs["component"]
    expected = fhirpathpy.evaluate(obs, OBS7, {"resource": obs}, model=models["r4"])
    assert NATIVE["obs-7"](obs, obs) == (expected in ([], [True]))
    assert (case == "same-code") == (NATIVE["obs-7"](obs, obs) is False)


def test_a_recommendation_careplan_without_meta_profile_still_gets_the_indication_warning() -> None:
    import json
    from pathlib import Path

    from profiles.validate import validate_resource

    bundle = json.loads((Path(__file__).resolve().parents[3] / "profiles" / "examples"
                         / "AssessmentFeedback-bundle-noindication.json").read_text())
    careplan = next(e["resource"] for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "CarePlan")
    careplan = {k: v for k, v in careplan.items() if k != "meta"}
    warnings = [i for i in validate_resource(careplan) if i.severity == "warning"]
    assert [i.code for i in warnings] == ["business-rule"]
    assert warnings[0].expression is not None
    assert warnings[0].expression.startswith("CarePlan.activity[")
