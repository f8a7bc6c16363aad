"""A GP system's FHIR messaging endpoint on 127.0.0.1 that keeps every POSTed Bundle, for
the integration and the end-to-end tests.

    receiver = Receiver().start(); receiver.url ... receiver.stop()
    receiver.wait_for([bundle_id, ...], 30); receiver.count(bundle_id)
    receiver.posts(); receiver.messages()   # every POST; distinct Bundles by id
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    bundle: dict[str, Any]
    at: float  # time.monotonic() when the request arrived

    @property
    def id(self) -> str:
        return str(self.bundle.get("id", ""))


@dataclass
class Receiver:
    """A threaded HTTP server answering each POST with `status` (after keeping its Bundle).

    `fail_first`: Bundle ids answered 503 the first time they arrive.
    `hold_first`: the first request sets `arrived` and is answered only when `release` is
    set (bounded by `hold_seconds`), so a test can kill the sender while it waits.
    """

    status: int = 200
    fail_first: set[str] = field(default_factory=set)
    hold_first: bool = False
    hold_seconds: float = 30.0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _posts: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/gp/inbox"

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def posts(self) -> list[Received]:
        with self._lock:
            return list(self._posts)

    def messages(self) -> dict[str, Received]:
        """Distinct message Bundles by id (a resend of the same id counts once)."""
        return {p.id: p for p in reversed(self.posts())}

    def count(self, bundle_id: str) -> int:
        return sum(p.id == bundle_id for p in self.posts())

    def wait_for(self, ids: Iterable[str], seconds: float = 30.0) -> None:
        """Wait until each Bundle id in `ids` has arrived at least once."""
        wanted = set(ids)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if wanted <= {p.id for p in self.posts()}:
                return
            time.sleep(0.05)
        missing = wanted - {p.id for p in self.posts()}
        raise AssertionError(f"GP receiver: not received in {seconds} s: {missing}")

    def _arrive(self, bundle: dict[str, Any]) -> int:
        """Keep the Bundle (holding the first one if asked to); the status to answer."""
        post = Received(bundle, time.monotonic())
        with self._lock:
            first_post = not self._posts
            first_of_id = all(p.id != post.id for p in self._posts)
            self._posts.append(post)
        if first_post and self.hold_first:
            self.arrived.set()
            self.release.wait(self.hold_seconds)
        return 503 if first_of_id and post.id in self.fail_first else self.status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._arrive(json.loads(body or b"{}"))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender is gone (killed while we held it)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        return Handler
