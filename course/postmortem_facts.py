"""A post-mortem's facts against the drill it is about (``IncidentSim``): the trainee's own record.

- each timeline row whose event a reader recognises (the page, the [INCIDENT] message, a restart,
  the pool raised, recovery...) must sit when the drill's record has that event, within a minute
  and a half; an event the drill never had is a contradiction;
- action items are due after the incident;
- MTTA and MTTR are what the record gives: from the page or from the first failure, to recovery
  or to the [RESOLVED] message.

``problems(text, sim)`` lists the form's problems (``course.postmortem``) and then these.
"""
from __future__ import annotations

import re

import pandas as pd

from course import postmortem
from course.data.incident_sim import IncidentSim, outcome


def problems(text, sim: IncidentSim) -> list[str]:
    """Every problem of the post-mortem ``text`` about the drill ``sim`` (empty when none)."""
    found = postmortem.form_problems(text)
    if found == ["the post-mortem is empty"]:
        return found
    return found + _timeline_facts(text, sim) + _action_dates(text, sim) + _metric_facts(text, sim)


# Timeline events a reader recognises, the most specific first, and which record times they may name.
EVENTS = (("ic paged", r"commander|\bic\b"),
          ("escalated", r"escalat|tech lead"),
          ("restart", r"restart"),
          ("rollback", r"roll(?:ed)?[ -]?back"),
          ("pool raised", r"pool|db_pool_max"),
          ("incident message", r"\[incident\]|incident (?:message|posted)|declared"),
          ("resolved message", r"\[resolved\]|\bresolved"),
          ("recovered", r"recover|healthy again|back up|errors stop"),
          ("acknowledged", r"acknowledg|\back\b"),
          ("page", r"\bpage[sd]?\b|pager|\balert"),
          ("first failure", r"first (?:failure|error|500)|\bstart(?:ed|s)?\b|\bbegan\b"))
TIME_SLACK_MIN = 1.5


def record_events(sim: IncidentSim) -> dict[str, list[pd.Timestamp]]:
    """The times of each recognisable event of a drill (UTC)."""
    done = outcome(sim.scenario, sim.moves)
    at = sim._at
    events = {"first failure": [sim.scenario.start], "page": [sim.page],
              "acknowledged": [at(sim.acknowledged)] if sim.acknowledged is not None else [],
              "incident message": [at(m) for m, t in sim.posts if t.upper().startswith("[INCIDENT]")],
              "escalated": [at(m) for m, who in sim.calls if who != "Incident Commander"],
              "ic paged": [at(m) for m, who in sim.calls if who == "Incident Commander"],
              "restart": [t for m in sim.moves if m.kind.startswith("restart") for t in (at(m.at), at(m.live))],
              "rollback": [t for m in sim.moves if m.kind == "rollback" for t in (at(m.at), at(m.live))],
              "pool raised": [t for m in sim.moves if m.kind == "raise_pool" for t in (at(m.at), at(m.live))],
              "recovered": [done["recovered"]] if done["recovered"] is not None else [],
              "resolved message": [at(m) for m, t in sim.posts if t.upper().startswith("[RESOLVED]")]}
    return events


def _timeline_facts(text: str, sim: IncidentSim) -> list[str]:
    rows = postmortem.table(text, postmortem.SECTIONS["timeline"])
    if rows is None or rows.shape[1] < 2:
        return []
    time_col, event_col = rows.columns[0], rows.columns[1]
    zone = "America/Sao_Paulo" if "BRT" in time_col.upper() else "UTC"
    day = sim.page.tz_convert(zone).normalize()
    problems, known = [], record_events(sim)
    for _, row in rows.iterrows():
        clock, offset = postmortem.timeline_clock(row[time_col]), postmortem.timeline_offset(row[time_col])
        kind = next((name for name, pattern in EVENTS if re.search(pattern, row[event_col].lower())), None)
        if (clock is None and offset is None) or kind is None:
            continue
        if offset is not None:
            when = sim.page + pd.Timedelta(minutes=offset)
        else:
            when = (day + pd.Timedelta(hours=clock[0], minutes=clock[1], seconds=clock[2])).tz_convert("UTC")
        candidates = known.get(kind, [])
        if not candidates:
            problems.append(f"the timeline says {row[event_col]!r} at {row[time_col]}, but the drill has no {kind}")
        elif min(abs((when - t).total_seconds()) for t in candidates) > TIME_SLACK_MIN * 60 + 59:
            said = ", ".join(t.tz_convert(zone).strftime("%H:%M") for t in candidates[:3])
            problems.append(f"the timeline puts {kind} ({row[event_col]!r}) at {row[time_col]}; "
                            f"the drill's record says {said}")
    return problems


def _action_dates(text: str, sim: IncidentSim) -> list[str]:
    rows = postmortem.table(text, postmortem.SECTIONS["action items"])
    due = None if rows is None else next((c for c in rows.columns if "due" in c.lower() or "date" in c.lower()), None)
    if due is None:
        return []
    dates = pd.to_datetime(rows[due].str.strip(), errors="coerce", format="%Y-%m-%d")
    return [f"action {name!r} is due {when:%Y-%m-%d}, not after the incident" for name, when in zip(rows.iloc[:, 0], dates)
            if not pd.isna(when) and when.date() <= sim.page.date()]


def _metric_facts(text: str, sim: IncidentSim) -> list[str]:
    body = postmortem.section(text, postmortem.SECTIONS["metrics"]) or text
    done = outcome(sim.scenario, sim.moves)
    lead = sim.scenario.lead_minutes()
    resolved = next((m for m, t in sim.posts if t.upper().startswith("[RESOLVED]")), None)
    ends = [e for e in ((done["recovered"] - sim.page).total_seconds() / 60 if done["recovered"] is not None else None,
                        resolved) if e is not None]
    ack = sim.acknowledged
    expect = {"MTTA": [ack, ack + lead] if ack is not None else [], "MTTR": [e + start for e in ends for start in (0, lead)]}
    problems = []
    for name, good in expect.items():
        said = postmortem.minutes_of(body, name)
        if said is not None and not any(abs(said - g) <= TIME_SLACK_MIN for g in good):
            problems.append(f"{name} says {said:g} min; the drill's record gives "
                            + " or ".join(f"{g:.0f}" for g in good) + " min")
    return problems
