"""The rule walk's precomputed parts say what the plain definitions say: choice keys,
counts, plans built on first run, remembered keys, and failures on odd input."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from profiles.codings import codings
from profiles.elements import Segment, choice_keys, count, stems
from profiles.identifiers import ascii_digits
from profiles.invariants import compile_invariant
from profiles.issues import Issue
from profiles.rules import MAX_REMEMBERED_KEYS, Context, RuleTree
from profiles.validate import validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"


@dataclass
class Spy:
    """A check that records what it was called on."""

    seen: list[tuple[Any, str]] = field(default_factory=list)

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        self.seen.append((value, expr))


def test_choice_keys_are_the_keys_with_the_name_as_a_stem() -> None:
    value = {"valueString": "a", "value": 1, "valuex": 2, "_valueString": {}, "valueQuantity": {},
             "valueSet2": 3}
    expected = tuple(k for k in value if "value" in stems(k))
    assert choice_keys(value, "value") == expected == ("valueString", "valueQuantity", "valueSet2")


def test_choice_keys_of_a_non_string_key_fail_like_stems() -> None:
    value: dict[Any, Any] = {1: "x", "valueString": "a"}
    with pytest.raises(TypeError):
        choice_keys(value, "value")


@pytest.mark.parametrize(("value", "segment", "n"), [
    ({"given": ["a", "b"]}, "given", 2),
    ({"given": []}, "given", 0),
    ({"given": None}, "given", 0),
    ({"_given": [{}, {}]}, "given", 2),  # primitive extensions only
    ({"birthDate": "2000"}, "birthDate", 1),
    ({"valueString": "a", "valueQuantity": {}}, "value[x]", 2),
    ({"valueCoding": [{}, {}]}, "value[x]", 2),
    ({}, "value[x]", 0),
    ({"extension": [{"url": "u"}, {"url": "v"}, {"url": "u"}, "x"]}, "extension@u", 2),
    ({"extension": {"url": "u"}}, "extension@u", 1),
])
def test_count(value: dict[str, Any], segment: str, n: int) -> None:
    assert count(value, Segment.parse(segment)) == n


def test_a_rule_added_after_a_walk_is_applied() -> None:
    tree = RuleTree("Patient")
    first, second = Spy(), Spy()
    tree.add_check(["name"], first)
    resource = {"resourceType": "Patient", "name": [{"family": "A"}], "gender": "x"}
    tree.run(resource, Context(resource, [], {}))
    tree.add_check(["gender"], second)
    tree.add_cardinality(["birthDate"], 1, 1, "T")
    out: list[Issue] = []
    tree.run(resource, Context(resource, out, {}))
    assert first.seen == [({"family": "A"}, "Patient.name[0]")] * 2
    assert second.seen == [("x", "Patient.gender")]
    assert [i.expression for i in out] == ["Patient.birthDate"]


def test_choice_children_run_for_each_choice_key() -> None:
    tree = RuleTree("Observation")
    spy = Spy()
    tree.add_check(["value[x]"], spy)
    resource = {"resourceType": "Observation", "valueString": "a", "status": "final"}
    tree.run(resource, Context(resource, [], {}))
    assert spy.seen == [("a", "Observation.value")]


def test_remembered_keys_are_bounded() -> None:
    tree = RuleTree("Patient")
    tree.add_check(["name"], Spy())
    resource: dict[str, Any] = {f"k{i}": i for i in range(3 * MAX_REMEMBERED_KEYS)}
    for _ in range(2):
        tree.run(resource, Context(resource, [], {}))
    plan = tree.root._plan
    assert plan is not None and len(plan.visits) == MAX_REMEMBERED_KEYS


def test_invariant_trigger_keys_match_when() -> None:
    inv = compile_invariant("x-1", "error", "h", "a.exists()", ["a", "b"], "T", names=["a"])
    assert inv.trigger_keys == {"a", "_a", "b", "_b"}
    choice = compile_invariant("x-2", "error", "h", "a.exists()", ["value[x]"], "T",
                               names=["a"])
    assert choice.trigger_keys is None


def test_a_non_string_key_still_fails_as_an_exception_issue() -> None:
    sr = json.loads((EXAMPLES / "ChiroAssessmentReferral-plain.json").read_text())
    sr[1] = "x"  # no JSON gives this: the choice scan fails on it, as stem() always did
    issues = validate_resource(sr)
    assert [(i.severity, i.code, i.message) for i in issues] == [
        ("fatal", "exception", "validator failed: TypeError")]


@pytest.mark.parametrize("text", [
    "", "1", "12", "123\n", "\uff11\uff12", "\u00b2", "0123456789", "a1", " 1",
])
@pytest.mark.parametrize("length", [None, 0, 1, 2, 10])
def test_ascii_digits(text: str, length: int | None) -> None:
    only_digits = all(c in "0123456789" for c in text)
    expected = only_digits and (len(text) > 0 if length is None else len(text) == length)
    assert ascii_digits(text, length) is expected


def test_codings_skip_what_is_malformed() -> None:
    concepts = [{"coding": [{"code": "a"}, "x", None]}, None, {"coding": {"code": "b"}},
                {"coding": [{"code": "c"}]}]
    assert codings(concepts) == [{"code": "a"}, {"code": "c"}]
    assert codings({"coding": [{"code": "d"}]}) == [{"code": "d"}]


@pytest.mark.parametrize(("key", "names"), [
    ("occurrencePeriod", ("occurrence",)),
    ("asNeededBoolean", ("as", "asNeeded")),
    ("multipleBirthInteger", ("multiple", "multipleBirth")),
    ("valueCodeableConcept", ("value", "valueCodeable")),
    ("status", ()), ("value", ()), ("valuex", ()), ("_valueString", ("_value",)),
])
def test_stems_are_the_names_a_key_may_be_a_choice_key_of(key: str,
                                                          names: tuple[str, ...]) -> None:
    assert stems(key) == names


def test_choice_keys_of_a_camel_case_name() -> None:
    value = {"asNeededBoolean": True, "as": 1, "asNeeded": 2, "asNeededx": 3,
             "asNeededCodeableConcept": {}, "_asNeededBoolean": {}, "asOther": 4}
    assert choice_keys(value, "asNeeded") == ("asNeededBoolean", "asNeededCodeableConcept")
    assert count(value, Segment.parse("asNeeded[x]")) == 2


def test_camel_case_choice_children_and_counts_run() -> None:
    tree = RuleTree("ServiceRequest")
    spy = Spy()
    tree.add_check(["asNeeded[x]"], spy)
    tree.add_cardinality(["asNeeded[x]"], 0, 1, "T")
    tree.add_cardinality(["multipleBirth[x]"], 1, 1, "T")
    resource = {"resourceType": "ServiceRequest", "asNeededBoolean": True,
                "asNeededCodeableConcept": {"text": "x"}, "status": "active"}
    out: list[Issue] = []
    tree.run(resource, Context(resource, out, {}))
    assert spy.seen == [(True, "ServiceRequest.asNeeded"),
                        ({"text": "x"}, "ServiceRequest.asNeeded")] * 2  # once per key
    assert [(i.expression, i.message) for i in out] == [
        ("ServiceRequest.asNeeded", "T: maximum 1, found 2"),
        ("ServiceRequest.multipleBirth", "T: minimum 1, found 0")]
