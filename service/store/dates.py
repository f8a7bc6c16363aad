"""FHIR date, dateTime and instant values as half-open UTC ranges [low, high).

A value covers the whole interval its precision implies (FHIR search, "date"): `2026`
is the year, `2026-11-25T15:26` the minute, `...05.123` the millisecond. Values without
a zone are taken as UTC. Pure functions, shared by indexing (write) and search (query).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

MIN_TIME = datetime(1, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

_DATE_RE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,
)


class InvalidDate(ValueError):
    """A string that is not a FHIR date, dateTime or instant."""


# The common case, an instant with seconds and a zone: one C-level parse and a width by the
# number of fraction digits (~10 -> ~3 us; a create indexes three of these).
_INSTANT_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,6}))?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
_WIDTHS = tuple(timedelta(microseconds=10 ** (6 - digits)) for digits in range(7))


def date_range(text: str) -> tuple[datetime, datetime]:
    """The half-open UTC range [low, high) that `text` covers."""
    instant = _INSTANT_RE.fullmatch(text)
    if instant is not None:
        try:
            low = datetime.fromisoformat(text).astimezone(UTC)
            return low, low + _WIDTHS[len(instant[1] or "")]
        except (ValueError, OverflowError):
            pass  # the steps below give the InvalidDate
    match = _DATE_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidDate(text)
    try:
        return _range(match)
    except (ValueError, OverflowError) as exc:
        raise InvalidDate(text) from exc


def _range(m: re.Match[str]) -> tuple[datetime, datetime]:
    year = int(m["y"])
    if m["m"] is None:
        return _utc(datetime(year, 1, 1)), _utc(_add_months(datetime(year, 1, 1), 12))
    month_start = datetime(year, int(m["m"]), 1)
    if m["d"] is None:
        return _utc(month_start), _utc(_add_months(month_start, 1))
    day = datetime(year, int(m["m"]), int(m["d"]))
    if m["H"] is None:
        return _utc(day), _utc(day + timedelta(days=1))
    return _time_range(day, m)


def _time_range(day: datetime, m: re.Match[str]) -> tuple[datetime, datetime]:
    low = day.replace(hour=int(m["H"]), minute=int(m["M"]))
    width = timedelta(minutes=1)
    if m["S"] is not None:
        low, width = low.replace(second=int(m["S"])), timedelta(seconds=1)
    if m["f"] is not None:
        digits = m["f"][:6]
        low = low.replace(microsecond=int(digits.ljust(6, "0")))
        width = timedelta(microseconds=10 ** (6 - len(digits)))
    low = low.replace(tzinfo=_zone(m["tz"])).astimezone(UTC)
    return low, low + width


def _zone(tz: str | None) -> tzinfo:
    if tz is None or tz == "Z":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _add_months(start: datetime, months: int) -> datetime:
    total = start.month - 1 + months
    year = start.year + total // 12
    if year > 9999:
        return MAX_TIME.replace(tzinfo=None)
    return start.replace(year=year, month=total % 12 + 1)


def _utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


def format_instant(moment: datetime) -> str:
    """ISO 8601 with milliseconds and offset: 2026-11-25T15:26:05.123+00:00."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
