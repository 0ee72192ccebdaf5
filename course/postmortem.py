"""A post-mortem's form, after the repository's template (``post-mortem.md``), in Markdown.

    # Post-mortem: <title>
    ## Summary                       what happened, in two or three sentences
    ## Timeline                      | Time (UTC) | Event |   one row per moment, in time order
                                     (times HH:MM, or T+minutes from the page: T-1, T+6.5)
    ## Root cause analysis (5 Whys)  1. Why ...? Because ...   five of them
    ## Impact                        users, SLOs, the business
    ## What went well / ## What went wrong
    ## Action items                  | Action | Owner | Due |   due dates as YYYY-MM-DD
    ## Metrics                       MTTA, MTTR and time to communicate, in minutes

``written(grade_id, notebook)`` reads a written answer (a Markdown cell) as last saved, so that a
check can read the post-mortem the trainee writes in Markdown; when grading, the grader hands the
submitted cell's text instead. ``form_problems(text)`` names every part that is missing or malformed. Whether the timeline and the
figures are true to the incident is checked against the drill's record by the grader; whether the
analysis is good is the trainer's call.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

TEMPLATE = """# Post-mortem: <title>
**Severity:** <P0/P1/P2/P3> · **Duration:** <minutes>

## Summary
<what happened, what users saw, how it ended>

## Timeline
| Time (UTC) | Event |
|---|---|
| <HH:MM> | <event> |

## Root cause analysis (5 Whys)
1. Why <...>? Because <...>.

## Impact
<users, SLOs, business>

## What went well
<...>

## What went wrong
<...>

## Action items
| Action | Owner | Due |
|---|---|---|
| <action> | <name> | <YYYY-MM-DD> |

