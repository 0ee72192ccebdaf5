"""What went wrong while grading, told to the trainer: one line per submission, never just a log.

- ``note_problem`` records a problem of the notebook being graded (kernel died, timeout...).
- ``RecordProblems`` (after SaveAutoGrades) flags that submission in the gradebook, where the
  formgrader shows it, and writes the reason as an automatic comment on its first answer cell,
  each reason a line starting with FLAGGED. A quiz whose committed answer was changed by hand
  (or whose answer file cannot be read) is such a problem too.
- At the end of ``nbgrader autograde`` a summary lists every submission graded with problems and
  every one that has no graded notebook (missing, or nbgrader could not grade it). A grading
  worker of ``python -m course autograde`` defers it (``defer_summary``) and hands its records
  to the parent (``take_records``), which prints the one summary of the whole run.
- ``keep_feedback_pages`` (GenerateFeedback's post-convert hook) leaves only the HTML pages in the
  feedback folders: files a trainee's code dropped beside its notebook are never handed back.
"""
from __future__ import annotations

import atexit
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from course.trainer.reference.judge import REVIEW_MARK
from course.quiz.store import ANSWER_FILE, AnswerStore

_graded: list[tuple[str, str, str]] = []          # (student, assignment, notebook) this run
_problems: list[tuple[str, str, str, str]] = []   # (student, assignment, notebook, problem)
_courses: dict[tuple[Path, str], str] = {}         # (autograded root, assignment) -> gradebook URL
_deferred = False                                  # a worker: the parent prints the summary


def note_problem(resources: dict, problem: str) -> None:
    info = resources["nbgrader"]
    resources.setdefault("etp_problems", []).append(problem)
    _problems.append((info["student"], info["assignment"], info["notebook"], problem))


