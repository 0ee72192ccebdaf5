"""The #incidents channel on the clock: a drill's messages and calls checked against the rules.

Each check reads the trainee's own drill (``IncidentSim``): the messages as posted, stamped with the
simulated time, the calls made, and what the platform showed when each was made. The times are
the SLA's for the severity the first [INCIDENT] message declares (docs/SLA.md, the facts' §2):

- the first [INCIDENT] message within the first-response time from the page (P0 15 min, P1 1 h);
- an update at least every update interval until the [RESOLVED] message (P0 30 min, P1 1 h);
- escalation: the Tech Lead within the matrix's time (P0 +15 min, P1 +2 h) and, as soon as more
  than half of the requests fail, without waiting; the Incident Commander paged for a P0;
- the [RESOLVED] message in the guide's template, under the [INCIDENT] title, posted once the
  platform is healthy, its Duration what the drill's own clock says.

Which severity is right is the exercise's question: the first finding says whether the declared one
is, against a salted hash of the course's answer (``course.quiz.keys``, as a quiz's instant feedback
does), never the answer itself. Whichever severity the messages declare, the rest follows from it.
"""
from __future__ import annotations

from dataclasses import dataclass

from course import incident_template as template
from course.data.incident_sim import RESPONSE_MINUTES
from course.quiz.keys import digest

UPDATE_MINUTES = {"P0": 30, "P1": 60, "P2": 240}
TECH_LEAD_MINUTES = {"P0": 15, "P1": 120, "P2": 1440}   # the escalation matrix's first step
MANY_FAILING_PERCENT = 50     # "escalate immediately when more than 50% of users are affected"
IMMEDIATE_MINUTES = 10        # "immediately" on the drill's clock: a few looks and the channel first
DURATION_SLACK_MIN = 5        # a Duration may round to the nearest 5 minutes
# digest(f"{scenario}-severity", severity) of the course's severity for each scenario
SEVERITY_SEALS = {"login-500": "cb282fdc27743c5b4e141d6a1522023e", "redis-night": "be3053d820913beeb1febda98d1d9008"}


@dataclass
class Finding:
    """One rule and whether the drill kept it."""

    rule: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"[{'ok' if self.ok else 'NO'}] {self.rule}: {self.detail}"


def _tag(text: str) -> str:
    return text.lstrip().split(maxsplit=1)[0].upper() if text.strip() else ""


def _first(posts, tag):
    return next(((m, text) for m, text in posts if _tag(text).startswith(tag)), None)


def declared_severity(sim) -> str | None:
    """The severity the first [INCIDENT] message gives (None without one, or without a level)."""
    opened = _first(sim.posts, "[INCIDENT]")
    if not opened:
        return None
    level = template.check_incident(opened[1]).fields.get("Severity", "")[:2].upper()
    return level if level in RESPONSE_MINUTES else None


def check_comms(sim, severity: str | None = None) -> list[Finding]:
    """Every rule above, in order, for the drill ``sim`` (finished or not), timed by the severity the
    messages declare, or by ``severity`` when given."""
    severity = severity or declared_severity(sim)
    return [_severity(sim), _first_message(sim, severity), _updates(sim, severity), *_escalation(sim, severity),
            _resolved(sim)]


def _severity(sim) -> Finding:
    rule = "severity by the course's rule"
    declared = declared_severity(sim)
    if declared is None:
        return Finding(rule, False, "no [INCIDENT] message with a severity yet")
    right = digest(f"{sim.scenario.name}-severity", declared) == SEVERITY_SEALS[sim.scenario.name]
    return Finding(rule, right, f"{declared} " + ("is the level the guide's rule gives" if right else
                                                  "is not the level the guide's rule gives: weigh the sources again"))


def _first_message(sim, severity) -> Finding:
    rule = "first [INCIDENT] message"
    opened = _first(sim.posts, "[INCIDENT]")
    if opened is None:
        return Finding(rule, False, "no [INCIDENT] message was posted")
    report = template.check_incident(opened[1])
    if not report.ok or severity is None:
        return Finding(rule, False, f"posted at minute {opened[0]:g} but not in the template: "
                                    + "; ".join(report.problems or ["no severity"]))
    due = RESPONSE_MINUTES[severity]
    late = opened[0] > due
    return Finding(rule, not late, f"posted {opened[0]:g} min after the page; a {severity} needs it within {due} min")


