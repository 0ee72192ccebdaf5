"""The training guide's two #incidents messages, checked field by field.

    [INCIDENT] Authentication system unavailable      [RESOLVED] Authentication system unavailable
    Severity: P0                                      Duration: 25 minutes
    Status: Investigating                             Root Cause: Database connection pool exhausted
    Impact: All users unable to login                 Resolution: Restarted backend service
    ETA: Assessing                                    Follow-up: GitHub issue #123 for post-mortem

A message is its tag and title on the first line, then one ``Field: value`` per line. The team's
channel writes the same fields on one line, separated by `` | ``; both layouts are read. An incident
id after the tag (``[INCIDENT] INC-2026-10-14-01: title``) is allowed.

The usual ways of writing a field pass: an ETA as a time, a duration, a range ("30-60 min",
"1-2 hours"), "within the hour", or no estimate yet ("Assessing", "TBD"); a Status such as
"Investigating", "Identified", "Mitigating" or "Monitoring". ``duration_minutes`` reads a Duration.

``check_incident(text)`` and ``check_resolved(text)`` return a ``TemplateReport``: the fields found
and one line per problem, saying precisely what is missing or wrong. ``check_pair`` also checks
that both messages name the same incident. The form is checked here; whether the words are good
(the impact a user would recognise, a root cause that explains) is for a human reader.

Trainee side: plain Python, imported by the trainee's kernel and by the grader alike.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

INCIDENT, RESOLVED = "[INCIDENT]", "[RESOLVED]"
# The guide's fields, as written in its templates, in their order.
FIELDS = {INCIDENT: ("Severity", "Status", "Impact", "ETA"),
          RESOLVED: ("Duration", "Root Cause", "Resolution", "Follow-up")}
KNOWN = {name for names in FIELDS.values() for name in names}
SEVERITIES = ("P0", "P1", "P2", "P3")
# What an incident that is not over yet can say it is doing (the guide starts with Investigating;
# the team's channel moves on to Identified, Mitigating and Monitoring). Resolved belongs in [RESOLVED].
OPEN_STATUSES = ("Investigating", "Identified", "Mitigating", "Fixing", "Recovering", "Monitoring")
STATUS_FORMS = {"mitigation": "Mitigating", "mitigation in progress": "Mitigating", "fix in progress": "Fixing",
                "identified": "Identified", "root cause identified": "Identified", "cause identified": "Identified"}
# "ETA: Assessing" (the guide), "unknown" (the channel), "TBD" and the like: no estimate yet, said so.
ETA_WORDS = ("assessing", "unknown", "tbd", "tba", "to be determined", "not yet known")
MIN_WORDS = {"Impact": 3, "Root Cause": 3, "Resolution": 2, "Follow-up": 2}
PLACEHOLDER = re.compile(r"<[^<>]*>|_{3,}|\bX{3,}\b|\.\.\.|…|\bTBD\b|\blorem\b", re.IGNORECASE)
UNIT = r"(?:d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)"
DURATION = re.compile(rf"^(?:about |~)?\d+(?:[.,]\d+)?\s*{UNIT}(?:,?\s*(?:and\s+)?\d+(?:[.,]\d+)?\s*{UNIT})*(?:\s*\(.*\))?$",
                      re.IGNORECASE)
# An estimate is often a range or a bound: "30-60 min", "1 to 2 hours", "within the hour", "< 1 h".
ETA_SPAN = re.compile(rf"^(?:about |~|in |within |under |less than |<\s*)?(?:\d+(?:[.,]\d+)?\s*{UNIT}?\s*(?:-|–|to)\s*)?"
                      rf"\d+(?:[.,]\d+)?\s*{UNIT}(?:\s*\(.*\))?$|^(?:within|in|under|less than) (?:the|an|one) hour$",
                      re.IGNORECASE)
CLOCK = re.compile(r"^(?:by |at |around |~)?([01]?\d|2[0-3])[:h]([0-5]\d)(?:\s*(?:BRT|UTC|GMT-3|-03:?00))?(?:\s*\(.*\))?$",
                   re.IGNORECASE)
INCIDENT_ID = re.compile(r"^INC-\d{4}-\d{2}-\d{2}-\d{2}\s*:\s*")


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


_BY_KEY = {_key(name): name for name in KNOWN}


@dataclass
class TemplateReport:
    """What one message holds, and what is wrong with it (``ok`` when nothing is)."""

    tag: str
    title: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"{self.tag} message: every field is there and well formed."
        return f"{self.tag} message:\n" + "\n".join(f"  - {problem}" for problem in self.problems)


class TemplateError(AssertionError):
    """A message does not follow the template (its message lists every problem on one line)."""


def _segments(text: str) -> list[str]:
    parts = []
    for line in text.strip().splitlines():
        parts += [part.strip() for part in line.split(" | ")]
    return [part for part in parts if part]


def _placeholder(value: str) -> str | None:
    found = PLACEHOLDER.search(value)
    return found.group(0) if found else None


def _eta_words(value: str) -> bool:
    """An ETA that says there is no estimate yet ("Assessing", "TBD, next update in 30 min")."""
    head = re.split(r"[,;(]| - ", value, maxsplit=1)[0].strip(" .").lower()
    if head in ETA_WORDS:
        return not _placeholder(value[len(head):])
    first, _, rest = value.partition(" ")
    return first.strip(" .,;:").lower() in ETA_WORDS and not _placeholder(rest)


def _status_ok(value: str) -> bool:
    head = re.split(r"[,;(]| - ", value, maxsplit=1)[0].strip(" .").lower()
    return head.split()[0].capitalize() in OPEN_STATUSES or head in STATUS_FORMS


def _check_value(name: str, value: str, problems: list[str]) -> None:
    if not value:
        problems.append(f"{name} is empty")
        return
    if name == "ETA" and _eta_words(value):
        return
    mark = _placeholder(value)
    if mark:
        problems.append(f"{name} still holds the template's placeholder {mark!r}: write the real value")
        return
    if name == "Severity":
        if not re.fullmatch(r"P[0-3]\b.*", value):
            problems.append(f"Severity {value!r} is not a level: write P0, P1, P2 or P3")
    elif name == "Status":
        if not _status_ok(value):
            hint = " (a resolved incident gets a [RESOLVED] message)" if value.lower().startswith("resolved") else ""
            problems.append(f"Status {value!r} is not one of {', '.join(OPEN_STATUSES)}{hint}")
    elif name == "ETA":
        if not (CLOCK.match(value) or DURATION.match(value) or ETA_SPAN.match(value)):
            problems.append(f"ETA {value!r} is neither a time (01:30 BRT), a duration (30 min, 30-60 min, "
                            "within the hour) nor 'Assessing'/'TBD'")
    elif name == "Duration":
        if not DURATION.match(value):
            problems.append(f"Duration {value!r} is not a duration such as '25 minutes' or '1 h 48 min'")
    elif len(value.split()) < MIN_WORDS.get(name, 1):
        problems.append(f"{name} {value!r} is too short: at least {MIN_WORDS[name]} words")


_MINUTES_PER = {"d": 1440, "h": 60, "m": 1, "s": 1 / 60}


def duration_minutes(value: str) -> float | None:
    """The minutes a Duration field says ("25 minutes", "1 h 48 min", "about 2 hours"); None when it
    is not a duration."""
    if not isinstance(value, str) or not DURATION.match(value.strip()):
        return None
    text = re.sub(r"\(.*\)", "", value)
    parts = re.findall(rf"(\d+(?:[.,]\d+)?)\s*({UNIT})(?![a-z])", text, re.IGNORECASE)
    return sum(float(n.replace(",", ".")) * _MINUTES_PER[unit[0].lower()] for n, unit in parts)


def check_message(text, tag: str) -> TemplateReport:
    """Check ``text`` as a ``tag`` message (``INCIDENT`` or ``RESOLVED``, brackets optional)."""
    tag = f"[{tag.strip('[]').upper()}]"
    if tag not in FIELDS:
        raise ValueError(f"tag must be {INCIDENT} or {RESOLVED}, not {tag}")
    report = TemplateReport(tag)
    if not isinstance(text, str):
        report.problems.append(f"the message must be text (a str), not {type(text).__name__}")
        return report
    segments = _segments(text)
    if not segments:
        report.problems.append("the message is empty")
        return report
    head, rest = segments[0], segments[1:]
    if not head.startswith(tag):
        other = RESOLVED if tag == INCIDENT else INCIDENT
        said = f"it starts with {other}" if head.startswith(other) else f"it starts with {head[:30]!r}"
        report.problems.append(f"the first line must start with {tag} and the title; {said}")
    else:
        report.title = INCIDENT_ID.sub("", head[len(tag):].strip()).strip()
        mark = _placeholder(report.title)
        if mark:
            report.problems.append(f"the title still holds the template's placeholder {mark!r}")
        elif len(report.title.split()) < 2:
            report.problems.append("the title is missing or too short: say what is broken in a few words")
    for segment in rest:
        name, colon, value = segment.partition(":")
        canonical = _BY_KEY.get(_key(name)) if colon else None
        if canonical is None:
            guess = difflib.get_close_matches(name.strip(), sorted(KNOWN), n=1, cutoff=0.6)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            what = f"field {name.strip()!r}" if colon else f"line {segment[:40]!r}"
            report.problems.append(f"{what} is not one of the template's fields{hint}: "
                                   + ", ".join(FIELDS[tag]))
            continue
        if canonical in report.fields:
            report.problems.append(f"{canonical} is given twice")
            continue
        report.fields[canonical] = value.strip()
    for name in FIELDS[tag]:
        if name not in report.fields:
            report.problems.append(f"{name} is missing: add a line '{name}: ...'")
        else:
            _check_value(name, report.fields[name], report.problems)
    return report


def check_incident(text) -> TemplateReport:
    """The guide's [INCIDENT] message: title, Severity, Status, Impact, ETA."""
    return check_message(text, INCIDENT)


def check_resolved(text) -> TemplateReport:
    """The guide's [RESOLVED] message: title, Duration, Root Cause, Resolution, Follow-up."""
    return check_message(text, RESOLVED)


def check_pair(incident_text, resolved_text) -> list[TemplateReport]:
    """Both messages of one incident; the second report also says when the titles differ."""
    opened, closed = check_incident(incident_text), check_resolved(resolved_text)
    if opened.title and closed.title and opened.title.casefold() != closed.title.casefold():
        closed.problems.append(f"its title {closed.title!r} is not the [INCIDENT] title {opened.title!r}: "
                               "readers match the two messages by it")
    return [opened, closed]


def assert_valid(*reports: TemplateReport) -> None:
    """Raise ``TemplateError`` listing every problem of ``reports`` (nothing when all are fine)."""
    problems = [f"{report.tag} {problem}" for report in reports for problem in report.problems]
    if problems:
        raise TemplateError("; ".join(problems))
