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
    ("120385-4321", False),  # the customary dash: refused (DK Core: 10 characters)
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


FULL_WIDTH = {ord("0") + d: 0xFF10 + d for d in range(10)}  # -> FULLWIDTH DIGIT d


def with_individual(yy: int, individuals: range, **kw: int | bool) -> str:
    """A birth number (15 March) with the first individual number in `individuals` that
    has control digits."""
    for individual in individuals:
        try:
            return fnr(15, 3, yy, individual, **kw)  # type: ignore[arg-type]
        except AssertionError:
            continue
    raise AssertionError("no individual number with control digits")


@pytest.mark.parametrize(("system", "value"), [
    (c.NO_FNR, first_fnr(15, 3, 85).translate(FULL_WIDTH)),
    (c.NO_FNR, first_fnr(15, 3, 85)[:-1] + "²"),
    (c.NO_DNR, first_fnr(2, 7, 90, dnr=True)[:-1] + "²"),
    (c.DK_CPR, "120385432²"),
    (c.DK_CPR, "1203854321".translate(FULL_WIDTH)),
    (c.NO_ORGNR, orgnr("91000000").translate(FULL_WIDTH)),
    (c.NO_ORGNR, orgnr("91000000")[:-1] + "²"),
    (c.NO_HPR, "914488²"),
    (c.DK_SOR, "١٢٣"),  # Arabic-Indic digits
    (c.DK_CPR, "1203854321\n"),
])
def test_only_ascii_digits_count(system: str, value: str) -> None:
    assert ids.problem(system, value) is not None


def test_non_string_value_is_left_to_the_structural_check() -> None:
    assert ids.problem(c.NO_FNR, 15038512345) is None


def test_cpr_dash_form_is_refused_with_a_clear_message() -> None:
    assert "CPR is 10 digits without a dash" in (ids.problem(c.DK_CPR, "120385-4321") or "")


@pytest.mark.parametrize(("yy", "individuals", "valid"), [
    (45, range(500, 750), False),  # 500-749 with year 40-53: no century
    (53, range(500, 750), False),
    (54, range(500, 750), True),   # 1854
    (99, range(500, 750), True),   # 1899
    (39, range(500, 1000), True),  # 2039
    (45, range(900, 1000), True),  # 1945 (reserve series)
    (45, range(750, 900), False),  # 750-899 with year 40-99: unassigned
    (85, range(0, 500), True),     # 1985
])
def test_fodselsnummer_century_from_individual_number(yy: int, individuals: range,
                                                      valid: bool) -> None:
    value = with_individual(yy, individuals)
    assert (ids.problem(c.NO_FNR, value) is None) is valid
    assert (ids.problem(c.NO_DNR, with_individual(yy, individuals, dnr=True)) is None) is valid


def test_no_century_table_edges() -> None:
    assert ids.no_century(53, 749) is None and ids.no_century(54, 749) == 1800
    assert ids.no_century(39, 750) == 2000 and ids.no_century(40, 899) is None
    assert ids.no_century(40, 900) == 1900 and ids.no_century(99, 499) == 1900


def test_cpr_replacement_number_is_accepted_with_a_warning() -> None:
    found = ids.assess(c.DK_CPR, "7203854321")  # 12 + 60 . 03 . 1985
    assert found is not None and found.severity == "warning"
    assert "replacement" in found.text
    assert ids.problem(c.DK_CPR, "7203854321") is None
    assert ids.problem(c.DK_CPR, "9102854321") is not None  # 31 February + 60


@pytest.mark.parametrize("offset", [40, 80])
def test_synthetic_numbers_can_be_refused(offset: int) -> None:
    value = first_fnr(15, 3, 85, synthetic=offset)
    assert ids.assess(c.NO_FNR, value) is None
    refused = ids.assess(c.NO_FNR, value, synthetic=False)
    assert refused is not None and refused.severity == "error" and "synthetic" in refused.text
    assert ids.assess(c.NO_FNR, first_fnr(15, 3, 85, synthetic=0), synthetic=False) is None


@pytest.mark.parametrize(("system", "value"), [
    ([c.NO_FNR], "15838510075"), ({"a": 1}, "15838510075"), ([], "1"),
    (c.NO_FNR, ["15838510075"]), (c.NO_FNR, {"a": 1}), (5, "1"),
])
def test_a_system_or_value_that_is_not_a_string_is_not_assessed(system: object,
                                                                 value: object) -> None:
    assert ids.assess(system, value) is None
    assert ids.problem(system, value) is None
    assert ids.is_known(system) is (system == c.NO_FNR)
