"""The Celery app: `create_celery(settings)`, its tasks and its beat schedule.

Broker: `settings.broker_url`. The embedded default is kombu's SQLAlchemy transport on a
SQLite file (`sqla+sqlite:///chiroref-broker.db`): no server, and the gateway, the worker
and the beat (separate processes) share it (docs/workers.md says why). Production:
`redis://...`. No result backend: tasks report through the store.
"""

from __future__ import annotations

from typing import Any, Final

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutdown

from service.settings import Settings
from workers import delivery, sweeper
from workers.runtime import close_current, forget_current

__all__ = ["EMBEDDED_SCHEMES", "create_celery", "is_embedded_broker"]

EMBEDDED_SCHEMES: Final = ("sqla+", "sqlalchemy+", "filesystem:", "memory:")
TASK_MODULES: Final = (delivery.__name__, sweeper.__name__)


def is_embedded_broker(broker_url: str) -> bool:
    """True when the broker needs no server, so `chiroref serve` runs the workers itself."""
    return broker_url.startswith(EMBEDDED_SCHEMES)


def create_celery(settings: Settings) -> Celery:
    app = Celery("chiroref", broker=settings.broker_url, include=list(TASK_MODULES))
    app.conf.update(_config(settings))
    app.conf["chiroref_settings"] = settings
    return app


def _config(settings: Settings) -> dict[str, Any]:
    interval = settings.sweep_interval_seconds
    return {
        "task_default_queue": settings.celery_queue,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": _transport_options(settings),
        "beat_schedule_filename": settings.beat_schedule_file,
        "beat_schedule": {
            "sweep-outbox": {
                "task": sweeper.SWEEP_TASK,
                "schedule": interval,
                "options": {"expires": max(interval * 2, 1.0)},
            }
        },
    }


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("redis"):
        # Longer than any task runs: an unacked message comes back only after a crash.
        return {"visibility_timeout": 3600}
    # sqla+: every option goes to sqlalchemy.create_engine, so none is set (kombu polls the
    # message table once a second).
    return {}


worker_process_init.connect(forget_current, weak=False)
worker_process_shutdown.connect(close_current, weak=False)
worker_shutdown.connect(close_current, weak=False)
