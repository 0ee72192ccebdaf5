"""Test harness: a throw-away copy of the course, and simulated trainees who submit to it."""
from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.exchange.abc import Exchange

from course.data import world
from course.quiz.store import AnswerStore
from course.trainer.cohort.api import assignment_names, open_course
from course.trainer.cohort.demo import (  # noqa: F401 - the tests take them from here too
    commit_first_answer, keyed_in_current_world, wrong_response)
from course.trainer.grading.sealing import questions_in

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignment_names(REPO)
COURSE_ID = world.COURSE_ID  # what nbgrader_config.py sets as CourseDirectory.course_id
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def build_course(root: Path):
    """Copy the course's source and config to ``root`` and release every assignment there."""
    shutil.copytree(REPO / "source", root / "source")
    shutil.copy(REPO / "nbgrader_config.py", root)
    api = open_course(root)
    for assignment in ASSIGNMENTS:
        result = api.generate_assignment(assignment, force=True)
        assert result["success"], result.get("log") or result.get("error")
    return api


def launch_from_a_copy(folder: Path, monkeypatch):
    """``course.trainer.lab.launch`` pointed at a copy of this course in ``folder`` (its exchange, trainee
    folder and runtime files there), as ``make start`` lays them out; the module is returned."""
    from course.trainer.lab import launch

    shutil.copytree(REPO / "source", folder / "source")
    shutil.copy(REPO / "nbgrader_config.py", folder)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(folder / "exchange"))
    for name, value in [("ROOT", folder), ("TRAINEE_FOLDER", folder / "workspace"), ("RUNTIME", folder / ".trainee")]:
        monkeypatch.setattr(launch, name, value)
    return launch


def failure_log(text: str, tail: int = 3000) -> str:
    """A failed command's log for an assertion message: each traceback it printed (the cause,
    however early it came), then its last ``tail`` characters (the summary)."""
    tracebacks = re.findall(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*.*", text)
    return "\n".join([*(block[-2000:] for block in tracebacks[:3]), "...", text[-tail:]])


def notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def quiz_questions(source_nb) -> dict:
    """{grade cell id: [questions]} for every quiz cell of a source notebook."""
    found = {}
    for cell in source_nb.cells:
        if cell.cell_type == "code" and questions_in(cell.source):
            found[nbgrader_meta(cell).get("grade_id")] = questions_in(cell.source)
    return found


def solution_sources(source_nb) -> dict[str, str]:
    """{solution cell id: the model answer (code without its markers, or written text)}."""
    return {
        nbgrader_meta(c)["grade_id"]: SOLUTION_MARKER.sub("", c.source)
        for c in source_nb.cells
        if nbgrader_meta(c).get("solution")
    }


def autograded_cells(source_nb) -> set[str]:
    """Ids of the cells nbgrader scores by itself: test cells, not written answers."""
    return {
        nbgrader_meta(c)["grade_id"]
        for c in source_nb.cells
        if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
    }


def commit_answers(store: AnswerStore, source_nb, wrong_qids=frozenset(), key_seed=None) -> None:
    """Commit a first answer to every quiz of ``source_nb``: right, or wrong for ``wrong_qids``.
    ``key_seed``: answer the data-dependent quizzes with the keys of that world instead."""
    for questions in quiz_questions(source_nb).values():
        for q in questions:
            with world.using(world.current().seed if key_seed is None else key_seed):
                q = keyed_in_current_world(q)
            commit_first_answer(store, q, q.qid in wrong_qids)


@dataclass
class Trainee:
    """What one simulated trainee does to an assignment before submitting it."""

    name: str
    solve: bool = True  # paste the source solutions into the solution cells
    answer_quizzes: bool = True
    wrong_quizzes: frozenset = frozenset()  # qids answered wrongly on the first try
    code_overrides: dict | None = None  # {solution cell id: code} instead of the solution
    keys_from: str | None = None  # copies the data-dependent quiz answers of this trainee

    @property
    def seed(self) -> int:
        """The world this trainee works in, as autograde derives it (variants on)."""
        return world.seed_for(self.name, COURSE_ID)

    def submit(self, course_root: Path, assignment: str, seed: int | None = None) -> Path:
        """The trainee's submission; their answers committed in world ``seed`` (default: theirs)."""
        with world.using(self.seed if seed is None else seed):
            return self._submit(course_root, assignment)

    def _submit(self, course_root: Path, assignment: str) -> Path:
        folder = course_root / "submitted" / self.name / assignment
        shutil.copytree(course_root / "release" / assignment, folder)
        store = AnswerStore(folder / "answers.json")
        for name, released in notebooks(folder).items():
            source = nbformat.read(course_root / "source" / assignment / name, as_version=4)
            self._write_code(released, source)
            nbformat.write(released, folder / name)
            if self.answer_quizzes:
                self._answer(store, source)
        write_submission_files(folder)
        return folder

    def _write_code(self, released, source):
        code = solution_sources(source) if self.solve else {}
        code.update(self.code_overrides or {})
        for cell in released.cells:
            cell_id = nbgrader_meta(cell).get("grade_id")
            if cell_id in code:
                cell.source = code[cell_id]

    def _answer(self, store, source):
        copied = None if self.keys_from is None else world.seed_for(self.keys_from, COURSE_ID)
        commit_answers(store, source, self.wrong_quizzes, copied)


def write_submission_files(folder: Path) -> None:
    """The two files ``nbgrader submit`` adds beside the notebooks: when it was handed in, and the
    secret that names the trainee's feedback pages in the exchange."""
    stamp_format = Exchange.class_traits()["timestamp_format"].default_value
    (folder / "timestamp.txt").write_text(datetime.now(timezone.utc).strftime(stamp_format))
    (folder / "submission_secret.txt").write_text(secrets.token_hex(64))


def autograded_points(course_root: Path, assignment: str, student: str) -> dict[str, tuple]:
    """{test cell id: (auto score, max score)} for the autograded cells of a submission."""
    sources = notebooks(course_root / "source" / assignment).values()
    tests = set().union(*(autograded_cells(nb) for nb in sources))
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {
            grade.name: (grade.auto_score or 0.0, grade.max_score)
            for notebook in submission.notebooks
            for grade in notebook.grades
            if grade.name in tests
        }


def grade_written_answers(course_root: Path, assignment: str, student: str, fraction: float = 1.0) -> None:
    """What the trainer does in the formgrader: a manual score for every written answer."""
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
        for notebook in gradebook.find_submission(assignment, student).notebooks:
            for grade in notebook.grades:
                if grade.needs_manual_grade:  # the formgrader clears the flag when it saves a score
                    grade.manual_score, grade.needs_manual_grade = fraction * grade.max_score, False
        gradebook.db.commit()
