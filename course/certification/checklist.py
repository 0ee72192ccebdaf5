"""The certification checklist: its items, the rule that proposes each one, and its rendering."""
from __future__ import annotations


import fnmatch
import html
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

NOTEBOOK = Path(__file__).with_name("m7_certification.ipynb")
FOLDER = "m7_certification"  # where the notebook goes in a workspace, beside the module folders
CHECKLIST_STEM = "certification_checklist"

MET, NOT_MET, REVIEW, NOT_STARTED = "met", "not met", "needs review", "not started"
STATUSES = (MET, NOT_MET, REVIEW, NOT_STARTED)
APPROVED, NEEDS_REVIEW = "Approved", "Needs Review"
KNOWLEDGE, PRACTICAL, ACCESS = "Knowledge verification", "Practical skills", "Access verification"
THRESHOLD = 0.8            # knowledge: the share of a module's points to reach
PRACTICAL_THRESHOLD = 0.8  # practical: the share of an exercise's points to reach
CERTIFIED, READY, NOT_YET = "certified", "ready for sign-off", "not yet"
RESULTS = (CERTIFIED, READY, NOT_YET)
OFFICIAL = ("This is not the official result: your trainer certifies you from the gradebook, "
            "where every answer is graded and every access is confirmed.")


@dataclass(frozen=True)
class Item:
    """One line of the guide's checklist."""

    id: str
    group: str
    text: str
    module: int | None = None
    exercise: str | None = None


ITEMS: tuple[Item, ...] = (
    Item("knowledge-1", KNOWLEDGE, "Explains the ETP Express architecture (Module 1)", module=1),
    Item("knowledge-2", KNOWLEDGE, "Classifies incidents by severity, P0 to P3 (Module 2)", module=2),
    Item("knowledge-3", KNOWLEDGE, "Finds their way in Sentry and the Railway dashboards (Module 3)", module=3),
    Item("knowledge-4", KNOWLEDGE, "Understands the secret rotation procedure (Module 4)", module=4),
    Item("knowledge-5", KNOWLEDGE, "Diagnoses common errors from the logs (Module 5)", module=5),
    Item("knowledge-6", KNOWLEDGE, "Knows the incident response flow (Module 6)", module=6),
    Item("exercise-1.1", PRACTICAL, "Exercise 1.1, infrastructure exploration", module=1, exercise="1.1"),
    Item("exercise-2.1", PRACTICAL, "Exercise 2.1, incident classification", module=2, exercise="2.1"),
    Item("exercise-3.1", PRACTICAL, "Exercise 3.1, Sentry navigation", module=3, exercise="3.1"),
    Item("exercise-3.2", PRACTICAL, "Exercise 3.2, Railway metrics", module=3, exercise="3.2"),
    Item("exercise-5.1", PRACTICAL, "Exercise 5.1, log analysis", module=5, exercise="5.1"),
    Item("exercise-6.1", PRACTICAL, "Exercise 6.1, incident simulation", module=6, exercise="6.1"),
    Item("access-railway", ACCESS, "Access to the Railway dashboard (project etp-express)"),
    Item("access-sentry", ACCESS, "Access to the Sentry dashboard"),
    Item("access-github", ACCESS, "Access to the GitHub repository CONFENGE/etp-express"),
    Item("access-discord", ACCESS, "Access to the Discord ops channel"),
)
ACCESS_ITEMS = tuple(item.id for item in ITEMS if item.group == ACCESS)


# -- which cells make an exercise: the guide's steps, mapped -------------------------------------------
@dataclass(frozen=True)
class GuideStep:
    """One step or validation question of a guide exercise, and the grade ids that assess it
    (none: the course does not practise it yet, ``note`` says so)."""

    exercise: str
    step: str
    cells: tuple[str, ...] = ()
    note: str = ""


