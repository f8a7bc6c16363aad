"""National identifiers: valid numbers are computed here from their rules (synthetic
month + 80 for Norwegian birth numbers), never copied from real people."""

from __future__ import annotations

import pytest

from profiles import canonical as c
from profiles import identifiers as ids


def fnr(day: int, month: int, yy: int, individual: int, *, dnr: bool = False,
        synthetic: int = 80) -> str:
    """A birth number with correct control digits; None-safe: caller picks an individual
    number whose digits exist (asserted)."""
    base = f"{day + (40 if dnr else 0):02d}{month + synthetic:02d}{yy:02d}{individual:03d}"
    k1 = ids.mod11(base, ids._FNR_K1)
    assert k1 is not None
    k2 = ids.mod11(base + str(k1), ids._FNR_K2)
    assert k2 is not None
    return f"{base}{k1}{k2}"


def first_fnr(day: int, month: int, yy: int, **kw: int | bool) -> str:
    for individual in range(100, 500):
        try:
            return fnr(day, month, yy, individual, **kw)  # type: ignore[arg-type]
        except AssertionError:
            continue
    raise AssertionError("no individual number with control digits")


def orgnr(base8: str) -> str:
    k = ids.mod11(base8, ids._ORGNR_W)
    assert k is not None
    return base8 + str(k)


def flip_last(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


@pytest.mark.parametrize("synthetic", [0, 40, 80])
def test_fodselsnummer_with_control_digits_is_valid(synthetic: int) -> None:
    assert ids.problem(c.NO_FNR, first_fnr(15, 3, 85, synthetic=synthetic)) is None


def test_fodselsnummer_wrong_control_digit() -> None:
    bad = flip_last(first_fnr(15, 3, 85))
    assert "control digits" in (ids.problem(c.NO_FNR, bad) or "")


def test_fodselsnummer_impossible_date_with_valid_digits() -> None:
    bad = first_fnr(31, 2, 85)  # 31 February, control digits correct
    assert "date" in (ids.problem(c.NO_FNR, bad) or "")


def test_fodselsnummer_leap_day_needs_leap_year() -> None:
    assert ids.problem(c.NO_FNR, first_fnr(29, 2, 84)) is None  # 1984
    assert ids.problem(c.NO_FNR, first_fnr(29, 2, 85)) is not None


def test_d_nummer_adds_40_to_day() -> None:
    dnr = first_fnr(2, 7, 90, dnr=True)
    assert ids.problem(c.NO_DNR, dnr) is None
    assert ids.problem(c.NO_FNR, dnr) is not None  # a D-nummer is not a fødselsnummer
    assert ids.problem(c.NO_DNR, first_fnr(2, 7, 90)) is not None


@pytest.mark.parametrize("value", ["1234567890", "abcdefghijk", "123456789012", ""])
def test_fodselsnummer_format(value: str) -> None:
    assert ids.problem(c.NO_FNR, value) is not None


def test_organisasjonsnummer() -> None:
    good = orgnr("91000000")
    assert ids.problem(c.NO_ORGNR, good) is None
    assert ids.problem(c.NO_ORGNR, flip_last(good)) is not None
    assert ids.problem(c.NO_ORGNR, "12345678") is not None


def test_organisasjonsnummer_without_possible_control_digit() -> None:
    base = next(f"{n:08d}" for n in range(10_000_000, 10_001_000)
                if ids.mod11(f"{n:08d}", ids._ORGNR_W) is None)
    assert all(ids.problem(c.NO_ORGNR, base + str(d)) is not None for d in range(10))


@pytest.mark.parametrize(("value", "valid"), [
    ("1203854321", True),    # 12.03.1985 (7th digit 4, yy > 36 -> 1900s)
    ("120385-4321", True),   # with the customary hyphen
    ("2902004000", True),    # 29.02.2000 (7th digit 4, yy <= 36 -> 2000s)
    ("2902001000", False),   # 29.02.1900 (7th digit 1 -> 1900s, not a leap year)
    ("2902585000", False),   # 29.02.1858 (7th digit 5, yy > 57 -> 1800s)
    ("3102854321", False),   # 31 February
    ("0013854321", False),   # month 13, day 00
    ("120385432", False),    # 9 digits
])
def test_cpr_dates_and_century(value: str, valid: bool) -> None:
    assert (ids.problem(c.DK_CPR, value) is None) is valid


@pytest.mark.parametrize("system", [c.NO_HPR, c.NO_HER, c.DK_SOR])
def test_digit_only_identifiers(system: str) -> None:
    assert ids.problem(system, "9144889") is None
    assert ids.problem(system, "91448A9") is not None


def test_unknown_system_is_not_checked() -> None:
    assert ids.problem("urn:example:mrn", "anything") is None
    assert not ids.is_known("urn:example:mrn")
