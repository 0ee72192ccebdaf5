"""Sealing a source quiz cell: keys hashed, explanation hidden, the rest of the cell untouched."""
import pytest

from course.quiz.keys import unseal_text
from course.trainer.sealing import SealingError, seal_source

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


def test_answer_becomes_key_and_explanation_is_sealed():
    sealed = seal_source(CELL)
    assert 'answer=' not in sealed and 'key=["' in sealed
    assert "all users are hit" not in sealed
    assert "# both halves of the guide's key" in sealed and 'print("done")' in sealed
    namespace = {}
    exec("import ast\nargs = None", namespace)
    explanation = sealed.split('explanation="')[1].split('"')[0]
    assert unseal_text(explanation) == "Autenticação: all users are hit."


def test_sealing_is_deterministic_and_idempotent():
    assert seal_source(CELL) == seal_source(CELL)
    assert seal_source(seal_source(CELL)) == seal_source(CELL)


def test_non_literal_answer_is_refused():
    with pytest.raises(SealingError, match="literals"):
        seal_source('quiz.short_text("q", "?", answer=compute())')


def test_cells_without_quizzes_are_untouched():
    for source in ["x = 1", "%matplotlib inline", "df.plot()"]:
        assert seal_source(source) == source
