"""Plain rows to write: a resource version stamped with id/versionId/lastUpdated, its JSON
serialised once, its search-index values and its organisation and claim rows. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.store.dates import format_instant
from service.store.indexing import IndexValue
from service.store.model import StoredResource
from service.store.search_params import index_values
from service.store.sqltypes import dumps


@dataclass(frozen=True, slots=True)
class VersionRows:
    stored: StoredResource
    document: str  # the stored content, serialised once
    index: list[IndexValue]
    orgs: frozenset[str]
    claim_key: str | None = None

    @property
    def resource_type(self) -> str:
        return self.stored.resource_type

    @property
    def id(self) -> str:
        return self.stored.id


def stamp(content: dict[str, Any], rid: str, version: int, now: datetime) -> dict[str, Any]:
    """A copy of `content` with id, meta.versionId and meta.lastUpdated filled in."""
    meta = {**content.get("meta", {}), "versionId": str(version)}
    meta["lastUpdated"] = format_instant(now)
    rest = {k: v for k, v in content.items() if k not in _STAMPED}
    return {"resourceType": content["resourceType"], "id": rid, "meta": meta, **rest}


_STAMPED = frozenset({"resourceType", "id", "meta"})


def version_rows(
    content: dict[str, Any],
    rid: str,
    version: int,
    now: datetime,
    orgs: frozenset[str],
    claim_key: str | None = None,
) -> VersionRows:
    stamped = stamp(content, rid, version, now)
    rtype = str(stamped["resourceType"])
    stored = StoredResource(rtype, rid, version, now, stamped)
    return VersionRows(stored, dumps(stamped), index_values(stamped), orgs, claim_key)


def deleted_rows(rtype: str, rid: str, version: int, now: datetime) -> VersionRows:
    """The tombstone version written by a delete: no body, no index values."""
    stamped = stamp({"resourceType": rtype}, rid, version, now)
    stored = StoredResource(rtype, rid, version, now, stamped, deleted=True)
    return VersionRows(stored, dumps(stamped), [], frozenset())


def resource_row(rows: VersionRows) -> dict[str, Any]:
    s = rows.stored
    return {
        "resource_type": s.resource_type,
        "id": s.id,
        "version_id": s.version_id,
        "last_updated": s.last_updated,
        "deleted": s.deleted,
        "content": rows.document,
    }


def index_rows(rows: VersionRows) -> list[dict[str, Any]]:
    return [
        {"resource_type": rows.resource_type, "resource_id": rows.id, **v._asdict()}
        for v in rows.index
    ]


def org_rows(rows: VersionRows) -> list[dict[str, Any]]:
    return [
        {"resource_type": rows.resource_type, "resource_id": rows.id, "org_ref": org}
        for org in sorted(rows.orgs)
    ]
