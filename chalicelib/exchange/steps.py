"""The step protocol that imports and exports share: each step's message names the step it
expects, and the item (Import or Export) records its progress with the condition
`step = <that one>`. The one copy of the rule that says which message runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chalicelib.models.imports import Export, Import

Stepped = TypeVar("Stepped", Import, Export)


def due(item: Stepped, step: int, send_step: Callable[[Stepped, int], None]) -> bool:
    """True when `step` is the one to run now. A late or duplicate message runs nothing; the
    one of the step just recorded re-sends the next step's message, as its sender may have
    died between recording and sending."""
    if item.status != "RUNNING":
        return False
    done = int(item.step)
    if done == step + 1:
        send_step(item, done)
        return False
    return done == step
