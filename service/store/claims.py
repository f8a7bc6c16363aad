"""Claim kinds and the rows that free them (the only SQL for claims outside the create path).

A claim key (`NewResource.claim_key`, unique per resource type) is one of two kinds:

- a conditional-create claim: the canonical `If-None-Exist` query (`identifier=sys|val`).
  It stands for "a search found nothing, so this resource was made": once the resource
  changes it may no longer match, so an update drops it (HAPI deletes its search-url rows
  on update) and the next conditional create searches afresh.
- an identity claim: `<kind>?<query>` (`referral?requester=...&identifier=...`), the
  uniqueness of a business identifier. It holds until the resource is deleted, whatever
  its updates (a Task's status changes must not free the referral's identifier).

The `?` before the first `=` tells them apart: search parameter names never hold one.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.tables import conditional_claims

__all__ = ["drop_conditional_claims", "is_identity_claim"]


def is_identity_claim(key: str) -> bool:
    return "?" in key.partition("=")[0]


async def drop_conditional_claims(conn: AsyncConnection, rtype: str, rid: str) -> None:
    """An updated resource frees its conditional-create keys and keeps its identity keys."""
    c = conditional_claims.c
    owned = (c.resource_type == rtype, c.resource_id == rid)
    keys = (await conn.execute(select(c.claim_key).where(*owned))).scalars().all()
    dropped = [k for k in keys if not is_identity_claim(k)]
    if dropped:
        await conn.execute(delete(conditional_claims).where(*owned, c.claim_key.in_(dropped)))