## Metrics
- MTTA: <minutes> min
- MTTR: <minutes> min
- Time to communicate: <minutes> min
"""
SECTIONS = {"summary": r"summary", "timeline": r"timeline", "root cause": r"root cause|5 whys|five whys",
            "impact": r"impact", "what went well": r"went well", "what went wrong": r"went wrong|to improve",
            "action items": r"action", "metrics": r"metrics|mtta|mttr"}
METRICS = ("MTTA", "MTTR")
WHYS = 5
MIN_TIMELINE_ROWS = 5
PLACEHOLDER = re.compile(r"<[^<>]*>")


class NotWritten(NameError):
    """The written answer is not there yet (or the notebook was not saved since it was written)."""


def written(grade_id: str, notebook: str) -> str:
    """The text of the Markdown answer cell ``grade_id`` in ``notebook`` (beside the kernel), as saved."""
    path = Path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as err:
        raise NotWritten(f"{notebook} could not be read beside this kernel ({type(err).__name__})") from None
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if not text.strip() or text.strip() == "YOUR ANSWER HERE":
                raise NotWritten(f"{grade_id} is not written yet (save the notebook, Ctrl+S, after writing it)")
            return text
    raise NotWritten(f"{notebook} has no cell {grade_id}")


def section(text: str, heading: str) -> str:
    """The body of the first section whose heading matches the pattern ``heading``."""
    parts = re.split(r"^(#{1,6} .*)$", text, flags=re.MULTILINE)
    for title, body in zip(parts[1::2], parts[2::2]):
        if re.search(heading, title, re.IGNORECASE):
            return body
    return ""


def table(text: str, heading: str) -> pd.DataFrame | None:
    """The first Markdown table of a section, as text cells (None without one)."""
    rows = [line.strip().strip("|").split("|") for line in section(text, heading).splitlines()
            if line.strip().startswith("|")]
    rows = [[cell.strip() for cell in row] for row in rows
            if not all(re.fullmatch(r":?-{2,}:?", cell.strip()) for cell in row)]
    if len(rows) < 2:
        return None
    width = len(rows[0])
    return pd.DataFrame([row[:width] + [""] * (width - len(row)) for row in rows[1:]], columns=rows[0])


def minutes_of(text: str, name: str) -> float | None:
    """The minutes a line such as ``- MTTR: 14 min`` gives ``name`` (hours converted)."""
    found = re.search(rf"\b{name}\b[^0-9\n]*(\d+(?:[.,]\d+)?)\s*(h|hours?|min|minutes?|m)?", text, re.IGNORECASE)
    if not found:
        return None
    value = float(found.group(1).replace(",", "."))
    return value * 60 if (found.group(2) or "").lower().startswith("h") else value


def timeline_clock(value: str) -> tuple[int, int, int] | None:
    """(hours, minutes, seconds) of a timeline cell such as ``09:14`` or ``09:14:30 BRT``."""
    found = re.search(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?\b", value)
    if not found or int(found.group(1)) > 23 or timeline_offset(value) is not None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)


def timeline_offset(value: str) -> float | None:
    """Minutes from the page of a cell written relative to it: ``T+6.5``, ``T+12 min``, ``T-1``."""
    found = re.fullmatch(r"\s*T\s*([+-−])\s*(\d+(?:[.,]\d+)?)\s*(?:min|m)?\s*", value, re.IGNORECASE)
    if not found:
        return None
    minutes = float(found.group(2).replace(",", "."))
    return -minutes if found.group(1) in "-−" else minutes


def timeline_minutes(value: str) -> float | None:
    """A timeline cell as a sortable number: minutes of the day, or minutes from the page."""
    offset = timeline_offset(value)
    if offset is not None:
        return offset
    clock = timeline_clock(value)
    return None if clock is None else clock[0] * 60 + clock[1] + clock[2] / 60


def form_problems(text) -> list[str]:
    """Every part of the template that ``text`` lacks or fills wrongly (empty when the form is whole)."""
    if not isinstance(text, str) or not text.strip():
        return ["the post-mortem is empty"]
    problems = [f"the section '{name}' is missing (a heading such as '## {name.title()}')"
                for name, pattern in SECTIONS.items()
                if not re.search(rf"^#{{1,6}} .*(?:{pattern})", text, re.IGNORECASE | re.MULTILINE)]
    left = sorted(set(PLACEHOLDER.findall(text)))
    if left:
        problems.append(f"the template's placeholders are still there: {', '.join(left[:3])}")
    problems += _timeline_form(text)
    whys = re.findall(r"^\s*(?:\d+[.)]|[-*])\s*\**why\b", section(text, SECTIONS["root cause"]),
                      re.IGNORECASE | re.MULTILINE)
    if len(whys) < WHYS:
        problems.append(f"the root cause analysis has {len(whys)} Whys; the template asks for {WHYS}")
    problems += _actions_form(text)
    body = section(text, SECTIONS["metrics"]) or text
    problems += [f"{name} is missing from the metrics (a line '- {name}: 12 min')" for name in METRICS
                 if minutes_of(body, name) is None]
    return problems


def _timeline_form(text: str) -> list[str]:
    rows = table(text, SECTIONS["timeline"])
    if rows is None or rows.shape[1] < 2:
        return ["the timeline is not a table with a time column and an event column"]
    problems = [f"the timeline's time {value!r} is neither HH:MM nor T+minutes from the page"
                for value in rows.iloc[:, 0] if timeline_minutes(value) is None]
    clocks = [timeline_minutes(value) for value in rows.iloc[:, 0] if timeline_minutes(value) is not None]
    if any(b < a for a, b in zip(clocks, clocks[1:])):
        problems.append("the timeline's rows are not in time order")
    if len(clocks) < MIN_TIMELINE_ROWS:
        problems.append(f"the timeline has {len(clocks)} timed rows; an incident has at least {MIN_TIMELINE_ROWS} "
                        "moments worth a row (failure, page, first message, the fix, recovery...)")
    return problems


def _actions_form(text: str) -> list[str]:
    rows = table(text, SECTIONS["action items"])
    if rows is None:
        return ["the action items are not a table (Action | Owner | Due)"]
    columns = {c.lower(): c for c in rows.columns}
    owner = next((columns[c] for c in columns if "owner" in c), None)
    due = next((columns[c] for c in columns if "due" in c or "date" in c), None)
    if owner is None or due is None:
        return ["the action items' table needs an Owner and a Due column"]
    problems = []
    for _, row in rows.iterrows():
        if not row[owner].strip() or re.search(r"\btbd\b|[<?]", row[owner], re.IGNORECASE):
            problems.append(f"action {row.iloc[0]!r} has no owner")
        if pd.isna(pd.to_datetime(row[due].strip(), errors="coerce", format="%Y-%m-%d")):
            problems.append(f"action {row.iloc[0]!r} needs a due date as YYYY-MM-DD")
    if len(rows) < 2:
        problems.append("one action item is not a follow-up: name at least two")
    return problems
