"""The pieces of the end-to-end tests: processes run as a user runs them, a small
directory loaded through the API, and the referral walk over HTTP (the GP receiver on
127.0.0.1 is tests/support/receiver.py).

    with spawned(["serve", "--no-workers", "--port", "8123"], env, log) as gateway: ...
    directory = load_directory(client, receiver.url)   # GP + clinic, ids assigned by the server
    walk = Walk(client, directory); rid = walk.create_referral(); ...

Every wait is bounded in time, and every process is stopped (its whole process group
killed if it does not stop) when its block ends, also on failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "profiles" / "examples"
DEMO_DIRECTORY = ROOT / "service" / "demo" / "directory.json"
REDIS_URL = os.environ.get("CHIROREF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# The demo directory ids the examples reference (service/demo/directory.json).
DEMO_PATIENT = "Patient/0b7c4e9e-5a3d-4f2b-8c1d-000000000001"
DEMO_GP_ROLE = "PractitionerRole/0b7c4e9e-5a3d-4f2b-8c1d-000000000002"
DEMO_CLINIC = "Organization/0b7c4e9e-5a3d-4f2b-8c1d-000000000003"
DEMO_GP_PERSON = "Practitioner/0b7c4e9e-5a3d-4f2b-8c1d-000000000004"
DEMO_GP_ORG = "Organization/0b7c4e9e-5a3d-4f2b-8c1d-000000000005"
DEMO_GP_ENDPOINT = "Endpoint/0b7c4e9e-5a3d-4f2b-8c1d-000000000020"
# The referral placeholder in AssessmentFeedback-bundle-no.json.
EXAMPLE_REFERRAL = "ServiceRequest/0b7c4e9e-5a3d-4f2b-8c1d-000000000006"
FHIR_JSON = "application/fhir+json"
STOP_SECONDS = 20.0


# Short enough for a quick test, with the timeout well under the lease.
FAST = {
    "CHIROREF_SWEEP_INTERVAL_SECONDS": "0.5",
    "CHIROREF_DELIVERY_LEASE_SECONDS": "3",
    "CHIROREF_DELIVERY_TIMEOUT_SECONDS": "1.5",
    "CHIROREF_DELIVERY_BACKOFF_BASE_SECONDS": "0.2",
    "CHIROREF_DELIVERY_BACKOFF_CAP_SECONDS": "1",
}


@dataclass(frozen=True)
class Production:
    base_url: str
    env: dict[str, str]  # for `chiroref worker`
    logs: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)


# --- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**chiroref: str) -> dict[str, str]:
    """The test's environment without any CHIROREF_* of the caller, plus `chiroref`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIROREF_")}
    return env | {"PYTHONPATH": str(ROOT)} | chiroref


