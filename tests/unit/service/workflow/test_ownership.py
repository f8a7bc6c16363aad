"""Which organisations a resource belongs to, from its references (pure parts)."""

from __future__ import annotations

import pytest

from service.store.model import StoredResource
from service.workflow.ownership import (
    local,
    orgs_of,
    read_content,
    ref_type,
    role_refs,
    type_and_id,
)


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("Organization/1", "Organization"),
        ("http://x.example/fhir/Organization/1", None),  # another server's, not ours
        ("http://x.example/fhir/PractitionerRole/r1/_history/2", None),
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


def test_local_drops_the_version_and_keeps_another_servers_reference_whole() -> None:
    assert local("Organization/1/_history/2") == "Organization/1"
    assert local("Organization/1") == "Organization/1"
    foreign = "http://x.example/fhir/Organization/1/_history/2"
    assert local(foreign) == foreign  # never equal to, nor read as, our Organization/1
    assert type_and_id(foreign) == "Organization/1"


def test_a_versioned_reference_counts_for_its_organisation() -> None:
    content = {
        "resourceType": "ServiceRequest",
        "performer": [{"reference": "Organization/clinic/_history/3"}],
        "requester": {"reference": "PractitionerRole/gp/_history/1"},
    }
    assert role_refs(content) == {"PractitionerRole/gp"}
    roles = {"PractitionerRole/gp": "Organization/practice"}
    assert orgs_of(content, roles) == {"Organization/clinic", "Organization/practice"}


def test_an_organisation_on_another_server_grants_nothing() -> None:
    """`http://other/fhir/Organization/1` is not our Organization/1: references to our own
    base arrive relative, so an absolute one is another server's."""
    content = {
        "resourceType": "ServiceRequest",
        "performer": [{"reference": "http://other.example/fhir/Organization/1"}],
        "requester": {"reference": "https://other.example/fhir/PractitionerRole/gp"},
    }
    assert role_refs(content) == set()
    assert orgs_of(content, {"PractitionerRole/gp": "Organization/practice"}) == frozenset()


async def test_read_content_never_reads_ours_for_a_foreign_reference() -> None:
    class Repo:
        async def read(self, resource_type: str, id: str) -> StoredResource:
            raise AssertionError(f"read {resource_type}/{id}")

    assert await read_content(Repo(), "http://other.example/fhir/Patient/1") is None
