"""The `chiroref` console script: the service's commands (migrate, validate, ...) plus
`worker` and `beat`, and a `serve` that also runs a worker and the beat when the broker is
embedded. (service/ may not import workers/, so the script's entry point lives here.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Annotated, Literal

import typer

from service import cli as service_cli
from service.settings import Settings
from workers.celery_app import create_celery, is_embedded_broker

__all__ = ["app", "companions"]

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=service_cli.app.info.help
)
app.registered_commands = [
    c for c in service_cli.app.registered_commands
    if (c.name or getattr(c.callback, "__name__", "")) != "serve"
]

Pool = Literal["prefork", "solo", "threads"]
STOP_SECONDS = 15.0
PR_SET_PDEATHSIG = 1
NUDGE_HOOK = "service.workflow.after_commit:celery_send_task"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (CHIROREF_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (CHIROREF_PORT)")] = None,
    workers: Annotated[
        bool | None,
        typer.Option(
            "--workers/--no-workers",
            help="also run one Celery worker and the beat (default: only with the embedded "
            "broker; with Redis run `chiroref worker` and `chiroref beat` separately)",
        ),
    ] = None,
) -> None:
    """Run the gateway (embedded default: SQLite store, SQLite broker, worker and beat)."""
    # The gateway nudges the workers after each commit (rows stay the truth: the beat's
    # sweeper sends whatever a lost nudge leaves behind).
    os.environ.setdefault("CHIROREF_ENQUEUE_HOOK", NUDGE_HOOK)
    settings = Settings()
    run_workers = is_embedded_broker(settings.broker_url) if workers is None else workers
    if run_workers and settings.auto_migrate:
        from service.store.migrate import upgrade

        upgrade(settings.database_url)  # before the worker touches the outbox
    with companions() if run_workers else nullcontext():
        service_cli.serve(host=host, port=port)


@app.command()
def worker(
    pool: Annotated[str, typer.Option(help="prefork, solo or threads")] = "prefork",
    concurrency: Annotated[int, typer.Option(min=1, help="processes (prefork)")] = 2,
    loglevel: Annotated[str | None, typer.Option(help="default: CHIROREF_LOG_LEVEL")] = None,
) -> None:
    """Run a Celery worker (delivery, sweeper) on CHIROREF_BROKER_URL."""
    settings = Settings()
    level = loglevel or settings.log_level
    argv = ["worker", f"--pool={pool}", f"--concurrency={concurrency}", f"--loglevel={level}"]
    create_celery(settings).worker_main(argv)


@app.command()
def beat(
    loglevel: Annotated[str | None, typer.Option(help="default: CHIROREF_LOG_LEVEL")] = None,
) -> None:
    """Run the Celery beat (the outbox sweeper's clock). Run exactly one."""
    settings = Settings()
    create_celery(settings).start(["beat", f"--loglevel={loglevel or settings.log_level}"])


@contextmanager
def companions() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A solo worker and the beat as child processes, stopped when the block ends."""
    me = [sys.executable, "-m", "workers.cli"]
    commands = [[*me, "worker", "--pool=solo", "--concurrency=1"], [*me, "beat"]]
    procs = [subprocess.Popen(c, preexec_fn=_die_with_parent) for c in commands]
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down; with the default handler that
    # kills this process before the `finally` below. Exit normally instead.
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield procs
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(procs)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the gateway dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the `finally` in companions() still stops them


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    app()