def spawn(args: list[str], env: Mapping[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """`chiroref <args>` in its own process group (so its children can be killed with it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", *args], env=dict(env), cwd=cwd,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the process and every child in its group, and reap it."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(STOP_SECONDS)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a bounded wait, then kill -9 of whatever is left in its group."""
    if proc.poll() is None:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_SECONDS)
    kill_group(proc)  # children that outlived their parent, or a parent that hung


@contextmanager
def spawned(
    args: list[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn(args, env, log, cwd or log.parent)
    try:
        yield proc
    finally:
        stop(proc)


def wait_until(
    check: Callable[[], Any], seconds: float, what: str,
    alive: subprocess.Popen[bytes] | None = None, log: Path | None = None,
) -> Any:
    """Poll `check` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"{what}: process exited with {alive.returncode}{_tail(log)}")
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s{_tail(log)}")


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 40) -> None:
    def up() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(up, seconds, f"GET {url}", proc, log)


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n--- " + str(log) + " ---\n" + log.read_text(errors="replace")[-3000:]


# --- the directory and the documents --------------------------------------------------


def load_directory(client: httpx.Client, gp_endpoint_url: str) -> dict[str, str]:
    """Patient, GP (Practitioner, PractitionerRole, Organization, Endpoint at the receiver)
    and clinic Organization, as one transaction Bundle; demo reference -> stored reference."""
    wanted = [DEMO_PATIENT, DEMO_GP_PERSON, DEMO_GP_ORG, DEMO_GP_ENDPOINT, DEMO_GP_ROLE,
              DEMO_CLINIC]
    demo = {f"{r['resourceType']}/{r['id']}": r
            for r in (e["resource"] for e in json.loads(DEMO_DIRECTORY.read_text())["entry"])}
    urns = {ref: f"urn:uuid:{uuid.uuid4()}" for ref in wanted}
    entries = []
    for ref in wanted:
        resource = {k: v for k, v in demo[ref].items() if k != "id"}
        if ref == DEMO_GP_ENDPOINT:
            resource["address"] = gp_endpoint_url
        if ref == DEMO_CLINIC:
            resource.pop("endpoint", None)  # the clinic's own inbox is not needed here
        entries.append({"fullUrl": urns[ref], "resource": _replace(resource, urns),
                        "request": {"method": "POST", "url": ref.split("/")[0]}})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    reply = client.post("", json=bundle, headers={"Content-Type": FHIR_JSON})
    assert reply.status_code == 200, reply.text
    stored = [e["response"]["location"] for e in reply.json()["entry"]]
    return {ref: _relative(loc) for ref, loc in zip(wanted, stored, strict=True)}


def _relative(location: str) -> str:
    """`http://h/fhir/Patient/1/_history/1` -> `Patient/1`."""
    parts = location.split("/_history")[0].rstrip("/").split("/")
    return f"{parts[-2]}/{parts[-1]}"


def _replace(doc: Any, refs: Mapping[str, str]) -> Any:
    text = json.dumps(doc)
    for old, new in refs.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


def referral_body(refs: Mapping[str, str], tag: str) -> dict[str, Any]:
    """The plain referral example for this directory, with an identifier of its own."""
    doc: dict[str, Any] = _replace(example("ChiroAssessmentReferral-plain.json"), refs)
    doc["identifier"][0]["value"] = f"e2e-{tag}"
    return doc


def feedback_body(refs: Mapping[str, str], referral_id: str) -> dict[str, Any]:
    bundle = example("AssessmentFeedback-bundle-no.json")
    refs = {**refs, EXAMPLE_REFERRAL: f"ServiceRequest/{referral_id}"}
    replaced: dict[str, Any] = _replace(bundle, refs)
    return replaced


# --- the referral walk ----------------------------------------------------------------


@dataclass
class Walk:
    """GP creates, clinic accepts and answers: each step over the REST API."""

    client: httpx.Client
    refs: Mapping[str, str] = field(default_factory=dict)  # demo reference -> stored one

    @property
    def clinic(self) -> dict[str, str]:
        return {"X-Acting-Organization": self.refs.get(DEMO_CLINIC, DEMO_CLINIC)}

    def create_referral(self) -> str:
        body = referral_body(self.refs, uuid.uuid4().hex)
        reply = self.client.post("ServiceRequest", json=body,
                                 headers={"Content-Type": FHIR_JSON})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def task(self, referral_id: str) -> dict[str, Any]:
        reply = self.client.get("Task", params={"focus": f"ServiceRequest/{referral_id}"})
        assert reply.status_code == 200, reply.text
        [entry] = reply.json()["entry"]
        task: dict[str, Any] = entry["resource"]
        return task

    def read(self, ref: str) -> dict[str, Any]:
        reply = self.client.get(ref)
        assert reply.status_code == 200, reply.text
        content: dict[str, Any] = reply.json()
        return content

    def accept(self, task: Mapping[str, Any]) -> dict[str, Any]:
        patch = [{"op": "replace", "path": "/status", "value": "accepted"}]
        headers = {**self.clinic, "Content-Type": "application/json-patch+json",
                   "If-Match": f'W/"{task["meta"]["versionId"]}"'}
        reply = self.client.patch(f"Task/{task['id']}", content=json.dumps(patch),
                                  headers=headers)
        assert reply.status_code == 200, reply.text
        accepted: dict[str, Any] = reply.json()
        return accepted

    def submit_feedback(self, referral_id: str) -> dict[str, Any]:
        """The transaction-response of the feedback Bundle."""
        body = feedback_body(self.refs, referral_id)
        reply = self.client.post("", json=body, headers={**self.clinic,
                                                         "Content-Type": FHIR_JSON})
        assert reply.status_code == 200, reply.text
        response: dict[str, Any] = reply.json()
        return response

    def delivery_status(self, task_id: str) -> list[dict[str, Any]]:
        """Each message of the Task as {part name: value}."""
        reply = self.client.get(f"Task/{task_id}/$delivery-status")
        assert reply.status_code == 200, reply.text
        return [
            {part["name"]: _value(part) for part in p["part"]}
            for p in reply.json()["parameter"] if p["name"] == "message"
        ]

    def delivered(self, task_id: str) -> list[dict[str, Any]] | None:
        messages = self.delivery_status(task_id)
        return messages if messages and all(
            m["status"] == "delivered" for m in messages) else None


def _value(part: Mapping[str, Any]) -> Any:
    return next(v for k, v in part.items() if k.startswith("value"))


def created_refs(transaction_response: Mapping[str, Any]) -> list[str]:
    return [_relative(e["response"]["location"]) for e in transaction_response["entry"]]
