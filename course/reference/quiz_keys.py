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


# -- Module 2 -----------------------------------------------------------------------------------
def day_label(day) -> str:
    """How the quizzes name a day: 'Tue 20 Oct'."""
    import pandas as pd

    return pd.Timestamp(day).strftime("%a %d %b")


@key("slow_llm_day")
def slow_llm_day() -> str:
    """The one day of the month whose section generation p95 (BRT days) broke the 30 s SLO."""
    from ..data import traffic
    from . import slo

    sections = slo.parse_section_completions(traffic.request_log())
    days = sections["timestamp"].dt.tz_convert("America/Sao_Paulo").dt.date
    p95 = sections["durationMs"].groupby(days).quantile(0.95)
    return day_label(p95.idxmax())


# -- Module 5 -----------------------------------------------------------------------------------
@key("jwt_logged_out_users")
def jwt_logged_out_users() -> int:
    """Distinct users with a 401 'Token inválido' in the half hour the quiz names (both ends
    of ``backend_logs.jwt_window`` included), counted from the parsed full day."""
    import pandas as pd

    from ..data import backend_logs
    from . import logparse

    day = logparse.parse_production(backend_logs.production_log("full"))
    start, end = (pd.Timestamp(t) for t in backend_logs.jwt_window())
    inside = day["timestamp"].between(start, end)
    hits = day[inside & day["error"].eq("Token inválido") & day["eventType"].eq("http_error")]
    return int(hits["userId"].nunique())
