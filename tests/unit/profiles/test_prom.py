"""PROM scoring against hand-worked cases; the arithmetic is in the comments."""

from __future__ import annotations

import pytest

from profiles.prom import (
    Eq5dIndex,
    Score,
    ScoringError,
    eq5d5l_index,
    eq_vas,
    fabq_physical,
    fabq_work,
    hscl10,
    ndi,
    nrs_pain,
    odi,
    pgic,
)

# --- ODI ---------------------------------------------------------------------------------


def test_odi_all_sections() -> None:
    # 3+2+1+0+4+2+1+3+2+2 = 20; 20 / (5 * 10) * 100 = 40.0
    assert odi([3, 2, 1, 0, 4, 2, 1, 3, 2, 2]) == Score("ODI", 40.0, 10, 0)


def test_odi_one_section_missing_divides_by_45() -> None:
    # section 8 (sex life) skipped: 3+2+1+0+4+2+1+2+2 = 17; 17 / 45 * 100 = 37.777...
    score = odi([3, 2, 1, 0, 4, 2, 1, None, 2, 2])
    assert score.value == pytest.approx(37.7778, abs=1e-4)
    assert (score.items_used, score.substituted) == (9, 1)


def test_odi_extremes() -> None:
    # 0 * 10 = 0 -> 0 %; 5 * 10 = 50 -> 50 / 50 * 100 = 100 %
    assert odi([0] * 10).value == 0.0
    assert odi([5] * 10).value == 100.0


def test_odi_two_missing_is_refused() -> None:
    with pytest.raises(ScoringError, match="2 items missing; at most 1"):
        odi([1, None, 1, 1, None, 1, 1, 1, 1, 1])


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([1] * 9, "expected 10 items, got 9"),
        ([1] * 9 + [6], "item 10: 6 is outside 0-5"),
        ([1] * 9 + [-1], "item 10: -1 is outside 0-5"),
        ([1] * 9 + [True], "item 10: expected an integer"),
        ([1] * 9 + [2.5], "item 10: expected an integer"),
    ],
)
def test_odi_invalid_input(answers: list[object], message: str) -> None:
    with pytest.raises(ScoringError, match=message):
        odi(answers)  # type: ignore[arg-type]


def test_scoring_error_is_a_value_error() -> None:
    assert issubclass(ScoringError, ValueError)


# --- NDI ---------------------------------------------------------------------------------


def test_ndi_all_items() -> None:
    # 2*5 + 1*5 = 15 of 50 -> 15 / 50 * 100 = 30.0
    assert ndi([2, 2, 2, 2, 2, 1, 1, 1, 1, 1]) == Score("NDI", 30.0, 10, 0)


def test_ndi_two_missing_mean_substituted() -> None:
    # answered: 3,3,2,2,2,2,1,1 -> sum 16 over 8 items, mean 2.0
    # two missing items get 2.0 each -> total 20 of 50 -> 40.0
    score = ndi([3, 3, 2, None, 2, 2, 2, 1, None, 1])
    assert score == Score("NDI", 40.0, 8, 2)


def test_ndi_one_missing_non_integer_mean() -> None:
    # answered: 1,2,3,4,5,0,1,2,3 -> sum 21 over 9, mean 2.333...; total 21 + 2.333 = 23.333
    # of 50 -> 46.666...
    assert ndi([1, 2, 3, 4, 5, 0, 1, 2, 3, None]).value == pytest.approx(46.6667, abs=1e-4)


def test_ndi_three_missing_not_scorable() -> None:
    with pytest.raises(ScoringError, match="NDI: 3 items missing; at most 2"):
        ndi([None, None, None, 1, 1, 1, 1, 1, 1, 1])


# --- NRS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 7, 10])
def test_nrs_in_range(value: int) -> None:
    assert nrs_pain(value) == Score("NRS", float(value), 1)


