"""End-to-end fixtures: the production shape on 127.0.0.1.

`production` (one per session): a fresh PostgreSQL database `chiroref_e2e_<hex>` on the
server of CHIROREF_TEST_PG_URL, migrated as `chiroref migrate` does; a private Celery queue
on the Redis of CHIROREF_TEST_REDIS_URL; `chiroref serve --no-workers` (the gateway, which
nudges the worker after each commit) and `chiroref beat`. Workers are per test, so a test
can kill its own. At the end the processes are stopped, the database dropped and the
queue's Redis keys deleted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.e2e.harness import (
    FAST,
    REDIS_URL,
    Production,
    clean_env,
    free_port,
    spawned,
    wait_http,
)
from tests.support.pg import private_database
from tests.support.receiver import Receiver


@pytest.fixture(scope="session")
def e2e_database() -> Iterator[str]:
    with private_database("chiroref_e2e") as url:
        yield url


@pytest.fixture(scope="session")
def e2e_queue() -> Iterator[str]:
    queue = f"e2e-{uuid.uuid4().hex[:10]}"
    yield queue
    _forget_queue(REDIS_URL, queue)


def _forget_queue(url: str, queue: str) -> None:
    """Drop the queue, its binding and any message a killed worker left unacknowledged."""
    client = redis.Redis.from_url(url)
    try:
        client.delete(queue, *client.scan_iter(match=f"_kombu.binding*.{queue}"))
        for tag, raw in client.hgetall("unacked").items():
            if json.loads(raw)[-1] == queue:  # [message, exchange, routing key]
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


@pytest.fixture(scope="session")
def production(
    e2e_database: str, e2e_queue: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Production]:
    logs = tmp_path_factory.mktemp("e2e-production")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    env = clean_env(
        CHIROREF_DATABASE_URL=e2e_database,
        CHIROREF_BROKER_URL=REDIS_URL,
        CHIROREF_CELERY_QUEUE=e2e_queue,
        CHIROREF_BASE_URL=base_url,
        CHIROREF_LOAD_DEMO="false",
        CHIROREF_AUTO_MIGRATE="false",
        CHIROREF_ENQUEUE_HOOK="service.workflow.after_commit:celery_send_task",
        CHIROREF_BEAT_SCHEDULE_FILE=str(logs / "beat-schedule"),
        CHIROREF_LOG_LEVEL="info",
        **FAST,
    )
    gateway = ["serve", "--no-workers", "--host", "127.0.0.1", "--port", str(port)]
    with (
        spawned(gateway, env, logs / "gateway.log") as proc,
        spawned(["beat"], env, logs / "beat.log"),
    ):
        wait_http(f"{base_url}/metadata", proc, logs / "gateway.log")
        yield Production(base_url, env, logs)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    gp = Receiver().start()
    yield gp
    gp.stop()
