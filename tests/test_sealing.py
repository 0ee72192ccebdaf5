"""Sealing a source quiz cell: keys hashed, explanation locked, the rest of the cell untouched."""
import pytest

from course.quiz.keys import unseal_text
from course.trainer.grading.sealing import SealingError, questions_in, seal_source

CELL = '''# Exercise 2.1, scenario 1
quiz.single_choice(
    "2.1-login",
    "Nobody can log in. Severity?",
    options=["P0", "P1", "P2", "P3"],
    answer=["P0", "P1"],   # both halves of the guide's key
    explanation="Autenticação: all users are hit.",
)
print("done")
'''


def test_answer_becomes_key_and_only_a_right_answer_opens_the_explanation():
    sealed = seal_source(CELL)
    assert 'answer=' not in sealed and 'key=["' in sealed
    assert "all users are hit" not in sealed
    assert "# both halves of the guide's key" in sealed and 'print("done")' in sealed
    explanation = sealed.split('explanation="')[1].split('"')[0]
    assert explanation.startswith("locked:") and unseal_text(explanation) == explanation
    [question] = questions_in(sealed)
    assert question.explanation_after(["P3", "P2"]) == ""
    assert question.explanation_after(["P2", "P1"]) == "Autenticação: all users are hit."
    assert question.explanation_after(["p0"]) == "Autenticação: all users are hit."


def test_a_data_dependent_question_keeps_no_explanation():
    cell = 'quiz.numeric("m2-count", "How many?", answer_from="m2-count", explanation="It is 42.")'
    sealed = seal_source(cell)
    assert "42" not in sealed and 'explanation=""' in sealed


def test_a_numeric_explanation_opens_within_the_tolerance_only():
    cell = 'quiz.numeric("n", "How long?", answer=15, tolerance=0.5, explanation="Fifteen minutes.")'
    [question] = questions_in(seal_source(cell))
    assert question.explanation_after([15.4]) == "Fifteen minutes."
    assert question.explanation_after([16, 14]) == ""


def test_sealing_is_deterministic_and_idempotent():
    assert seal_source(CELL) == seal_source(CELL)
    assert seal_source(seal_source(CELL)) == seal_source(CELL)


def test_non_literal_answer_is_refused():
    with pytest.raises(SealingError, match="literals"):
        seal_source('quiz.short_text("q", "?", answer=compute())')


def test_cells_without_quizzes_are_untouched():
    for source in ["x = 1", "%matplotlib inline", "df.plot()"]:
        assert seal_source(source) == source
