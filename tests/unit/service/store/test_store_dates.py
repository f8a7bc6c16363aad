from datetime import UTC, datetime, timedelta

import pytest

from service.store import dates
from service.store.dates import InvalidDate, date_range, format_instant


def utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2026", utc(2026, 1, 1), utc(2027, 1, 1)),
        ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("2026-11-25", utc(2026, 11, 25), utc(2026, 11, 26)),
        ("2026-11-25T15:26", utc(2026, 11, 25, 15, 26), utc(2026, 11, 25, 15, 27)),
        ("2026-11-25T15:26:05Z", utc(2026, 11, 25, 15, 26, 5), utc(2026, 11, 25, 15, 26, 6)),
        (
            "2026-11-25T16:26:05.123+01:00",
            utc(2026, 11, 25, 15, 26, 5, 123000),
            utc(2026, 11, 25, 15, 26, 5, 124000),
        ),
    ],
)
def test_precision_gives_the_range(text: str, low: datetime, high: datetime) -> None:
    assert date_range(text) == (low, high)


@pytest.mark.parametrize("text", ["", "26", "2026-13", "2026-02-30", "2026-11-25T25:00", "x"])
def test_invalid_dates_raise(text: str) -> None:
    with pytest.raises(InvalidDate):
        date_range(text)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # the instant fast path (fromisoformat) and the steps agree, edges included
        (
            "2026-11-25T15:26:05.1Z",
            utc(2026, 11, 25, 15, 26, 5, 100000),
            utc(2026, 11, 25, 15, 26, 5, 200000),
        ),
        (
            "2026-11-25T15:26:05.123456-00:00",
            utc(2026, 11, 25, 15, 26, 5, 123456),
            utc(2026, 11, 25, 15, 26, 5, 123457),
        ),
        (  # the width comes from the local time, the range is in UTC at the last instant
            "9999-12-31T23:59:59+14:00",
            utc(9999, 12, 31, 9, 59, 59),
            utc(9999, 12, 31, 9, 59, 59) + timedelta(seconds=1),
        ),
        (
            "2026-11-25T15:26:05.1234567Z",
            utc(2026, 11, 25, 15, 26, 5, 123456),
            utc(2026, 11, 25, 15, 26, 5, 123457),
        ),
    ],
)
def test_full_instants_give_the_same_range_on_the_fast_path(
    text: str, low: datetime, high: datetime
) -> None:
    assert date_range(text) == (low, high)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25T24:00:00Z",
        "2026-11-25T23:59:60Z",
        "9999-12-31T23:59:59Z",  # the range would end after the year 9999
        "0001-01-01T00:30:00+01:00",  # before the year 1 in UTC
        "2026-11-25T15:26:05+24:00",
        "\uff12\uff10\uff12\uff16-11-25T15:26:05Z",  # fullwidth digits: FHIR's are ASCII only
    ],
)
def test_invalid_instants_raise(text: str) -> None:
    with pytest.raises(InvalidDate):
        date_range(text)


def test_format_instant_has_milliseconds_and_offset() -> None:
    assert format_instant(utc(2026, 11, 25, 15, 26, 5, 123456)) == "2026-11-25T15:26:05.123+00:00"


@pytest.mark.parametrize("text", [
    "2026-11-25T15:26:05Z",
    "2026-11-25T15:26:05.1Z",
    "2026-11-25T15:26:05.123456-00:00",
    "2026-11-25T23:59:59.999999+14:00",
    "2026-01-01T00:00:00-12:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:58.5+00:00",
])
def test_the_instant_fast_path_equals_the_general_steps(text: str) -> None:
    match = dates._DATE_RE.fullmatch(text)
    assert match is not None and dates._INSTANT_RE.fullmatch(text) is not None
    assert date_range(text) == dates._range(match)
