"""The trainee's own (unofficial) preview of the checklist, from the files of their workspace, and
where the checklist's notebook runs (a trainee's workspace or the course folder)."""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable, Mapping

from course.certification.checklist import (
    ACCESS,
    Checklist, EXERCISES, FOLDER, ITEMS, ModuleResult, NOTEBOOK, PRACTICAL_THRESHOLD, SignOff,
    THRESHOLD, _text, decide, module_number, optional_cells)


FEEDBACK_TOTAL = re.compile(r"<h4>\s*(?P<name>[^<(]+?)\s*\(Score:\s*(?P<score>[\d.]+)\s*/\s*(?P<max>[\d.]+)\s*\)</h4>")
FEEDBACK_CELL = re.compile(r'<a href="#(?P<id>[^"]+)">[^<]*</a>\s*\(Score:\s*(?P<score>[\d.]+)\s*/\s*(?P<max>[\d.]+)\s*\)')
QUIZ_CALL = re.compile(r"^\s*(?:quiz|drill)\.\w+\(", re.M)  # a quiz cell: its question's id is its grade id
STUBS = ("# YOUR CODE HERE", "YOUR ANSWER HERE", "raise NotImplementedError()")  # what a blank answer holds


def feedback_result(assignment: str, folder: Path, exercises: dict[str, list[str]]) -> ModuleResult | None:
    """The latest fetched feedback of a module folder (``feedback/<time>/<notebook>.html``), or None."""
    runs = sorted(p for p in (folder / "feedback").glob("*") if p.is_dir() and list(p.glob("*.html")))
    if not runs:
        return None
    score = top = 0.0
    cells: dict[str, tuple[float | None, float]] = {}
    flags: list[str] = []
    for page in sorted(runs[-1].glob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        total = FEEDBACK_TOTAL.search(text)
        if total:
            score += float(total.group("score"))
            top += float(total.group("max"))
        for found in FEEDBACK_CELL.finditer(text):
            cells[found.group("id")] = (float(found.group("score")), float(found.group("max")))
        if "FLAGGED" in text:
            flags.extend(_flag_line(html.unescape(line)) for line in re.findall(r"FLAGGED[^<\n]*", text))
    optional = [name for path in sorted(folder.glob("*.ipynb"))
                for name in optional_cells(json.loads(path.read_text(encoding="utf-8")))]
    if flags:
        return ModuleResult(assignment, "flagged", score, top, cells, exercises,
                            note="; ".join(dict.fromkeys(flags))[:300], optional=optional)
    return ModuleResult(assignment, "graded", score, top, cells, exercises, note=f"feedback of {runs[-1].name}",
                        optional=optional)


def _flag_line(line: str) -> str:
    """A grader's reason without its FLAGGED mark ("FLAGGED: quiz x: ..." -> "quiz x: ...")."""
    return re.sub(r"^FLAGGED:?\s*", "", line.strip())


def _answers(folder: Path) -> tuple[dict, str]:
    """({qid: attempts}, why it cannot be read) of a module folder's answer file."""
    try:
        from course.quiz.store import AnswerFileError, AnswerStore
    except ImportError:
        return {}, ""
    try:
        return AnswerStore(folder / "answers.json").load(), ""
    except AnswerFileError as err:
        return {}, f"the answer file cannot be read ({err})"
    except OSError as err:
        return {}, f"the answer file cannot be read ({err.strerror or type(err).__name__})"


def _tampered(folder: Path) -> list[str]:
    try:
        from course.quiz.store import AnswerStore

        return AnswerStore(folder / "answers.json").flagged()
    except Exception:  # noqa: BLE001 - an unreadable file is reported by _answers
        return []


def notebook_todo(notebook: Mapping, answered: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """({grade id: what is still to do}, [quiz ids]) of a trainee's notebook: a quiz with no
    committed answer in ``answered``; a check whose code above it is still the blank stub; a
    written answer still blank."""
    answered = set(answered)
    todo: dict[str, str] = {}
    quizzes: list[str] = []
    blank_code: list[str] = []  # solution cells since the last graded test cell, still blank
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        name, source = meta.get("grade_id"), _text(cell)
        blank = not "\n".join(line for line in source.splitlines() if line.strip() not in STUBS).strip()
        if meta.get("solution") and meta.get("grade"):  # a written (or hand-graded) answer
            if blank:
                todo[name] = "your answer is still blank"
                if cell.get("cell_type") == "code":
                    blank_code.append(name)
            continue
        if meta.get("solution"):
            if blank:
                blank_code.append(name)
            continue
        if not meta.get("grade") or not name:
            continue
        if cell.get("cell_type") == "code" and QUIZ_CALL.search(source):
            quizzes.append(name)
            if name not in answered:
                todo[name] = "quiz not answered"
        elif blank_code:
            todo[name] = "its code above is still blank"
        blank_code = []
    return todo, quizzes


def module_progress(folder: Path) -> tuple[dict[str, str], str]:
    """({grade id: what is still to do}, a line on the answers so far) of a module folder."""
    questions, unreadable = _answers(folder)
    todo: dict[str, str] = {}
    quizzes: list[str] = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            found, ids = notebook_todo(json.loads(path.read_text(encoding="utf-8")),
                                       [qid for qid, tries in questions.items() if tries])
        except (OSError, ValueError):
            continue
        todo.update(found)
        quizzes.extend(ids)
    if unreadable:
        return todo, unreadable
    committed = [qid for qid in quizzes if questions.get(qid)]  # quizzes only: never a drill's clock log
    right = sum(1 for qid in committed if questions[qid][0].get("correct"))
    note = (f"{len(committed)} of {len(quizzes)} quiz answers committed, {right} marked right on the first "
            "try so far")
    edited = [qid for qid in _tampered(folder) if qid in quizzes]
    if edited:
        note += f"; the answer file was changed by hand for {', '.join(edited)}: your trainer will review it"
    return todo, note


def answers_note(folder: Path) -> str:
    """What the answer file says so far: quiz answers committed, first answers right (keys the
    trainee's notebook can check; keys from the trainee's own data are checked when graded)."""
    return module_progress(folder)[1]


def workspace_results(workspace: str | Path, modules: Iterable[int] = range(1, 7),
                      exercises: Mapping[str, list[str]] | None = None) -> dict[int, ModuleResult]:
    """Each module's result as a trainee's workspace shows it (the module folders ``m<N>_*``)."""
    workspace = Path(workspace)
    exercises = {k: list(v) for k, v in (EXERCISES if exercises is None else exercises).items()}
    folders = {module_number(p.name): p for p in sorted(workspace.glob("m*_*")) if p.is_dir()
               and module_number(p.name) is not None and p.name != FOLDER}
    results = {}
    for module in modules:
        folder = folders.get(module)
        if folder is None:
            continue
        notebooks = sorted(folder.glob("*.ipynb"))
        graded = feedback_result(folder.name, folder, exercises)
        if graded is not None:
            results[module] = graded
        elif (folder / "answers.json").exists() or notebooks:
            todo, note = module_progress(folder)
            results[module] = ModuleResult(folder.name, "pending", exercises=exercises, note=note, todo=todo)
    return results


def trainee_checklist(workspace: str | Path, student: str = "", confirmed: Iterable[str] = (),
                      sign_off: SignOff | None = None, threshold: float = THRESHOLD,
                      practical_threshold: float = PRACTICAL_THRESHOLD) -> Checklist:
    """The trainee's preview of their checklist, from the module folders of ``workspace``.
    A module is met only on the evidence of its fetched feedback; before that, each item says what
    is still to do. Access items are the ones the trainee ticked."""
    workspace = Path(workspace)
    results = workspace_results(workspace)
    for module in range(1, 7):
        if module not in results:
            results[module] = ModuleResult(f"Module {module}", "missing",
                                           note=f"Module {module} is not in your workspace")
    items = decide(results, confirmed, threshold, confirmed_by="you (your trainer confirms it)",
                   practical_threshold=practical_threshold)
    sign_off = sign_off or SignOff()
    return Checklist(student or sign_off.trainee or _login(), items, sign_off,
                     source=f"your workspace {workspace} (your notebooks, answer files and fetched feedback)",
                     official=False, modules=[results[m] for m in sorted(results)])


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "you"


# -- where the checklist's notebook runs ---------------------------------------------------------------
@dataclass
class Place:
    """Where the checklist's notebook runs: ``mode`` (trainee or trainer), the trainee's
    ``workspace`` or the trainer's ``course`` folder, and ``why`` (one line)."""

    mode: str
    workspace: Path | None = None
    course: Path | None = None
    why: str = ""


def trainer_tools() -> bool:
    """True when this Python can import the trainer's side (a trainee's install has none)."""
    import importlib.util

    try:
        return importlib.util.find_spec(f"{__package__.rsplit('.', 1)[0]}.trainer") is not None
    except (ImportError, ValueError):
        return False


def _course_folder(start: Path) -> Path | None:
    return next((p for p in [start, *start.parents]
                 if (p / "source").is_dir() and (p / "nbgrader_config.py").is_file()), None)


def _is_workspace(folder: Path) -> bool:
    """A trainee's workspace: module folders (``m<N>_*`` holding a notebook) beside this one."""
    return any(p.is_dir() and p.name != FOLDER and module_number(p.name) is not None and any(p.glob("*.ipynb"))
               for p in folder.glob("m*_*"))


def where_it_runs(here: str | Path, mode: str = "auto", workspace: str | Path | None = None,
                  course: str | Path | None = None) -> Place:
    """Trainee or trainer, decided by what this Python can import and where the notebook is,
    never by a course folder somewhere above it (``make start`` puts workspace/ inside one).

    - ``mode`` "trainee" or "trainer": as asked;
    - no trainer tools importable (a trainee's Lab): trainee;
    - the notebook's folder sits beside module folders (a workspace): trainee;
    - else a course folder (``source/`` and ``nbgrader_config.py``) here or above: trainer;
    - else trainee."""
    here = Path(here).resolve()
    space = Path(workspace).resolve() if workspace else here.parent
    root = Path(course).resolve() if course else _course_folder(here)
    if mode == "trainee":
        return Place("trainee", space, None, "asked for (MODE = 'trainee')")
    if mode == "trainer":
        if root is None:
            raise ValueError("trainer mode needs the course folder: set COURSE")
        return Place("trainer", None, root, "asked for (MODE = 'trainer')")
    if mode != "auto":
        raise ValueError(f"MODE is 'auto', 'trainee' or 'trainer', not {mode!r}")
    if not trainer_tools():
        return Place("trainee", space, None, "this kernel has no trainer tools: a trainee's Lab")
    if _is_workspace(space) and not course:
        return Place("trainee", space, None, f"{space} holds module folders: a trainee's workspace")
    if root is not None:
        return Place("trainer", None, root, f"{root} is a course folder and this kernel has the trainer tools")
    return Place("trainee", space, None, "no course folder here or above")


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
