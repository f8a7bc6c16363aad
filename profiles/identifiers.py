"""National identifiers: format, check digits and embedded birth dates.

`problem(system, value)` returns why a value is not a valid identifier of a known
system, or None (also None for systems it does not know). Pure functions, no tables
beyond the checksum weights.

Norwegian fødselsnummer / D-nummer (DDMMYY III KK): two mod-11 control digits; the
date must exist (D-nummer: day + 40). Synthetic test numbers are accepted: month + 40
(NHN / Helsenorge test data) and month + 80 (Skatteetaten's "syntetiske" numbers).
Danish CPR (DDMMYY SSSS): the date must exist, century from the 7th digit; no mod-11
check (dropped in 2007). Organisasjonsnummer: 9 digits, mod 11 with weights
3,2,7,6,5,4,3,2. HPR, HER-id and SOR: digits only.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from typing import Final

from profiles import canonical as c

_FNR_K1: Final = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_FNR_K2: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ORGNR_W: Final = (3, 2, 7, 6, 5, 4, 3, 2)
_SYNTHETIC_MONTH_OFFSETS: Final = (0, 40, 80)


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
    """Century of a Norwegian birth number from its individual number (None: unassigned)."""
    if individual < 500:
        return 1900
    if individual < 750 and yy >= 54:
        return 1800
    if yy < 40:
        return 2000
    return 1900 if individual >= 900 else None


def no_person_number(value: str, d_number: bool) -> str | None:
    if len(value) != 11 or not value.isdigit():
        return "must be 11 digits"
    if mod11(value[:9], _FNR_K1) != int(value[9]) or mod11(value[:10], _FNR_K2) != int(value[10]):
        return "control digits do not match"
    day, month, yy = int(value[:2]), int(value[2:4]), int(value[4:6])
    if d_number != (day > 40):
        return "D-nummer day must be 41-71" if d_number else "day must be 01-31 (D-nummer?)"
    day -= 40 if d_number else 0
    century = no_century(yy, int(value[6:9]))
    year = None if century is None else century + yy
    if not any(date_exists(year, month - off, day) for off in _SYNTHETIC_MONTH_OFFSETS):
        return "birth date does not exist"
    return None


def fodselsnummer(value: str) -> str | None:
    return no_person_number(value, d_number=False)


def d_nummer(value: str) -> str | None:
    return no_person_number(value, d_number=True)


def dk_century(yy: int, seventh: int) -> int:
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def cpr(value: str) -> str | None:
    if len(value) == 11 and value[6] == "-":
        value = value[:6] + value[7:]
    if len(value) != 10 or not value.isdigit():
        return "must be 10 digits (DDMMYYSSSS)"
    day, month, yy = int(value[:2]), int(value[2:4]), int(value[4:6])
    if not date_exists(dk_century(yy, int(value[6])) + yy, month, day):
        return "birth date does not exist"
    return None


def organisasjonsnummer(value: str) -> str | None:
    if len(value) != 9 or not value.isdigit():
        return "must be 9 digits"
    if mod11(value[:8], _ORGNR_W) != int(value[8]):
        return "control digit does not match"
    return None


def digits(max_len: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        ok = value.isdigit() and value.isascii() and len(value) <= max_len
        return None if ok else f"must be 1-{max_len} digits"

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
NAMES: Final = {
    c.NO_FNR: "fødselsnummer", c.NO_DNR: "D-nummer", c.NO_HPR: "HPR-nummer",
    c.NO_HER: "HER-id", c.NO_ORGNR: "organisasjonsnummer", c.DK_CPR: "CPR-nummer",
    c.DK_SOR: "SOR-id",
}


def problem(system: str | None, value: str | None) -> str | None:
    """Why `value` is not a valid identifier of `system`; None when valid or unknown."""
    check = CHECKS.get(system or "")
    if check is None or value is None:
        return None
    found = check(value)
    return None if found is None else f"invalid {NAMES[system or '']}: {found}"


def is_known(system: str | None) -> bool:
    return system in CHECKS
