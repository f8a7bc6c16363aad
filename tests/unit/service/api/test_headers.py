from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.api.headers import (
    Freshness,
    Prefer,
    VersionMatch,
    check_acceptable,
    check_request_type,
    parse_freshness,
    parse_prefer,
    parse_version_match,
)
from service.errors import BadRequest, NotAcceptable, UnsupportedMediaType


@pytest.mark.parametrize(
    ("value", "version"), [('W/"3"', 3), ('"3"', 3), ("3", 3), (' W/"12" ', 12)]
)
def test_if_match_versions(value: str, version: int) -> None:
    assert parse_version_match(value) == VersionMatch(frozenset({version}))


def test_if_match_absent_is_none() -> None:
    assert parse_version_match(None) is None and parse_version_match("") is None


@pytest.mark.parametrize("value", ['W/"x"', 'W/"3', "three", 'W/"-1"', 'W/"1", *'])
def test_if_match_malformed_is_400(value: str) -> None:
    with pytest.raises(BadRequest):
        parse_version_match(value)


def test_prefer_defaults() -> None:
    assert parse_prefer([]) == Prefer("representation", "lenient")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["return=minimal"], Prefer("minimal", "lenient")),
        (["return=OperationOutcome"], Prefer("OperationOutcome", "lenient")),
        (["handling=strict"], Prefer("representation", "strict")),
        (["return=minimal, handling=strict"], Prefer("minimal", "strict")),
        (["return=minimal", "handling=strict"], Prefer("minimal", "strict")),
        (['return="representation"; respond-async'], Prefer("representation", "lenient")),
    ],
)
def test_prefer_tokens(headers: list[str], expected: Prefer) -> None:
    assert parse_prefer(headers) == expected


@pytest.mark.parametrize(
    "kind",
    [
        None,
        "application/fhir+json",
        "application/json; charset=utf-8",
        "application/fhir+json;charset=UTF-8",
        "application/json+fhir",
    ],
)
def test_json_bodies_are_accepted(kind: str | None) -> None:
    check_request_type(kind)


@pytest.mark.parametrize("kind", ["application/fhir+xml", "application/xml", "text/plain"])
def test_other_bodies_are_415(kind: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        check_request_type(kind)


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, None),
        ("*/*", None),
        ("application/fhir+xml, application/fhir+json;q=0.9", None),
        ("text/html,application/xhtml+xml,*/*;q=0.8", None),
        (None, "json"),
        ("application/fhir+xml", "application/fhir+json"),
    ],
)
def test_acceptable(accept: str | None, fmt: str | None) -> None:
    check_acceptable(accept, fmt)


@pytest.mark.parametrize(
    ("accept", "fmt"), [("application/fhir+xml", None), ("text/turtle", None), (None, "xml")]
)
def test_xml_only_is_406(accept: str | None, fmt: str | None) -> None:
    with pytest.raises(NotAcceptable):
        check_acceptable(accept, fmt)


def test_version_match_star_single_and_lists() -> None:
    from service.api.headers import VersionMatch, parse_version_match

    assert parse_version_match(None) is None and parse_version_match(" ") is None
    assert parse_version_match("*") == VersionMatch(None)
    assert parse_version_match('W/"3"') == VersionMatch(frozenset({3}))
    assert parse_version_match('W/"3"').single == 3  # type: ignore[union-attr]
    listed = parse_version_match('W/"2", "5"')
    assert listed == VersionMatch(frozenset({2, 5})) and listed.single is None
    with pytest.raises(BadRequest):
        parse_version_match('W/"2", *')


def test_version_match_decides_against_the_current_version() -> None:
    from service.api.headers import VersionMatch
    from service.errors import PreconditionFailed

    assert VersionMatch(None).expected("Patient/1", 7) == 7
    assert VersionMatch(frozenset({2, 7})).expected("Patient/1", 7) == 7
    for match, current in ((VersionMatch(None), None), (VersionMatch(frozenset({2})), 7)):
        with pytest.raises(PreconditionFailed):
            match.expected("Patient/1", current)


