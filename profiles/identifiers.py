"""National identifiers: format, check digits and embedded birth dates.

`assess(system, value, synthetic=True)` returns a `Finding` (severity + why) for a value
that is not a valid identifier of a known system, or None (also None for systems it
does not know, and for a system or value that is not a string: the structural check
reports those).
`problem(system, value)` is the error text only. Pure functions, no tables beyond the
checksum weights. Digits are ASCII `[0-9]` only (`str.isdigit()` also accepts '²' and
full-width digits).

Norwegian fødselsnummer / D-nummer (DDMMYY III KK): two mod-11 control digits; the
date must exist (D-nummer: day + 40) in the century the individual number gives (an
individual number without a century for its year is refused, see `no_century`).
Synthetic test numbers are accepted unless `synthetic=False`: month + 40 (NHN /
Helsenorge test data) and month + 80 (Skatteetaten's "syntetiske" numbers).
Danish CPR (DDMMYYSSSS, 10 digits, no dash: DK Core's DkCoreCprIdentifier, which
MedComCorePatient requires, gives the value maxLength 10): the date must exist, century
from the 7th digit; no mod-11 check (dropped in 2007). A replacement number
(erstatningspersonnummer, day + 60) is accepted with a warning.
Organisasjonsnummer: 9 digits, mod 11 with weights 3,2,7,6,5,4,3,2. HPR, HER-id and
SOR: digits only.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from profiles import canonical as c

_FNR_K1: Final = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_FNR_K2: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ORGNR_W: Final = (3, 2, 7, 6, 5, 4, 3, 2)
_SYNTHETIC_MONTH_OFFSETS: Final = (0, 40, 80)
_CPR_REPLACEMENT_DAY: Final = 60
_NO_PERSON_SYSTEMS: Final = (c.NO_FNR, c.NO_DNR)
_ASCII_DIGITS: Final = re.compile("[0-9]*")


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Literal["error", "warning"]
    text: str


def ascii_digits(value: str, length: int | None = None) -> bool:
    """Only ASCII 0-9 (not '²', not full-width digits), `length` of them when given."""
    if _ASCII_DIGITS.fullmatch(value) is None:
        return False
    return len(value) > 0 if length is None else len(value) == length


def mod11(digits: str, weights: Sequence[int]) -> int | None:
    """The mod-11 control digit for `digits`, or None when none exists (remainder 1)."""
    k = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if k == 11 else None if k == 10 else k


def date_exists(year: int | None, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    leap_year = 2000 if year is None else year  # unknown century: allow 29 Feb
    return day <= calendar.monthrange(leap_year, month)[1]


def no_century(yy: int, individual: int) -> int | None:
    """Century of a Norwegian birth number from its individual number (None: unassigned).

    Skatteetaten's allocation, as tabulated by matematikk.org ("Dagens system med individ-
    og kontrollnummer") and fnrinfo.no ("Oppbygging", "Unntak for individnummer"):
    000-499 -> 1900-1999; 500-749 with year 54-99 -> 1854-1899; 500-999 with year 00-39
    -> 2000-2039; 900-999 with year 40-99 -> 1940-1999 (a reserve series). No century
    exists for 500-749 with year 40-53, nor for 750-899 with year 40-99.
    (matematikk.org writes "> 54 / 1855" for the 1800s; 54 is kept: the oldest numbers
    issued were for people born in 1854-55, and other tabulations start at 1854.)"""
    if individual < 500:
        return 1900
    if individual < 750 and yy >= 54:
        return 1800
    if yy < 40:
        return 2000
    return 1900 if individual >= 900 else None


def no_person_number(value: str, d_number: bool) -> str | None:
    if not ascii_digits(value, 11):
        return "must be 11 digits (0-9)"
    if mod11(value[:9], _FNR_K1) != int(value[9]) or mod11(value[:10], _FNR_K2) != int(value[10]):
        return "control digits do not match"
    day, month, yy = int(value[:2]), int(value[2:4]), int(value[4:6])
    if d_number != (day > 40):
        return "D-nummer day must be 41-71" if d_number else "day must be 01-31 (D-nummer?)"
    day -= 40 if d_number else 0
    individual = int(value[6:9])
    century = no_century(yy, individual)
    if century is None:
        return f"individual number {individual:03d} is not issued for birth year ..{yy:02d}"
    if not any(date_exists(century + yy, month - off, day) for off in _SYNTHETIC_MONTH_OFFSETS):
        return "birth date does not exist"
    return None


def fodselsnummer(value: str) -> str | None:
    return no_person_number(value, d_number=False)


def d_nummer(value: str) -> str | None:
    return no_person_number(value, d_number=True)


def is_synthetic(value: str) -> bool:
    """A Norwegian test number: month + 40 or + 80 (call on a valid number only)."""
    return int(value[2:4]) > 12


def dk_century(yy: int, seventh: int) -> int:
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def cpr(value: str) -> str | None:
    if len(value) == 11 and value[6] == "-" and ascii_digits(value[:6] + value[7:], 10):
        return "CPR is 10 digits without a dash (DDMMYYSSSS)"
    if not ascii_digits(value, 10):
        return "must be 10 digits (DDMMYYSSSS)"
    day, month, yy = int(value[:2]), int(value[2:4]), int(value[4:6])
    day -= _CPR_REPLACEMENT_DAY if day > _CPR_REPLACEMENT_DAY else 0
    if not date_exists(dk_century(yy, int(value[6])) + yy, month, day):
        return "birth date does not exist"
    return None


def cpr_replacement(value: str) -> str | None:
    """Warning for a valid CPR whose day is + 60 (erstatningspersonnummer)."""
    if int(value[:2]) <= _CPR_REPLACEMENT_DAY:
        return None
    return "replacement number (erstatningspersonnummer, day + 60), not a registered CPR"


def organisasjonsnummer(value: str) -> str | None:
    if not ascii_digits(value, 9):
        return "must be 9 digits (0-9)"
    if mod11(value[:8], _ORGNR_W) != int(value[8]):
        return "control digit does not match"
    return None


def digits(max_len: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        ok = ascii_digits(value) and len(value) <= max_len
        return None if ok else f"must be 1-{max_len} digits (0-9)"

    return check


CHECKS: Final[dict[str, Callable[[str], str | None]]] = {
    c.NO_FNR: fodselsnummer,
    c.NO_DNR: d_nummer,
    c.NO_HPR: digits(9),
    c.NO_HER: digits(9),
    c.NO_ORGNR: organisasjonsnummer,
    c.DK_CPR: cpr,
    c.DK_SOR: digits(18),
}
# Run on values CHECKS found valid: accepted, but worth a warning.
WARNINGS: Final[dict[str, Callable[[str], str | None]]] = {c.DK_CPR: cpr_replacement}
NAMES: Final = {
    c.NO_FNR: "fødselsnummer", c.NO_DNR: "D-nummer", c.NO_HPR: "HPR-nummer",
    c.NO_HER: "HER-id", c.NO_ORGNR: "organisasjonsnummer", c.DK_CPR: "CPR-nummer",
    c.DK_SOR: "SOR-id",
}


def assess(system: object, value: object, synthetic: bool = True) -> Finding | None:
    """Why `value` is not (error) or not quite (warning) a valid identifier of `system`.

    None when valid, when the system is unknown, or when `system` or `value` is not a
    string (a list or object: the structural check reports it).
    `synthetic=False` refuses Norwegian test numbers (month + 40 / + 80)."""
    if not isinstance(system, str) or not isinstance(value, str):
        return None
    check = CHECKS.get(system)
    if check is None:
        return None
    name = NAMES[system]
    found = check(value)
    if found is not None:
        return Finding("error", f"invalid {name}: {found}")
    if not synthetic and system in _NO_PERSON_SYSTEMS and is_synthetic(value):
        return Finding("error", f"invalid {name}: synthetic test number (month + 40 or + 80)"
                                " not accepted here")
    warn = WARNINGS.get(system)
    text = warn(value) if warn is not None else None
    return None if text is None else Finding("warning", f"{name}: {text}")


def problem(system: object, value: object) -> str | None:
    """Why `value` is not a valid identifier of `system`; None when valid or unknown."""
    found = assess(system, value)
    return found.text if found is not None and found.severity == "error" else None


def is_known(system: object) -> bool:
    return isinstance(system, str) and system in CHECKS