@pytest.mark.parametrize("value", [-1, 11])
def test_nrs_out_of_range(value: int) -> None:
    with pytest.raises(ScoringError, match="outside 0-10"):
        nrs_pain(value)


# --- HSCL-10 -----------------------------------------------------------------------------


def test_hscl10_below_cutoff() -> None:
    # 1*2 + 2*8 = 18; 18 / 10 = 1.8 -> not above 1.85
    score = hscl10([1, 1, 2, 2, 2, 2, 2, 2, 2, 2])
    assert score == Score("HSCL-10", 1.8, 10, 0, flagged=False)


def test_hscl10_above_cutoff() -> None:
    # 1 + 2*9 = 19; 19 / 10 = 1.9 > 1.85 -> flagged
    assert hscl10([1, 2, 2, 2, 2, 2, 2, 2, 2, 2]).flagged


def test_hscl10_cutoff_is_strictly_above_1_85() -> None:
    # "Verdi over 1,85". A mean of exactly 1.85 cannot come from 8-10 integer items
    # (18.5/10, 16.65/9, 14.8/8), so check the nearest means on either side:
    # 8 answered, sum 15 -> 15 / 8 = 1.875 > 1.85 -> flagged
    assert hscl10([2, 2, 2, 2, 2, 2, 2, 1, None, None]).flagged
    # 8 answered, sum 14 -> 14 / 8 = 1.75 -> not flagged
    assert not hscl10([2, 2, 2, 2, 2, 2, 1, 1, None, None]).flagged
    # 9 answered, sum 17 -> 17 / 9 = 1.888... -> flagged; sum 16 -> 1.777... -> not
    assert hscl10([2, 2, 2, 2, 2, 2, 2, 2, 1, None]).flagged
    assert not hscl10([2, 2, 2, 2, 2, 2, 2, 1, 1, None]).flagged


def test_hscl10_two_missing_substituted() -> None:
    # answered 4,4,3,3,2,2,1,1 -> 20 / 8 = 2.5; missing two get 2.5 -> mean stays 2.5
    score = hscl10([4, 4, 3, None, 3, 2, 2, None, 1, 1])
    assert (score.value, score.items_used, score.substituted) == (2.5, 8, 2)


def test_hscl10_range_is_1_to_4() -> None:
    with pytest.raises(ScoringError, match="item 1: 0 is outside 1-4"):
        hscl10([0] + [1] * 9)


def test_hscl10_three_missing_not_scorable() -> None:
    with pytest.raises(ScoringError, match="3 items missing"):
        hscl10([None, None, None] + [2] * 7)


# --- FABQ --------------------------------------------------------------------------------

FABQ_EXAMPLE = {
    1: 6,  # not part of either subscale: ignored
    2: 4,
    3: 3,
    4: 4,
    5: 3,  # physical
    6: 2,
    7: 3,
    9: 4,
    10: 1,
    11: 5,
    12: 2,
    15: 3,  # work
    8: None,
    13: None,
    14: None,
    16: None,  # not asked by NNRR
}


def test_fabq_physical_sum_and_band() -> None:
    # items 2-5: 4+3+4+3 = 14 -> NNRR "14-16 moderat"
    assert fabq_physical(FABQ_EXAMPLE) == Score("FABQ-PA", 14.0, 4, band="moderate")


def test_fabq_work_sum_and_band() -> None:
    # items 6,7,9,10,11,12,15: 2+3+4+1+5+2+3 = 20 -> NNRR "20-24 moderat"
    assert fabq_work(FABQ_EXAMPLE) == Score("FABQ-W", 20.0, 7, band="moderate")


@pytest.mark.parametrize(
    ("items", "band"),
    [
        ((3, 3, 3, 4), "negligible"),  # 13 < 14
        ((4, 4, 4, 4), "moderate"),  # 16
        ((5, 4, 4, 4), "high"),  # 17
        ((6, 6, 6, 6), "high"),
    ],  # 24, the maximum
)
def test_fabq_physical_bands(items: tuple[int, ...], band: str) -> None:
    assert fabq_physical(dict(zip((2, 3, 4, 5), items, strict=True))).band == band


