from __future__ import annotations

from typing import Any

import pytest

from service.api.json_patch import apply_patch, without_empties
from service.errors import BadRequest, Unprocessable

DOC: dict[str, Any] = {"a": 1, "list": [1, 2, 3], "n": {"x~y": 1, "p/q": 2}}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/b", "value": 2}], DOC | {"b": 2}),
        ([{"op": "add", "path": "/list/-", "value": 4}], DOC | {"list": [1, 2, 3, 4]}),
        ([{"op": "add", "path": "/list/0", "value": 0}], DOC | {"list": [0, 1, 2, 3]}),
        ([{"op": "remove", "path": "/list/1"}], DOC | {"list": [1, 3]}),
        ([{"op": "replace", "path": "/a", "value": 9}], DOC | {"a": 9}),
        ([{"op": "replace", "path": "/n/x~0y", "value": 5}], DOC | {"n": {"x~y": 5, "p/q": 2}}),
        ([{"op": "remove", "path": "/n/p~1q"}], DOC | {"n": {"x~y": 1}}),
        ([{"op": "move", "from": "/a", "path": "/b"}],
         {"list": [1, 2, 3], "n": DOC["n"], "b": 1}),
        ([{"op": "copy", "from": "/list/0", "path": "/c"}], DOC | {"c": 1}),
        ([{"op": "test", "path": "/a", "value": 1}], DOC),
    ],
)
def test_operations(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert apply_patch(DOC, ops) == expected


def test_input_is_not_changed() -> None:
    apply_patch(DOC, [{"op": "add", "path": "/list/-", "value": 4}])
    assert DOC["list"] == [1, 2, 3]


@pytest.mark.parametrize(
    "ops",
    [{"op": "add"}, [{"op": "nope", "path": "/a"}], [{"path": "/a"}],
     [{"op": "add", "path": "a", "value": 1}], [{"op": "add", "path": "/a"}]],
)
def test_malformed_is_400(ops: Any) -> None:
    with pytest.raises(BadRequest):
        apply_patch(DOC, ops)


@pytest.mark.parametrize(
    "ops",
    [[{"op": "test", "path": "/a", "value": 2}], [{"op": "remove", "path": "/zzz"}],
     [{"op": "replace", "path": "/list/9", "value": 1}],
     [{"op": "add", "path": "/x/y", "value": 1}],
     [{"op": "add", "path": "", "value": [1]}]],
)
def test_not_applicable_is_422(ops: Any) -> None:
    with pytest.raises(Unprocessable):
        apply_patch(DOC, ops)


def test_without_empties_drops_what_a_remove_left_empty_innermost_first() -> None:
    patched = apply_patch({"resourceType": "Patient", "telecom": [{"value": "1"}],
                           "name": [{"family": "A"}], "maritalStatus": {"text": "x"}},
                          [{"op": "remove", "path": "/telecom/0"},
                           {"op": "remove", "path": "/name/0/family"},
                           {"op": "remove", "path": "/maritalStatus/text"}])
    assert patched == {"resourceType": "Patient", "telecom": [], "name": [{}],
                       "maritalStatus": {}}
    assert without_empties(patched) == {"resourceType": "Patient"}


def test_without_empties_keeps_values_and_the_places_of_x_arrays() -> None:
    kept = {"active": False, "multipleBirthInteger": 0, "name": [
        {"given": ["A", None], "_given": [{}, {"extension": [{"url": "u", "valueCode": "x"}]}]}]}
    assert without_empties(kept) == kept
