"""Column types that behave the same on SQLite and PostgreSQL.

`UtcDateTime`: timezone-aware UTC in and out (SQLite keeps naive UTC text, which sorts).
`Document`: FHIR JSON. JSONB on PostgreSQL, text on SQLite; binds a dict or an already
serialised str (orjson, so a resource is serialised once for current and history rows)
and always returns a dict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RawJsonb(UserDefinedType[Any]):
    """JSONB without SQLAlchemy's serialiser: the asyncpg codec takes the str as is."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "JSONB"


class Document(TypeDecorator[dict[str, Any]]):
    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(RawJsonb())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, dict):  # JSONB, decoded by the asyncpg codec, keys reordered
            return fhir_order(value)
        loaded: dict[str, Any] = orjson.loads(value)
        return loaded


_LEADING = ("resourceType", "id", "meta")


def fhir_order(doc: dict[str, Any]) -> dict[str, Any]:
    """resourceType, id and meta first, as FHIR JSON is usually written (JSONB sorts keys)."""
    lead = {k: doc[k] for k in _LEADING if k in doc}
    return {**lead, **doc}


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
