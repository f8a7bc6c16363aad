"""Postal code -> coordinates for Norway and Denmark from the packaged GeoNames table."""

from __future__ import annotations

import pytest

from service.workflow.postcodes import (
    Position,
    PostalCodeError,
    lookup,
    normalize,
    position,
)
from service.workflow.routing import haversine_km

# (country, code, place, where the post town is, km the table may be off)
KNOWN = [
    ("NO", "0150", "Oslo", Position(59.911, 10.750), 3),
    ("NO", "5003", "Bergen", Position(60.392, 5.324), 3),
    ("NO", "9008", "Tromsø", Position(69.649, 18.955), 3),
    ("NO", "7011", "Trondheim", Position(63.430, 10.395), 3),
    ("DK", "5000", "Odense C", Position(55.396, 10.388), 3),
    ("DK", "1050", "København K", Position(55.676, 12.568), 3),
    ("DK", "8000", "Aarhus C", Position(56.157, 10.211), 3),
    ("DK", "6950", "Ringkøbing", Position(56.090, 8.244), 5),  # coastal: no sea centroid
]


@pytest.mark.parametrize(("country", "code", "name", "where", "km"), KNOWN)
def test_known_codes(country: str, code: str, name: str, where: Position, km: float) -> None:
    place = lookup(country, code)
    assert place is not None and place.name == name
    assert haversine_km(place.position, where) < km


def test_position_shortcut() -> None:
    assert position("DK", "5000") == Position(55.4028, 10.392)


@pytest.mark.parametrize(
    ("country", "code"), [("no", " 0150 "), ("NO", "NO-0150"), ("No", "01 50")]
)
def test_normalize(country: str, code: str) -> None:
    assert normalize(country, code) == ("NO", "0150")


def test_unknown_but_well_formed_code_is_none() -> None:
    assert lookup("DK", "0001") is None
    assert position("NO", "0002") is None


@pytest.mark.parametrize(
    ("country", "code", "message"),
    [
        ("SE", "11122", "country 'SE' are not supported"),
        ("NO", "150", "must be 4 digits"),
        ("DK", "50000", "must be 4 digits"),
        ("DK", "ABCD", "must be 4 digits"),
    ],
)
def test_malformed_input(country: str, code: str, message: str) -> None:
    with pytest.raises(PostalCodeError, match=message):
        lookup(country, code)


def test_table_covers_both_countries_within_their_bounds() -> None:
    from service.workflow.postcodes import _table

    table = _table()
    by_country = {cc: [p for (c, _), p in table.items() if c == cc] for cc in ("NO", "DK")}
    assert len(by_country["NO"]) > 5000 and len(by_country["DK"]) > 1100
    assert all(57.9 < p.position.lat < 81 and 4 < p.position.lon < 32 for p in by_country["NO"])
    assert all(54.5 < p.position.lat < 57.8 and 8 < p.position.lon < 15.3 for p in by_country["DK"])
