"""The training guide's certification checklist: its items, the rule that decides each one, and
the trainee's own (unofficial) view of it.

**The official result is the trainer's.** ``course.trainer.certification`` builds the checklist of
every trainee of a cohort from the nbgrader gradebook. What a trainee builds here, from the files
in their own workspace, is a preview: it can only know what their fetched feedback pages say.

The items (the guide's "Certification Checklist"):

- *Knowledge verification*, one per module 1 to 6: the module's score is at least the threshold
  (80 % by default) of its points.
- *Practical skills*: Exercises 1.1, 2.1, 3.1, 3.2, 5.1 and 6.1, each met when every point of its
  cells was earned. A cell belongs to Exercise X.Y when it sits under a heading that names
  "Exercise X.Y" in the module's notebook (a trainer can list the cells instead).
- *Access verification*: Railway, Sentry, GitHub and the Discord ops channel, confirmed by the
  trainer (in the trainee's preview, by the trainee).
- *Sign-off*: trainee, trainer, date, Approved or Needs Review, notes. Approved only when every
  item is met.

Each item is **met**, **not met**, **needs review** (its module was graded with problems, or waits
for a written answer to be graded) or **not started** (nothing submitted for it), with its reason.

The folder also holds the checklist's notebook, ``m7_certification.ipynb``: in a trainee's
workspace it builds this preview and writes the checklist to hand in; in the course folder it
builds the cohort's checklists from the gradebook. ``python -m course.certification`` copies it
into a workspace.
"""
from __future__ import annotations

import fnmatch
import html
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

NOTEBOOK = Path(__file__).with_name("m7_certification.ipynb")
FOLDER = "m7_certification"  # where the notebook goes in a workspace, beside the module folders
CHECKLIST_STEM = "certification_checklist"

MET, NOT_MET, REVIEW, NOT_STARTED = "met", "not met", "needs review", "not started"
STATUSES = (MET, NOT_MET, REVIEW, NOT_STARTED)
APPROVED, NEEDS_REVIEW = "Approved", "Needs Review"
KNOWLEDGE, PRACTICAL, ACCESS = "Knowledge verification", "Practical skills", "Access verification"
THRESHOLD = 0.8
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


# -- which cells make an exercise ------------------------------------------------------------------
EXERCISE = re.compile(r"\bExercise (\d+\.\d+)\b")


def module_number(assignment: str) -> int | None:
    """1 for 'm1_architecture': the module an assignment is, by its id."""
    found = re.match(r"^m(\d+)_", assignment)
    return int(found.group(1)) if found else None


def exercise_cells(notebook: Mapping) -> dict[str, list[str]]:
    """{exercise: [grade ids]} of a notebook (a parsed .ipynb): a graded cell belongs to every
    exercise named by a heading above it whose section it is still in."""
    found: dict[str, list[str]] = {}
    path: list[tuple[int, str]] = []  # (level, heading) of the sections the cells are in
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "markdown":
            for line in source.splitlines():
                heading = re.match(r"^(#{1,6})\s+(.*)$", line)
                if heading:
                    level = len(heading.group(1))
                    path = [(lvl, text) for lvl, text in path if lvl < level] + [(level, heading.group(2))]
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            for _, text in path:
                for exercise in EXERCISE.findall(text):
                    found.setdefault(exercise, []).append(meta["grade_id"])
    return found


