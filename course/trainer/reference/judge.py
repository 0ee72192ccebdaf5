"""Helpers that hidden tests call. Each failure is a ``GradingError`` (an AssertionError, so
nbgrader scores the cell zero) with a one-line message that names the problem and never the key.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterable

from course.quiz.keys import normalise_text
from course.quiz.questions import Question
from course.quiz.store import AnswerFileError, AnswerStore, one_line


class GradingError(AssertionError):
    """A hidden check failed; the message is safe to show a trainee."""


# The word that starts the message of an answer the trainer must review. Kept out of the lines
# that raise, so that a traceback's context around an ordinary wrong answer never shows it.
REVIEW_MARK = "FLAGGED"


# Where the trainer's process collects what each check compared (a trainee's value against the
# reference of their own world), to spot values that belong to another trainee's world.
# Nothing listens in a trainee's kernel.
_listeners: list[Callable[[str, Any, Any, float], None]] = []


def _compared(name: str, value: Any, expected: Any, tolerance: float = 0.0) -> None:
    for listener in _listeners:
        listener(name, value, expected, tolerance)


@contextlib.contextmanager
def _listening(listeners: list, listener: Callable):
    listeners.append(listener)
    try:
        yield
    finally:
        listeners.remove(listener)


def comparisons(listener: Callable[[str, Any, Any, float], None]):
    """``with comparisons(f):`` calls ``f(name, value, expected, tolerance)`` for every check."""
    return _listening(_listeners, listener)


# Where the trainer's process collects the saved drills of Module 6's simulation a check graded
# (a hub's grading compares each with the runs the quiz service saw played).
_drill_listeners: list[Callable[[Any], None]] = []


def note_drill(saved: Any) -> None:
    for listener in _drill_listeners:
        listener(saved)


def graded_drills(listener: Callable[[Any], None]):
    """``with graded_drills(f):`` calls ``f(saved)`` for every saved drill a check grades."""
    return _listening(_drill_listeners, listener)


def grade_quiz(question: Question, store: AnswerStore) -> None:
    """Pass only if the first committed answer to ``question`` is right and its seal verifies."""
    qid = question.qid
    try:
        attempts = store.attempts(qid)
        tampered = store.tampered(qid)
    except AnswerFileError as err:
        raise GradingError(f"{REVIEW_MARK}: quiz {qid}: {err}; the trainer will look at the file") from None
    if not attempts:
        raise GradingError(f"quiz {qid}: no committed answer (press Submit to commit one)")
    first = attempts[0]
    if question.answer_from:  # a key from the trainee's own world: evidence for copy checks
        _compared(f"quiz {qid}", first.canonical,
                  sorted({question.canonical(a) for a in question.accepted_responses()}))
    if tampered or question.canonical(first.answer) != first.canonical:
        raise GradingError(f"{REVIEW_MARK}: quiz {qid}: the answer file was changed by hand after "
                           "the answer was committed; the trainer reviews this answer")
    if not question.is_correct(first.answer):
        raise GradingError(f"quiz {qid}: the first committed answer is not correct")
    print(f"quiz {qid}: first committed answer is correct")


def expect_one_of(name: str, value: Any, accepted: Iterable[str]) -> None:
    """Text answers where several are right (a P0/P1 call): case and accents do not matter."""
    accepted = list(accepted)
    _compared(name, normalise_text(str(value)), sorted(normalise_text(a) for a in accepted))
    if normalise_text(str(value)) not in {normalise_text(a) for a in accepted}:
        raise GradingError(f"{name}: not an accepted answer")


def expect_close(name: str, value: Any, expected: float, tolerance: float) -> None:
    """A number within ``tolerance`` of the reference (the reference is never printed)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise GradingError(f"{name}: expected a number, got {type(value).__name__}") from None
    _compared(name, number, float(expected), tolerance)
    if math.isnan(number) or abs(number - expected) > tolerance:
        raise GradingError(f"{name}: {number:g} is not the value the reference computes")


def expect_equal(name: str, value: Any, expected: Any) -> None:
    """A planted fact (a time, an id, a class name) equal to the reference's, compared as text."""
    shown, wanted = str(value).strip(), str(expected).strip()
    _compared(name, shown, wanted)
    if shown != wanted:
        raise GradingError(f"{name}: {one_line(shown, 60)} is not what the reference finds")
