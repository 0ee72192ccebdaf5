"""``Quiz``: the one object a module notebook talks to.

A notebook makes one ``Quiz`` and calls one method per question; each call shows the widget and
registers the question so that the hidden test in the same cell can grade it by id.

On JupyterHub with the course's quiz service (``course.quiz.service_client``), every answer is
committed to the service, which holds the keys and says right or wrong; ``answers.json`` is then
a local copy for display only. A notebook released for a hub carries no key at all: its quiz
calls name no ``answer``, ``key`` or ``answer_from``, and the service keys them.
"""
from __future__ import annotations

import functools
import os
from importlib.metadata import entry_points
from typing import Any, Mapping

from IPython.display import display

from course.quiz import service_client
from course.quiz.questions import QUESTION_TYPES, Question
from course.quiz.service_client import SERVICE_KEY
from course.quiz.store import AnswerStore

_FROM_ENVIRONMENT = object()
# The entry-point group where the trainer's side plugs in: the judge of ``Quiz.grade`` and the keys
# of data-dependent quizzes (pyproject.toml). The quiz engine never names the trainer's modules.
PLUGINS = "etp_academy.quiz"


class Quiz:
    """The quizzes of one assignment, saved to its answer file (``answers.json`` in the cwd)."""

    def __init__(self, answer_file: str | os.PathLike | None = None,
                 facts: Mapping[str, Any] | None = None, service=_FROM_ENVIRONMENT):
        self.store = AnswerStore(answer_file)
        # The hub's quiz service when this server has one (None: answers stay in answers.json).
        self.service = service_client.from_environment() if service is _FROM_ENVIRONMENT else service
        self.questions: dict[str, Question] = {}
        # Facts of the trainee's own world (a time, a request id) that a prompt or an
        # explanation names as ``{name}``. Options and answers never do: they are sealed.
        self.facts = dict(facts or {})

    def build(self, kind: str, qid: str, prompt: str, **fields) -> Question:
        if fields.get("answer_from") and fields.get("answer") is None and not fields.get("key"):
            fields["answer"] = _key_from_reference(fields["answer_from"])
        if fields.get("answer") is None and not fields.get("key") and not fields.get("answer_from"):
            fields["answer_from"] = SERVICE_KEY  # released for a hub: only the service knows
        question = QUESTION_TYPES[kind](qid=qid, prompt=prompt, **fields)
        if self.facts:
            question.prompt = question.prompt.format_map(self.facts)
            if question.explanation_locked:
                question.facts = self.facts  # filled in once a right answer opens it
            else:
                question.explanation = question.explanation.format_map(self.facts)
        self.questions[qid] = question
        return question

    def ask(self, kind: str, qid: str, prompt: str, **fields) -> None:
        """Build the question of type ``kind``, show its widget and remember it by ``qid``."""
        from course.quiz.widgets import view_for  # widget libraries only when a quiz is shown

        display(view_for(self.build(kind, qid, prompt, **fields), self.store, self.service).box)

    def single_choice(self, qid: str, prompt: str, **fields) -> None:
        self.ask("single_choice", qid, prompt, **fields)

    def multiple_select(self, qid: str, prompt: str, **fields) -> None:
        self.ask("multiple_select", qid, prompt, **fields)

    def numeric(self, qid: str, prompt: str, **fields) -> None:
        self.ask("numeric", qid, prompt, **fields)

    def short_text(self, qid: str, prompt: str, **fields) -> None:
        self.ask("short_text", qid, prompt, **fields)

    def ordering(self, qid: str, prompt: str, **fields) -> None:
        self.ask("ordering", qid, prompt, **fields)

    def matching(self, qid: str, prompt: str, **fields) -> None:
        self.ask("matching", qid, prompt, **fields)

    def accepts(self, qid: str, value: Any) -> bool | None:
        """Whether ``value`` is a right answer to quiz ``qid``, for a check that builds on it:
        None when this install cannot tell (the key is the hub's or the trainee's world's)."""
        if qid not in self.questions:
            raise NotImplementedError(f"run the quiz {qid} above first")
        question = self.questions[qid]
        return None if question.pending else question.is_correct(value)

    def grade(self, qid: str) -> None:
        """Hidden-test entry point: raise unless the first committed answer to ``qid`` is right."""
        grade_quiz = trainer_plugin("judge")
        if grade_quiz is None:
            raise ImportError("grading a quiz needs the trainer's side of the course, not installed here")
        grade_quiz(self.questions[qid], self.store)


def _key_from_reference(name: str):
    """A data-dependent key where the trainer's reference is installed (the source notebook, the
    grader); None in a trainee's install, where only the grader can tell."""
    answer = trainer_plugin("reference_key")
    return None if answer is None else answer(name)


@functools.lru_cache(maxsize=None)
def trainer_plugin(name: str):
    """What the trainer's side plugs into the quiz engine (``PLUGINS`` entry points in pyproject.toml),
    or None: a trainee's install declares none, and a graded kernel's sandbox cannot import them."""
    for entry in entry_points(group=PLUGINS, name=name):
        try:
            return entry.load()
        except ImportError:
            return None
    return None