@pytest.mark.parametrize("value", ["", "_count=1", "Patient?_sort=name&_summary=count", "?"])
def test_if_none_exist_without_criteria_is_400(value: str) -> None:
    from service.api.headers import check_if_none_exist

    with pytest.raises(BadRequest):
        check_if_none_exist(value)


def test_if_none_exist_with_criteria_passes() -> None:
    from service.api.headers import check_if_none_exist

    assert check_if_none_exist(None) is None
    assert (
        check_if_none_exist("Patient?identifier=s|v&_count=1") == "Patient?identifier=s|v&_count=1"
    )


@pytest.mark.parametrize("accept", [
    "application/fhir+json; fhirVersion=4.0", "application/fhir+json;fhirVersion=4.0.1",
    "application/fhir+json; fhirVersion=3.0, application/json",  # another choice is fine
    '*/*; fhirVersion="4.0"',
])
def test_fhir_version_4_0_is_acceptable(accept: str) -> None:
    check_acceptable(accept, None)


@pytest.mark.parametrize(("accept", "fmt"), [
    ("application/fhir+json; fhirVersion=3.0", None),
    ("application/fhir+json; fhirVersion=5.0, */*; fhirVersion=3.0", None),
    (None, "application/fhir+json; fhirVersion=1.0"),
])
def test_only_another_fhir_version_is_406(accept: str | None, fmt: str | None) -> None:
    """versioning.html#mt-version: this server speaks 4.0 only."""
    with pytest.raises(NotAcceptable) as refused:
        check_acceptable(accept, fmt)
    assert "fhirVersion=4.0" in refused.value.issues[0].message


def test_every_r4_version_code_is_acceptable() -> None:
    for version in ("4.0", "4.0.0", "4.0.1"):
        check_acceptable(f"application/fhir+json; fhirVersion={version}", None)
        check_request_type(f"application/fhir+json; fhirVersion={version}")
    with pytest.raises(NotAcceptable):
        check_acceptable("application/fhir+json; fhirVersion=4.3", None)  # R4B


def test_a_body_of_another_fhir_version_is_415() -> None:
    check_request_type("application/fhir+json; charset=utf-8; fhirVersion=4.0")
    with pytest.raises(UnsupportedMediaType):
        check_request_type("application/fhir+json; fhirVersion=3.0")


NOON = datetime(2026, 11, 26, 12, 0, 0, 400_000, tzinfo=UTC)


@pytest.mark.parametrize(("none_match", "since", "unchanged"), [
    ('W/"3"', None, True), ('"3"', None, True), ('W/"2", W/"3"', None, True),
    ("*", None, True), ('W/"2"', None, False),
    (None, "Thu, 26 Nov 2026 12:00:00 GMT", True),   # the same second: not modified since
    (None, "Thu, 26 Nov 2026 11:59:59 GMT", False),
    (None, "Thu, 26 Nov 2026 13:00:00 +0100", True),  # an offset is honoured
    (None, "yesterday", False),                       # not an HTTP-date: ignored
    ('W/"2"', "Thu, 26 Nov 2099 00:00:00 GMT", False),  # If-None-Match wins
    ("nothing-quoted", "Thu, 26 Nov 2099 00:00:00 GMT", False),  # present: the date ignored
    ("3", None, True), ('W/"03"', None, True),  # a bare version, as If-Match takes it
    (None, None, False),
])
def test_freshness_of_a_conditional_read(
        none_match: str | None, since: str | None, unchanged: bool) -> None:
    assert parse_freshness(none_match, since).unchanged(3, NOON) is unchanged


def test_an_instant_names_a_millisecond_an_http_date_a_second() -> None:
    """A Bundle entry's ifModifiedSince is an instant: a version written 23 ms after it, in
    the same second, is modified; the HTTP header's date only names the second."""
    seen = datetime(2026, 11, 26, 12, 0, 0, 66_000, tzinfo=UTC)
    later = datetime(2026, 11, 26, 12, 0, 0, 89_400, tzinfo=UTC)
    assert not Freshness(None, seen, to_millisecond=True).unchanged(2, later)
    assert Freshness(None, seen, to_millisecond=True).unchanged(1, seen.replace(
        microsecond=66_700))  # stored with microseconds, sent back as written: .066
    assert Freshness(None, seen.replace(microsecond=0)).unchanged(2, later)
