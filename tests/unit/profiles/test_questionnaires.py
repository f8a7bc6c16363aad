"""QuestionnaireResponse -> PROM Observations, checked against hand-worked scores."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from profiles import canonical as c
from profiles.package import package
from profiles.questionnaires import (
    SCORERS,
    UnscorableResponse,
    questionnaire_url,
    score_questionnaire_response,
)
from profiles.validate import validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
NOW = datetime(2025, 11, 27, 11, 0, tzinfo=UTC)


def response(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (EXAMPLES / f"QuestionnaireResponse-{name}.json").read_text())
    return data


def scores(qr: dict[str, Any]) -> dict[str, Any]:
    return {o["code"]["coding"][0]["code"]: o for o in score_questionnaire_response(qr, NOW)}


def value(obs: dict[str, Any]) -> Any:
    return obs["valueQuantity"]["value"]


def issues_of(qr: dict[str, Any]) -> set[tuple[str | None, str]]:
    with pytest.raises(UnscorableResponse) as err:
        score_questionnaire_response(qr, NOW)
    return {(i.expression, i.code) for i in err.value.issues}


# Hand-worked: ODI 2,1,3,2,2,1,1,-,2,1 -> 15 of 45 = 33.33; NDI 1,1,2,0,1,1,-,1,0,1 -> 8/45
# = 17.78; HSCL 2,2,1,2,3,2,2,1,2,3 -> 20/10 = 2.0 (> 1.85: H); FABQ below, item by item.
@pytest.mark.parametrize(("name", "expected"), [
    ("odi", {"odi": 33.33}),
    ("ndi", {"ndi": 17.78}),
    ("nrs-pain", {"nrs-pain-rest": 3, "nrs-pain-activity": 6}),
    ("hscl10", {"hscl10-mean": 2.0}),
    ("fabq", {"fabq-physical": 4 + 5 + 3 + 4, "fabq-work": 3 + 2 + 4 + 1 + 2 + 3 + 0}),
    # EQ-5D-5L 21232, Danish set: 1 - (0.041 + 0.033 + 0.094 + 0.072) = 0.760
    ("eq5d5l", {"eq5d5l-index": 0.76, "eq-vas": 65}),
    ("pgic", {"pgic": 3}),
])
def test_examples_score_as_worked_by_hand(name: str, expected: dict[str, Any]) -> None:
    assert {k: value(o) for k, o in scores(response(name)).items()} == expected


@pytest.mark.parametrize(("element", "value", "where"), [
    ("subject", {"reference": "Encounter/1"}, "QuestionnaireResponse.subject.reference"),
    ("subject", {"reference": "http://x.example/fhir/Group/2"},
     "QuestionnaireResponse.subject.reference"),
    ("basedOn", [{"reference": "CarePlan/1"}], "QuestionnaireResponse.basedOn[0].reference"),
])
def test_a_response_whose_scores_would_be_invalid_observations_is_not_scored(
        element: str, value: Any, where: str) -> None:
    """The scores copy subject and basedOn: the ChiroPromObservation (and R4's
    Observation.subject) want a Patient and a ServiceRequest there."""
    qr = response("nrs-pain")
    qr[element] = value
    assert (where, "business-rule") in issues_of(qr)


@pytest.mark.parametrize("name", ["odi", "ndi", "nrs-pain", "hscl10", "fabq", "eq5d5l", "pgic"])
def test_observations_are_valid_proms(name: str) -> None:
    for obs in score_questionnaire_response(response(name), NOW):
        assert validate_resource(obs) == []
        del obs["meta"]  # the profile applies by code system too
        assert validate_resource(obs) == []


def test_observation_copies_subject_based_on_and_authored() -> None:
    qr = response("odi")
    obs = scores(qr)["odi"]
    assert obs["subject"] == qr["subject"] and obs["basedOn"] == qr["basedOn"]
    assert obs["effectiveDateTime"] == qr["authored"] and obs["issued"] == "2025-11-27T11:00:00Z"
    assert obs["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{qr['id']}"}]
    assert "1 unanswered" in obs["note"][0]["text"]


def test_reference_argument_for_transactions() -> None:
    qr = response("pgic")
    del qr["id"]
    [obs] = score_questionnaire_response(qr, NOW, reference="urn:uuid:1")
    assert obs["derivedFrom"] == [{"reference": "urn:uuid:1"}]
    assert issues_of(qr) == {("QuestionnaireResponse.id", "required")}


def test_hscl_flag_and_fabq_bands() -> None:
    assert scores(response("hscl10"))["hscl10-mean"]["interpretation"][0]["coding"][0][
        "code"] == "H"
    fabq = scores(response("fabq"))
    assert fabq["fabq-physical"]["interpretation"] == [{"text": "moderate"}]  # 16: 14-16
    assert fabq["fabq-work"]["interpretation"] == [{"text": "negligible"}]  # 15 < 20


def test_hscl_at_cutoff_is_not_flagged() -> None:
    qr = response("hscl10")  # 1,2,2,2,2,2,2,2,2,1 -> 18/10 = 1.8: not above 1.85
    for item, answer in zip(qr["item"], [1, 2, 2, 2, 2, 2, 2, 2, 2, 1], strict=True):
        item["answer"] = [{"valueInteger": answer}]
    obs = scores(qr)["hscl10-mean"]
    assert value(obs) == 1.8 and "interpretation" not in obs


def test_coded_answer_uses_ordinal_value_or_integer_code() -> None:
    qr = response("pgic")
    assert value(scores(qr)["pgic"]) == 3
    qr["item"][0]["answer"][0]["valueCoding"] = {"system": "urn:x", "code": "2"}
    assert value(scores(qr)["pgic"]) == 2
    qr["item"][0]["answer"][0]["valueCoding"] = {"system": "urn:x", "code": "much-better"}
    assert issues_of(qr) == {("QuestionnaireResponse.item[0].answer[0].valueCoding",
                              "code-invalid")}


def test_out_of_range_answer_points_at_it() -> None:
    qr = response("odi")
    qr["item"][3]["answer"] = [{"valueInteger": 6}]
    assert issues_of(qr) == {("QuestionnaireResponse.item[3].answer[0]", "value")}


def test_wrong_answer_type_unknown_link_and_duplicates() -> None:
    qr = response("odi")
    qr["item"][0]["answer"] = [{"valueString": "3"}]
    qr["item"][1]["linkId"] = "odi-11"
    qr["item"].append(copy.deepcopy(qr["item"][2]))
    assert issues_of(qr) == {("QuestionnaireResponse.item[0].answer[0]", "value"),
                             ("QuestionnaireResponse.item[1].linkId", "value"),
                             ("QuestionnaireResponse.item[10]", "structure")}


def test_too_many_missing_odi_sections() -> None:
    qr = response("odi")
    qr["item"][0].pop("answer")  # section 8 is already unanswered: 2 missing, 1 allowed
    assert issues_of(qr) == {("QuestionnaireResponse.item", "required")}


def test_ndi_allows_two_missing() -> None:
    qr = response("ndi")  # 1,-,2,0,1,1,-,1,0,1 -> 7 of 40 = 17.5
    qr["item"][1].pop("answer")
    assert value(scores(qr)["ndi"]) == 17.5


def test_fabq_work_unanswered_is_skipped_partial_is_refused() -> None:
    qr = response("fabq")
    work = {f"fabq-{n}" for n in (6, 7, 9, 10, 11, 12, 15)}
    qr["item"] = [i for i in qr["item"] if i["linkId"] not in work]
    assert set(scores(qr)) == {"fabq-physical"}
    qr = response("fabq")
    qr["item"] = [i for i in qr["item"] if i["linkId"] != "fabq-9"]
    assert issues_of(qr) == {("QuestionnaireResponse.item", "required")}


def test_eq5d_index_needs_all_five() -> None:
    qr = response("eq5d5l")
    qr["item"][4].pop("answer")
    assert issues_of(qr) == {("QuestionnaireResponse.item", "required")}


def test_nothing_answered() -> None:
    qr = response("nrs-pain")
    qr["item"] = []
    assert issues_of(qr) == {("QuestionnaireResponse.item", "required")}


def test_header_problems_are_reported_together() -> None:
    qr = response("odi")
    qr["status"] = "in-progress"
    del qr["subject"]
    del qr["authored"]
    assert issues_of(qr) == {("QuestionnaireResponse.status", "business-rule"),
                             ("QuestionnaireResponse.subject", "required"),
                             ("QuestionnaireResponse.authored", "required")}


@pytest.mark.parametrize("url", [None, "https://example.org/Questionnaire/odi",
                                 c.PROM_INSTRUMENT])
def test_unknown_questionnaire(url: str | None) -> None:
    qr = response("odi")
    qr["questionnaire"] = url
    assert issues_of(qr) == {("QuestionnaireResponse.questionnaire", "not-supported")}


def test_versioned_canonical_is_accepted() -> None:
    qr = response("pgic")
    qr["questionnaire"] += "|" + c.VERSION
    assert set(scores(qr)) == {"pgic"}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        score_questionnaire_response(response("pgic"), datetime(2025, 1, 1))


def test_questionnaires_are_shipped_valid_and_scorable() -> None:
    shipped = {r["id"]: r for r in package().resources.values()
               if r["resourceType"] == "Questionnaire"}
    assert set(shipped) == set(SCORERS)
    for qid, questionnaire in shipped.items():
        assert questionnaire["url"] == questionnaire_url(qid)
        assert validate_resource(questionnaire) == []
        assert len({i["linkId"] for i in questionnaire["item"]}) == len(questionnaire["item"])
