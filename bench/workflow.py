"""bench/workflow.py: referrals through the whole GP -> clinic -> GP flow, with the real worker.

Per referral, over HTTP: the GP POSTs the referral, the clinic finds its Task, accepts it
(JSON Patch with If-Match) and submits the assessment feedback (transaction Bundle); then a
`chiroref worker` delivers the feedback as a FHIR message to a GP receiver served here on
127.0.0.1. PostgreSQL + Redis, the gateway as uvicorn (uvloop, httptools, no access log,
one worker), `chiroref worker` and `chiroref beat` with their default settings, as a user
runs them. A few concurrent walkers (httpx, async) drive the referrals.

Reports referrals/s (all referrals, from the first POST to the last feedback received),
and p50/p99 from the feedback POST returning to the message arriving at the receiver (one
monotonic clock; matched by the referral inside the message's DiagnosticReport). `lost`:
feedback accepted but never received within the bounded wait; `doubled_distinct_ids`:
referrals whose feedback arrived under more than one message id; `doubled_same_id`:
message ids that arrived more than once (an allowed resend, de-duplicated by id).
The last line is one JSON object.

    python bench/workflow.py            # full size (500 referrals)
    python bench/workflow.py --smoke    # small and quick (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import LoadResult
from servers import ROOT, free_port, uvicorn_server_on

EXAMPLES = ROOT / "profiles" / "examples"
DEMO_DIRECTORY = ROOT / "service" / "demo" / "directory.json"
PG_ADMIN = os.environ.get("CHIROREF_BENCH_PG_ADMIN",
                          "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CHIROREF_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
FHIR = {"Content-Type": "application/fhir+json"}

# The demo directory ids the examples reference (service/demo/directory.json).
PATIENT = "Patient/0b7c4e9e-5a3d-4f2b-8c1d-000000000001"
GP_ROLE = "PractitionerRole/0b7c4e9e-5a3d-4f2b-8c1d-000000000002"
CLINIC = "Organization/0b7c4e9e-5a3d-4f2b-8c1d-000000000003"
GP_PERSON = "Practitioner/0b7c4e9e-5a3d-4f2b-8c1d-000000000004"
GP_ORG = "Organization/0b7c4e9e-5a3d-4f2b-8c1d-000000000005"
GP_ENDPOINT = "Endpoint/0b7c4e9e-5a3d-4f2b-8c1d-000000000020"
EXAMPLE_REFERRAL = "ServiceRequest/0b7c4e9e-5a3d-4f2b-8c1d-000000000006"


# --- the GP receiver ------------------------------------------------------------------


@dataclass
class Receiver:
    """A minimal HTTP/1.1 keep-alive endpoint in this event loop: answers 200 at once and
    records (message id, monotonic time) per referral."""

    got: defaultdict[str, list[tuple[str, float]]] = field(
        default_factory=lambda: defaultdict(list))
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _news: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close the listener and every kept-alive connection, and let the handlers end."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for _ in range(100):  # bounded: at most ~1 s
            if not self._writers:
                break
            await asyncio.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/gp/inbox"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(_content_length(head))
                self._record(body, time.monotonic())
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _record(self, body: bytes, at: float) -> None:
        bundle = orjson.loads(body)
        for entry in bundle.get("entry", ()):
            resource = entry.get("resource", {})
            if resource.get("resourceType") == "DiagnosticReport":
                for ref in resource.get("basedOn", ()):
                    self.got[ref["reference"].split("/")[-1]].append((bundle["id"], at))
        self._news.set()

    async def wait_for(self, referrals: set[str], deadline: float) -> None:
        """Until every referral's feedback has arrived, or `deadline` (monotonic)."""
        while not referrals <= self.got.keys() and time.monotonic() < deadline:
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), deadline - time.monotonic())


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            return int(line[15:].strip())
    return 0


# --- documents ------------------------------------------------------------------------


def _replace(doc: Any, refs: Mapping[str, str]) -> Any:
    text = json.dumps(doc)
    for old, new in refs.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


