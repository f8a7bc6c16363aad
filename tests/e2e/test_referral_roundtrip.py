"""A referral from the GP's POST to the feedback arriving in the GP's system, with every
part real: `chiroref serve` (uvicorn), PostgreSQL, Redis, `chiroref worker` and
`chiroref beat` as processes, and a GP endpoint served by the test on 127.0.0.1 that the
directory (loaded through the API) points at. And the embedded quick start as the README
runs it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    DEMO_CLINIC,
    DEMO_GP_ORG,
    FAST,
    Production,
    Walk,
    clean_env,
    created_refs,
    free_port,
    kill_group,
    load_directory,
    spawn,
    spawned,
    stop,
    wait_http,
    wait_until,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.e2e

WORKER = ["worker", "--pool=prefork", "--concurrency=1"]
SECONDS = 30.0  # the bound on every wait for a delivery
FEEDBACK_EVENT = "assessment-feedback"
FEEDBACK_DELIVERED = "feedback-delivered"


def _walk_to_feedback(walk: Walk) -> tuple[str, dict[str, Any], list[str]]:
    """Create, accept, submit feedback: (referral id, the Task, refs the feedback created)."""
    referral_id = walk.create_referral()
    task = walk.task(referral_id)
    assert task["status"] == "requested"
    assert task["owner"]["reference"] == walk.refs.get(DEMO_CLINIC, DEMO_CLINIC)
    assert walk.accept(task)["status"] == "accepted"
    created = created_refs(walk.submit_feedback(referral_id))
    return referral_id, task, created


def _of_type(refs: list[str], rtype: str) -> list[str]:
    return [r for r in refs if r.startswith(f"{rtype}/")]


def _local(ref: str) -> str:
    """An absolute or relative reference as `Type/id`."""
    return "/".join(ref.split("/")[-2:])


def _assert_feedback_message(
    bundle: dict[str, Any], referral_id: str, created: list[str], message_id: str
) -> None:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message"
    assert bundle["id"] == message_id
    header = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["eventCoding"]["code"] == FEEDBACK_EVENT
    [report_ref] = _of_type(created, "DiagnosticReport")
    assert [_local(f["reference"]) for f in header["focus"]] == [report_ref]
    inside = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
              for e in bundle["entry"][1:]}
    report = inside[report_ref]
    assert [_local(b["reference"]) for b in report["basedOn"]] == [f"ServiceRequest/{referral_id}"]
    observations = _of_type(created, "Observation")
    assert len(observations) >= 1
    assert set(_of_type(list(inside), "Observation")) == set(observations)
    assert {_local(r["reference"]) for r in report["result"]} <= set(observations)
    # what the report references travels with it, and the message has its identifier
    assert {_local(report["subject"]["reference"]), f"ServiceRequest/{referral_id}"} <= set(inside)
    assert bundle["identifier"] == {"system": "urn:ietf:rfc:3986",
                                    "value": f"urn:uuid:{message_id}"}


def test_referral_roundtrip(production: Production, receiver: Receiver, tmp_path: Path) -> None:
    """GP POSTs a referral; the clinic finds its Task, accepts it (JSON Patch, If-Match) and
    submits the feedback transaction; the worker delivers one FHIR message to the GP."""
    with production.client() as client, spawned(WORKER, production.env, tmp_path / "worker.log"):
        walk = Walk(client, load_directory(client, receiver.url))
        referral_id, task, created = _walk_to_feedback(walk)
        [report_ref] = _of_type(created, "DiagnosticReport")
        done = walk.read(f"Task/{task['id']}")
        assert done["status"] == "completed"
        assert [o["valueReference"]["reference"] for o in done["output"]] == [report_ref]
        [message] = wait_until(lambda: walk.delivered(task["id"]), SECONDS, "delivered",
                               log=tmp_path / "worker.log")
        marked = walk.read(f"Task/{task['id']}")
    assert message["attempts"] == 1 and message["kind"] == "feedback"
    [post] = receiver.posts()
    _assert_feedback_message(post.bundle, referral_id, created, message["messageId"])
    assert post.bundle["entry"][0]["resource"]["destination"][0]["endpoint"] == receiver.url
    assert marked["businessStatus"]["coding"][0]["code"] == FEEDBACK_DELIVERED


def test_worker_killed_mid_delivery_feedback_arrives_once(
    production: Production, tmp_path: Path
) -> None:
    """kill -9 of the worker (its whole process group) while its POST to the GP is in
    flight: the receiver holds the first request until the worker is dead. The outbox row
    stays leased; when the lease (CHIROREF_DELIVERY_LEASE_SECONDS, short here) runs out the
    beat's sweeper nudges it and a new worker sends it again. Delivery is at least once:
    this resend carries the *same* message Bundle id, which is allowed and is how a
    receiver de-duplicates. What must hold: one distinct message id at the receiver, and
    the outbox shows the message delivered once, with one recorded attempt (the killed
    worker never recorded its try)."""
    gp = Receiver(hold_first=True).start()
    worker_log = tmp_path / "worker-a.log"
    first = spawn(WORKER, production.env, worker_log, tmp_path)
    try:
        with production.client() as client:
            walk = Walk(client, load_directory(client, gp.url))
            referral_id, task, created = _walk_to_feedback(walk)
            wait_until(gp.arrived.is_set, SECONDS, "first POST to the GP", first, worker_log)
            kill_group(first)
            assert first.returncode == -9
            gp.release.set()  # the held request is answered now, to a dead socket
            with spawned(WORKER, production.env, tmp_path / "worker-b.log"):
                [message] = wait_until(lambda: walk.delivered(task["id"]), SECONDS,
                                       "delivered by the second worker",
                                       log=tmp_path / "worker-b.log")
                time.sleep(3 * float(FAST["CHIROREF_SWEEP_INTERVAL_SECONDS"]))  # 3 sweeps
                after = walk.delivery_status(task["id"])
    finally:
        stop(first)
        gp.stop()
    posts = gp.posts()
    assert len(gp.messages()) == 1  # exactly once, by message id
    assert [p.bundle["id"] for p in posts] == [message["messageId"]] * 2  # sent, resent
    _assert_feedback_message(posts[-1].bundle, referral_id, created, message["messageId"])
    assert message["status"] == "delivered" and message["attempts"] == 1
    assert after == [message]  # nothing more after the sweeps that followed


def test_embedded_quick_start(tmp_path: Path) -> None:
    """`chiroref serve` with nothing configured but the port (SQLite store, SQLite broker,
    its own worker and beat, the demo directory): the README walk-through, ending with the
    feedback message in the demo GP inbox."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(CHIROREF_PORT=str(port), CHIROREF_BASE_URL=f"{base}/fhir")
    log = tmp_path / "serve.log"
    with spawned(["serve"], env, log, cwd=tmp_path) as serve, \
            httpx.Client(base_url=f"{base}/fhir", timeout=10) as client:
        wait_http(f"{base}/fhir/metadata", serve, log)
        walk = Walk(client)
        referral_id, task, created = _walk_to_feedback(walk)
        inbox = f"{base}/demo/inbox/{DEMO_GP_ORG}"
        messages = wait_until(lambda: client.get(inbox).json().get("entry"), SECONDS,
                              "feedback in the demo GP inbox", serve, log)
        [message] = wait_until(lambda: walk.delivered(task["id"]), SECONDS, "delivered",
                               serve, log)
    [received] = [m["resource"] for m in messages]
    _assert_feedback_message(received, referral_id, created, message["messageId"])
    assert message["attempts"] == 1
    assert (tmp_path / "chiroref.db").exists() and (tmp_path / "chiroref-broker.db").exists()
