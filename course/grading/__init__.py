"""Helpers that hidden tests call. Each failure is a ``GradingError`` (an AssertionError, so
nbgrader scores the cell zero) with a one-line message that names the problem and never the key.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from ..quiz.keys import normalise_text
from ..quiz.questions import Question
from ..quiz.store import AnswerFileError, AnswerStore


class GradingError(AssertionError):
    """A hidden check failed; the message is safe to show a trainee."""


def grade_quiz(question: Question, store: AnswerStore) -> None:
    """Pass only if the first committed answer to ``question`` is right and its seal verifies."""
    qid = question.qid
    try:
        attempts = store.attempts(qid)
        tampered = store.tampered(qid)
    except AnswerFileError as err:
        raise GradingError(f"quiz {qid}: {err}; the trainer will look at the file") from None
    if not attempts:
        raise GradingError(f"quiz {qid}: no committed answer (press Submit to commit one)")
    first = attempts[0]
    if tampered or question.canonical(first.answer) != first.canonical:
        raise GradingError(f"quiz {qid}: FLAGGED: the answer file was changed by hand after the "
                           "answer was committed; the trainer reviews this answer")
    if not question.is_correct(first.answer):
        raise GradingError(f"quiz {qid}: the first committed answer is not correct")
    print(f"quiz {qid}: first committed answer is correct")


def expect_one_of(name: str, value: Any, accepted: Iterable[str]) -> None:
    """Text answers where several are right (a P0/P1 call): case and accents do not matter."""
    if normalise_text(str(value)) not in {normalise_text(a) for a in accepted}:
        raise GradingError(f"{name}: not an accepted answer")


def expect_close(name: str, value: Any, expected: float, tolerance: float) -> None:
    """A number within ``tolerance`` of the reference (the reference is never printed)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise GradingError(f"{name}: expected a number, got {type(value).__name__}") from None
    if math.isnan(number) or abs(number - expected) > tolerance:
        raise GradingError(f"{name}: {number:g} is not the value the reference computes")
