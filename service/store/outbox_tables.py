"""The outbox tables (SQLAlchemy Core), on the store's MetaData. Migration 0002 creates them.

- `outbox`: one row per outbound message (Saleor's EventDelivery). `id` is the message
  Bundle id. `body` is the serialised Bundle, sent byte for byte on every attempt.
  status: pending -> in-flight (leased) -> delivered | failed; back to pending to retry.
- `outbox_attempts`: one row per try (Saleor's EventDeliveryAttempt).
- `delivery_endpoints`: the circuit breaker of each destination Endpoint.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from service.store.sqltypes import UtcDateTime
from service.store.tables import ID_LEN, metadata

__all__ = ["delivery_endpoints", "outbox", "outbox_attempts"]

REF_LEN = 200

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(ID_LEN), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("referral_id", String(ID_LEN), nullable=False),
    Column("task_id", String(ID_LEN), nullable=True),
    Column("endpoint_ref", String(REF_LEN), nullable=False),
    Column("endpoint_url", String, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("last_error", String, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_outbox"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_referral", "referral_id", "created_at"),
    Index("ix_outbox_task", "task_id"),
)

outbox_attempts = Table(
    "outbox_attempts",
    metadata,
    Column("outbox_id", String(ID_LEN), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    PrimaryKeyConstraint("outbox_id", "attempt", name="pk_outbox_attempts"),
    ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name="fk_outbox_attempts_outbox"),
)

delivery_endpoints = Table(
    "delivery_endpoints",
    metadata,
    Column("endpoint_ref", String(REF_LEN), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("open_until", UtcDateTime, nullable=True),
    Column("probe_until", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("endpoint_ref", name="pk_delivery_endpoints"),
)
