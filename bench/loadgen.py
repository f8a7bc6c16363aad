"""A small, fast HTTP/1.1 keep-alive load generator for loopback benchmarks.

Python clients such as httpx cost more CPU per request than the server under test, which
would make the client the bottleneck on a 2-core machine. This one sends pre-built request
bytes over N persistent connections and parses only the status line and Content-Length.
Every loop is bounded by the request count and by a wall-clock limit.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    sent: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)  # by process group

    @property
    def per_s(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def summary(self) -> dict[str, float]:
        return {
            "per_s": round(self.per_s, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0.0,
        }


def build_request(method: str, path: str, body: bytes, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def _connection(host: str, port: int, requests: list[bytes], result: LoadResult,
                      deadline: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for raw in requests:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            writer.write(raw)
            status = await _read_response(reader)
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            result.statuses[status] += 1
            result.sent += 1
    finally:
        writer.close()


async def run_load(host: str, port: int, requests: Sequence[bytes], connections: int,
                   max_seconds: float) -> LoadResult:
    """Send every request once, spread over `connections` keep-alive connections."""
    result = LoadResult(sent=0, seconds=0.0)
    shares = [list(requests[i::connections]) for i in range(connections)]
    start = time.perf_counter()
    deadline = start + max_seconds
    await asyncio.gather(*(_connection(host, port, s, result, deadline) for s in shares if s))
    result.seconds = time.perf_counter() - start
    return result
