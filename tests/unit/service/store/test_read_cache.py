from datetime import UTC, datetime

from service.store.model import StoredResource
from service.store.read_cache import ReadCache

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def role(rid: str, version: int = 1, deleted: bool = False) -> StoredResource:
    return StoredResource("PractitionerRole", rid, version, NOW, {"id": rid}, deleted)


def test_keeps_the_last_version_put() -> None:
    cache = ReadCache()
    cache.put(role("a", 1))
    cache.put(role("a", 2))
    found = cache.get("PractitionerRole", "a")
    assert found is not None and found.version_id == 2
    assert cache.get("Organization", "a") is None


def test_deleted_versions_are_not_kept() -> None:
    cache = ReadCache()
    cache.put(role("a", 3, deleted=True))
    assert cache.get("PractitionerRole", "a") is None


def test_bounded_dropping_the_least_recently_used() -> None:
    cache = ReadCache(size=2)
    cache.put(role("a"))
    cache.put(role("b"))
    assert cache.get("PractitionerRole", "a") is not None  # a is now the most recent
    cache.put(role("c"))
    assert len(cache) == 2
    assert cache.get("PractitionerRole", "b") is None
    assert cache.get("PractitionerRole", "a") is not None


def test_drop_forgets_only_the_keys_given() -> None:
    cache = ReadCache()
    cache.put(role("a"))
    cache.put(role("b"))
    cache.drop([("PractitionerRole", "a"), ("PractitionerRole", "zzz")])
    assert cache.get("PractitionerRole", "a") is None
    assert cache.get("PractitionerRole", "b") is not None
