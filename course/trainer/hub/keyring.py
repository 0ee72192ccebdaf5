"""What the quiz service knows of every quiz: its plain key, and the keys and facts of each
trainee's own world.

- Plain keys come from the course's **source** notebooks (``source/<module>/*.ipynb``), the same
  place the gradebook takes them from; a released notebook on a hub holds no key at all.
- A key that depends on the trainee's data (``answer_from=...``) and the facts a prompt or
  explanation names (``{report_brt}``) are computed in that trainee's world,
  ``world.seed_for(user, course_id)``: the module's setup cell runs there (the trainer's
  verdicts do the same), then ``course.trainer.reference.quiz_keys`` gives each key. This runs in a
  worker process (``world_view``): it takes seconds, and worlds are process-wide state.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course.data import world
from course.quiz.drill import CLOCK_SUFFIX
from course.quiz.questions import Question

SETUP_SUFFIX = "-setup"  # as course.trainer.grading.verdicts: the locked cells that build a module's givens


class UnknownQuiz(KeyError):
    """No source notebook of the course defines this quiz."""


@dataclass(frozen=True)
class Entry:
    """One quiz, or (``question`` None) one drill's clock log: the stamps of its ``steps``."""

    assignment: str
    notebook: str
    question: Question | None
    steps: tuple[str, ...] = ()

    @property
    def is_log(self) -> bool:
        return self.question is None

    @property
    def needs_world(self) -> bool:
        """Whether its key or its explanation depends on the trainee's world."""
        question = self.question
        return question is not None and (bool(question.answer_from) or "{" in (question.explanation or ""))


# A drill's setup line, ``Drill(..., prefix="m6-ex61-", ...)``: its log is prefix + CLOCK_SUFFIX.
_DRILL = re.compile(r"""\bDrill\(.*?\bprefix\s*=\s*["']([A-Za-z0-9_.-]+)["']""")


@functools.lru_cache(maxsize=16)
def _source_notebooks(root: str) -> dict[str, dict[str, tuple[list[str], list[Question]]]]:
    """{assignment: {notebook: (setup sources, questions)}} of the course at ``root``."""
    import nbformat

    from course.trainer.grading.sealing import questions_in

    found: dict[str, dict[str, tuple[list[str], list[Question]]]] = {}
    for path in sorted(Path(root, "source").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        setup, questions = [], []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("locked") and str(meta.get("grade_id", "")).endswith(SETUP_SUFFIX):
                setup.append(cell.source)
            questions += questions_in(cell.source)
        found.setdefault(path.parent.name, {})[path.stem] = (setup, questions)
    return found


class Keyring:
    """Every quiz of the course by id, and how to key it in one trainee's world."""

    def __init__(self, course_root: Path, course_id: str = world.COURSE_ID, variants: bool = True):
        self.root, self.course_id, self.variants = str(Path(course_root).resolve()), course_id, variants
        self.entries: dict[str, Entry] = {}
        for assignment, notebooks in _source_notebooks(self.root).items():
            for notebook, (_, questions) in notebooks.items():
                for question in questions:
                    if question.qid in self.entries:
                        raise ValueError(f"quiz id {question.qid!r} is defined twice in the course")
                    self.entries[question.qid] = Entry(assignment, notebook, question)
        for assignment, notebooks in _source_notebooks(self.root).items():
            for notebook, (setup, questions) in notebooks.items():
                for prefix in _DRILL.findall("\n".join(setup)):
                    steps = tuple(q.qid[len(prefix):] for q in questions if q.qid.startswith(prefix))
                    self.entries.setdefault(prefix + CLOCK_SUFFIX, Entry(assignment, notebook, None, steps))

    @property
    def world_assignments(self) -> list[str]:
        """The modules with a quiz keyed (or explained) from the trainee's own world."""
        return sorted({entry.assignment for entry in self.entries.values() if entry.needs_world})

    def entry(self, qid: str) -> Entry:
        try:
            return self.entries[qid]
        except KeyError:
            raise UnknownQuiz(qid) from None

    def seed_for(self, user: str) -> int:
        """The world of ``user``: the seed their kernel and their grading derive."""
        return world.seed_for(user, self.course_id) if self.variants else world.CANONICAL_SEED

    def keyed(self, qid: str, view: dict | None) -> Question:
        """The question with its key in the trainee's world and its explanation filled in."""
        entry = self.entry(qid)
        question = entry.question
        if entry.needs_world:
            if view is None:
                raise ValueError(f"quiz {qid} needs the trainee's world")
            changes: dict[str, Any] = {}
            if question.answer_from:
                changes["answer"] = view["keys"][qid]
            facts = view.get("facts") or {}
            if facts and "{" in question.explanation:
                changes["explanation"] = question.explanation.format_map(facts)
            question = dataclasses.replace(question, **changes)
        return question


def world_view(root: str, assignment: str, seed: int) -> dict:
    """The facts and data-dependent keys of ``assignment`` in world ``seed`` (worker process)."""
    import contextlib
    import io

    from course.quiz import Quiz
    from course.trainer.reference import quiz_keys

    facts: dict[str, str] = {}
    keys: dict[str, Any] = {}
    for setup, questions in _source_notebooks(root).get(assignment, {}).values():
        namespace: dict[str, Any] = {"__name__": "__quiz_service__", "display": lambda *a, **k: None}
        with world.using(seed), contextlib.redirect_stdout(io.StringIO()):
            for source in setup:
                exec(compile(source, "<setup>", "exec"), namespace)  # noqa: S102 - the course's own source
            for question in questions:
                if question.answer_from:
                    keys[question.qid] = quiz_keys.answer(question.answer_from)
        for value in namespace.values():
            if isinstance(value, Quiz):
                facts.update({str(k): str(v) for k, v in value.facts.items()})
    return {"facts": facts, "keys": keys}
