"""Module 6 reference for the simulated incidents: the best path, a drill's score, and the
post-mortem's automatic checks, all against the trainee's own saved drill (``IncidentSim.to_json``,
replayed here in its world so that a record that does not come from it is refused).

- **Best path** (``best_path``): look, declare the course's severity (P0 for login-500: the guide's
  answer and SLA.md's "login fully broken", over playbook scenario 6's P1), post the [INCIDENT]
  message, call the Tech Lead, page the IC for a P0, make the one move that ends the incident (a
  pool sized for the surge's demand; restarting Redis), verify, post [RESOLVED].
- **Score** (``score``): the drill's outcome beside the best path's, the minutes each move lost
  (a move the recovery did not need, the same drill without it recovering as soon, costs its own
  minutes; waiting while the platform failed and nothing was under way costs the wait), the SLA results for the right severity (first
  response, updates, resolution target), and the channel's checks (``course.incident_comms``)
  timed by the right severity.
- **Post-mortem** (``check_postmortem``): the repository template's sections, a timeline table
  whose recognisable events happen when the drill's record says (a contradiction is a failure),
  five Whys, action items with owners and dates after the incident, MTTA and MTTR as the record
  gives them (from the page or the first failure; to recovery or the [RESOLVED] message).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from course import incident_comms
from course.data import world
from course.data.incident_scenarios import MOVE_MINUTES, SCENARIOS
from course.data.incident_sim import MESSAGE_MINUTES, IncidentSim, outcome

RESOLUTION_MINUTES = {"P0": 240, "P1": 480}                # docs/SLA.md resolution targets
EXPECTED_SEVERITY = {name: cls.severity for name, cls in SCENARIOS.items()}
POOL_HEADROOM = 10                                         # connections above the surge's demand


# -- the best path ------------------------------------------------------------------------------
def best_path(scenario: str = "login-500", variant: world.Variant | int | None = None) -> IncidentSim:
    """The drill played the best way in ``variant``'s world, closed with its [RESOLVED] message."""
    sim = IncidentSim(scenario, variant)
    sc = sim.scenario
    sim.acknowledge()
    sim.health()
    sim.logs()
    if scenario == "login-500":
        sim.sentry()
        metrics = sim.metrics()
        _post_opening(sim, "All users unable to login", "30-60 min")
        sim.escalate("Tech Lead")
        sim.page_ic()
        demand = int((metrics["pool_in_use"] + metrics["pool_waiting"]).max())
        sim.raise_pool(min(sc.pool_limit, max(demand, sc.demand) + POOL_HEADROOM))
        resolution = "Raised DB_POOL_MAX for the login surge (backend redeployed)"
        sim.wait(MOVE_MINUTES["raise_pool"])
    else:
        sim.chat()
        _post_opening(sim, "New section generations fail; the rest works", "within the hour")
        sim.restart("redis")
        resolution = "Restarted the Redis service; queued jobs resumed"
        sim.wait(2)
    sim.health()
    minutes = round(sim.minutes + MESSAGE_MINUTES + sc.lead_minutes())  # stamped when sent
    sim.post(f"[RESOLVED] {sc.title}\nDuration: {minutes} minutes\nRoot Cause: {sc.root_cause}\n"
             f"Resolution: {resolution}\nFollow-up: GitHub issue #101 for post-mortem")
    return sim


def _post_opening(sim: IncidentSim, impact: str, eta: str) -> None:
    sc = sim.scenario
    sim.post(f"[INCIDENT] {sc.title}\nSeverity: {sc.severity}\nStatus: Investigating\nImpact: {impact}\nETA: {eta}")


# -- a drill's score ---------------------------------------------------------------------------
def time_lost(sim: IncidentSim) -> pd.DataFrame:
    """One row per move of the drill: when, what, what the platform showed then, minutes lost."""
    rows = []
    end = outcome(sim.scenario, sim.moves)["recovered"]
    end_min = None if end is None else (end - sim.page).total_seconds() / 60
    for entry in sim.entries:
        if entry["kind"] != "move":
            continue
        lost = 0.0
        kind, at = entry["name"], entry["minute"]
        if kind == "wait":
            under_way = any(m.at <= at < m.live for m in sim.moves)
            if entry["seen_failing"] and not under_way and (end_min is None or at < end_min - 1):
                lost = float(entry["detail"].split()[0])
        else:  # a move that mattered: without it the platform would have recovered later, or not at all
            without = [m for m in sim.moves if not (m.kind == kind and m.at == at)]
            later = outcome(sim.scenario, without)["recovered"]
            mattered = end is not None and (later is None or later > end)
            lost = 0.0 if mattered else float(MOVE_MINUTES[kind])
        rows.append({"time": entry["time"], "minute": at, "move": kind, "detail": entry["detail"],
                     "seen_failing": entry["seen_failing"], "seen_error_rate": entry["seen_error_rate"],
                     "looked": entry["looked"], "minutes_lost": lost})
    return pd.DataFrame(rows, columns=["time", "minute", "move", "detail", "seen_failing", "seen_error_rate",
                                       "looked", "minutes_lost"])


