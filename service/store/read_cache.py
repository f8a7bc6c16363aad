"""Current versions that one-shot creates read (a referral's requester PractitionerRole),
kept between requests so that the next create does not read them again.

Never trusted on its own: a create that relied on a cached version sends its (type, id,
version) with the create statement, which writes nothing unless each is still the current,
live version (pg_writes, the "g" rows). `Repository.create_many` then drops those entries
and raises StaleRead, and the caller builds the create again from fresh reads. So a cached
entry saves a round trip and can never make a create use a version that was already
replaced when the create committed.

Only what the service reads for itself (the SYSTEM caller) is cached: no organisation
filter applies to it. The contents are shared between requests and must not be mutated.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from service.store.model import StoredResource

Key = tuple[str, str]  # (resource type, id)


class ReadCache:
    """A bounded, least-recently-used map of (type, id) to the version last read."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[Key, StoredResource] = OrderedDict()

    def get(self, resource_type: str, id: str) -> StoredResource | None:
        stored = self._items.get((resource_type, id))
        if stored is not None:
            self._items.move_to_end((resource_type, id))
        return stored

    def put(self, stored: StoredResource) -> None:
        if stored.deleted:
            return
        self._items[(stored.resource_type, stored.id)] = stored
        self._items.move_to_end((stored.resource_type, stored.id))
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def drop(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
