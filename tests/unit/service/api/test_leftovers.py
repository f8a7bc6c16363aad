"""Pure pieces of the REST-layer leftovers: If-None-Exist reference values on our base,
who gets 404 instead of 405 on an update of an absent id, the dead `IfMatch` dependency,
and the Task `authored-on` search parameter."""

from __future__ import annotations

from service.api import deps, interactions
from service.store.model import SYSTEM, Caller, SearchParam
from service.store.search_params import SEARCH_PARAMS, index_values

BASE = "http://127.0.0.1:8080/fhir"


def test_if_none_exist_reference_on_our_base_is_made_relative() -> None:
    absolute = interactions.conditional(
        "PractitionerRole", f"practitioner={BASE}/Practitioner/1", 2, BASE
    )
    relative = interactions.conditional("PractitionerRole", "practitioner=Practitioner/1", 2, BASE)
    assert absolute.query.params == (SearchParam("practitioner", ("Practitioner/1",)),)
    assert interactions.claim_key(absolute) == interactions.claim_key(relative)
    foreign = interactions.conditional(
        "PractitionerRole", "practitioner=http://elsewhere/fhir/Practitioner/1", 2, BASE
    )
    assert foreign.query.params[0].values == ("http://elsewhere/fhir/Practitioner/1",)


def test_only_an_organisation_caller_gets_404_for_an_absent_update() -> None:
    org = "Organization/1"
    assert interactions.organisation_caller(Caller(org, frozenset({org})))
    assert not interactions.organisation_caller(SYSTEM)


def test_the_unused_if_match_dependency_is_gone() -> None:
    assert not hasattr(deps, "IfMatch")
    assert not hasattr(deps, "get_if_match")


def test_task_authored_on_is_a_date_parameter_and_indexed() -> None:
    definition = SEARCH_PARAMS["Task"]["authored-on"]
    assert (definition.type, definition.expression) == ("date", "Task.authoredOn")
    task = {"resourceType": "Task", "id": "1", "authoredOn": "2026-01-02T10:00:00Z"}
    values = [v for v in index_values(task) if v.param == "authored-on"]
    assert len(values) == 1 and values[0].low is not None