def directory_bundle(gp_endpoint_url: str) -> tuple[list[str], dict[str, Any]]:
    """Patient, GP (Practitioner, Organization, Endpoint at the receiver, PractitionerRole)
    and the clinic, as a transaction Bundle with urn:uuid references."""
    wanted = [PATIENT, GP_PERSON, GP_ORG, GP_ENDPOINT, GP_ROLE, CLINIC]
    demo = {f"{r['resourceType']}/{r['id']}": r
            for r in (e["resource"] for e in json.loads(DEMO_DIRECTORY.read_text())["entry"])}
    urns = {ref: f"urn:uuid:{uuid.uuid4()}" for ref in wanted}
    entries = []
    for ref in wanted:
        resource = {k: v for k, v in demo[ref].items() if k != "id"}
        if ref == GP_ENDPOINT:
            resource["address"] = gp_endpoint_url
        if ref == CLINIC:
            resource.pop("endpoint", None)
        entries.append({"fullUrl": urns[ref], "resource": _replace(resource, urns),
                        "request": {"method": "POST", "url": ref.split("/")[0]}})
    return wanted, {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _relative(location: str) -> str:
    parts = location.split("/_history")[0].rstrip("/").split("/")
    return f"{parts[-2]}/{parts[-1]}"


async def load_directory(client: httpx.AsyncClient, gp_endpoint_url: str) -> dict[str, str]:
    wanted, bundle = directory_bundle(gp_endpoint_url)
    reply = await client.post("", content=orjson.dumps(bundle), headers=FHIR)
    reply.raise_for_status()
    stored = [_relative(e["response"]["location"]) for e in reply.json()["entry"]]
    return dict(zip(wanted, stored, strict=True))


@dataclass(frozen=True)
class Documents:
    """Pre-rendered referral and feedback text for this directory."""

    referral: str
    feedback: str

    @classmethod
    def for_directory(cls, refs: Mapping[str, str]) -> Documents:
        referral = json.loads((EXAMPLES / "ChiroAssessmentReferral-plain.json").read_text())
        referral["identifier"][0]["value"] = "{identifier}"
        feedback = json.loads((EXAMPLES / "AssessmentFeedback-bundle-no.json").read_text())
        feedback = _replace(feedback, {EXAMPLE_REFERRAL: "ServiceRequest/{referral}"})
        return cls(json.dumps(_replace(referral, refs)), json.dumps(_replace(feedback, refs)))

    def referral_for(self, identifier: str) -> bytes:
        return self.referral.replace("{identifier}", identifier).encode()

    def feedback_for(self, referral_id: str) -> bytes:
        return self.feedback.replace("{referral}", referral_id).encode()


# --- the walkers ----------------------------------------------------------------------


@dataclass
class Walked:
    feedback_at: dict[str, float] = field(default_factory=dict)  # referral id -> monotonic
    errors: list[str] = field(default_factory=list)
    step_latency: dict[str, LoadResult] = field(default_factory=dict)

    def timed(self, step: str, started: float) -> None:
        result = self.step_latency.setdefault(step, LoadResult(sent=0, seconds=0.0))
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.sent += 1


async def walk_one(client: httpx.AsyncClient, docs: Documents, clinic: str, tag: str,
                   walked: Walked) -> None:
    t0 = time.perf_counter()
    created = await client.post("ServiceRequest", content=docs.referral_for(tag), headers=FHIR)
    _expect(created, 201, "create")
    walked.timed("create", t0)
    referral_id = created.json()["id"]
    t0 = time.perf_counter()
    found = await client.get("Task", params={"focus": f"ServiceRequest/{referral_id}"})
    _expect(found, 200, "find task")
    walked.timed("find task", t0)
    task = found.json()["entry"][0]["resource"]
    patch = b'[{"op":"replace","path":"/status","value":"accepted"}]'
    headers = {"Content-Type": "application/json-patch+json", "X-Acting-Organization": clinic,
               "If-Match": f'W/"{task["meta"]["versionId"]}"'}
    t0 = time.perf_counter()
    _expect(await client.patch(f"Task/{task['id']}", content=patch, headers=headers), 200,
            "accept")
    walked.timed("accept", t0)
    t0 = time.perf_counter()
    feedback = await client.post("", content=docs.feedback_for(referral_id),
                                 headers={**FHIR, "X-Acting-Organization": clinic})
    _expect(feedback, 200, "feedback")
    walked.feedback_at[referral_id] = time.monotonic()
    walked.timed("feedback", t0)


def _expect(reply: httpx.Response, status: int, step: str) -> None:
    if reply.status_code != status:
        raise RuntimeError(f"{step}: HTTP {reply.status_code} {reply.text[:300]}")


async def walkers(client: httpx.AsyncClient, docs: Documents, clinic: str, count: int,
                  concurrency: int, deadline: float) -> Walked:
    walked, todo = Walked(), iter(range(count))
    run = uuid.uuid4().hex[:8]

    async def walker() -> None:
        for i in todo:  # shared iterator: each referral once; bounded by count and time
            if time.monotonic() > deadline:
                return
            try:
                await walk_one(client, docs, clinic, f"bench-{run}-{i}", walked)
            except (RuntimeError, httpx.HTTPError) as exc:
                walked.errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(walker() for _ in range(concurrency)))
    return walked


