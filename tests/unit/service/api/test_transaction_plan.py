from __future__ import annotations

from service.api.transaction import mapped_query


def test_if_none_exist_placeholders_are_mapped_before_parsing() -> None:
    mapping = {"urn:uuid:a": "Organization/1"}
    assert mapped_query("organization=urn:uuid:a", mapping) == "organization=Organization/1"
    assert (
        mapped_query("PractitionerRole?organization=urn:uuid:a,Organization/2&role=s|gp", mapping)
        == "PractitionerRole?organization=Organization/1,Organization/2&role=s|gp"
    )
