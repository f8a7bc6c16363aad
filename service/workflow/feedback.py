"""Assessment feedback intake: a DiagnosticReport basedOn a referral completes its Task and
queues the delivery to the GP, in the transaction that stores the report.

`accept_feedback(repo, created, base_url)` runs after `create_many` (plain POST or a
transaction Bundle), in the same database transaction, for every created DiagnosticReport
basedOn a ServiceRequest that has ReferralTasks:
1. the referral's open Task must be `accepted` or `in-progress` (else 409, nothing stored:
   the transaction rolls back), and it must be
   owned by the submitter: the caller's organisation (`X-Acting-Organization`), or for the
   system, the report's performer organisation when it names one (else 409);
2. the Task moves accepted -> in-progress -> completed, one version per step (the history
   shows both), with `Task.output` = Reference(DiagnosticReport) typed
   `message-events#assessment-feedback`;
3. the GP's Endpoint (requester PractitionerRole.endpoint[0], else the organisation's
   Organization.endpoint[0], else an Endpoint managed by it) gets an outbox row whose id is
   the message Bundle id (`profiles.builders.feedback_message`); its nudge is queued for
   after commit. No Endpoint: the Task still completes, with businessStatus
   `delivery-failed` and a text saying the GP can pull the report;
4. the requester's and the clinic's organisations may read what the clinic sent (the GP
   pulls with `GET /DiagnosticReport?based-on=ServiceRequest/<id>`): the resources created
   in this request only, never a resource that existed before it (that keeps its own
   organisations).

Before any of that (a refusal rolls the whole request back, nothing stored):
- every `DiagnosticReport.result` must resolve as the CALLER sees it (a reference to
  something unknown, deleted, hidden from the caller or on another server: 422, expression
  `DiagnosticReport.result[i]`, the same answer for all, so it never tells a hidden resource
  exists);
- the report's subject, and the subjects of the Observations, CarePlans and
  QuestionnaireResponses it brings or references, must be the referral's subject (422 at
  the offending `<Type>.subject`, or `DiagnosticReport.result[i]` for a referenced one).
In a transaction the error names the entry (`Bundle.entry[i].resource...`, `FeedbackError`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from profiles import canonical
from profiles.builders import FEEDBACK_EVENT, feedback_message
from profiles.issues import Issue
from service.errors import Conflict, FhirError, Gone, NotFound, Unprocessable
from service.store import outbox, workload
from service.store.model import SearchParam, SearchQuery, StoredResource
from service.store.repository import Repository
from service.workflow import after_commit, ownership, task_states
from service.workflow.access import as_system, task_parties
from service.workflow.delivery_policy import message_url
from service.workflow.ownership import read_content
from service.workflow.routing_service import REROUTED_FROM
from service.workflow.task_states import Party

__all__ = [
    "FEEDBACK_OUTPUT",
    "Completion",
    "about_of",
    "accept_feedback",
    "completed_task",
    "referral_of",
]

FEEDBACK_OUTPUT: Final = {"coding": [dict(FEEDBACK_EVENT)], "text": "Assessment feedback"}
READY: Final = frozenset({"accepted", "in-progress"})
FEEDBACK_TYPES: Final = frozenset(
    {"DiagnosticReport", "Observation", "CarePlan", "QuestionnaireResponse"}
)


@dataclass(frozen=True, slots=True)
class Completion:
    task: StoredResource
    message_id: str | None  # None: no Endpoint, nothing to deliver


def referral_of(report: Mapping[str, Any]) -> tuple[str, str] | None:
    """Pure: ("ServiceRequest", id) of the first basedOn ServiceRequest."""
    for ref in report.get("basedOn") or []:
        target = ownership.local(str((ref or {}).get("reference") or ""))
        kind, _, rid = target.partition("/")
        if kind == "ServiceRequest" and rid:
            return kind, rid
    return None


def completed_task(
    task: Mapping[str, Any], report_ref: str, now: str, undeliverable: str | None
) -> dict[str, Any]:
    """Pure: the Task completed with the report as output (and delivery-failed if so)."""
    out = {**task, "status": "completed", "lastModified": now}
    out["output"] = [
        *(task.get("output") or []),
        {"type": FEEDBACK_OUTPUT, "valueReference": {"reference": report_ref}},
    ]
    if undeliverable:
        coding = {"system": canonical.BUSINESS_STATUS, "code": "delivery-failed",
                  "display": "Delivery failed"}
        out["businessStatus"] = {"coding": [coding], "text": undeliverable}
    return out


def _conflict(message: str, expression: str = "DiagnosticReport.basedOn") -> Conflict:
    return Conflict(*Conflict.of(message, expression, code="business-rule").issues)


def _about(error: FhirError, ref: str) -> FhirError:
    """Mark which created resource an error is about (its expressions are rooted at that
    resource's type), so a transaction can point the error at its entry (`about_of`)."""
    error.about = ref  # type: ignore[attr-defined]
    return error


def about_of(error: FhirError) -> str | None:
    """`Type/id` of the created resource a feedback refusal is about, if any."""
    about = getattr(error, "about", None)
    return about if isinstance(about, str) else None


def _unprocessable(code: str, expression: str, message: str) -> Unprocessable:
    return Unprocessable(Issue("error", code, expression, message))


async def accept_feedback(
    repo: Repository, created: Sequence[StoredResource], base_url: str
) -> list[Completion]:
    """Complete the Task of each created feedback report; see the module docstring."""
    done = []
    for report in created:
        if report.resource_type == "DiagnosticReport" and referral_of(report.content):
            done.append(await _accept(repo, report, created, base_url))
    return done


async def _accept(
    repo: Repository, report: StoredResource, created: Sequence[StoredResource], base_url: str
) -> Completion:
    system = as_system(repo)
    kind, rid = referral_of(report.content) or ("", "")
    try:
        task = await _open_task(system, f"{kind}/{rid}")
        roles = await ownership.resolve_roles(system, task.content, {})
        parties = task_parties(task.content, roles)
        await _check_submitter(repo, report.content, parties["owner"])
        referral = await system.read(kind, rid)
        # The caller's view: a result the caller cannot see is refused, never shared.
        included, cited = await _included(repo, report, created)
    except FhirError as exc:
        _about(exc, report.ref)
        raise
    _check_subjects(referral.content, report, included, cited)
    orgs = [org for org in (parties["owner"], parties["requester"]) if org]
    mine = {r.ref for r in created}
    shared = [r for r in (report, *included) if r.ref in mine]  # created in this request
    await workload.grant_many(
        system.connection, [(r.resource_type, r.id, org) for r in shared for org in orgs]
    )
    endpoint = await gp_endpoint(system, referral.content)
    message_id = None
    if endpoint is not None:
        context = await _context(system, referral.content, report.content, parties)
        message_id = await _queue(
            system, report, (included, context), parties, endpoint, task, base_url
        )
    note = None if endpoint else (
        "No Endpoint for the referring GP: the feedback cannot be delivered; the GP can "
        f"fetch it with GET DiagnosticReport?based-on={kind}/{rid}"
    )
    final = await _complete(system, task, roles, report.ref, note)
    return Completion(final, message_id)


async def _open_task(repo: Repository, referral_ref: str) -> StoredResource:
    """The referral's one open Task of the service-made chain (`referral_chain`); several
    open ones is a 409 (never a guess)."""
    chain = await referral_chain(repo, referral_ref)
    open_ = [t for t in chain if task_states.is_open(t.content.get("status", ""))]
    if not chain:
        raise _conflict(f"{referral_ref} has no ReferralTask: it is not a referral to answer")
    if not open_:
        raise _conflict(f"{referral_ref} has no open Task: the referral is closed")
    if len(open_) > 1:
        raise _conflict(
            f"{referral_ref} has {len(open_)} open Tasks: the feedback cannot tell which one "
            "it answers"
        )
    task = open_[0]
    if task.content["status"] not in READY:
        raise _conflict(
            f"{task.ref} is {task.content['status']}: the clinic must accept the referral "
            "before it submits the assessment feedback"
        )
    return task


async def referral_chain(repo: Repository, referral_ref: str) -> list[StoredResource]:
    """The referral's Tasks that the SERVICE made, as `repo` (the system) reads them: the
    intake Task and the Tasks rerouting made after it. A Task counts when its version 1
    (what was created; a client's PUT may change `meta`, never version 1) declares the
    ReferralTask profile and has the referral as `focus` and `basedOn`, and
      - it is the intake Task: its version 1 was stored in the referral's own `create_many`
        (the same instant as the referral's version 1: the store's column, not content), or
      - it was made by rerouting: its `rerouted-from` input names a Task of the chain whose
        reroute mark (businessStatus, the service's alone) names this Task.
    Clients cannot create Tasks over HTTP; this also leaves out any Task stored otherwise."""
    kind, _, rid = referral_ref.partition("/")
    page = await repo.search(SearchQuery("Task", (SearchParam("focus", (referral_ref,)),), 500))
    if not page.items:
        return []
    first = await repo.vread(kind, rid, 1)
    shaped: dict[str, tuple[StoredResource, StoredResource]] = {}
    for task in page.items:
        made = await repo.vread("Task", task.id, 1)
        if _made_for(made.content, referral_ref):
            shaped[task.ref] = (task, made)
    chain = {ref for ref, (_, made) in shaped.items()
             if made.last_updated == first.last_updated and not _rerouted_from(made.content)}
    grown = True
    while grown:
        grown = False
        for ref, (_, made) in shaped.items():
            before = _rerouted_from(made.content)
            if ref in chain or before not in chain:
                continue
            mark = (shaped[before][0].content.get("businessStatus") or {}).get("text") or ""
            if ref in mark:
                chain.add(ref)
                grown = True
    return [task for ref, (task, _) in shaped.items() if ref in chain]


def _made_for(task: Mapping[str, Any], referral_ref: str) -> bool:
    """Pure: a ReferralTask with the referral as its focus and basedOn."""
    declared = [str(p).split("|")[0] for p in (task.get("meta") or {}).get("profile") or []]
    focus = ownership.local(str((task.get("focus") or {}).get("reference") or ""))
    based = [ownership.local(str((b or {}).get("reference") or ""))
             for b in task.get("basedOn") or []]
    return canonical.REFERRAL_TASK in declared and focus == referral_ref and (
        based == [referral_ref]
    )


def _rerouted_from(task: Mapping[str, Any]) -> str | None:
    """Pure: the Task a rerouted Task was made from (`Task.input` rerouted-from)."""
    for item in task.get("input") or []:
        if (item.get("type") or {}).get("text") == REROUTED_FROM:
            ref = (item.get("valueReference") or {}).get("reference")
            return ownership.local(str(ref)) if ref else None
    return None


async def _check_submitter(
    repo: Repository, report: Mapping[str, Any], owner: str | None
) -> None:
    caller_orgs = repo.caller.org_refs
    if caller_orgs is not None:
        if owner not in caller_orgs:
            raise _conflict(f"the referral's Task is owned by {owner}, not by the submitter")
        return
    roles = await ownership.resolve_roles(as_system(repo), report, {})
    named = {
        org for ref in report.get("performer") or []
        if (org := ownership.party_org((ref or {}).get("reference"), roles))
    }
    if named and owner not in named:
        raise _conflict(
            f"the referral's Task is owned by {owner}, not by the report's performer",
            "DiagnosticReport.performer",
        )


async def _included(
    repo: Repository, report: StoredResource, created: Sequence[StoredResource]
) -> tuple[list[StoredResource], dict[str, str]]:
    """The feedback's other resources, read as `repo`'s caller sees them; and `Type/id` ->
    `DiagnosticReport.result[i]` for the results that existed before the request. A result
    that does not resolve for the caller is 422 at its path. Only what belongs to THIS
    report (`_belongs`), never every feedback-type resource of the Bundle (a second report's
    Observations are not this one's)."""
    out = _belongs(report, created)
    mine = {r.ref for r in created}
    cited: dict[str, str] = {}
    for i, ref in enumerate(report.content.get("result") or []):
        path = f"DiagnosticReport.result[{i}]"
        target = str((ref or {}).get("reference") or "")
        if not target or target.startswith("#") or target in mine or target in cited:
            continue  # contained, created with the report, or already read
        kind, _, rid = target.partition("/")
        if not kind[:1].isupper() or not rid or "/" in rid or ":" in target:
            raise _unprocessable(
                "not-found", path,
                f"{path} ({target}) must name a resource on this server or in the Bundle",
            )
        try:
            found = await repo.read(kind, rid)
        except (NotFound, Gone) as exc:
            raise _unprocessable(
                "not-found", path, f"{path}: {target} is not known (or not visible to you)"
            ) from exc
        out.append(found)
        cited[target] = path
    return out, cited


def _belongs(report: StoredResource, created: Sequence[StoredResource]) -> list[StoredResource]:
    """Pure: the resources created in the request that are this report's: its results, the
    CarePlans citing it (`supportingInfo`), the QuestionnaireResponses for its referral, and
    what is derived from those (the PROM scores of a response, `derivedFrom`)."""
    results = {ownership.local(str((r or {}).get("reference") or ""))
               for r in report.content.get("result") or []}
    referral = referral_of(report.content)
    picked: dict[str, StoredResource] = {}
    for item in created:
        if item.resource_type not in FEEDBACK_TYPES or item.ref == report.ref:
            continue
        content = item.content
        if (
            item.ref in results
            or (item.resource_type == "CarePlan" and report.ref in _refs(content, "supportingInfo"))
            or (item.resource_type == "QuestionnaireResponse" and referral is not None
                and "/".join(referral) in _refs(content, "basedOn"))
        ):
            picked[item.ref] = item
    for item in created:  # scores of a picked response (created after it, same request)
        if item.ref not in picked and item.resource_type in FEEDBACK_TYPES and (
            _refs(item.content, "derivedFrom") & picked.keys()
        ):
            picked[item.ref] = item
    return [item for item in created if item.ref in picked]


def _refs(content: Mapping[str, Any], element: str) -> set[str]:
    """Pure: the `Type/id` tails of the references in a list element."""
    return {ownership.local(str((r or {}).get("reference") or ""))
            for r in content.get(element) or [] if isinstance(r, dict)}


def subject_of(resource: Mapping[str, Any]) -> str | None:
    """Pure: the `Type/id` a resource's `subject` names (None without one)."""
    ref = (resource.get("subject") or {}).get("reference")
    return ownership.local(str(ref)) if ref else None


def _check_subjects(
    referral: Mapping[str, Any],
    report: StoredResource,
    included: Sequence[StoredResource],
    cited: Mapping[str, str],
) -> None:
    """The report and everything it brings or cites are about the referral's patient."""
    patient = subject_of(referral)
    for item in (report, *included):
        found = subject_of(item.content)
        if found == patient:
            continue
        path = cited.get(item.ref, f"{item.resource_type}.subject")
        said = f"{item.ref} is about {found or 'no subject'}" if item.ref in cited else (
            f"{item.resource_type}.subject is {found or 'missing'}"
        )
        error = _unprocessable(
            "business-rule", path, f"{said}: the referral's subject is {patient}"
        )
        raise _about(error, report.ref if item.ref in cited else item.ref)


async def _context(
    repo: Repository,
    referral: Mapping[str, Any],
    report: Mapping[str, Any],
    parties: Mapping[Party, str | None],
) -> list[StoredResource]:
    """What the report and the message header reference, for the message Bundle: the
    patient, the referral, the performer (and the clinic), the requester PractitionerRole
    with its Practitioner, and the GP's organisation. Missing ones are left out."""
    refs = [subject_of(referral), f"ServiceRequest/{referral['id']}"]
    refs += [str(p.get("reference") or "") for p in report.get("performer") or []]
    refs.append(parties["owner"])
    requester = str((referral.get("requester") or {}).get("reference") or "")
    refs.append(requester)
    out: list[StoredResource] = []
    for ref in refs:
        found = await _read_local(repo, ref)
        if found is None:
            continue
        out.append(found)
        if found.resource_type == "PractitionerRole":
            for name in ("practitioner", "organization"):
                more = await _read_local(repo, (found.content.get(name) or {}).get("reference"))
                out += [more] if more is not None else []
    out += [r for r in [await _read_local(repo, parties["requester"])] if r is not None]
    return out


async def _read_local(repo: Repository, ref: str | None) -> StoredResource | None:
    kind, _, rid = (ref or "").partition("/")
    if not kind[:1].isupper() or not rid or "/" in rid or ":" in kind:
        return None  # not a `Type/id` on this server
    try:
        return await repo.read(kind, rid)
    except (NotFound, Gone):
        return None


async def gp_endpoint(repo: Repository, referral: Mapping[str, Any]) -> dict[str, Any] | None:
    """Requester PractitionerRole.endpoint[0], else its organisation's Organization.endpoint[0],
    else an active Endpoint managed by that organisation."""
    requester = ownership.local(str((referral.get("requester") or {}).get("reference") or ""))
    role = (await read_content(repo, requester)
            if requester.startswith("PractitionerRole/") else None)
    org = ownership.role_org(role) if role else (
        requester if requester.startswith("Organization/") else None
    )
    for holder in (role, await read_content(repo, org) if org else None):
        for ref in (holder or {}).get("endpoint") or []:
            found = await read_content(repo, ownership.local(str(ref.get("reference") or "")))
            if found:
                return found
    if org is None:
        return None
    query = SearchQuery("Endpoint", (SearchParam("organization", (org,)),), count=10)
    managed = [e.content for e in (await repo.search(query)).items]
    return next((e for e in managed if e.get("status") == "active"), None)


async def _queue(
    repo: Repository,
    report: StoredResource,
    resources: tuple[Sequence[StoredResource], Sequence[StoredResource]],
    parties: Mapping[Party, str | None],
    endpoint: Mapping[str, Any],
    task: StoredResource,
    base_url: str,
) -> str:
    """`resources`: (the feedback's other resources, what they reference: `_context`)."""
    message_id, url = str(uuid.uuid4()), message_url(endpoint)
    sender, receiver = parties["owner"] or "", parties["requester"] or ""
    included, context = resources
    body = feedback_message(
        message_id, repo.now, report.content, [r.content for r in included], sender, receiver,
        url, base_url, referenced=[r.content for r in context],
    )
    focus = task.content["focus"]["reference"]
    await outbox.add(
        repo.connection, id=message_id, kind="feedback",
        referral_id=ownership.local(focus).split("/")[1], task_id=task.id,
        endpoint_ref=f"Endpoint/{endpoint['id']}", endpoint_url=url, body=body, now=repo.now,
    )
    after_commit.enqueue_after_commit(message_id)
    return message_id


async def _complete(
    repo: Repository,
    task: StoredResource,
    roles: Mapping[str, str],
    report_ref: str,
    undeliverable: str | None,
) -> StoredResource:
    """accepted -> in-progress (one version), then -> completed (another)."""
    now = repo.now.isoformat(timespec="milliseconds")
    orgs = ownership.orgs_of(task.content, roles)
    if task.content["status"] == "accepted":
        task_states.next_status("accepted", "start")
        started = {**task.content, "status": "in-progress", "lastModified": now}
        task = await repo.update("Task", task.id, started, orgs, task.version_id)
    task_states.next_status(task.content["status"], "complete")
    final = completed_task(task.content, report_ref, now, undeliverable)
    return await repo.update("Task", task.id, final, orgs, task.version_id)
