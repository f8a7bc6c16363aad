"""One settings class, built once and passed in (never read at import time)."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHIROREF_", frozen=True)

    # The public FHIR base; unset, it follows host and port: http://{host}:{port}/fhir
    base_url: str = "http://127.0.0.1:8080/fhir"
    database_url: str = "sqlite+aiosqlite:///chiroref.db"
    # Embedded default: kombu's SQLAlchemy transport on a SQLite file beside the store (no
    # server, works across processes). Production: redis://host:6379/0.
    broker_url: str = "sqla+sqlite:///chiroref-broker.db"
    # The Celery queue the gateway, the sweeper and the workers share (one per deployment
    # when several share a Redis).
    celery_queue: str = "chiroref"
    max_body_bytes: int = 1_048_576
    default_page_size: int = 50
    max_page_size: int = 500
    load_demo: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    # Skip fhir.resources' model_validate for resources the lean structural check passes
    # (profiles/lean_structure.py); off: the foundation issue names fhir.resources.
    structure_fast_path: bool = False
    # Run the Alembic migrations when the app starts (embedded SQLite demo convenience;
    # production runs `chiroref migrate` and sets this to false).
    auto_migrate: bool = True
    # Delivery of outbound messages (workers/delivery.py, service/workflow/delivery_policy.py)
    delivery_timeout_seconds: float = 10.0
    delivery_lease_seconds: float = 60.0
    delivery_backoff_base_seconds: float = 5.0
    delivery_backoff_cap_seconds: float = 3600.0
    delivery_max_attempts: int = 12
    delivery_max_age_seconds: float = 259_200.0  # 3 days
    breaker_failure_threshold: int = 5
    breaker_open_seconds: float = 60.0
    # The beat: how often the sweeper nudges due outbox rows, and where beat keeps its state
    sweep_interval_seconds: float = 5.0
    beat_schedule_file: str = "chiroref-beat-schedule"
    # After-commit nudge of the delivery worker: "module:factory" (service/workflow/
    # after_commit.py), e.g. service.workflow.after_commit:celery_send_task. Unset: the
    # sweeper alone sends new outbox rows.
    enqueue_hook: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _base_url_follows_host_and_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("base_url"):
            host = data.get("host") or "127.0.0.1"
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            data = {**data, "base_url": f"http://{shown}:{data.get('port') or 8080}/fhir"}
        return data
