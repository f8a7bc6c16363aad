"""Lumbar imaging without a guideline indication: accepted, flagged with a warning."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from profiles import canonical as c
from profiles.indications import indication_issues, is_lumbar_imaging, lacks_indication
from profiles.validate import validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
REASON = "CarePlan.activity[2].detail.reasonCode"


def care_plan() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "AssessmentRecommendation-imaging.json")
                                      .read_text())
    return data


def xray(plan: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = plan["activity"][2]["detail"]
    return detail


def coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def test_with_indication_no_warning() -> None:
    plan = care_plan()
    assert indication_issues(plan) == [] and not lacks_indication(plan)
    assert validate_resource(plan) == []


def test_without_indication_is_a_warning_at_the_reason() -> None:
    plan = care_plan()
    xray(plan)["reasonCode"] = [coded(c.ICPC2_NO, "L03")]
    [issue] = indication_issues(plan)
    assert (issue.severity, issue.code, issue.expression) == ("warning", "business-rule", REASON)
    assert "guideline indication" in issue.message and lacks_indication(plan)
    found = validate_resource(plan)
    assert [(i.severity, i.code, i.expression) for i in found] == [
        ("warning", "business-rule", REASON)]


def test_missing_reason_code_is_flagged_too() -> None:
    plan = care_plan()
    del xray(plan)["reasonCode"]
    assert [i.expression for i in validate_resource(plan)] == [REASON]


def test_rooted_inside_a_bundle() -> None:
    plan = care_plan()
    del xray(plan)["reasonCode"]
    [issue] = indication_issues(plan, "Bundle.entry[4].resource")
    assert issue.expression == "Bundle.entry[4].resource.activity[2].detail.reasonCode"


@pytest.mark.parametrize("code", ["xray-knee", "us-shoulder", "xray-cervical-spine"])
def test_other_sites_need_no_indication(code: str) -> None:
    plan = care_plan()
    xray(plan)["code"] = coded(c.IMAGING_PROCEDURE, code)
    del xray(plan)["reasonCode"]
    assert not lacks_indication(plan) and validate_resource(plan) == []


def test_non_imaging_recommendations_need_no_indication() -> None:
    plan = care_plan()
    plan["activity"] = [plan["activity"][0]]
    assert not lacks_indication(plan)


def test_imaging_service_request_by_body_site() -> None:
    request = {"resourceType": "ServiceRequest", "code": coded(c.SNOMED, "168537006"),
               "bodySite": [coded(c.SNOMED, "122496007")]}
    assert is_lumbar_imaging(request) and lacks_indication(request)
    [issue] = indication_issues(request)
    assert issue.expression == "ServiceRequest.reasonCode"
    request["reasonCode"] = [coded(c.IMAGING_INDICATION, "trauma")]
    assert not lacks_indication(request)


def test_unknown_indication_code_does_not_count() -> None:
    plan = care_plan()
    xray(plan)["reasonCode"] = [coded(c.IMAGING_INDICATION, "back-pain")]
    assert lacks_indication(plan)


@pytest.mark.parametrize("junk", [{}, {"resourceType": "CarePlan", "activity": "x"},
                                  {"resourceType": "CarePlan", "activity": [5, {"detail": 3}]},
                                  {"resourceType": "ServiceRequest", "code": "x"}])
def test_odd_input_is_not_flagged(junk: dict[str, Any]) -> None:
    assert indication_issues(junk) == [] and not lacks_indication(junk)


def test_input_not_modified() -> None:
    plan = care_plan()
    before = copy.deepcopy(plan)
    lacks_indication(plan)
    assert plan == before
