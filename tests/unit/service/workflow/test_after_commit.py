from __future__ import annotations

from service.settings import Settings
from service.workflow import after_commit


async def test_collects_inside_and_flushes_once_each() -> None:
    sent: list[str] = []
    with after_commit.collecting() as ids:
        after_commit.enqueue_after_commit("a")
        after_commit.enqueue_after_commit("a")
        after_commit.enqueue_after_commit("b")
    after_commit.enqueue_after_commit("outside")  # no collector: ignored
    await after_commit.flush(sent.append, ids)
    assert sent == ["a", "b"]


async def test_a_failing_nudge_is_swallowed() -> None:
    def boom(_: str) -> None:
        raise RuntimeError("broker away")

    await after_commit.flush(boom, ["a"])


def test_hook_from_settings() -> None:
    assert after_commit.load_enqueue(Settings(enqueue_hook=None)) is None
    hook = "service.workflow.after_commit:celery_send_task"
    assert callable(after_commit.load_enqueue(Settings(enqueue_hook=hook)))