@dataclass
class Score:
    """A drill beside the best path in the same world."""

    scenario: str
    severity_declared: str | None
    severity_expected: str
    duration_min: float | None
    best_duration_min: float
    sla: dict[str, bool]
    comms: list = field(default_factory=list)
    moves: pd.DataFrame | None = None

    @property
    def points(self) -> int:
        """One point per SLA result and per channel rule kept, one for the severity."""
        return (sum(self.sla.values()) + sum(f.ok for f in self.comms)
                + (self.severity_declared == self.severity_expected))

    @property
    def out_of(self) -> int:
        return len(self.sla) + len(self.comms) + 1


def score(saved) -> Score:
    """Score a saved drill (``IncidentSim.to_json()``), replayed in its own world."""
    sim = IncidentSim.replay(saved)
    name = sim.scenario.name
    expected = EXPECTED_SEVERITY[name]
    if not sim.closed:
        done = None
    else:
        done = sim.outcome()
    best = best_path(name, sim.variant).outcome()
    comms = incident_comms.check_comms(sim, severity=expected)
    by_rule = {f.rule: f.ok for f in comms}
    duration = None if done is None else done["duration_min"]
    sla = {"first response in time": by_rule.get("first [INCIDENT] message", False),
           "updates in time": by_rule.get("updates when due", False),
           "resolved within target": duration is not None and duration <= RESOLUTION_MINUTES[expected]}
    return Score(name, incident_comms.declared_severity(sim), expected, duration, best["duration_min"], sla, comms,
                 time_lost(sim))


# -- the post-mortem ---------------------------------------------------------------------------
SECTIONS = {"summary": r"summary", "timeline": r"timeline", "root cause": r"root cause|5 whys|five whys",
            "impact": r"impact", "what went well": r"went well", "what went wrong": r"went wrong|to improve",
            "action items": r"action", "metrics": r"metrics|mtta|mttr"}
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


def _table(text: str, heading: str) -> pd.DataFrame | None:
    """The first markdown table under the section whose heading matches ``heading``."""
    section = _section(text, heading)
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.strip().startswith("|")]
    rows = [[cell.strip() for cell in row] for row in rows if not all(re.fullmatch(r":?-{2,}:?", c.strip()) for c in row)]
    if len(rows) < 2:
        return None
    width = len(rows[0])
    return pd.DataFrame([row[:width] + [""] * (width - len(row)) for row in rows[1:]], columns=rows[0])


def _section(text: str, heading: str) -> str:
    parts = re.split(r"^(#{1,6} .*)$", text, flags=re.MULTILINE)
    for title, body in zip(parts[1::2], parts[2::2]):
        if re.search(heading, title, re.IGNORECASE):
            return body
    return ""


def _minutes(text: str, name: str) -> float | None:
    found = re.search(rf"\b{name}\b[^0-9\n]*(\d+(?:[.,]\d+)?)\s*(h|hours?|min|minutes?|m)?", text, re.IGNORECASE)
    if not found:
        return None
    value = float(found.group(1).replace(",", "."))
    return value * 60 if (found.group(2) or "").lower().startswith("h") else value


def check_postmortem(text, saved) -> list[str]:
    """Every problem of the post-mortem ``text`` against the saved drill (empty when none)."""
    if not isinstance(text, str) or not text.strip():
        return ["the post-mortem is empty"]
    sim = IncidentSim.replay(saved)
    problems = [f"the section '{name}' is missing (a heading such as '## {name.title()}')"
                for name, pattern in SECTIONS.items()
                if not re.search(rf"^#{{1,6}} .*(?:{pattern})", text, re.IGNORECASE | re.MULTILINE)]
    problems += _timeline_problems(text, sim)
    whys = re.findall(r"^\s*(?:\d+[.)]|[-*])\s*\**why\b", _section(text, SECTIONS["root cause"]), re.IGNORECASE | re.MULTILINE)
    if len(whys) < 5:
        problems.append(f"the root cause analysis has {len(whys)} Whys; the template asks for five")
    problems += _action_problems(text, sim)
    problems += _metric_problems(text, sim)
    return problems


