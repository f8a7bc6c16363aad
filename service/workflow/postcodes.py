"""Postal code -> coordinates for Norway and Denmark, offline.

The table is packaged data (``data/postcodes_no_dk.csv``, GeoNames, CC BY 4.0; source and
checks in ``data/README.md`` and docs/routing.md), read once on first use and cached. No
maintained PyPI package ships Norwegian postal-code coordinates offline (see docs/routing.md),
hence our own small table.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final, NamedTuple

__all__ = ["COUNTRIES", "Place", "Position", "PostalCodeError", "lookup", "normalize", "position"]

DATA_PACKAGE: Final = "service.workflow.data"
DATA_FILE: Final = "postcodes_no_dk.csv"
COUNTRIES: Final = frozenset({"NO", "DK"})
CODE_LENGTH: Final = 4  # both countries use four digits


class PostalCodeError(ValueError):
    """A postal code or country we cannot read (not: a well-formed code we do not know)."""


class Position(NamedTuple):
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    postal_code: str
    name: str
    position: Position


def normalize(country: str, postal_code: str) -> tuple[str, str]:
    """("no", " 0150 ") -> ("NO", "0150"); also accepts "NO-0150" / "DK-5000"."""
    cc = country.strip().upper()
    if cc not in COUNTRIES:
        raise PostalCodeError(f"postal codes of country {country!r} are not supported")
    code = postal_code.strip().upper().removeprefix(f"{cc}-").replace(" ", "")
    if len(code) != CODE_LENGTH or not code.isdigit():
        raise PostalCodeError(f"{cc} postal code must be {CODE_LENGTH} digits: {postal_code!r}")
    return cc, code


def lookup(country: str, postal_code: str) -> Place | None:
    """The place of a postal code, or None when the (well-formed) code is unknown."""
    return _table().get(normalize(country, postal_code))


def position(country: str, postal_code: str) -> Position | None:
    place = lookup(country, postal_code)
    return place.position if place else None


@cache
def _table() -> Mapping[tuple[str, str], Place]:
    text = files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")
    places = (_place(row) for row in csv.DictReader(text.splitlines()))
    return {(p.country, p.postal_code): p for p in places}


def _place(row: Mapping[str, str]) -> Place:
    where = Position(float(row["lat"]), float(row["lon"]))
    return Place(row["country"], row["postal_code"], row["place"], where)