# The table of docs/certification.md, "Which cells make each exercise" (tests/test_certification.py
# checks that the two agree and that every id exists in source/). A cell may assess several steps.
GUIDE_STEPS: tuple[GuideStep, ...] = (
    GuideStep("1.1", "Step 1: Access Railway Dashboard", ("m1-services-test",),
              "the project's configuration export stands in for the dashboard"),
    GuideStep("1.1", "Step 2: Identify the 4 main services", ("m1-services-test", "m1-health-per-service")),
    GuideStep("1.1", "Step 3: Check the environment variables configured (do NOT copy values)",
              ("m1-variables-test", "m1-password-rotation")),
    GuideStep("1.1", "Step 4: View recent deployment logs", (),
              "practised without points in 5a: the history of deployments says which build's log to open"),
    GuideStep("1.1", "Question: What is the maximum number of PostgreSQL connections?",
              ("m1-pool-max", "m1-pool-total")),
    GuideStep("1.1", "Question: What is the purpose of BullMQ in the system?", ("m1-bullmq-purpose",)),
    GuideStep("1.1", "Question: Which external APIs does the backend integrate with?", ("m1-external-apis",)),
    GuideStep("2.1", 'Scenario 1: "Users cannot login - all authentication attempts fail": severity, justification',
              ("m2-ex21-login", "m2-ex21-login-why")),
    GuideStep("2.1", 'Scenario 2: "PDF export takes 30 seconds instead of 5 seconds": severity, justification',
              ("m2-ex21-pdf", "m2-ex21-pdf-why")),
    GuideStep("2.1", 'Scenario 3: "Help text has a typo": severity, justification',
              ("m2-ex21-typo", "m2-ex21-typo-why")),
    GuideStep("2.1", 'Scenario 4: "Database connection pool exhausted - 500 errors on all requests": '
              "severity, justification", ("m2-ex21-pool", "m2-ex21-pool-why")),
    GuideStep("3.1", "Step 1: Access Sentry Dashboard", ("m3-events-test",),
              "the events export stands in for the dashboard"),
    GuideStep("3.1", "Step 2: Filter errors by environment: production",
              ("m3-top-errors-test", "m3-staging-issue", "m3-environment-variable")),
    GuideStep("3.1", "Step 3: Identify the top 3 most frequent errors", ("m3-top-errors-test", "m3-week-top-events")),
    GuideStep("3.1", "Step 4: View error details and stack trace", ("m3-ticket-test",),
              "an event's context and its stack frames (where the error was raised)"),
    GuideStep("3.1", "Question: How do you filter errors by time range?", ("m3-top-errors-test", "m3-week-top-events")),
    GuideStep("3.1", 'Question: How do you mark an error as "resolved"?', ("m3-regression",)),
    GuideStep("3.1", "Question: What information is captured in the error context?", ("m3-ticket-test", "m3-never-sent")),
    GuideStep("3.2", "Step 1: Access Railway Dashboard", ("m3-metrics-test",),
              "the metrics export stands in for the dashboard"),
    GuideStep("3.2", "Step 2: View CPU and Memory usage for the last 24h", ("m3-metrics-test",)),
    GuideStep("3.2", "Step 3: Check recent deployment history", ("m3-deploys-test",)),
    GuideStep("3.2", "Step 4: View environment variables (names only)", (),
              "not practised in Module 3; Module 1's m1-variables-test practises it (Exercise 1.1, step 3)"),
    GuideStep("3.2", "Question: What is the current memory usage of the backend service?", ("m3-memory-now",)),
    GuideStep("3.2", "Question: How many deployments occurred in the last 7 days?", ("m3-deploys-test",)),
    GuideStep("3.2", "Question: How do you trigger a manual redeploy?", ("m3-redeploy",)),
    GuideStep("5.1", "The log excerpt: analyse it and identify the problem",
              ("m5-parse-bracketed-test", "m5-first-failure-test", "m5-top-classes-test")),
    GuideStep("5.1", "Question 1: What is the probable cause?", ("m5-ex51-cause", "m5-diagnosis")),
    GuideStep("5.1", "Question 2: What is the immediate action?", ("m5-ex51-immediate", "m5-diagnosis")),
    GuideStep("5.1", "Question 3: What is the long-term fix?", ("m5-ex51-longterm", "m5-diagnosis")),
    GuideStep("6.1", "Step 1: Triage (Sentry, Railway backend logs, database connectivity)", ("m6-sim-drill-test",),
              "the simulated platform's views as of now: health, logs, metrics, Sentry"),
    GuideStep("6.1", "Step 2: Classification: severity", ("m6-sim-drill-test",)),
    GuideStep("6.1", "Step 2: Classification: response time", ("m6-sim-drill-test",),
              "the first [INCIDENT] message within the declared severity's response time"),
    GuideStep("6.1", "Step 3: Communication: the [INCIDENT] message for #incidents", ("m6-sim-drill-test",)),
    GuideStep("6.1", "Step 4: Resolution: identify root cause", ("m6-sim-drill-test", "m6-sim-postmortem")),
    GuideStep("6.1", "Step 4: Resolution: apply fix", ("m6-sim-drill-test",)),
    GuideStep("6.1", "Step 4: Resolution: verify resolution", ("m6-sim-drill-test",)),
    GuideStep("6.1", "Step 4: Resolution: communicate resolution", ("m6-sim-drill-test",)),
    GuideStep("6.1", "Step 5: Post-Incident: create GitHub issue for tracking", ("m6-ex61-follow-up",)),
    GuideStep("6.1", "Step 5: Post-Incident: schedule post-mortem (for P0/P1)",
              ("m6-ex61-postmortem", "m6-sim-postmortem")),
    GuideStep("6.1", "Step 5: Post-Incident: document lessons learned", ("m6-sim-postmortem", "m6-sim-postmortem-test")),
)

