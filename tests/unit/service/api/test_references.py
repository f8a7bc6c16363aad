from __future__ import annotations

from typing import Any

import pytest

from service.api.references import iter_references, local_ref, rewrite_references

MAPPING = {"urn:uuid:p": "Patient/1", "urn:uuid:r": "PractitionerRole/2"}


def test_rewrites_every_reference_also_nested_and_in_lists() -> None:
    sr: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "subject": {"reference": "urn:uuid:p", "display": "urn:uuid:p"},
        "requester": {"reference": "urn:uuid:r"},
        "performer": [{"reference": "Organization/9"}],
        "extension": [{"url": "x", "valueReference": {"reference": "urn:uuid:p"}}],
        "contained": [{"resourceType": "Basic", "author": {"reference": "urn:uuid:r"}}],
    }
    out = rewrite_references(sr, MAPPING)
    assert out["subject"] == {"reference": "Patient/1", "display": "urn:uuid:p"}
    assert out["requester"]["reference"] == "PractitionerRole/2"
    assert out["performer"][0]["reference"] == "Organization/9"
    assert out["extension"][0]["valueReference"]["reference"] == "Patient/1"
    assert out["contained"][0]["author"]["reference"] == "PractitionerRole/2"
    assert sr["subject"]["reference"] == "urn:uuid:p"  # a copy, not in place


def test_iter_references_and_local_ref() -> None:
    found = set(iter_references({"a": [{"reference": "x"}, {"b": {"reference": "y"}}]}))
    assert found == {"x", "y"}
    assert local_ref("http://h/fhir/Patient/1", "http://h/fhir/") == "Patient/1"
    assert local_ref("http://other/Patient/1", "http://h/fhir") == "http://other/Patient/1"


def test_reference_paths_are_fhirpath() -> None:
    from service.api.references import reference_paths

    role = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": "Organization/1"},
        "endpoint": [{"reference": "Endpoint/1"}, {"reference": "Endpoint/2"}],
    }
    assert list(reference_paths(role, "PractitionerRole")) == [
        ("PractitionerRole.organization.reference", "Organization/1"),
        ("PractitionerRole.endpoint[0].reference", "Endpoint/1"),
        ("PractitionerRole.endpoint[1].reference", "Endpoint/2"),
    ]


def test_literal_references_refuse_searches_and_localise_our_base() -> None:
    import pytest

    from service.api.references import literal_references
    from service.errors import BadRequest

    base = "http://h/fhir"
    plain = {"resourceType": "PractitionerRole", "organization": {"reference": "Organization/1"}}
    assert literal_references(plain, base) is plain
    ours = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": f"{base}/Organization/1"},
    }
    assert literal_references(ours, base)["organization"]["reference"] == "Organization/1"
    theirs = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": "http://x/Organization/1"},
    }
    assert literal_references(theirs, base) is theirs
    search = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": "Organization?name=a"},
    }
    with pytest.raises(BadRequest) as caught:
        literal_references(search, base)
    assert caught.value.issues[0].expression == "PractitionerRole.organization.reference"


@pytest.mark.parametrize(("reference", "local"), [
    ("HTTP://H:8080/fhir/Patient/1", "Patient/1"),          # scheme and host in any case
    ("http://h:8080/fhir/Patient?identifier=s|v", "Patient?identifier=s|v"),
    ("http://h:8080/FHIR/Patient/1", "http://h:8080/FHIR/Patient/1"),  # the path is exact
    ("http://h:8081/fhir/Patient/1", "http://h:8081/fhir/Patient/1"),
    ("https://h:8080/fhir/Patient/1", "https://h:8080/fhir/Patient/1"),
    ("http://u@h:8080/fhir/Patient/1", "http://u@h:8080/fhir/Patient/1"),
    ("http://h:port/fhir/Patient/1", "http://h:port/fhir/Patient/1"),
    ("http://h:8080/fhirx/Patient/1", "http://h:8080/fhirx/Patient/1"),
])
def test_our_base_however_urls_may_spell_it(reference: str, local: str) -> None:
    assert local_ref(reference, "http://h:8080/fhir") == local


def test_a_default_port_is_the_same_server() -> None:
    assert local_ref("https://EXAMPLE.org:443/fhir/Patient/1", "https://example.org/fhir") == (
        "Patient/1")
    assert local_ref("http://example.org/fhir/Patient/1", "http://example.org:80/fhir") == (
        "Patient/1")
