from typing import Any

import pytest

from service.api.subsetting import SUBSETTED, WHOLE, Subset, apply, asked
from service.errors import BadRequest

TAG = {"system": "urn:x", "code": "kept"}
TASK: dict[str, Any] = {
    "resourceType": "Task",
    "id": "t1",
    "meta": {"versionId": "2", "tag": [TAG]},
    "text": {"status": "generated", "div": "<div/>"},
    "status": "requested",
    "_status": {"extension": [{"url": "urn:e", "valueString": "x"}]},
    "intent": "order",
    "note": [{"text": "n"}],
    "input": [{"type": {"text": "a"}, "valueString": "b"}],
}


def test_whole_is_the_same_object() -> None:
    assert apply(TASK, WHOLE) is TASK and not WHOLE


def test_elements_keep_mandatory_and_extension_siblings_and_tag_once() -> None:
    note = asked("Task", [("_elements", "note")]).subset
    once = apply(TASK, note)
    assert set(once) == {"resourceType", "id", "meta", "status", "_status", "intent", "note"}
    assert once["meta"] == {"versionId": "2", "tag": [TAG, SUBSETTED]}
    assert apply(once, note)["meta"]["tag"] == [TAG, SUBSETTED]
    assert TASK["meta"]["tag"] == [TAG]  # the stored content is not touched


@pytest.mark.parametrize(("mode", "keys"), [
    ("true", {"resourceType", "id", "meta", "status", "_status", "intent"}),
    ("text", {"resourceType", "id", "meta", "text", "status", "_status", "intent"}),
    ("data", set(TASK) - {"text"}),
])
def test_summary_modes(mode: str, keys: set[str]) -> None:
    assert set(apply(TASK, asked("Task", [("_summary", mode)]).subset)) == keys


def test_elements_parse_type_prefixes_and_repeats() -> None:
    pairs = [("_elements", "Task.note, status"), ("_elements", "note")]
    assert asked("Task", pairs).subset == Subset(None, ("note", "status"))
    assert asked("Task", [("_elements", "note")]).subset.pairs() == [("_elements", "note")]
    with pytest.raises(BadRequest):
        asked("Task", [("_summary", "true"), ("_elements", "note")])


def test_asked_reads_modes_names_and_what_it_does_not_understand() -> None:
    got = asked("Task", [("_summary", "false"), ("_elements", "Task.note,-x,Patient.name"),
                         ("_elements:exclude", "note"), ("_summary", "brief")])
    assert got.subset == Subset(None, ("note",)) and not got.count
    assert got.unsupported == ("_elements=-x", "_elements=Patient.name",
                               "_elements:exclude=note", "_summary=brief")
    assert asked("Task", [("_summary", "count"), ("_elements", "note")]).count
    assert asked("Patient", [("_elements", "deceased")]).subset.elements == (
        "deceasedBoolean", "deceasedDateTime")
    with pytest.raises(BadRequest):
        asked("Task", [("_summary", "true"), ("_summary", "text")])