def _updates(sim, severity) -> Finding:
    rule = "updates when due"
    opened = _first(sim.posts, "[INCIDENT]")
    if opened is None or severity not in UPDATE_MINUTES:
        return Finding(rule, False, "no [INCIDENT] message with a severity to time the updates from")
    closed = _first(sim.posts, "[RESOLVED]")
    end = closed[0] if closed else sim.minutes
    stamps = [m for m, _ in sim.posts if opened[0] <= m <= end]
    gaps = [b - a for a, b in zip(stamps, stamps[1:] + ([] if closed else [end]))]
    every = UPDATE_MINUTES[severity]
    longest = max(gaps, default=0.0)
    if longest > every:
        return Finding(rule, False, f"{longest:g} min passed without a message; a {severity} gets one every {every} min")
    bad = [text.splitlines()[0] for m, text in sim.posts[1:] if _tag(text) == "[INCIDENT]"
           and opened[0] < m and not template.check_incident(text).ok]
    if bad:
        return Finding(rule, False, f"an update is not in the [INCIDENT] template: {bad[0]!r}")
    return Finding(rule, True, f"no gap longer than {every} min between messages")


def _escalation(sim, severity) -> list[Finding]:
    calls = sim.calls
    findings = []
    first_call = min((m for m, who in calls if who != "Incident Commander"), default=None)
    looks = sim.record[sim.record["kind"] == "look"]
    alarming = looks[looks["seen_error_rate"] > MANY_FAILING_PERCENT]
    if len(alarming):
        seen = float(alarming["minute"].iloc[0])
        due = seen + IMMEDIATE_MINUTES
        ok = first_call is not None and first_call <= due
        findings.append(Finding("escalate when most users are hit", ok,
                                f"over {MANY_FAILING_PERCENT}% of requests failing was on screen at minute {seen:g}; "
                                + (f"escalated at minute {first_call:g}" if first_call is not None else "never escalated")))
    if severity in TECH_LEAD_MINUTES:
        due = TECH_LEAD_MINUTES[severity]
        lead = min((m for m, who in calls if who == "Tech Lead"), default=None)
        closed = _first(sim.posts, "[RESOLVED]")
        needed = not (closed and closed[0] <= due)
        ok = not needed or (lead is not None and lead <= due)
        findings.append(Finding("Tech Lead per the escalation matrix", ok,
                                f"a {severity} calls the Tech Lead within {due} min; "
                                + (f"called at minute {lead:g}" if lead is not None else "not called")))
    if severity == "P0":
        ic = min((m for m, who in calls if who == "Incident Commander"), default=None)
        findings.append(Finding("Incident Commander for a P0", ic is not None,
                                f"paged at minute {ic:g}" if ic is not None else "never paged"))
    return findings


def _resolved(sim) -> Finding:
    rule = "[RESOLVED] message"
    closed = _first(sim.posts, "[RESOLVED]")
    opened = _first(sim.posts, "[INCIDENT]")
    if closed is None:
        return Finding(rule, False, "no [RESOLVED] message: the incident is still open")
    reports = template.check_pair(opened[1], closed[1]) if opened else [template.check_resolved(closed[1])]
    problems = list(reports[-1].problems)
    entry = sim.record[(sim.record["kind"] == "message") & (sim.record["minute"] == closed[0])].iloc[-1]
    if entry["seen_failing"]:
        problems.append(f"it was posted at minute {closed[0]:g} while the platform still failed")
    said = template.duration_minutes(reports[-1].fields.get("Duration", ""))
    if said is not None:
        since_start = closed[0] + sim.scenario.lead_minutes()
        if abs(said - since_start) > DURATION_SLACK_MIN and abs(said - closed[0]) > DURATION_SLACK_MIN:
            problems.append(f"Duration says {said:g} min; the drill's clock says {since_start:.0f} min from the first "
                            f"failure ({closed[0]:g} from the page)")
    if problems:
        return Finding(rule, False, "; ".join(problems))
    return Finding(rule, True, f"posted at minute {closed[0]:g}, in the template, its Duration matches the clock")
