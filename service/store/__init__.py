"""The durable store: the only package with SQL.

`Store.open(url)` -> `store.begin(caller)` -> `Repository`; `migrate.upgrade(url)` creates
and upgrades the schema (Alembic). See docs/CONTRACTS.md.
"""

from service.store.db import Store
from service.store.errors import ClaimTaken
from service.store.repository import Repository

__all__ = ["ClaimTaken", "Repository", "Store"]