@pytest.mark.parametrize(
    ("total", "band"), [(19, "negligible"), (20, "moderate"), (24, "moderate"), (25, "high")]
)
def test_fabq_work_bands(total: int, band: str) -> None:
    # fill the 7 work items 6 at a time: 19 = 6+6+6+1+0+0+0, 25 = 6+6+6+6+1+0+0
    items: dict[int, int | None] = {}
    left = total
    for n in (6, 7, 9, 10, 11, 12, 15):
        items[n], left = min(6, left), left - min(6, left)
    assert fabq_work(items).band == band


def test_fabq_subscale_needs_every_item() -> None:
    with pytest.raises(ScoringError, match=r"FABQ-W: items \[15\] not answered"):
        fabq_work({**FABQ_EXAMPLE, 15: None})


def test_fabq_physical_scored_without_work_items() -> None:
    # a patient not in work leaves the work items blank: the physical subscale still scores
    assert fabq_physical({2: 0, 3: 0, 4: 0, 5: 0}).value == 0.0


def test_fabq_range_is_0_to_6() -> None:
    with pytest.raises(ScoringError, match="item 2: 7 is outside 0-6"):
        fabq_physical({2: 7, 3: 0, 4: 0, 5: 0})


# --- EQ-VAS and PGIC ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (100, "good"),
        (90, "good"),
        (89, "slightly reduced"),
        (80, "slightly reduced"),
        (79, "moderately reduced"),
        (60, "moderately reduced"),
        (59, "considerably reduced"),
        (0, "considerably reduced"),
    ],
)
def test_eq_vas_bands(value: int, band: str) -> None:
    assert eq_vas(value) == Score("EQ-VAS", float(value), 1, band=band)


def test_eq_vas_range() -> None:
    with pytest.raises(ScoringError, match="outside 0-100"):
        eq_vas(101)


def test_pgic_labels() -> None:
    assert pgic(1).band == "Completely recovered"
    assert pgic(4).band == "No change"
    assert pgic(7).band == "Worse than ever"


@pytest.mark.parametrize("value", [0, 8])
def test_pgic_range(value: int) -> None:
    with pytest.raises(ScoringError, match="outside 1-7"):
        pgic(value)


# --- EQ-5D-5L (Danish value set, Jensen et al. 2021) ------------------------------------


def test_eq5d_full_health_is_one() -> None:
    assert eq5d5l_index([1, 1, 1, 1, 1]) == Eq5dIndex(1.0, "11111", "DK")


def test_eq5d_worked_example_of_the_value_set_authors() -> None:
    # state 11123: PD level 2 = 0.048, AD level 3 = 0.191 -> 1 - 0.239 = 0.761
    assert eq5d5l_index([1, 1, 1, 2, 3]).value == 0.761


def test_eq5d_worst_state() -> None:
    # 55555: 1 - (0.220 + 0.209 + 0.174 + 0.537 + 0.618) = 1 - 1.758 = -0.758
    assert eq5d5l_index([5, 5, 5, 5, 5]).value == -0.758


def test_eq5d_mixed_state() -> None:
    # 21345: MO2 0.041 + SC1 0 + UA3 0.040 + PD4 0.381 + AD5 0.618 = 1.080 -> -0.080
    assert eq5d5l_index([2, 1, 3, 4, 5]) == Eq5dIndex(-0.08, "21345", "DK")


def test_eq5d_missing_item_not_scored() -> None:
    with pytest.raises(ScoringError, match="1 items missing; at most 0"):
        eq5d5l_index([1, 1, None, 1, 1])


def test_eq5d_unknown_value_set() -> None:
    with pytest.raises(ScoringError, match="no value set 'NO'; available: DK"):
        eq5d5l_index([1, 1, 1, 1, 1], value_set="NO")
