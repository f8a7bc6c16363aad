"""Which organisations a resource belongs to, from its references (pure parts)."""

from __future__ import annotations

import pytest

from service.workflow.ownership import local, orgs_of, ref_type, role_refs


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("Organization/1", "Organization"),
        ("http://x.example/fhir/Organization/1", "Organization"),
        ("Organization/1/_history/2", "Organization"),
        ("PractitionerRole/r1", "PractitionerRole"),
        ("https://x.example/People/42", None),  # a URL of another kind names no type
        ("#org", None),
        ("urn:uuid:0f5e8a2e-1111-4d6c-9b1a-2f0e5b7c9a01", None),
        ("Organization?identifier=urn:oid:2.16.578.1.12.4.1.2|4242", None),
        (None, None),
    ],
)
def test_ref_type_names_only_resource_types(reference: str | None, kind: str | None) -> None:
    assert ref_type(reference) == kind


def test_local_drops_the_base_and_the_version() -> None:
    assert local("http://x.example/fhir/Organization/1/_history/2") == "Organization/1"
    assert local("Organization/1") == "Organization/1"


def test_a_versioned_reference_counts_for_its_organisation() -> None:
    content = {
        "resourceType": "ServiceRequest",
        "performer": [{"reference": "Organization/clinic/_history/3"}],
        "requester": {"reference": "PractitionerRole/gp/_history/1"},
    }
    assert role_refs(content) == {"PractitionerRole/gp"}
    roles = {"PractitionerRole/gp": "Organization/practice"}
    assert orgs_of(content, roles) == {"Organization/clinic", "Organization/practice"}
