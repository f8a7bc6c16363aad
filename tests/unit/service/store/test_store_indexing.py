from service.store.indexing import IndexValue, normalise, split_reference
from service.store.search_params import RESOURCE_TYPES, SEARCH_PARAMS, index_values


def test_references_are_split_and_relative() -> None:
    assert split_reference("Patient/p1/_history/2") == ("Patient", "Patient/p1", "p1")
    assert split_reference("https://x.org/fhir/Patient/p1") == (
        "Patient", "https://x.org/fhir/Patient/p1", None
    )
    assert split_reference("#contained") is None
    assert split_reference("urn:uuid:1234") is None


def test_normalise_folds_case_and_accents() -> None:
    assert normalise("Hélène ØDEGÅRD") == "helene ødegard"


def test_referral_index_values() -> None:
    referral = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "identifier": [{"system": "urn:s", "value": "1"}, {"system": "urn:s", "value": "1"}],
        "subject": {"reference": "Patient/p1", "identifier": {"system": "urn:f", "value": "9"}},
        "code": {"coding": [{"system": "urn:c", "code": "a"}, {"code": "b"}]},
    }
    values = index_values(referral)
    assert IndexValue("status", None, "active") in values
    assert values.count(IndexValue("identifier", "urn:s", "1")) == 1
    assert IndexValue("subject", "Patient", "Patient/p1", "p1") in values
    assert IndexValue("patient", "Patient", "Patient/p1", "p1") in values
    assert IndexValue("subject:identifier", "urn:f", "9") in values
    assert {v.value for v in values if v.param == "code"} == {"a", "b"}


def test_every_type_has_id_and_last_updated() -> None:
    for rtype in RESOURCE_TYPES:
        assert {"_id", "_lastUpdated"} <= set(SEARCH_PARAMS[rtype])
    assert "identifier" in SEARCH_PARAMS["Task"] and "identifier" not in SEARCH_PARAMS["Provenance"]
