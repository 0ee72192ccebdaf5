"""Keys of the quizzes whose right answer depends on the trainee's own world.

A released quiz names its key function (``answer_from="..."``); the trainer's process calls it
while ``course.data.world.current()`` is the graded trainee's world. Each key is computed from
the generated data with the reference parsers, the way a trainee would find it, and kept per seed.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from ..data import world

_KEYS: dict[str, Callable[[], Any]] = {}


def key(name: str):
    """Register a key function under ``name``."""
    def register(function: Callable[[], Any]) -> Callable[[], Any]:
        _KEYS[name] = function
        return function
    return register


def answer(name: str) -> Any:
    """The right answer of key ``name`` in the current world."""
    if name not in _KEYS:
        raise KeyError(f"no quiz key function named {name!r}")
    return _cached(name, world.current().seed)


@functools.lru_cache(maxsize=1024)
def _cached(name: str, seed: int) -> Any:
    with world.using(seed):
        return _KEYS[name]()
