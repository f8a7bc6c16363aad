"""What one created resource becomes in the store: its organisations, and for a referral,
the ReferralTask beside it (one `create_many` list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from service.store.model import NewResource
from service.workflow import ownership, referrals


class IntakeRepo(ownership.Reader, Protocol):
    @property
    def now(self) -> datetime: ...


async def prepare_create(
    repo: IntakeRepo, new: NewResource, known: Mapping[str, Mapping[str, Any]]
) -> list[NewResource]:
    """`[resource]` with its orgs, or `[referral, task]`; `known`: `Type/id` -> content."""
    roles = await ownership.resolve_roles(repo, new.content, known)
    item = replace(new, orgs=new.orgs | ownership.orgs_of(new.content, roles))
    if referrals.is_referral(item.content):
        return referrals.intake(item, roles, repo.now)
    return [item]