def _timeline_problems(text: str, sim: IncidentSim) -> list[str]:
    table = _table(text, SECTIONS["timeline"])
    if table is None or table.shape[1] < 2:
        return ["the timeline is not a table with a time column and an event column"]
    time_col, event_col = table.columns[0], table.columns[1]
    local = "BRT" in time_col.upper()
    day = sim.page.tz_convert("America/Sao_Paulo") if local else sim.page
    problems, times, known = [], [], record_events(sim)
    for _, row in table.iterrows():
        clock = re.search(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", row[time_col])
        if not clock:
            problems.append(f"the timeline's time {row[time_col]!r} is not HH:MM")
            continue
        h, m, s = (int(x or 0) for x in clock.groups())
        when = day.normalize() + pd.Timedelta(hours=h, minutes=m, seconds=s)
        when = when.tz_convert("UTC")
        times.append(when)
        event = row[event_col].lower()
        kind = next((name for name, pattern in EVENTS if re.search(pattern, event)), None)
        if kind is None:
            continue
        candidates = known.get(kind, [])
        if not candidates:
            problems.append(f"the timeline says {row[event_col]!r} at {row[time_col]}, but the drill has no {kind}")
        elif min(abs((when - t).total_seconds()) for t in candidates) > TIME_SLACK_MIN * 60 + 59:
            said = ", ".join(t.tz_convert("America/Sao_Paulo" if local else "UTC").strftime("%H:%M") for t in candidates[:3])
            problems.append(f"the timeline puts {kind} ({row[event_col]!r}) at {row[time_col]}; the drill's record says {said}")
    if times and any(b < a for a, b in zip(times, times[1:])):
        problems.append("the timeline's rows are not in time order")
    if len(times) < 5:
        problems.append(f"the timeline has {len(times)} timed rows; the drill had more moments worth a row")
    return problems


def _action_problems(text: str, sim: IncidentSim) -> list[str]:
    table = _table(text, SECTIONS["action items"])
    if table is None:
        return ["the action items are not a table (Action | Owner | Due)"]
    cols = {c.lower(): c for c in table.columns}
    owner = next((cols[c] for c in cols if "owner" in c), None)
    due = next((cols[c] for c in cols if "due" in c or "date" in c), None)
    if owner is None or due is None:
        return ["the action items' table needs an Owner and a Due date column"]
    problems = []
    for _, row in table.iterrows():
        if not row[owner].strip() or re.search(r"tbd|<|\?", row[owner], re.IGNORECASE):
            problems.append(f"action {row.iloc[0]!r} has no owner")
        date = pd.to_datetime(row[due].strip(), errors="coerce", format="%Y-%m-%d")
        if pd.isna(date) or date.date() <= sim.page.date():
            problems.append(f"action {row.iloc[0]!r} needs a due date (YYYY-MM-DD) after the incident")
    if len(table) < 2:
        problems.append("one action item is not a follow-up: name at least two")
    return problems


def _metric_problems(text: str, sim: IncidentSim) -> list[str]:
    metrics = _section(text, SECTIONS["metrics"]) or text
    done = outcome(sim.scenario, sim.moves)
    lead = sim.scenario.lead_minutes()
    resolved = next((m for m, t in sim.posts if t.upper().startswith("[RESOLVED]")), None)
    ack = sim.acknowledged
    ends = [e for e in ((done["recovered"] - sim.page).total_seconds() / 60 if done["recovered"] is not None else None,
                        resolved) if e is not None]
    expect = {"MTTA": [ack, ack + lead] if ack is not None else [],
              "MTTR": [e + start for e in ends for start in (0, lead)]}
    problems = []
    for name, good in expect.items():
        said = _minutes(metrics, name)
        if said is None:
            problems.append(f"{name} is missing from the metrics")
        elif not any(abs(said - g) <= TIME_SLACK_MIN for g in good):
            problems.append(f"{name} says {said:g} min; the drill's record gives "
                            + " or ".join(f"{g:.0f}" for g in good) + " min")
    return problems
