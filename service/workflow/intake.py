"""What one created resource becomes in the store: its organisations (those it names, and
the caller's, so that an organisation can read back what it created), and for a referral,
the ReferralTask beside it (one `create_many` list), routed when the GP named no clinic.

`one_statement(content)` says whether a plain create of `content` is directory reads plus
that one `create_many` (so it may run in `Store.one_shot`), or needs a transaction: routing
(a referral naming no clinic) and feedback (a report completing a referral's Task) read
and write more."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from service.store.model import NewResource
from service.store.repository import Repository
from service.workflow import feedback, ownership, referrals, routing_service, scoring
from service.workflow.access import as_system


def one_statement(content: Mapping[str, Any]) -> bool:
    """Pure: True when creating `content` writes nothing beyond `prepare_create`'s list."""
    if referrals.is_referral(content):
        return referrals.named_clinic(content) is not None
    return not (
        content.get("resourceType") == "DiagnosticReport" and feedback.referral_of(content)
    )


async def update_orgs(
    repo: Repository, content: Mapping[str, Any], known: Mapping[str, Mapping[str, Any]]
) -> frozenset[str]:
    """The organisations an update (PUT, JSON Patch, transaction PUT; not a Task, whose
    organisations are its parties) adds: those the new content names, and the caller's
    own, as `prepare_create` gives a created resource. The store keeps the rows the resource
    already had (`update_reporting(..., keep_orgs=True)`): an update never takes access
    away, so a GP editing a routed referral does not cut the routed clinic off, a clinic
    amending its feedback does not cut the GP off, and nobody loses what they created."""
    roles = await ownership.resolve_roles(as_system(repo), content, known)
    return ownership.orgs_of(content, roles) | (repo.caller.org_refs or frozenset())


async def prepare_create(
    repo: Repository, new: NewResource, known: Mapping[str, Mapping[str, Any]]
) -> list[NewResource]:
    """`[resource]` with its orgs, or `[referral, task]`; `known`: `Type/id` -> content."""
    system = as_system(repo)
    roles = await ownership.resolve_roles(system, new.content, known)
    mine = repo.caller.org_refs or frozenset()
    item = replace(new, orgs=new.orgs | ownership.orgs_of(new.content, roles) | mine)
    if not referrals.is_referral(item.content):
        return scoring.scored(item, repo.now)
    made = referrals.intake(item, roles, repo.now)
    if "owner" in made[1].content:
        return made
    return await routing_service.route_intake(repo, made, known)
