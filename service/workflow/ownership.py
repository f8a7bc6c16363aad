"""Which organisations a resource belongs to (`NewResource.orgs`).

The security issue later filters every store query by the caller's organisations, so each
write records them now: the Organizations named in `requester`, `owner`, `performer`,
`managingOrganization` and `organization`, an Organization itself, and for a
PractitionerRole named there, the role's `organization`. Everything but resolving the
PractitionerRoles (from the same Bundle, else through the repository) is pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from profiles.checks import reference_type
from service.errors import Gone, NotFound
from service.store.model import StoredResource

ORG_ELEMENTS = (
    "requester", "owner", "performer", "managingOrganization", "organization", "providedBy",
)


class Reader(Protocol):
    async def read(self, resource_type: str, id: str) -> StoredResource: ...


def is_foreign(reference: str) -> bool:
    """An absolute URL: a resource on another server. References to our own base are
    stored relative (`references.literal_references`, `localise_references`), so what is
    still absolute here names no resource of ours, whatever its `Type/id` tail says."""
    return "://" in reference


def ref_type(reference: str | None) -> str | None:
    """The FHIR resource type a literal reference to this server names
    (`checks.reference_type`): `Organization/1`, `Organization/1/_history/2` ->
    `Organization`; a contained, `urn:`, conditional or foreign (`http://other/fhir/
    Organization/1`) reference -> None."""
    if not reference or "?" in reference or is_foreign(reference):
        return None
    return reference_type(reference)


def local(reference: str) -> str:
    """The `Type/id` a literal reference to this server names (without a `/_history/n`); a
    reference to another server (`is_foreign`) as it is, so that it never equals, nor is
    read as, a `Type/id` of ours."""
    return reference if is_foreign(reference) else type_and_id(reference)


def type_and_id(reference: str) -> str:
    """The last `Type/id` of any reference, another server's too (without `/_history/n`)."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return "/".join(parts[-2:])


def party_refs(content: Mapping[str, Any]) -> Iterator[str]:
    """Every reference in the organisation-bearing elements, in document order."""
    for name in ORG_ELEMENTS:
        value = content.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and isinstance(item.get("reference"), str):
                yield item["reference"]


def role_refs(content: Mapping[str, Any]) -> set[str]:
    return {local(r) for r in party_refs(content) if ref_type(r) == "PractitionerRole"}


def role_org(role: Mapping[str, Any]) -> str | None:
    """The Organization a PractitionerRole acts for."""
    ref = (role.get("organization") or {}).get("reference")
    return local(ref) if isinstance(ref, str) and ref_type(ref) == "Organization" else None


def party_org(reference: str | None, roles: Mapping[str, str]) -> str | None:
    """An Organization reference itself, or the organisation of a PractitionerRole."""
    kind = ref_type(reference)
    if reference is None or kind is None:
        return None
    if kind == "Organization":
        return local(reference)
    return roles.get(local(reference)) if kind == "PractitionerRole" else None


def orgs_of(content: Mapping[str, Any], roles: Mapping[str, str]) -> frozenset[str]:
    """Pure: the organisations of `content`, PractitionerRoles looked up in `roles`."""
    found = {org for ref in party_refs(content) if (org := party_org(ref, roles))}
    if content.get("resourceType") == "Organization" and content.get("id"):
        found.add(f"Organization/{content['id']}")
    return frozenset(found)


async def resolve_roles(
    repo: Reader, content: Mapping[str, Any], known: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """PractitionerRole ref -> Organization ref, from `known` (a Bundle) or the store."""
    roles: dict[str, str] = {}
    for ref in sorted(role_refs(content)):
        role = known.get(ref) or await read_content(repo, ref)
        org = role_org(role) if role else None
        if org:
            roles[ref] = org
    return roles


async def read_content(repo: Reader, ref: str | None) -> dict[str, Any] | None:
    """The content of the resource `ref` names (its `Type/id` tail); None when `ref` names
    none of ours (foreign, malformed), or the resource is not there (unknown or deleted)."""
    if not ref or is_foreign(ref):
        return None
    kind, _, rid = local(ref).partition("/")
    if not kind or not rid:
        return None
    try:
        return (await repo.read(kind, rid)).content
    except (NotFound, Gone):
        return None