# Graded cells in an exercise's part of a module that assess none of the guide's steps: left out
# on purpose (they still count in the module's knowledge item). {grade id: (exercise, why)}.
EXCLUDED: dict[str, tuple[str, str]] = {
    **{cell: ("1.1", "a month of health checks (5c to 5e): the course's addition, beyond the guide's steps")
       for cell in ("m1-checks-test", "m1-why-test", "m1-ready-endpoint", "m1-failed-with-200", "m1-spells-test",
                    "m1-longest-spell")},
    "m1-redis-down": ("1.1", "a written what-if (Redis goes down), beyond the guide's steps"),
    **{cell: ("3.2", "which alert rules fire (3b): alerting, beyond the guide's steps of Exercise 3.2")
       for cell in ("m3-alerts-test", "m3-noisy-rule", "m3-sla-cpu", "m3-leak-warning", "m3-latency-policy")},
    "m3-deploy-links": ("3.2", "ties deployments to Sentry events, beyond step 3's history"),
    "m5-container-starts": ("5.1", "the container's plain-text lines, beyond the guide's excerpt"),
    **{cell: ("5.1", "the course's wider day (4b, 4d, 4e), beyond the guide's excerpt")
       for cell in ("m5-per-minute-test", "m5-trail-test", "m5-latency-test", "m5-five-seconds")},
    "m5-breaker-reset": ("5.1", "the afternoon's other incident (4f), beyond the guide's excerpt"),
    "m6-phases": ("6.1", "the order of the guide's phases: a knowledge question"),
}


