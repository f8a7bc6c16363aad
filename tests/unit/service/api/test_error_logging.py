"""An unexpected exception: one safe log record (request id, type, frame locations), the
500 OperationOutcome, and nothing for the server to log - its message (for a database
error, `[SQL: ...] [parameters: ...]`, i.e. patient data) appears in no log record and
not on a real uvicorn's stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import IntegrityError
from starlette.types import Message

from service.app import create_app
from service.settings import Settings

MARKER = "Kari Sensitivnavn 01017010170"  # a fake patient in the failed statement's parameters
ROOT = Path(__file__).resolve().parents[4]


def database_error() -> IntegrityError:
    """What a failed insert raises: the statement and the resource JSON in its message."""
    params = (json.dumps({"resourceType": "Patient", "name": [{"text": MARKER}]}),)
    return IntegrityError("INSERT INTO resources (body) VALUES ($1)", params, Exception(MARKER))


def failing_app(tmp_path: Path) -> FastAPI:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        load_demo=False,
        auto_migrate=False,
    )
    app = create_app(settings)

    async def boom() -> None:
        raise database_error()

    async def boom_while_streaming() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b'{"resourceType": "Bundle", '
            raise database_error()

        return StreamingResponse(body(), media_type="application/fhir+json")

    app.add_api_route("/boom", boom, methods=["POST"])
    app.add_api_route("/boom-streaming", boom_while_streaming, methods=["GET"])
    return app


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog on the root logger and on every named logger (some do not propagate), DEBUG."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "chiroref", "sqlalchemy"]
    loggers = [logging.getLogger(n) for n in {*names, *logging.root.manager.loggerDict}]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        if lg is not logging.root:
            lg.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        for lg, level in saved:
            lg.setLevel(level)
            if lg is not logging.root:
                lg.removeHandler(caplog.handler)


def unique(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The records once each (one reaches caplog's handler from each logger on its way up)."""
    return list({id(r): r for r in records}.values())


def rendered(records: list[logging.LogRecord]) -> str:
    """Every record as a handler would write it, traceback included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


async def test_unexpected_error_is_one_safe_record_and_a_500_outcome(
    tmp_path: Path, every_log: pytest.LogCaptureFixture
) -> None:
    # raise_app_exceptions=True (the default): an exception reaching the server fails here.
    transport = httpx.ASGITransport(app=failing_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/boom", headers={"X-Request-Id": "req-42"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "exception"
    assert "req-42" in body["issue"][0]["diagnostics"]
    assert MARKER not in response.text

    assert MARKER not in rendered(every_log.records)
    errors = [r for r in unique(every_log.records) if r.levelno >= logging.ERROR]
    assert len(errors) == 1, rendered(errors)
    [record] = errors
    assert record.name == "chiroref.api"
    assert record.exc_info is None
    message = record.getMessage()
    assert "IntegrityError" in message and "req-42" in message
    assert "boom (" in message and __file__ in message  # the frame locations


async def test_failure_after_the_response_started_is_logged_safely(
    tmp_path: Path, every_log: pytest.LogCaptureFixture
) -> None:
    """The 500 cannot be sent any more: the response is left unfinished (uvicorn closes the
    connection, with its own message-free error line) and nothing is raised to the server."""
    sent: list[Message] = []

    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:  # the client stays connected
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/boom-streaming", "raw_path": b"/boom-streaming",
        "root_path": "", "query_string": b"", "headers": [], "server": ("test", 80),
    }
    await failing_app(tmp_path)(scope, receive, send)

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent)
    assert MARKER not in rendered(every_log.records)
    errors = [r for r in unique(every_log.records) if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["chiroref.api"]
    assert "IntegrityError" in errors[0].getMessage()


SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    sys.path.insert(0, sys.argv[1])
    from tests.unit.service.api.test_error_logging import failing_app
    from pathlib import Path
    uvicorn.run(failing_app(Path(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[3]),
                log_level="debug")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_uvicorn_stderr_holds_no_exception_message(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT), str(tmp_path), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/boom", timeout=5)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 500
        assert response.json()["resourceType"] == "OperationOutcome"
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)
    output = (out + err).decode()
    assert "unexpected IntegrityError" in output  # the safe record (via logging.lastResort)
    assert MARKER not in output
    assert "Exception in ASGI application" not in output
    assert "Traceback" not in output
