"""validate_resource: structure translation, profiles, bundles, never raising."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from profiles import canonical, structure
from profiles.issues import rebase
from profiles.structure import fhirpath
from profiles.validate import validate_file, validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def found(issues: list[Any]) -> set[tuple[str | None, str, str]]:
    return {(i.expression, i.code, i.severity) for i in issues}


@pytest.mark.parametrize(("loc", "expected"), [
    (("subject", "reference"), "ServiceRequest.subject.reference"),
    (("identifier", 0, "value"), "ServiceRequest.identifier[0].value"),
    (("_status",), "ServiceRequest.status"),
    (("resource_type",), "ServiceRequest.resourceType"),
])
def test_pydantic_loc_to_fhirpath(loc: tuple[int | str, ...], expected: str) -> None:
    assert fhirpath("ServiceRequest", loc) == expected


def test_structural_type_error_points_at_element() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    sr["identifier"][0]["value"] = 5
    assert ("ServiceRequest.identifier[0].value", "value", "error") in found(
        validate_resource(sr))


def test_unknown_nested_element() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    sr["subject"]["display2"] = "x"
    assert ("ServiceRequest.subject.display2", "structure", "error") in found(
        validate_resource(sr))


def test_unknown_profile_is_a_warning_only() -> None:
    org = example("ChiroOrganization-clinic.json")
    org["meta"]["profile"].append("https://example.org/fhir/StructureDefinition/Other")
    issues = validate_resource(org)
    assert found(issues) == {("Organization.meta.profile[1]", "not-supported", "warning")}


def test_profile_for_another_type_is_an_error() -> None:
    org = example("ChiroOrganization-clinic.json")
    org["meta"]["profile"] = [canonical.REFERRAL]
    assert ("Organization.meta.profile[0]", "invalid", "error") in found(validate_resource(org))


def test_explicit_profiles_argument_applies() -> None:
    org = example("ChiroOrganization-clinic.json")
    del org["meta"]
    del org["name"]
    assert validate_resource(org) == []  # no default profile for Organization
    assert ("Organization.name", "required", "error") in found(
        validate_resource(org, [canonical.ORGANIZATION]))


def test_default_profile_applies_without_meta_profile() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    del sr["meta"]
    sr["intent"] = "plan"
    assert ("ServiceRequest.intent", "value", "error") in found(validate_resource(sr))


def test_bundle_entries_are_rooted_and_references_typed_by_full_url() -> None:
    bundle = example("ChiroAssessmentReferral-bundle-no.json")
    sr = bundle["entry"][5]["resource"]
    sr["requester"]["reference"] = bundle["entry"][1]["fullUrl"]  # the Practitioner
    issues = validate_resource(bundle)
    assert ("Bundle.entry[5].resource.requester.reference", "value", "error") in found(issues)


def test_bundle_entry_with_unknown_type() -> None:
    bundle = example("ChiroAssessmentReferral-bundle-dk.json")
    bundle["entry"][0]["resource"]["resourceType"] = "Pasient"
    assert ("Bundle.entry[0].resource.resourceType", "structure", "error") in found(
        validate_resource(bundle))


def test_an_entry_of_only_a_resource_is_not_an_empty_object() -> None:
    """The Bundle's own check sees its entries without their resources: an entry holding
    only a resource must not look like `{}` (ele-1) there; a truly empty one still does."""
    basic = {"resourceType": "Basic", "code": {"text": "x"}}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": basic}, {}, {"resource": None}]}
    assert [(i.expression, i.message) for i in validate_resource(bundle)
            if i.code == "structure"] == [
        ("Bundle.entry[1]", "empty object (ele-1)"),
        ("Bundle.entry[2].resource", "a resource must be a JSON object")]
    assert validate_resource({**bundle, "entry": [{"resource": basic}]}) == []


def test_extensible_binding_is_a_warning_and_required_an_error() -> None:
    role = example("ChiroPractitionerRole-gp.json")
    role["code"] = [{"coding": [{"system": "urn:example", "code": "nurse"}]}]
    assert ("PractitionerRole.code[0]", "code-invalid", "error") in found(
        validate_resource(role))


@pytest.mark.parametrize("junk", [None, [], "x", 5, {"resourceType": 5},
                                  {"resourceType": "ServiceRequest", "meta": "x"},
                                  {"resourceType": "ServiceRequest", "identifier": "x"},
                                  {"resourceType": "Bundle", "entry": [5, {"resource": 3}]}])
def test_never_raises(junk: Any) -> None:
    issues = validate_resource(junk)
    assert any(i.is_error for i in issues)


def test_validate_file_reports_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    assert [i.severity for i in validate_file(bad)] == ["fatal"]
    assert validate_file(tmp_path / "missing.json")[0].severity == "fatal"


def test_core_binding_inside_datatype() -> None:
    patient = example("ChiroPatient-no.json")
    patient["name"][0]["use"] = "nickname-ish"
    assert ("Patient.name[0].use", "code-invalid", "error") in found(validate_resource(patient))


def test_input_is_not_modified() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    before = copy.deepcopy(sr)
    validate_resource(sr)
    assert sr == before


def test_rebase() -> None:
    issues = validate_resource({"resourceType": "ServiceRequest", "status": "foo",
                                "intent": "order", "subject": {"reference": "Patient/1"}})
    moved = rebase(issues, "ServiceRequest", "Bundle.entry[3].resource")
    assert all((i.expression or "").startswith("Bundle.entry[3].resource") for i in moved)


@pytest.mark.parametrize("value", ["120385432²", "120385432" + chr(0xFF11), "120385-4321"])
def test_bad_cpr_is_an_error_at_the_value_never_fatal(value: str) -> None:
    patient = example("ChiroPatient-dk.json")
    patient["identifier"].insert(0, {"system": "urn:example:mrn", "value": "1"})
    patient["identifier"][1]["value"] = value
    issues = validate_resource(patient)
    assert not any(i.severity == "fatal" for i in issues)
    at = [i for i in issues if i.expression == "Patient.identifier[1].value"]
    assert [(i.severity, i.code) for i in at] == [("error", "value")]
    if "-" in value:
        assert "CPR is 10 digits without a dash" in at[0].message


def test_superscript_in_fodselsnummer_is_an_error_not_a_crash() -> None:
    patient = example("ChiroPatient-no.json")
    patient["identifier"][0]["value"] = patient["identifier"][0]["value"][:-1] + "²"
    assert found(validate_resource(patient)) == {("Patient.identifier[0].value", "value", "error")}


def test_numeric_national_id_is_a_structural_error_only() -> None:
    patient = example("ChiroPatient-dk.json")
    patient["identifier"][0]["value"] = 1203854321
    issues = validate_resource(patient)
    assert not any(i.severity == "fatal" for i in issues)
    assert ("Patient.identifier[0].value", "value", "error") in found(issues)


def test_cpr_replacement_number_gives_a_warning() -> None:
    patient = example("ChiroPatient-dk.json")
    patient["identifier"][0]["value"] = "7203854321"
    assert found(validate_resource(patient)) == {
        ("Patient.identifier[0].value", "value", "warning")}


def test_synthetic_ids_refused_only_when_asked() -> None:
    patient = example("ChiroPatient-no.json")
    assert int(patient["identifier"][0]["value"][2:4]) > 12  # the example is synthetic
    assert validate_resource(patient) == []
    assert ("Patient.identifier[0].value", "value", "error") in found(
        validate_resource(patient, synthetic_ids=False))
    bundle = example("ChiroAssessmentReferral-bundle-no.json")
    assert any(i.is_error for i in validate_resource(bundle, synthetic_ids=False))
    assert not any(i.is_error for i in validate_resource(bundle))


def test_extension_slice_is_named_in_cardinality_errors() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    del sr["extension"]
    messages = [i.message for i in validate_resource(sr) if i.code == "required"]
    assert any("red-flag-screening extension: minimum 1, found 0" in m for m in messages)


REASON = "ServiceRequest.reasonCode[0]"
ICPC2 = canonical.ICPC2  # referral-reason includes the whole system


@pytest.mark.parametrize(("reason_code", "at"), [
    ({"coding": ["x"]}, f"{REASON}.coding[0]"),
    ({"coding": [1]}, f"{REASON}.coding[0]"),  # not pydantic's ".root" of the item
    ({"coding": [["a"]]}, f"{REASON}.coding[0]"),
    ({"coding": "x"}, f"{REASON}.coding"),
    ({"coding": 5}, f"{REASON}.coding"),
    ({"coding": {"system": ICPC2, "code": "L03"}}, f"{REASON}.coding"),
    ({"coding": [{"system": [ICPC2], "code": "L03"}]}, f"{REASON}.coding[0].system"),
    ({"coding": [{"system": {"a": 1}, "code": "L03"}]}, f"{REASON}.coding[0].system"),
])
def test_malformed_coding_in_a_bound_concept_is_a_structural_error_not_fatal(
        reason_code: Any, at: str) -> None:
    """The binding skips the malformed coding: left without a coding, the concept is not
    in the required value set (as with `coding: []`)."""
    sr = example("ChiroAssessmentReferral-plain.json")
    sr["reasonCode"] = [reason_code]
    sr["status"] = "bogus"  # another issue, which must still be reported
    assert found(validate_resource(sr)) == {(at, "value", "error"),
                                            (REASON, "code-invalid", "error"),
                                            ("ServiceRequest.status", "code-invalid", "error")}


@pytest.mark.parametrize("code", [["no-red-flags"], {"a": 1}])
def test_unhashable_code_in_a_bound_concept_is_a_structural_error_not_fatal(code: Any) -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    sr["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = code
    at = "ServiceRequest.extension[0].value"
    assert found(validate_resource(sr)) == {
        (f"{at}CodeableConcept.coding[0].code", "value", "error"), (at, "code-invalid", "error")}


def test_a_malformed_coding_is_skipped_by_the_binding_not_the_others() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    good = sr["reasonCode"][0]["coding"][0]
    sr["reasonCode"][0]["coding"] = [{**good, "system": [good["system"]]}, "x", good]
    assert found(validate_resource(sr)) == {(f"{REASON}.coding[0].system", "value", "error"),
                                            (f"{REASON}.coding[1]", "value", "error")}


def test_malformed_coding_of_an_unbound_concept() -> None:
    sr = example("ChiroAssessmentReferral-plain.json")
    sr["category"] = [{"coding": ["x"]}]
    assert found(validate_resource(sr)) == {
        ("ServiceRequest.category[0].coding[0]", "value", "error")}


@pytest.mark.parametrize("system", [[canonical.NO_FNR], {"a": 1}])
def test_malformed_identifier_system_is_a_structural_error_not_fatal(system: Any) -> None:
    patient = example("ChiroPatient-no.json")
    patient["identifier"][0]["system"] = system
    patient["gender"] = "bogus"  # another issue, which must still be reported
    issues = found(validate_resource(patient))
    assert ("Patient.identifier[0].system", "value", "error") in issues
    assert ("Patient.gender", "code-invalid", "error") in issues
    assert ("Patient", "invariant", "error") in issues  # chiro-pat-1: no national id left
    assert all(severity != "fatal" for _at, _code, severity in issues)


TWO_KEYS: dict[str, dict[str, Any]] = {  # two keys of a 0..1 choice element
    "asNeeded": {"asNeededBoolean": True, "asNeededCodeableConcept": {"text": "x"}},
    "quantity": {"quantityQuantity": {"value": 1}, "quantityRatio": {}},
    "multipleBirth": {"multipleBirthBoolean": False, "multipleBirthInteger": 2},
    "deceased": {"deceasedBoolean": False, "deceasedDateTime": "2020"},
}


@pytest.mark.parametrize(("example_name", "camel", "lower"), [
    ("ChiroAssessmentReferral-plain.json", "asNeeded", "quantity"),
    ("ChiroPatient-no.json", "multipleBirth", "deceased"),
])
def test_camel_case_choice_is_checked_like_a_lowercase_one(
        example_name: str, camel: str, lower: str) -> None:
    """The same issues whether the choice element's name is camelCase or not: the
    structural one (fhir.resources lists the keys) and the base R4 cardinality."""
    resource = example(example_name)
    rtype = resource["resourceType"]

    def issues(name: str) -> list[tuple[str, str, str | None]]:
        found = validate_resource({**resource, **TWO_KEYS[name]})
        cardinality = ("error", "structure", f"{rtype}.{name}", "FHIR R4: maximum 1, found 2")
        assert cardinality in [(i.severity, i.code, i.expression, i.message) for i in found]
        return [(i.severity, i.code, (i.expression or "").replace(name, "<x>")) for i in found]

    assert issues(camel) == issues(lower)


@pytest.mark.parametrize("concept", ["code", "reasonCode[0]"])
def test_unhashable_code_in_an_imaging_recommendation_is_not_fatal(concept: str) -> None:
    """chiro-cp-1 (imaging indication) reads these codes too."""
    careplan = example("AssessmentRecommendation-imaging.json")
    detail = careplan["activity"][2]["detail"]
    coding = (detail["code"] if concept == "code" else detail["reasonCode"][0])["coding"][0]
    coding["code"] = [coding["code"]]
    issues = found(validate_resource(careplan))
    assert (f"CarePlan.activity[2].detail.{concept}.coding[0].code", "value", "error") in issues
    assert all(severity != "fatal" for _at, _code, severity in issues)


@pytest.mark.parametrize(("change", "at", "message"), [
    ({"code": [{"text": "a"}]}, "ServiceRequest.code",
     "expected CodeableConcept (a JSON object), got an array"),
    ({"authoredOn": "yesterday"}, "ServiceRequest.authoredOn",
     "DateTime value string does not match spec regex."),
    ({"contained": [{"resourceType": "Patient", "id": "p", "birthDate": 5}],
      "subject": {"reference": "#p"}},
     "ServiceRequest.contained[0].birthDate", "expected a string, got a number"),
    ({"occurrenceDateTime": "2026-01-01", "occurrencePeriod": {"start": "2026-01-01"}},
     "ServiceRequest.occurrence",
     "only one of occurrenceDateTime, occurrencePeriod may be present"),  # those given
])
def test_structural_messages_speak_json_and_fhirpath(
        change: dict[str, Any], at: str, message: str) -> None:
    """No pydantic wording (`Value error, `, `<class 'list'>`, `.root`) reaches a client."""
    sr = example("ChiroAssessmentReferral-plain.json") | change
    issues = [i for i in validate_resource(sr) if i.expression == at and i.code == "value"]
    assert [i.message for i in issues] == [message]


def test_a_missing_required_choice_is_reported_at_its_stem() -> None:
    task = {"resourceType": "Task", "status": "requested", "intent": "order",
            "input": [{"type": {"text": "a"}}]}
    assert ("Task.input[0].value", "required", "error") in found(validate_resource(task))
    assert [i.message for i in validate_resource(task)
            if i.expression == "Task.input[0].value"] == ["value[x] is required"]


@pytest.mark.parametrize(("names", "stem"), [
    (["occurrenceDateTime", "occurrencePeriod", "occurrenceTiming"], "occurrence"),
    (["valueString", "valueSampledData"], "value"),
    (["valueDate", "valueDateTime"], "value"),
    (["multipleBirthBoolean", "multipleBirthInteger"], "multipleBirth"),
    (["alone"], ""),
])
def test_choice_stem_is_the_element_name(names: list[str], stem: str) -> None:
    assert structure._common_stem(names) == stem