def _exercise_map(steps: Iterable[GuideStep]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for step in steps:
        cells = found.setdefault(step.exercise, [])
        cells.extend(cell for cell in step.cells if cell not in cells)
    return found


# {exercise: [grade ids]}: the default of ``c.Certification.exercises``.
EXERCISES: dict[str, list[str]] = _exercise_map(GUIDE_STEPS)

EXERCISE = re.compile(r"\bExercise (\d+\.\d+)\b")
OPTIONAL = re.compile(r"\boptional\b", re.I)


def module_number(assignment: str) -> int | None:
    """1 for 'm1_architecture': the module an assignment is, by its id."""
    found = re.match(r"^m(\d+)_", assignment)
    return int(found.group(1)) if found else None


def _text(cell: Mapping) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def sections(notebook: Mapping) -> Iterable[tuple[Mapping, list[str]]]:
    """Each cell of a parsed .ipynb with the headings of the sections it sits in, outermost first
    (a heading cell is in its own section)."""
    path: list[tuple[int, str]] = []  # (level, heading)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _text(cell).splitlines():
                heading = re.match(r"^(#{1,6})\s+(.*)$", line)
                if heading:
                    level = len(heading.group(1))
                    path = [(lvl, text) for lvl, text in path if lvl < level] + [(level, heading.group(2))]
        yield cell, [text for _, text in path]


def is_optional(headings: Iterable[str]) -> bool:
    """A section whose heading says "optional" goes beyond the guide: no certificate item needs it."""
    return any(OPTIONAL.search(text) for text in headings)


def _grade_id(cell: Mapping) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta["grade_id"] if meta.get("grade") and meta.get("grade_id") else None


def optional_cells(notebook: Mapping) -> list[str]:
    """Grade ids of the graded cells in optional sections: left out of the knowledge item."""
    return [grade_id for cell, headings in sections(notebook)
            if (grade_id := _grade_id(cell)) and is_optional(headings)]


def exercise_cells(notebook: Mapping) -> dict[str, list[str]]:
    """{exercise: [grade ids]} of the graded cells in a notebook's sections whose headings name
    "Exercise X.Y" (a parsed .ipynb). Not the rule (``EXERCISES`` is): the test uses it to find
    cells of an exercise's part that the mapping neither lists nor leaves out."""
    found: dict[str, list[str]] = {}
    for cell, headings in sections(notebook):
        grade_id = _grade_id(cell)
        for exercise in [number for text in headings for number in EXERCISE.findall(text)] if grade_id else []:
            found.setdefault(exercise, []).append(grade_id)
    return found


def cells_matching(names: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The names that match any of ``patterns`` (ids, or shell-style patterns such as 'm2-ex21-*'),
    in the order of ``patterns``; a plain id that is not among ``names`` is kept (reported missing)."""
    names = list(names)
    found: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            found.extend(n for n in names if fnmatch.fnmatchcase(n, pattern) and n not in found)
        elif pattern not in found:
            found.append(pattern)
    return found


# -- the evidence about one module, and the items it decides -------------------------------------------
@dataclass
class ModuleResult:
    """What is known of one trainee's module: ``state`` is graded, flagged, ungraded (written
    answers wait for the trainer), pending (handed in or worked on, not graded yet) or missing."""

    assignment: str
    state: str
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float | None, float]] = field(default_factory=dict)  # name -> (score, max)
    exercises: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""  # a line on what the evidence is (feedback page, answers so far, flag reasons...)
    todo: dict[str, str] = field(default_factory=dict)  # pending: grade id -> what is still to do
    optional: list[str] = field(default_factory=list)  # cells of optional sections

    def path_points(self) -> tuple[float, float] | None:
        """(score, max) of the module's cells outside its optional sections."""
        if self.score is None or not self.max_score:
            return None
        left_out = [self.cells[name] for name in self.optional if name in self.cells]
        return (self.score - sum(score or 0 for score, _ in left_out),
                self.max_score - sum(top for _, top in left_out))

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return 100 * self.score / self.max_score


@dataclass
class ItemResult:
    item: Item
    status: str
    reason: str

    def as_dict(self) -> dict:
        return {"id": self.item.id, "group": self.item.group, "text": self.item.text,
                "status": self.status, "reason": self.reason}


def _not_decided(result: ModuleResult | None, module: int, cells: list[str] | None = None) -> tuple[str, str] | None:
    """The status of an item of a module that cannot be decided from its scores, or None;
    ``cells``: the exercise's cells, for what a pending module still has to do."""
    if result is None:
        return NOT_STARTED, f"Module {module} is not part of the course yet"
    if result.state == "missing":
        return NOT_STARTED, result.note or f"{result.assignment} was not submitted"
    if result.state == "flagged":
        why = f": {result.note}" if result.note else ""
        return REVIEW, f"{result.assignment} was graded with problems (flagged{why}); the trainer reviews it first"
    if result.state == "ungraded":
        return REVIEW, f"{result.assignment}: written answers are not graded yet"
    if result.state == "pending":
        return NOT_MET, pending_reason(result, cells)
    return None


def pending_reason(result: ModuleResult, cells: list[str] | None = None) -> str:
    """Why a module (or one exercise's ``cells`` of it) not graded yet is not met, and what is left."""
    text = f"{result.assignment} is not graded yet"
    todo = {name: what for name, what in result.todo.items() if cells is None or name in cells}
    if todo:
        shown = [f"{name} ({what})" for name, what in list(todo.items())[:8]]
        more = f" and {len(todo) - 8} more" if len(todo) > 8 else ""
        text += f"; still to do: {', '.join(shown)}{more}"
    elif cells is not None:
        text += "; every cell of the exercise is answered: fetch your feedback once it is graded"
    if cells is None and result.note:
        text += f": {result.note}"
    return text


def knowledge(item: Item, result: ModuleResult | None, threshold: float = THRESHOLD) -> ItemResult:
    undecided = _not_decided(result, item.module)
    if undecided:
        return ItemResult(item, *undecided)
    needed = threshold * 100
    score, top = result.path_points() or (0.0, 0.0)
    percent = 100 * score / top if top else 0.0
    aside = " outside the optional sections" if result.optional else ""
    shown = f"{score:g} of {top:g} points{aside} ({percent:.0f} %)"
    if top and percent + 1e-9 >= needed:
        return ItemResult(item, MET, f"{shown}, at least {needed:g} %")
    return ItemResult(item, NOT_MET, f"{shown}, below {needed:g} %")


def practical(item: Item, result: ModuleResult | None, threshold: float = PRACTICAL_THRESHOLD) -> ItemResult:
    """Met when the exercise's cells earned at least ``threshold`` of their points."""
    names = result.exercises.get(item.exercise, []) if result is not None else []
    undecided = _not_decided(result, item.module, names)
    if undecided:
        return ItemResult(item, *undecided)
    if not names:
        return ItemResult(item, REVIEW, f"no cell of {result.assignment} is mapped to Exercise {item.exercise}: "
                                        "the trainer lists them (c.Certification.exercises)")
    unknown = [name for name in names if name not in result.cells]
    if unknown:
        return ItemResult(item, REVIEW, f"{', '.join(unknown)} of Exercise {item.exercise} not in "
                                        f"{result.assignment}'s grades: the mapping needs updating "
                                        "(docs/certification.md, c.Certification.exercises)")
    short = [name for name in names if result.cells[name][0] is None
             or result.cells[name][0] + 1e-9 < result.cells[name][1]]
    earned = sum(result.cells[n][0] or 0 for n in names)
    top = sum(result.cells[n][1] for n in names)
    needed = threshold * 100
    percent = 100 * earned / top if top else 0.0
    shown = f"{earned:g} of {top:g} points of its {len(names)} cells ({percent:.0f} %)"
    missed = f"; short in {', '.join(short)}" if short else ""
    if top and percent + 1e-9 >= needed:
        return ItemResult(item, MET, f"{shown}, at least {needed:g} %{missed}")
    return ItemResult(item, NOT_MET, f"{shown}, below {needed:g} %{missed}")


def access(item: Item, confirmed: Iterable[str], by: str = "the trainer") -> ItemResult:
    if item.id in set(confirmed):
        return ItemResult(item, MET, f"confirmed by {by}")
    return ItemResult(item, NOT_MET, f"not confirmed by {by}")


def decide(results: Mapping[int, ModuleResult], confirmed: Iterable[str] = (), threshold: float = THRESHOLD,
           confirmed_by: str = "the trainer", items: Iterable[Item] = ITEMS,
           practical_threshold: float = PRACTICAL_THRESHOLD) -> list[ItemResult]:
    """Every item of the checklist, from the results of modules 1 to 6 (by number)."""
    confirmed = list(confirmed)
    decided = []
    for item in items:
        if item.group == KNOWLEDGE:
            decided.append(knowledge(item, results.get(item.module), threshold))
        elif item.group == PRACTICAL:
            decided.append(practical(item, results.get(item.module), practical_threshold))
        else:
            decided.append(access(item, confirmed, confirmed_by))
    return decided


def reasons(decided: Iterable[ItemResult]) -> list[str]:
    """One line per item not met: its text, status and why."""
    return [f"{r.item.text}: {r.status} ({r.reason})" for r in decided if r.status != MET]


def propose(decided: Iterable[ItemResult], decision: str = "") -> str:
    """certified (the trainer signed Approved), ready for sign-off (every item met and no
    Needs Review signed) or not yet. The tool proposes; only the trainer's decision certifies."""
    decided = list(decided)
    if decision == APPROVED:
        return CERTIFIED
    if decision != NEEDS_REVIEW and decided and all(r.status == MET for r in decided):
        return READY
    return NOT_YET


# -- the checklist: what is handed in and printed ------------------------------------------------------
@dataclass
class SignOff:
    trainee: str = ""
    trainer: str = ""
    date: str = ""
    certification: str = ""  # Approved or Needs Review: the trainer's decision, empty until signed
    notes: str = ""


@dataclass
class Checklist:
    student: str
    items: list[ItemResult]
    sign_off: SignOff = field(default_factory=SignOff)
    source: str = ""  # what it was built from
    official: bool = False
    modules: list[ModuleResult] = field(default_factory=list)

    @property
    def result(self) -> str:
        """certified, ready for sign-off or not yet (a preview is never certified)."""
        return propose(self.items, self.sign_off.certification if self.official else "")

    @property
    def reasons(self) -> list[str]:
        found = reasons(self.items)
        sign = self.sign_off
        if self.official and sign.certification == NEEDS_REVIEW:
            by = " ".join(filter(None, [sign.trainer and f"by {sign.trainer}", sign.date and f"on {sign.date}"]))
            found.insert(0, f"the trainer signed Needs Review{' ' + by if by else ''}"
                            f"{': ' + sign.notes if sign.notes else ''}")
        return found

    def count(self, group: str | None = None) -> tuple[int, int]:
        """(items met, items) of ``group`` (every item when None)."""
        rows = [r for r in self.items if group is None or r.item.group == group]
        return sum(r.status == MET for r in rows), len(rows)

    def as_dict(self) -> dict:
        return {
            "student": self.student, "official": self.official, "source": self.source,
            "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "result": self.result, "reasons": self.reasons,
            "items": [item.as_dict() for item in self.items],
            "modules": [{"assignment": m.assignment, "state": m.state, "score": m.score,
                         "max_score": m.max_score, "note": m.note} for m in self.modules],
            "sign_off": asdict(self.sign_off),
            **({} if self.official else {"notice": OFFICIAL}),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=1)

    def to_html(self) -> str:
        return render_html(self)

    def _repr_html_(self) -> str:
        return render_html(self, page=False)

    def write(self, folder: str | Path, stem: str = CHECKLIST_STEM) -> tuple[Path, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = (folder / f"{stem}.json", folder / f"{stem}.html")
        paths[0].write_text(self.to_json() + "\n", encoding="utf-8")
        paths[1].write_text(self.to_html(), encoding="utf-8")
        return paths


MARKS = {MET: "[x]", NOT_MET: "[ ]", REVIEW: "[?]", NOT_STARTED: "[ ]"}
CSS = """
body { font-family: system-ui, sans-serif; color: #1b1f24; background: #fff; max-width: 56em; margin: 2em auto; }
.etp-checklist { color: #1b1f24; background: #fff; padding: 0 1em; }
.etp-checklist table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
.etp-checklist th, .etp-checklist td { border: 1px solid #7b8794; padding: .3em .5em; text-align: left; vertical-align: top; }
.etp-checklist td:first-child, .etp-checklist td:nth-child(3) { white-space: nowrap; }
.etp-checklist .met { color: #14532d; font-weight: 600; }
.etp-checklist .not-met, .etp-checklist .not-started { color: #7a1c14; font-weight: 600; }
.etp-checklist .needs-review { color: #5c4300; font-weight: 600; }
.etp-checklist .notice { border-left: 5px solid #b8860b; background: #fff6db; color: #5c4300; padding: .5em .8em; }
.etp-checklist pre { white-space: pre-wrap; font-size: 1em; }
@media print { .etp-checklist .notice { border: 1px solid #000; } }
"""


def render_html(checklist: Checklist, page: bool = True) -> str:
    esc = html.escape
    title = f"On-call certification checklist: {checklist.student}"
    parts = [f'<div class="etp-checklist"><h2>{esc(title)}</h2>']
    if not checklist.official:
        parts.append(f'<p class="notice">{esc(OFFICIAL)}</p>')
    met, total = checklist.count()
    word = "Result" if checklist.result == CERTIFIED else ("Proposal" if checklist.official else "Where you stand")
    decides = "" if checklist.result == CERTIFIED else " The trainer decides and signs below."
    parts.append(f"<p>Built from {esc(checklist.source)}. {word}: <b>{esc(checklist.result)}</b> "
                 f"({met} of {total} items met).{esc(decides)}</p>")
    for group in (KNOWLEDGE, PRACTICAL, ACCESS):
        rows = [i for i in checklist.items if i.item.group == group]
        parts.append(f"<h3>{esc(group)}</h3><table><tr><th></th><th>Item</th><th>Status</th><th>Why</th></tr>")
        for result in rows:
            css = result.status.replace(" ", "-")
            parts.append(f"<tr><td>{MARKS[result.status]}</td><td>{esc(result.item.text)}</td>"
                         f'<td class="{css}">{esc(result.status)}</td><td>{esc(result.reason)}</td></tr>')
        parts.append("</table>")
    sign = checklist.sign_off
    approved = "[x]" if sign.certification == APPROVED else "[ ]"
    review = "[x]" if sign.certification == NEEDS_REVIEW else "[ ]"
    parts.append("<h3>Certification sign-off</h3><pre>"
                 f"Trainee Name: {esc(sign.trainee) or '_' * 24}\n"
                 f"Trainer Name: {esc(sign.trainer) or '_' * 24}\n"
                 f"Date: {esc(sign.date) or '_' * 24}\n"
                 f"Certification: {approved} Approved {review} Needs Review\n"
                 f"Notes: {esc(sign.notes) or '_' * 24}</pre></div>")
    body = "\n".join(parts)
    if not page:
        return body
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")
