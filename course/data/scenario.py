"""The clock times a module's story tells the trainee, in the trainee's own world.

A notebook's prose cannot change per trainee, so the times it would quote (when the report came
in, which half hour to look at) come from here: the setup cell hands them to the quizzes'
prompts (``Quiz(facts=...)``) and prints the ones the prose refers to. Only givens of the story
are here, never what an exercise asks the trainee to find.
"""
from __future__ import annotations

import pandas as pd

from . import backend_logs, traffic, world

BRT = "America/Sao_Paulo"


def _clock(when, fmt: str = "%H:%M") -> str:
    return pd.Timestamp(when).strftime(fmt)


def on_call_day(variant: world.Variant | None = None) -> dict[str, str]:
    """Module 5's givens: the morning's report, the container starts, the evening's 401 wave and
    the crash-loop night of 21 October (times UTC unless the name says BRT)."""
    variant = variant or world.current()
    db = pd.Timestamp(backend_logs.story("db_pool", variant).first_failure)
    report = db.floor("min") + pd.Timedelta(minutes=2)  # the first user writes two minutes in
    starts = [pd.Timestamp(t) for t in backend_logs.container_starts(variant)]
    jwt_from, jwt_to = (pd.Timestamp(t) for t in backend_logs.jwt_window(variant))
    p1_at = jwt_from + pd.Timedelta(minutes=2)
    crash_start, crash_end = traffic.planted(variant)["crash_loop"]
    return {
        "report_brt": _clock(report.tz_convert(BRT)),
        "report_utc": _clock(report),
        "start1": _clock(starts[0], "%H:%M:%S"), "start2": _clock(starts[1], "%H:%M:%S"),
        "start3": _clock(starts[2], "%H:%M:%S"),
        "jwt_report": _clock(jwt_from + pd.Timedelta(minutes=7)),
        "jwt_deploy": _clock(starts[2]), "jwt_from": _clock(jwt_from), "jwt_to": _clock(jwt_to),
        "jwt_p1_at": _clock(p1_at), "jwt_p1_late": _clock(p1_at + pd.Timedelta(hours=2, minutes=5)),
        "crash_report": _clock(crash_start + pd.Timedelta(minutes=5)),
        "crash_from": _clock(crash_start - pd.Timedelta(minutes=20)),
        "crash_to": _clock(crash_end + pd.Timedelta(minutes=5)),
        "crash_down": _clock(crash_start),
        "crash_deploy": _clock(traffic.facts(variant)["crash_loop_deploy_utc"]),
    }