class RecordProblems(NbGraderPreprocessor):
    """Flag a submission graded with problems in the gradebook, with the reason as a comment."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        _graded.append((info["student"], info["assignment"], info["notebook"]))
        _courses[(Path(resources["metadata"]["path"]).parents[1], info["assignment"])] = info["db_url"]
        _summary_at_exit()
        answer_file = Path(resources["metadata"]["path"]) / ANSWER_FILE
        for problem in quiz_problems(info["db_url"], info["assignment"], info["notebook"], nb, answer_file):
            note_problem(resources, problem)
        problems = resources.get("etp_problems", [])
        if problems:
            flag(info["db_url"], info["assignment"], info["student"], info["notebook"],
                 "\n".join(p if p.startswith(REVIEW_MARK) else f"GRADING PROBLEM: {p}" for p in problems))
        return nb, resources


def quiz_problems(db_url: str, assignment: str, notebook: str, nb, answer_file: Path) -> list[str]:
    """One line per reason the quizzes of a notebook need the trainer (quizzes of one reason
    grouped): the same rule as the text each quiz cell shows, on the quizzes of the gradebook."""
    from course.quiz.widgets import committed_answers
    from course.trainer.grading.sealing import questions_in

    with Gradebook(db_url) as gb:
        try:
            sources = {cell.name: cell.source for cell in gb.find_notebook(notebook, assignment).source_cells}
        except MissingEntry:
            return []
    store, found = AnswerStore(answer_file), {}
    for cell in nb.cells:
        try:
            questions = questions_in(sources.get(cell.metadata.get("nbgrader", {}).get("grade_id"), ""))
        except Exception:  # noqa: BLE001 - not a quiz cell
            continue
        for question in questions:
            problem = committed_answers(question, store).problem
            if problem:
                found.setdefault(problem, []).append(question.qid)
    return [f"{REVIEW_MARK}: quiz{'zes' if len(qids) > 1 else ''} {', '.join(qids)}: {problem}"
            for problem, qids in found.items()]


def flag(db_url: str, assignment: str, student: str, notebook: str, text: str) -> None:
    """Flag a submitted notebook for the formgrader, with the reason on its first answer cell:
    one line per reason, each starting with FLAGGED, before what the comment said already."""
    with Gradebook(db_url) as gb:
        try:
            submitted = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            return
        submitted.flagged = True
        for comment in submitted.comments[:1]:
            comment.auto_comment = with_reasons(comment.auto_comment, text)
        gb.db.commit()


def with_reasons(comment: str | None, text: str) -> str:
    """``comment`` with the reasons of ``text`` first, each once, each starting with FLAGGED."""
    old = (comment or "").splitlines()
    reasons = [line for line in old if line.startswith(REVIEW_MARK)]
    for line in text.splitlines():
        line = line if line.startswith(REVIEW_MARK) else f"{REVIEW_MARK}: {line}"
        if line not in reasons:
            reasons.append(line)
    return "\n".join(reasons + [line for line in old if not line.startswith(REVIEW_MARK)])


def ungraded(autograded: Path, assignment: str, students=None) -> list[tuple[str, str, str]]:
    """(student, notebook, reason) for each submitted notebook of ``assignment`` not graded;
    ``students``: only theirs (None: the whole cohort)."""
    course = autograded.parent
    released = sorted(p.stem for p in (course / "release" / assignment).glob("*.ipynb"))
    found = []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        if students is not None and student not in students:
            continue
        for name in released:
            path = folder / f"{name}.ipynb"
            if not path.is_file():
                found.append((student, name, f"{name}.ipynb was not submitted"))
            elif not (autograded / student / assignment / f"{name}.ipynb").is_file():
                found.append((student, name, f"{name}.ipynb could not be graded: {_unreadable(path)}"))
    return found


def _unreadable(path: Path) -> str:
    try:
        nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - the reason is all the trainer needs
        return f"it is not a readable notebook ({type(err).__name__})"
    return "see the log above"


def _ungraded_rows(students=None) -> list[tuple[str, str, str, str, str]]:
    """(gradebook URL, assignment, student, notebook, reason) for every notebook not graded;
    ``students``: None (everyone), ids, or {assignment: ids}."""
    def of(assignment: str):
        return students.get(assignment, ()) if isinstance(students, dict) else students

    return [(db_url, assignment, student, notebook, why)
            for (autograded, assignment), db_url in sorted(_courses.items())
            for student, notebook, why in ungraded(autograded, assignment, of(assignment))]


def summary_lines(rows: list | None = None) -> list[str]:
    rows = _ungraded_rows() if rows is None else rows
    with_problems = {(student, assignment, notebook) for student, assignment, notebook, _ in _problems}
    lines = [f"autograde summary: {len(set(_graded))} notebook(s) graded this run, "
             f"{len(with_problems)} with problems ({len(_problems)} problem line(s) below)"]
    lines += [f"  {s}\t{a}/{n}\tgraded with problems: {p}" for s, a, n, p in _problems]
    lines += [f"  {s}\t{a}/{n}\tNOT GRADED: {why}" for _, a, s, n, why in rows]
    return lines


def print_summary(students=None) -> list[tuple[str, str, str, str, str]]:
    """At the end of the run: flag what was not graded, and tell the trainer everything.
    ``students``: the run graded only theirs (None: the whole cohort; or {assignment: ids}).
    Returns the rows of notebooks not graded."""
    rows = _ungraded_rows(students)
    for db_url, assignment, student, notebook, why in rows:
        flag(db_url, assignment, student, notebook, f"NOT GRADED: {why}")
    print("\n".join(summary_lines(rows)), file=sys.stderr)
    return rows


def _print_summary() -> None:
    print_summary()


_registered = False


def _summary_at_exit() -> None:
    global _registered
    if not _registered and not _deferred:
        atexit.register(_print_summary)
        _registered = True


# -- parallel runs: workers grade, the parent tells ----------------------------------------------
def defer_summary() -> None:
    """In a grading worker: print no summary at exit; the parent gathers ``take_records``."""
    global _deferred
    _deferred = True


def take_records() -> tuple[list, list, list]:
    """(graded, problems, courses) recorded since the last call, as plain data; then forgotten."""
    records = (list(_graded), list(_problems), [(str(root), a, url) for (root, a), url in _courses.items()])
    _graded.clear()
    _problems.clear()
    _courses.clear()
    return records


def add_records(graded, problems, courses) -> None:
    """Records a worker took with ``take_records``, added to this process's summary."""
    _graded.extend(tuple(row) for row in graded)
    _problems.extend(tuple(row) for row in problems)
    for root, assignment, db_url in courses:
        _courses[(Path(root), assignment)] = db_url


def keep_feedback_pages(root: Path, assignment=None, student=None, notebooks=None) -> None:
    """Remove everything but the HTML pages (and the submission's ``timestamp.txt``, which
    ngshare's release_feedback files them under) from the feedback folders of this run."""
    del notebooks  # nbgrader passes the notebooks of the last submission only
    feedback = Path(root) / "feedback"
    for folder in feedback.glob(f"{student or '*'}/{assignment or '*'}"):
        for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
            if path.is_symlink() or (path.is_file() and path.suffix != ".html"
                                     and path.name != "timestamp.txt"):
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()

