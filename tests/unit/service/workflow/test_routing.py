"""Clinic ranking: eligibility, nearest first, then load, then id."""

from __future__ import annotations

import pytest

from service.workflow.postcodes import Position
from service.workflow.routing import (
    Candidate,
    Excluded,
    Ranked,
    haversine_km,
    patient_country,
    rank_clinics,
)

ODENSE = Position(55.4028, 10.3920)  # DK 5000 Odense C
SVENDBORG = Position(55.0598, 10.6068)
VEJLE = Position(55.7093, 9.5357)
AARHUS = Position(56.1535, 10.2034)  # DK 8000 Aarhus C


def cand(ref: str, where: Position, load: int = 0, in_scheme: bool = True) -> Candidate:
    return Candidate(f"Organization/{ref}", in_scheme, where, load)


def test_haversine_known_distances() -> None:
    assert haversine_km(ODENSE, ODENSE) == 0.0
    # one degree of latitude on the mean sphere: 2 * pi * 6371.0088 / 360 = 111.195 km
    assert haversine_km(Position(0, 0), Position(1, 0)) == pytest.approx(111.195, abs=1e-3)
    # Odense C -> Aarhus C, about 84 km as the crow flies
    assert haversine_km(ODENSE, AARHUS) == pytest.approx(84.2, abs=0.5)


def test_nearest_first() -> None:
    result = rank_clinics(
        [cand("aarhus", AARHUS), cand("svendborg", SVENDBORG), cand("vejle", VEJLE)], ODENSE
    )
    assert [r.clinic_ref for r in result.ranked] == [
        "Organization/svendborg",
        "Organization/vejle",
        "Organization/aarhus",
    ]
    assert result.chosen == result.ranked[0]


def test_equal_distance_least_loaded_first_then_id() -> None:
    same = Position(55.50, 10.40)
    result = rank_clinics(
        [cand("b", same, load=3), cand("c", same, load=1), cand("a", same, load=3)], ODENSE
    )
    assert [(r.clinic_ref, r.open_tasks) for r in result.ranked] == [
        ("Organization/c", 1),
        ("Organization/a", 3),
        ("Organization/b", 3),
    ]


def test_nearer_wins_over_less_loaded() -> None:
    result = rank_clinics([cand("far", AARHUS, load=0), cand("near", SVENDBORG, load=9)], ODENSE)
    assert result.chosen is not None and result.chosen.clinic_ref == "Organization/near"


def test_rejecters_and_non_participants_are_excluded() -> None:
    result = rank_clinics(
        [cand("rej", SVENDBORG), cand("out", ODENSE, in_scheme=False), cand("ok", AARHUS)],
        ODENSE,
        rejected_by={"Organization/rej"},
    )
    assert [r.clinic_ref for r in result.ranked] == ["Organization/ok"]
    assert result.excluded == (
        Excluded("Organization/out", "does not take part in the scheme"),
        Excluded("Organization/rej", "already rejected this referral"),
    )
    assert "Excluded Organization/rej: already rejected this referral." in result.explanation


def test_no_clinic_left_says_why() -> None:
    result = rank_clinics([cand("rej", SVENDBORG)], ODENSE, rejected_by={"Organization/rej"})
    assert result.chosen is None and result.ranked == ()
    assert result.explanation.startswith("No clinic left: 1 candidates, none eligible.")
    assert "already rejected" in result.explanation


def test_no_candidates_at_all() -> None:
    result = rank_clinics([], ODENSE)
    assert result.chosen is None
    assert "No clinic left: 0 candidates" in result.explanation


def test_max_km() -> None:
    result = rank_clinics([cand("near", SVENDBORG), cand("far", AARHUS)], ODENSE, max_km=50)
    assert [r.clinic_ref for r in result.ranked] == ["Organization/near"]
    assert result.excluded == (Excluded("Organization/far", "farther than 50 km"),)


def test_unknown_patient_position_ranks_by_load() -> None:
    result = rank_clinics([cand("a", AARHUS, load=2), cand("b", SVENDBORG, load=1)], None)
    assert result.ranked == (Ranked("Organization/b", None, 1), Ranked("Organization/a", None, 2))
    assert result.explanation.startswith("Patient position unknown")


def test_explanation_lists_ranking() -> None:
    result = rank_clinics([cand("svendborg", SVENDBORG, load=2)], ODENSE)
    km = result.ranked[0].km
    assert km is not None and 40 < km < 42  # Odense -> Svendborg, about 40.6 km
    assert f"1. Organization/svendborg ({km:.1f} km, 2 open tasks)" in result.explanation


def test_deterministic_whatever_the_input_order() -> None:
    cands = [cand("a", ODENSE), cand("b", ODENSE), cand("c", VEJLE, load=0)]
    assert rank_clinics(cands, ODENSE) == rank_clinics(list(reversed(cands)), ODENSE)


# --- the national border ------------------------------------------------------------------

OSLO = Position(59.9139, 10.7522)


def test_only_clinics_in_the_patients_country() -> None:
    norwegian = Candidate("Organization/oslo", True, OSLO, 9, "NO")
    danish = Candidate("Organization/odense", True, ODENSE, 0, "DK")
    unknown = Candidate("Organization/nowhere", True, ODENSE, 0)
    result = rank_clinics([norwegian, danish, unknown], ODENSE, country="NO")
    assert [r.clinic_ref for r in result.ranked] == ["Organization/oslo"]
    assert result.excluded == (
        Excluded("Organization/nowhere", "in an unknown country and the patient in NO"),
        Excluded("Organization/odense", "in DK and the patient in NO"),
    )
    assert "Excluded Organization/odense: in DK and the patient in NO." in result.explanation


def test_no_clinic_in_the_patients_country_leaves_none() -> None:
    result = rank_clinics([Candidate("Organization/odense", True, ODENSE, 0, "DK")], OSLO,
                          country="NO")
    assert result.chosen is None
    assert result.explanation.startswith("No clinic left: 1 candidates, none eligible.")


def test_unknown_patient_country_keeps_every_country() -> None:
    both = [Candidate("Organization/oslo", True, OSLO, 0, "NO"),
            Candidate("Organization/odense", True, ODENSE, 0, "DK")]
    assert len(rank_clinics(both, ODENSE).ranked) == 2


@pytest.mark.parametrize(
    ("patient", "country"),
    [
        ({"address": [{"country": "NO"}]}, "NO"),
        ({"address": [{"country": " dk "}]}, "DK"),
        ({"address": [{"country": "Norge"}]}, "NO"),
        ({"address": [{"country": "SE"}]}, "SE"),
        ({"identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "x"}]}, "NO"),
        ({"identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.2", "value": "x"}]}, "NO"),
        ({"identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "x"}]}, "DK"),
        ({"address": [{"city": "Oslo"}],
          "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "x"}]}, "DK"),
        ({"identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.2", "value": "x"}]}, None),
        ({}, None),
        (None, None),
    ],
)
def test_patient_country(patient: dict[str, object] | None, country: str | None) -> None:
    assert patient_country(patient) == country