# --- processes ------------------------------------------------------------------------


def fresh_database() -> tuple[str, str]:
    name = f"chiroref_bench_wf_{uuid.uuid4().hex[:8]}"
    _psql(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-q", "-c", sql], check=True, capture_output=True)


@contextmanager
def chiroref_processes(env: Mapping[str, str], logs: Path, concurrency: int) -> Iterator[None]:
    """`chiroref worker` and `chiroref beat`, stopped (then killed) when the block ends."""
    me = [sys.executable, "-m", "workers.cli"]
    commands = {"worker": [*me, "worker", f"--concurrency={concurrency}"], "beat": [*me, "beat"]}
    procs = []
    try:
        for name, cmd in commands.items():
            with (logs / f"{name}.log").open("ab") as out:
                procs.append(subprocess.Popen(cmd, cwd=logs, env=dict(env), stdout=out,
                                              stderr=subprocess.STDOUT,
                                              start_new_session=True))
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def forget_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(queue, *client.scan_iter(match=f"_kombu.binding*.{queue}"))
    finally:
        client.close()


# --- main -----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    result = LoadResult(sent=len(values), seconds=0.0, latencies_ms=values)
    return round(result.percentile(p), 1)


async def measure(base_url: str, count: int, concurrency: int, max_seconds: float,
                  receiver: Receiver) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        refs = await load_directory(client, receiver.url)
        docs = Documents.for_directory(refs)
        # warm-up (not counted): the first requests import, compile and fill caches
        warm = await walkers(client, docs, refs[CLINIC], min(5, count), 1,
                             time.monotonic() + 60)
        await receiver.wait_for(set(warm.feedback_at), time.monotonic() + 30)
        start = time.monotonic()
        walked = await walkers(client, docs, refs[CLINIC], count, concurrency,
                               start + max_seconds)
        walked_s = time.monotonic() - start
        await receiver.wait_for(set(walked.feedback_at), time.monotonic() + 60)
        await asyncio.sleep(2.0)  # late duplicates have a chance to show
    got = {r: v for r, v in receiver.got.items() if r not in warm.feedback_at}
    return summarise(walked, got, start, walked_s, count, concurrency)


def summarise(walked: Walked, got: Mapping[str, list[tuple[str, float]]], start: float,
              walked_s: float, count: int, concurrency: int) -> dict[str, Any]:
    accepted = walked.feedback_at
    lost = [r for r in accepted if r not in got]
    latencies = [(got[r][0][1] - t) * 1000 for r, t in accepted.items() if r in got]
    doubled_ids = sum(1 for v in got.values() if len({mid for mid, _ in v}) > 1)
    doubled_same = sum(len(v) - len({mid for mid, _ in v}) for v in got.values())
    last = max((v[0][1] for r, v in got.items() if r in accepted), default=start)
    seconds = max(last - start, 1e-9)
    steps = {k: v.summary() for k, v in walked.step_latency.items()}
    return {
        "referrals": len(accepted), "requested": count, "walkers": concurrency,
        "per_s": round(len(accepted) / seconds, 1),
        "api_walk_per_s": round(len(accepted) / walked_s, 1),
        "feedback_to_gp_p50_ms": percentile(latencies, 50),
        "feedback_to_gp_p99_ms": percentile(latencies, 99),
        "feedback_to_gp_max_ms": round(max(latencies, default=0.0), 1),
        "lost": len(lost), "doubled": doubled_ids + doubled_same,
        "doubled_distinct_ids": doubled_ids, "doubled_same_id": doubled_same,
        "errors": len(walked.errors),
        "step_p50_ms": {k: s["p50_ms"] for k, s in steps.items()},
        "step_p99_ms": {k: s["p99_ms"] for k, s in steps.items()},
        "first_error": walked.errors[0] if walked.errors else None,
    }


def run(args: argparse.Namespace, count: int, logs: Path) -> dict[str, Any]:
    db_name, db_url = fresh_database()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIROREF_")} | {
        "CHIROREF_DATABASE_URL": db_url, "CHIROREF_BROKER_URL": REDIS_URL,
        "CHIROREF_CELERY_QUEUE": queue, "CHIROREF_BASE_URL": base_url,
        "CHIROREF_LOAD_DEMO": "false", "CHIROREF_AUTO_MIGRATE": "false",
        "CHIROREF_ENQUEUE_HOOK": "service.workflow.after_commit:celery_send_task",
        "CHIROREF_LOG_LEVEL": "warning",
        "CHIROREF_BEAT_SCHEDULE_FILE": str(logs / "beat-schedule"),
        "PYTHONPATH": str(ROOT),
    }
    try:
        subprocess.run([sys.executable, "-m", "workers.cli", "migrate"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        with (chiroref_processes(env, logs, args.worker_concurrency),
              uvicorn_server_on(port, "service.app:app_from_env", factory=True, env=env)):

            async def go() -> dict[str, Any]:
                receiver = await Receiver().start()
                try:
                    return await measure(base_url, count, args.walkers, args.max_seconds,
                                         receiver)
                finally:
                    await receiver.stop()

            return uvloop.run(go())
    finally:
        drop_database(db_name)
        forget_queue(queue)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--smoke", action="store_true", help="small quick run (CI)")
    ap.add_argument("--count", type=int, default=None, help="referrals (default 500; smoke 20)")
    ap.add_argument("--walkers", type=int, default=4, help="concurrent referral walkers")
    ap.add_argument("--worker-concurrency", type=int, default=2,
                    help="`chiroref worker --concurrency` (its default: 2 processes)")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="bound on the walk")
    args = ap.parse_args()
    count = args.count or (20 if args.smoke else 500)
    print(f"workflow bench: {count} referrals, {args.walkers} walkers, PostgreSQL + Redis, "
          f"one uvicorn worker, `chiroref worker --concurrency={args.worker_concurrency}`")
    with tempfile.TemporaryDirectory(prefix="chiroref-bench-wf-") as tmp:
        figures = run(args, count, Path(tmp))
    figures["smoke"] = args.smoke
    print(f"referrals delivered      {figures['referrals']:6d} of {count}"
          f"  ({figures['per_s']:.1f}/s whole flow; API walk {figures['api_walk_per_s']:.1f}/s)")
    print(f"feedback -> GP receiver  p50 {figures['feedback_to_gp_p50_ms']:8.1f} ms"
          f"  p99 {figures['feedback_to_gp_p99_ms']:8.1f} ms"
          f"  max {figures['feedback_to_gp_max_ms']:8.1f} ms")
    for step, p50 in figures["step_p50_ms"].items():
        print(f"  {step:22s} p50 {p50:8.2f} ms  p99 {figures['step_p99_ms'][step]:8.2f} ms")
    print(f"lost {figures['lost']}  doubled: distinct ids {figures['doubled_distinct_ids']},"
          f" same id {figures['doubled_same_id']}  errors {figures['errors']}")
    print(json.dumps(figures))
    if figures["errors"] or figures["lost"] or figures["doubled_distinct_ids"]:
        raise SystemExit("workflow bench: errors, lost or doubled feedback (see above)")


if __name__ == "__main__":
    main()
