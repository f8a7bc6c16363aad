from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from service.api.searchset import paging_links, parse_search, searchset
from service.api.urls import Urls
from service.errors import BadRequest
from service.store.model import SearchPage, SearchParam, SearchQuery

KNOWN = {"status", "owner", "_id", "_lastUpdated"}
URLS = Urls.of("http://h/fhir/")


def parse(pairs: list[tuple[str, str]], **kw: object) -> object:
    return parse_search("Task", pairs, KNOWN, default_count=50, max_count=100, **kw)  # type: ignore[arg-type]


def test_params_modifiers_values_and_controls() -> None:
    parsed = parse_search(
        "Task",
        [
            ("status", "requested,received"),
            ("owner:Organization", "1"),
            ("_count", "500"),
            ("_offset", "10"),
            ("_sort", "-_lastUpdated,status"),
            ("_format", "json"),
            ("_total", "accurate"),
        ],
        KNOWN,
        default_count=50,
        max_count=100,
    )
    q = parsed.query
    assert q.params == (
        SearchParam("status", ("requested", "received")),
        SearchParam("owner", ("1",), "Organization"),
    )
    assert (q.count, q.offset, q.sort, q.summary) == (100, 10, ("-_lastUpdated", "status"), None)
    assert parsed.ignored == ()


def test_unknown_params_lenient_then_strict() -> None:
    parsed = parse_search(
        "Task", [("colour", "red"), ("_sort", "size")], KNOWN, default_count=50, max_count=100
    )
    assert parsed.ignored == ("colour", "_sort=size") and parsed.query.params == ()
    assert all(i.severity == "warning" for i in parsed.issues)
    with pytest.raises(BadRequest):
        parse_search(
            "Task", [("colour", "red")], KNOWN, default_count=50, max_count=100, handling="strict"
        )


def test_bad_count_is_400_and_summary_count() -> None:
    with pytest.raises(BadRequest):
        parse_search("Task", [("_count", "-1")], KNOWN, default_count=50, max_count=100)
    parsed = parse_search("Task", [("_summary", "count")], KNOWN, default_count=50, max_count=100)
    assert parsed.query.summary == "count"


def test_escaped_comma_is_a_literal() -> None:
    parsed = parse_search("Task", [("status", "a\\,b,c")], KNOWN, default_count=5, max_count=9)
    assert parsed.query.params[0].values == ("a,b", "c")


def links(query: SearchQuery, total: int) -> dict[str, dict[str, list[str]]]:
    out = {}
    for link in paging_links(URLS, "Task", query, total):
        parts = urlsplit(link["url"])
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://h/fhir/Task"
        out[link["relation"]] = parse_qs(parts.query)
    return out


def test_paging_links_middle_page() -> None:
    q = SearchQuery("Task", (SearchParam("status", ("requested",)),), count=10, offset=10)
    found = links(q, 25)
    assert found["self"]["_offset"] == ["10"] and found["self"]["status"] == ["requested"]
    assert found["next"]["_offset"] == ["20"] and found["previous"]["_offset"] == ["0"]
    assert found["first"]["_offset"] == ["0"] and found["last"]["_offset"] == ["20"]


def test_paging_links_first_and_last_page() -> None:
    assert "previous" not in links(SearchQuery("Task", count=10), 25)
    assert "next" not in links(SearchQuery("Task", count=10, offset=20), 25)


def test_searchset_bundle_shape_with_outcome_entry() -> None:
    parsed = parse_search("Task", [("colour", "red")], KNOWN, default_count=50, max_count=100)
    bundle = searchset(URLS, "Task", parsed, SearchPage(0), datetime(2026, 1, 1, tzinfo=UTC))
    assert bundle["type"] == "searchset" and bundle["total"] == 0
    assert bundle["entry"][0]["search"]["mode"] == "outcome"
    assert "colour" not in bundle["link"][0]["url"]


def test_reference_values_on_our_base_become_relative() -> None:
    parsed = parse_search(
        "Task",
        [
            ("owner", "http://h/fhir/Organization/1,http://x/Organization/2"),
            ("status", "http://h/fhir/a"),
        ],
        KNOWN,
        default_count=50,
        max_count=100,
        base_url="http://h/fhir",
    )
    values = {p.name: p.values for p in parsed.query.params}
    assert values == {
        "owner": ("Organization/1", "http://x/Organization/2"),
        "status": ("http://h/fhir/a",),
    }


@pytest.mark.parametrize("mode", ["true", "text", "data"])
def test_summary_modes_become_the_subset(mode: str) -> None:
    parsed = parse([("_summary", mode)], handling="strict")
    assert parsed.ignored == () and parsed.subset.summary == mode  # type: ignore[attr-defined]
    assert parsed.query.summary is None  # type: ignore[attr-defined]


def test_unknown_summary_modes_are_reported_or_refused() -> None:
    lenient = parse([("_summary", "brief")])
    assert lenient.ignored == ("_summary=brief",)  # type: ignore[attr-defined]
    with pytest.raises(BadRequest):
        parse([("_summary", "brief")], handling="strict")
    assert parse([("_summary", "false")]).ignored == ()  # type: ignore[attr-defined]


def test_a_chain_of_chains_parses_to_nested_params_up_to_max_chain() -> None:
    from service.store.search_params import SEARCH_PARAMS

    def task(name: str) -> tuple[SearchParam, ...]:
        return parse_search("Task", [(name, "x")], SEARCH_PARAMS["Task"], default_count=50,
                            max_count=100).query.params

    (two,) = task("focus:ServiceRequest.subject:Patient.identifier")
    assert two == SearchParam("focus", ("x",), "ServiceRequest", chain=SearchParam(
        "subject", ("x",), "Patient", chain=SearchParam("identifier", ("x",))))
    assert two.text == "focus:ServiceRequest.subject:Patient.identifier"
    (three,) = task("focus.requester.organization.name")
    assert three.text == "focus.requester.organization.name"  # three hops: MAX_CHAIN
    for beyond in ("focus.requester.organization.partof.name", "focus.subject.nope",
                   "focus.status.code", "focus:Patient.subject.name"):
        with pytest.raises(BadRequest):
            parse_search("Task", [(beyond, "x")], SEARCH_PARAMS["Task"], default_count=50,
                         max_count=100, handling="strict")
