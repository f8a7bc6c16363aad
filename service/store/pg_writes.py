"""PostgreSQL writes in one round trip: a single statement whose data-modifying CTEs insert
the current, history, index, organisation and claim rows from one JSON document. The SQL text
is constant, so asyncpg prepares it once per connection. A duplicate claim is a unique
violation of `pk_conditional_claims`, turned into ClaimTaken."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.errors import ClaimTaken
from service.store.rows import VersionRows

_INDEX_COLUMNS = "resource_type, resource_id, param, system, value, norm, low, high"
# One index row per element of the document's "x" array: [type, id, param, system, value,
# norm, low, high] (IndexValue after the two keys; low/high as ISO 8601 with offset).
_INDEX_FIELDS = (
    "e->>0, e->>1, e->>2, e->>3, e->>4, e->>5,"
    " CAST(e->>6 AS timestamptz), CAST(e->>7 AS timestamptz)"
)
_VERSION_COLUMNS = "resource_type, id, version_id, last_updated, deleted, content"

# :rows is one JSON document (`rows_document`): "r" [type, id, content], "x" index rows,
# "o" [type, id, org], "c" [type, key, id], and "g" [type, id, version]: versions the rows
# were built from (read_cache.py); unless each is still current and live, nothing is
# written and the statement returns 0. One text parameter costs the client a fraction
# of what ~20 typed arrays cost asyncpg to encode (docs/performance.md, round 4), and
# PostgreSQL parses each content once, as CAST(text AS jsonb) did.
_INSERT_SQL = text(f"""
WITH doc AS MATERIALIZED (
    SELECT CAST(CAST(:rows AS text) AS jsonb) AS d
), fresh AS MATERIALIZED (
    SELECT NOT EXISTS (
        SELECT 1 FROM doc, jsonb_array_elements(doc.d->'g') AS e
        WHERE NOT EXISTS (
            SELECT 1 FROM resources r
            WHERE r.resource_type = e->>0 AND r.id = e->>1
              AND r.version_id = CAST(e->>2 AS integer) AND NOT r.deleted)
    ) AS ok
), src AS MATERIALIZED (
    SELECT e->>0 AS t, e->>1 AS i, e->2 AS c FROM doc, jsonb_array_elements(doc.d->'r') AS e
    WHERE (SELECT ok FROM fresh)
), cur AS (
    INSERT INTO resources ({_VERSION_COLUMNS})
    SELECT t, i, 1, CAST(:now AS timestamptz), false, c FROM src
), hist AS (
    INSERT INTO resource_history ({_VERSION_COLUMNS})
    SELECT t, i, 1, CAST(:now AS timestamptz), false, c FROM src
), idx AS (
    INSERT INTO search_index ({_INDEX_COLUMNS})
    SELECT {_INDEX_FIELDS} FROM doc, jsonb_array_elements(doc.d->'x') AS e
    WHERE (SELECT ok FROM fresh)
), org AS (
    INSERT INTO resource_orgs (resource_type, resource_id, org_ref)
    SELECT e->>0, e->>1, e->>2 FROM doc, jsonb_array_elements(doc.d->'o') AS e
    WHERE (SELECT ok FROM fresh)
), claim AS (
    INSERT INTO conditional_claims (resource_type, claim_key, resource_id)
    SELECT e->>0, e->>1, e->>2 FROM doc, jsonb_array_elements(doc.d->'c') AS e
    WHERE (SELECT ok FROM fresh)
)
SELECT count(*) FROM src
""")

_REPLACE_SQL = text(f"""
WITH doc AS MATERIALIZED (
    SELECT CAST(CAST(:rows AS text) AS jsonb) AS d
), cur AS (
    UPDATE resources SET version_id = :version, last_updated = CAST(:now AS timestamptz),
        deleted = :deleted, content = CAST(:doc AS jsonb)
    WHERE resource_type = :rtype AND id = :rid
    RETURNING {_VERSION_COLUMNS}
), hist AS (
    INSERT INTO resource_history ({_VERSION_COLUMNS}) SELECT * FROM cur
), idx_old AS (
    DELETE FROM search_index WHERE resource_type = :rtype AND resource_id = :rid
), idx AS (
    INSERT INTO search_index ({_INDEX_COLUMNS})
    SELECT {_INDEX_FIELDS} FROM doc, jsonb_array_elements(doc.d->'x') AS e
), org_old AS (
    DELETE FROM resource_orgs WHERE :replace_orgs
        AND resource_type = :rtype AND resource_id = :rid
        AND NOT (org_ref = ANY(CAST(:o_ref AS text[])))
), org AS (
    INSERT INTO resource_orgs (resource_type, resource_id, org_ref)
    SELECT CAST(:rtype AS text), CAST(:rid AS text), o FROM unnest(CAST(:o_ref AS text[])) AS u(o)
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM cur
""")


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` placeholders -> asyncpg's `$n`, and the names in `$n` order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return re.sub(r"(?<!:):(\w+)", number, sql), tuple(names)


_DIRECT_INSERT, _DIRECT_NAMES = _positional(_INSERT_SQL.text)


def _insert_params(
    batch: Sequence[VersionRows], relied: Sequence[tuple[str, str, int]] = ()
) -> dict[str, Any]:
    return {"rows": rows_document(batch, relied=relied), "now": batch[0].stored.last_updated}


async def insert_versions(conn: AsyncConnection, batch: Sequence[VersionRows]) -> None:
    try:
        await conn.execute(_INSERT_SQL, _insert_params(batch))
    except IntegrityError as exc:
        taken = _taken(str(exc.orig), batch)
        if taken is None:
            raise
        raise taken from exc


async def insert_versions_direct(
    driver: Any, batch: Sequence[VersionRows], relied: Sequence[tuple[str, str, int]] = ()
) -> bool:
    """The same statement on the raw asyncpg connection, in autocommit (Store.create_many):
    skips SQLAlchemy's execution layer, about a quarter of the client CPU of a create.
    False (nothing written) when a version in `relied` is no longer current."""
    params = _insert_params(batch, relied)
    try:
        written = await driver.fetchval(_DIRECT_INSERT, *[params[name] for name in _DIRECT_NAMES])
        return bool(written)
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        detail = f"{exc} {getattr(exc, 'constraint_name', '')} {getattr(exc, 'detail', '')}"
        taken = _taken(detail, batch)
        if taken is None:
            raise
        raise taken from exc


_UNIQUE_VIOLATION = "23505"


async def replace_version(conn: AsyncConnection, rows: VersionRows, keep_orgs: bool) -> None:
    s = rows.stored
    params = {
        "rtype": s.resource_type,
        "rid": s.id,
        "version": s.version_id,
        "now": s.last_updated,
        "deleted": s.deleted,
        "doc": rows.document,
        "replace_orgs": not keep_orgs,
        "o_ref": sorted(rows.orgs),
        "rows": rows_document([rows], contents=False),
    }
    await conn.execute(_REPLACE_SQL, params)


def rows_document(
    batch: Sequence[VersionRows],
    *,
    contents: bool = True,
    relied: Sequence[tuple[str, str, int]] = (),
) -> str:
    """The rows of `batch` as the one JSON text the statements above unpack. Contents are
    spliced in as already-serialised JSON (`VersionRows.document`), not encoded again."""
    doc: dict[str, list[list[Any]]] = {
        "x": [[r.resource_type, r.id, *value] for r in batch for value in r.index],
        "o": [[r.resource_type, r.id, org] for r in batch for org in sorted(r.orgs)],
        "c": [[r.resource_type, r.claim_key, r.id] for r in batch if r.claim_key is not None],
    }
    if contents:
        doc["r"] = [[r.resource_type, r.id, orjson.Fragment(r.document)] for r in batch]
    if relied:
        doc["g"] = [list(version) for version in relied]
    return orjson.dumps(doc, option=orjson.OPT_NAIVE_UTC).decode()


def _taken(message: str, batch: Sequence[VersionRows]) -> ClaimTaken | None:
    """ClaimTaken for the refused key, or None when the violation is not a claim's."""
    if "pk_conditional_claims" not in message:
        return None
    claimed = [r for r in batch if r.claim_key is not None]
    for r in claimed:
        if f"=({r.resource_type}, {r.claim_key})" in message:
            return ClaimTaken(r.resource_type, str(r.claim_key))
    return ClaimTaken(claimed[0].resource_type, str(claimed[0].claim_key))
