"""devstack.heap: what lives through a moment of writes leaves the full collections; garbage
does not stay; an idle stack freezes nothing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from devstack.heap import Freezer


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_while_the_state_changes_are_frozen_out_of_collections() -> None:
    # GIVEN a stack whose state changed, holding objects
    writes = {"count": 0}
    freezer = Freezer(lambda: writes["count"])
    kept = [_Node() for _ in range(1000)]
    writes["count"] += 1
    # WHEN the freezer ticks
    assert freezer.tick()
    # THEN they are frozen: a full collection no longer walks them
    assert gc.get_freeze_count() >= len(kept)


def test_garbage_is_collected_before_the_freeze() -> None:
    # GIVEN a cycle nobody holds any more
    writes = {"count": 0}
    freezer = Freezer(lambda: writes["count"])
    dropped = _Node()
    gone = weakref.ref(dropped)
    del dropped
    writes["count"] += 1
    # WHEN the freezer ticks
    freezer.tick()
    # THEN the cycle was freed, not frozen for the life of the stack
    assert gone() is None


def test_an_idle_stack_freezes_nothing() -> None:
    # GIVEN a stack whose state has not changed since the last tick
    writes = {"count": 5}
    freezer = Freezer(lambda: writes["count"])
    _Node()
    # WHEN the freezer ticks
    # THEN nothing is frozen (what a freeze may keep follows writes, not time)
    assert not freezer.tick()
    assert gc.get_freeze_count() == 0
