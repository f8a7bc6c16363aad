"""What goes in and out of the store: plain frozen dataclasses, no SQL.

The contract between the HTTP layer / workflow and the store (service/store/). Every store
call happens through a `Repository` bound to one connection in one transaction and to one
`Caller` (who is asking, for which organisations). Today the caller is always SYSTEM; the
security issue later filters every query by `Caller.org_refs` inside the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Caller:
    client_id: str
    # Organisation references ("Organization/<id>") the caller acts for; None = system (all).
    org_refs: frozenset[str] | None = None


SYSTEM = Caller("system")


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource_type: str
    id: str  # UUID string
    version_id: int
    last_updated: datetime  # UTC, timezone-aware
    content: dict[str, Any]  # FHIR JSON with id, meta.versionId, meta.lastUpdated filled in
    deleted: bool = False

    @property
    def ref(self) -> str:
        return f"{self.resource_type}/{self.id}"


@dataclass(frozen=True, slots=True)
class Updated:
    """`Repository.update_reporting`: the new current version, and whether the version it
    replaced was a deletion (the update re-created the resource: 201, as HAPI answers)."""

    stored: StoredResource
    recreated: bool = False


@dataclass(frozen=True, slots=True)
class NewResource:
    """One resource to create. `content["id"]` is already the server-assigned UUID."""

    content: dict[str, Any]
    orgs: frozenset[str] = frozenset()  # organisations it belongs to
    # Conditional-create claim: a canonical match key ("identifier=sys|val"), unique per
    # resource type in the database, written in the same transaction (HAPI's search-url).
    claim_key: str | None = None

    @property
    def resource_type(self) -> str:
        return str(self.content["resourceType"])

    @property
    def id(self) -> str:
        return str(self.content["id"])


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One `name[:modifier]=v1,v2` from a query: values are ORed, params are ANDed.

    A chained parameter (`subject:Patient.identifier=s|v`, search.html#chaining) is the
    reference parameter (`subject`, its target type as the modifier, or None for any)
    with the parameter of the target in `chain`; `values` are the chain's. A reverse
    chain (`_has`) is described beside `has`."""

    name: str
    values: tuple[str, ...]
    modifier: str | None = None
    chain: SearchParam | None = None
    # `_has:Task:focus:status=requested` (search.html#has): name `_has`, `has` the
    # referring type and its reference parameter (`Task:focus`), `chain` the parameter
    # the referring resources must match (`status`)
    has: str | None = None

    @property
    def text(self) -> str:
        """The parameter's name as a query names it: `name[:modifier][.chained[:modifier]]`,
        or `_has:Type:reference:param[:modifier]`."""
        if self.has is not None and self.chain is not None:
            return f"_has:{self.has}:{self.chain.text}"
        head = f"{self.name}:{self.modifier}" if self.modifier else self.name
        return f"{head}.{self.chain.text}" if self.chain is not None else head


@dataclass(frozen=True, slots=True)
class SearchQuery:
    resource_type: str
    params: tuple[SearchParam, ...] = ()
    count: int = 50
    offset: int = 0
    sort: tuple[str, ...] = ()  # "_lastUpdated", "-authored", ...
    summary: Literal["count"] | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    items: list[StoredResource] = field(default_factory=list)
    included: list[StoredResource] = field(default_factory=list)  # _include / _revinclude
    more_included: bool = False  # more to include than the cap (`includes.MAX_INCLUDED`)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    total: int
    items: list[StoredResource] = field(default_factory=list)  # newest first