def cells_matching(names: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The names that match any of ``patterns`` (shell-style, such as 'm2-ex21-*')."""
    patterns = list(patterns)
    return [name for name in names if any(fnmatch.fnmatchcase(name, p) for p in patterns)]


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
    note: str = ""  # a line on what the evidence is (feedback page, answers so far, ...)

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


def _not_decided(result: ModuleResult | None, module: int) -> tuple[str, str] | None:
    """The status of every item of a module that cannot be decided from its scores, or None."""
    if result is None:
        return NOT_STARTED, f"Module {module} is not part of the course yet"
    if result.state == "missing":
        return NOT_STARTED, result.note or f"{result.assignment} was not submitted"
    if result.state == "flagged":
        return REVIEW, f"{result.assignment} was graded with problems (flagged): the trainer reviews it first"
    if result.state == "ungraded":
        return REVIEW, f"{result.assignment}: written answers are not graded yet"
    if result.state == "pending":
        return NOT_MET, f"{result.assignment} is not graded yet{': ' + result.note if result.note else ''}"
    return None


def knowledge(item: Item, result: ModuleResult | None, threshold: float = THRESHOLD) -> ItemResult:
    undecided = _not_decided(result, item.module)
    if undecided:
        return ItemResult(item, *undecided)
    needed = threshold * 100
    shown = f"{result.score:g} of {result.max_score:g} points ({result.percent:.0f} %)"
    if result.percent + 1e-9 >= needed:
        return ItemResult(item, MET, f"{shown}, at least {needed:g} %")
    return ItemResult(item, NOT_MET, f"{shown}, below {needed:g} %")


def practical(item: Item, result: ModuleResult | None) -> ItemResult:
    undecided = _not_decided(result, item.module)
    if undecided:
        return ItemResult(item, *undecided)
    names = result.exercises.get(item.exercise, [])
    if not names:
        return ItemResult(item, REVIEW, f"no graded cell of {result.assignment} belongs to Exercise "
                                        f"{item.exercise}: the trainer names its cells")
    short = [name for name in names if result.cells.get(name, (None, 0))[0] is None
             or result.cells[name][0] + 1e-9 < result.cells[name][1]]
    earned = sum((result.cells.get(n, (0, 0))[0] or 0) for n in names)
    top = sum(result.cells.get(n, (0, 0))[1] for n in names)
    if not short:
        return ItemResult(item, MET, f"all {top:g} points of its {len(names)} cells")
    return ItemResult(item, NOT_MET, f"{earned:g} of {top:g} points; short in {', '.join(short)}")


def access(item: Item, confirmed: Iterable[str], by: str = "the trainer") -> ItemResult:
    if item.id in set(confirmed):
        return ItemResult(item, MET, f"confirmed by {by}")
    return ItemResult(item, NOT_MET, f"not confirmed by {by}")


def decide(results: Mapping[int, ModuleResult], confirmed: Iterable[str] = (), threshold: float = THRESHOLD,
           confirmed_by: str = "the trainer", items: Iterable[Item] = ITEMS) -> list[ItemResult]:
    """Every item of the checklist, from the results of modules 1 to 6 (by number)."""
    confirmed = list(confirmed)
    decided = []
    for item in items:
        if item.group == KNOWLEDGE:
            decided.append(knowledge(item, results.get(item.module), threshold))
        elif item.group == PRACTICAL:
            decided.append(practical(item, results.get(item.module)))
        else:
            decided.append(access(item, confirmed, confirmed_by))
    return decided


def overall(decided: Iterable[ItemResult]) -> str:
    decided = list(decided)
    return APPROVED if decided and all(result.status == MET for result in decided) else NEEDS_REVIEW


# -- the checklist: what is handed in and printed ------------------------------------------------------
@dataclass
class SignOff:
    trainee: str = ""
    trainer: str = ""
    date: str = ""
    certification: str = ""  # Approved or Needs Review, the trainer's call
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
        return overall(self.items)

    def as_dict(self) -> dict:
        return {
            "student": self.student, "official": self.official, "source": self.source,
            "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "result": self.result, "items": [item.as_dict() for item in self.items],
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
    parts.append(f"<p>Built from {esc(checklist.source)}. Result: <b>{esc(checklist.result)}</b> "
                 f"({sum(i.status == MET for i in checklist.items)} of {len(checklist.items)} items met).</p>")
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


# -- the trainee's preview: their workspace ------------------------------------------------------------
FEEDBACK_TOTAL = re.compile(r"<h4>\s*(?P<name>[^<(]+?)\s*\(Score:\s*(?P<score>[\d.]+)\s*/\s*(?P<max>[\d.]+)\s*\)</h4>")
FEEDBACK_CELL = re.compile(r'<a href="#(?P<id>[^"]+)">[^<]*</a>\s*\(Score:\s*(?P<score>[\d.]+)\s*/\s*(?P<max>[\d.]+)\s*\)')


def feedback_result(assignment: str, folder: Path, exercises: dict[str, list[str]]) -> ModuleResult | None:
    """The latest fetched feedback of a module folder (``feedback/<time>/<notebook>.html``), or None."""
    runs = sorted(p for p in (folder / "feedback").glob("*") if p.is_dir() and list(p.glob("*.html")))
    if not runs:
        return None
    score = top = 0.0
    cells: dict[str, tuple[float | None, float]] = {}
    flagged = False
    for page in sorted(runs[-1].glob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        total = FEEDBACK_TOTAL.search(text)
        if total:
            score += float(total.group("score"))
            top += float(total.group("max"))
        for found in FEEDBACK_CELL.finditer(text):
            cells[found.group("id")] = (float(found.group("score")), float(found.group("max")))
        flagged = flagged or "FLAGGED" in text
    state = "flagged" if flagged else "graded"
    return ModuleResult(assignment, state, score, top, cells, exercises,
                        note=f"feedback of {runs[-1].name}")


def answers_note(folder: Path) -> str:
    """What the answer file says so far: quizzes committed, first answers right (keys the trainee's
    notebook can check; keys from the trainee's own data are checked when graded)."""
    try:
        from ..quiz.store import AnswerFileError, AnswerStore

        questions = AnswerStore(folder / "answers.json").load()
    except (ImportError, OSError):
        return ""
    except AnswerFileError as err:
        return f"the answer file cannot be read ({err})"
    quizzes = {qid: tries for qid, tries in questions.items() if tries and isinstance(tries[0].get("answer"), (str, int, float, list, dict))}
    right = sum(1 for tries in quizzes.values() if tries[0].get("correct"))
    return (f"{len(quizzes)} answer{'' if len(quizzes) == 1 else 's'} committed, {right} marked right "
            "on the first try so far")


def workspace_results(workspace: str | Path, modules: Iterable[int] = range(1, 7)) -> dict[int, ModuleResult]:
    """Each module's result as a trainee's workspace shows it (the module folders ``m<N>_*``)."""
    workspace = Path(workspace)
    folders = {module_number(p.name): p for p in sorted(workspace.glob("m*_*")) if p.is_dir()
               and module_number(p.name) is not None and p.name != FOLDER}
    results = {}
    for module in modules:
        folder = folders.get(module)
        if folder is None:
            continue
        notebooks = sorted(folder.glob("*.ipynb"))
        exercises: dict[str, list[str]] = {}
        for path in notebooks:
            try:
                for name, cells in exercise_cells(json.loads(path.read_text(encoding="utf-8"))).items():
                    exercises.setdefault(name, []).extend(cells)
            except (OSError, ValueError):
                continue
        graded = feedback_result(folder.name, folder, exercises)
        if graded is not None:
            results[module] = graded
        elif (folder / "answers.json").exists() or notebooks:
            results[module] = ModuleResult(folder.name, "pending", exercises=exercises, note=answers_note(folder))
    return results


def trainee_checklist(workspace: str | Path, student: str = "", confirmed: Iterable[str] = (),
                      sign_off: SignOff | None = None, threshold: float = THRESHOLD) -> Checklist:
    """The trainee's preview of their checklist, from the module folders of ``workspace``.
    A module is met only on the evidence of its fetched feedback; access items the trainee ticked."""
    workspace = Path(workspace)
    results = workspace_results(workspace)
    for module in range(1, 7):
        if module not in results:
            results[module] = ModuleResult(f"Module {module}", "missing",
                                           note=f"Module {module} is not in your workspace")
    items = decide(results, confirmed, threshold, confirmed_by="you (your trainer confirms it)")
    sign_off = sign_off or SignOff()
    return Checklist(student or sign_off.trainee or _login(), items, sign_off,
                     source=f"your workspace {workspace} (answer files and fetched feedback)",
                     official=False, modules=[results[m] for m in sorted(results)])


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "you"


# -- the form a trainee fills in -------------------------------------------------------------------------
class SignOffForm:
    """Access verification and sign-off fields (widgets), and the button that writes the checklist."""

    def __init__(self, workspace: str | Path, folder: str | Path = ".", student: str = ""):
        import ipywidgets as w

        self.workspace, self.folder, self.student = Path(workspace), Path(folder), student
        self.access = {item.id: w.Checkbox(value=False, description=item.text, indent=False,
                                           layout=w.Layout(width="auto"))
                       for item in ITEMS if item.group == ACCESS}
        self.trainee = w.Text(description="Your name", placeholder="as your trainer knows you",
                              style={"description_width": "8em"})
        self.date = w.Text(description="Date", value=date.today().isoformat(), style={"description_width": "8em"})
        self.notes = w.Textarea(description="Notes", placeholder="anything your trainer should know",
                                style={"description_width": "8em"}, layout=w.Layout(width="40em"))
        self.button = w.Button(description="Write my checklist", button_style="primary",
                               tooltip="Writes certification_checklist.json and .html beside this notebook")
        self.output = w.Output()
        self.button.on_click(lambda _: self.write(show=True))
        self.box = w.VBox([w.HTML("<b>Access verification</b> (tick what you can open today)"),
                           *self.access.values(), w.HTML("<b>Sign-off</b> (your trainer fills in the rest)"),
                           self.trainee, self.date, self.notes, self.button, self.output])

    def checklist(self) -> Checklist:
        confirmed = [item for item, box in self.access.items() if box.value]
        sign = SignOff(trainee=self.trainee.value.strip(), date=self.date.value.strip(), notes=self.notes.value.strip())
        return trainee_checklist(self.workspace, self.student, confirmed, sign)

    def write(self, show: bool = False) -> tuple[Path, Path]:
        checklist = self.checklist()
        paths = checklist.write(self.folder)
        if show:
            from IPython.display import HTML, display

            self.output.clear_output()
            with self.output:
                display(HTML(f"Written: {html.escape(paths[0].name)} and {html.escape(paths[1].name)}. "
                             "Hand both to your trainer."))
        return paths

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


def copy_notebook(workspace: str | Path = ".") -> Path:
    """Put the checklist's notebook into ``workspace/m7_certification/`` (never over one there)."""
    import shutil

    target = Path(workspace) / FOLDER / NOTEBOOK.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(NOTEBOOK, target)
    return target
