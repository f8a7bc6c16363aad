from typing import Any

import pytest

from service.api.subsetting import SUBSETTED, WHOLE, Subset, apply, subset_of
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
    once = apply(TASK, subset_of(None, ["note"]))
    assert set(once) == {"resourceType", "id", "meta", "status", "_status", "intent", "note"}
    assert once["meta"] == {"versionId": "2", "tag": [TAG, SUBSETTED]}
    assert apply(once, subset_of(None, ["note"]))["meta"]["tag"] == [TAG, SUBSETTED]
    assert TASK["meta"]["tag"] == [TAG]  # the stored content is not touched


@pytest.mark.parametrize(("mode", "keys"), [
    ("true", {"resourceType", "id", "meta", "status", "_status", "intent"}),
    ("text", {"resourceType", "id", "meta", "text", "status", "_status", "intent"}),
    ("data", set(TASK) - {"text"}),
])
def test_summary_modes(mode: str, keys: set[str]) -> None:
    assert set(apply(TASK, subset_of(mode, []))) == keys


def test_elements_parse_type_prefixes_and_repeats() -> None:
    assert subset_of(None, ["Task.note, status", "note"]) == Subset(None, ("note", "status"))
    assert subset_of(None, ["note"]).pairs() == [("_elements", "note")]
    with pytest.raises(BadRequest):
        subset_of("true", ["note"])


def test_asked_reads_modes_names_and_what_it_does_not_understand() -> None:
    from service.api.subsetting import asked

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
