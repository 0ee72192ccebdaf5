"""Keys of the quizzes whose right answer depends on the trainee's own world.

A released quiz names its key function (``answer_from="..."``); the trainer's process calls it
while ``course.data.world.current()`` is the graded trainee's world. Each key is computed from
the generated data with the reference parsers, the way a trainee would find it, and kept per seed.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from course.data import world

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
    from course.data import traffic
    from course.trainer.reference import slo

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

    from course.data import backend_logs
    from course.trainer.reference import logparse

    day = logparse.parse_production(backend_logs.production_log("full"))
    start, end = (pd.Timestamp(t) for t in backend_logs.jwt_window())
    inside = day["timestamp"].between(start, end)
    hits = day[inside & day["error"].eq("Token inválido") & day["eventType"].eq("http_error")]
    return int(hits["userId"].nunique())


# -- Module 1 -----------------------------------------------------------------------------------
# Time formats a trainee may type for a check's moment (UTC); the first is the one the prompt asks.
M1_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S",
                   "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%SZ")


def m1_checks():
    """The month's health and readiness checks, parsed by the reference (once per world)."""
    return _m1_checks(world.current().seed)


@functools.lru_cache(maxsize=4)
def _m1_checks(seed: int):
    from course.data import platform
    from course.trainer.reference import platform as ref

    return ref.parse_health_checks(platform.health_checks(seed))


@key("m1_longest_not_ready_start")
def m1_longest_not_ready_start() -> list[str]:
    """When the month's longest not-ready spell began: the UTC time of its first failed
    readiness check, in each accepted format (either spell's when two tie)."""
    from course.trainer.reference import platform as ref

    starts = ref.longest_not_ready_spells(m1_checks())["start"]
    return [start.strftime(fmt) for start in starts for fmt in M1_TIME_FORMATS]


@key("m1_failed_with_http_200")
def m1_failed_with_http_200() -> int:
    """Failed backend checks (liveness and readiness) that came back with HTTP 200: what a
    monitor judging by the status code alone would have called up."""
    checks = m1_checks()
    return int((~checks["passed"] & checks["http_status"].eq(200).fillna(False)).sum())


# -- Module 3 -----------------------------------------------------------------------------------
@key("busiest_production_issue_last_7_days")
def busiest_production_issue_last_7_days() -> int:
    """Error events (level error or fatal) of the production issue with the most of them in the
    export's last 7 days, counted from the raw events export."""
    from course.data import sentry
    from course.trainer.reference import platform as reference

    events = reference.parse_sentry_events(sentry.events_export())
    top = reference.top_errors(events, *sentry.EXERCISE_RANGES["last_7_days"], n=1)
    return int(top["events"].iloc[0])


@key("backend_memory_now_mb")
def backend_memory_now_mb() -> float:
    """The backend's memory at the last minute of the metrics export, both replicas together (MB)."""
    from course.data import platform as railway
    from course.trainer.reference import platform as reference

    metrics = reference.parse_metrics(railway.metrics())
    backend = metrics[metrics["service"] == world.BACKEND]
    last = backend[backend["timestamp"] == backend["timestamp"].max()]
    return round(float(last["memory_mb"].sum()), 1)


# -- Module 6 -----------------------------------------------------------------------------------
@key("m6_ack_deadline")
def m6_ack_deadline() -> list[str]:
    """When the first response of the Redis night was due (BRT, 'HH:MM' and the ways a trainee
    writes it): the alert bot's [INCIDENT] message in #incidents plus the P1 first-response target
    (the SLA's clock starts at the message that opens the incident, as Module 2 teaches)."""
    from course.trainer.reference import incident

    due = incident.ack_deadline()
    clocks = {due.floor("min")} | ({due.ceil("min")} if due.second else set())
    accepted = []
    for clock in sorted(clocks):
        hour, minute = clock.strftime("%H"), clock.strftime("%M")
        for text in (f"{hour}:{minute}", f"{int(hour)}:{minute}", f"{hour}h{minute}", f"{int(hour)}h{minute}"):
            accepted += [text, f"{text} BRT"]
    return list(dict.fromkeys(accepted))


# -- Module 4 -----------------------------------------------------------------------------------
@key("m4_logged_out_early")
def m4_logged_out_early() -> int:
    """How many users of the rotation's auth export hold a token of JWT_SECRET_OLD still valid
    ``scenario.M4_EARLY_REMOVAL_H`` hours after the deploy went live: who a dual-key rotation
    would have logged out had JWT_SECRET_OLD been removed then."""
    from course.data import auth, scenario
    from course.trainer.reference import auth as ref

    tokens = ref.token_table(ref.parse_auth_log(auth.auth_log()), auth.secrets())
    at = int(auth.rotated_at().timestamp()) + scenario.M4_EARLY_REMOVAL_H * 3600
    return len(ref.logged_out(tokens, at))
