"""Each question type checks a response the same way with a plain answer and a sealed key."""
import pytest

from course.quiz.questions import (Matching, MultipleSelect, Numeric, Ordering, QuizDefinitionError,
                                   ShortText, SingleChoice)

CASES = [
    (SingleChoice, dict(options=["P0", "P1", "P2", "P3"], answer=["P0", "P1"]),
     ["P0", "P1"], ["P2", "P3", None]),
    (MultipleSelect, dict(options=["a", "b", "c"], answer=["a", "c"]),
     [["a", "c"], ["c", "a"]], [["a"], ["a", "b", "c"], []]),
    (Numeric, dict(answer=223.2, tolerance=0.5),
     [223.2, 223.6, 222.75], [224.0, 0.0, None]),
    (ShortText, dict(answer=["unhealthy", "status unhealthy"]),
     ["Unhealthy", "  UNHEALTHY. ", "status   unhealthy"], ["healthy", "", "down"]),
    (Ordering, dict(items=["b", "a", "c"], answer=["a", "b", "c"]),
     [["a", "b", "c"]], [["b", "a", "c"], ["a", "b"], []]),
    (Matching, dict(left=["P0", "P1"], right=["15 min", "1 h"], answer={"P0": "15 min", "P1": "1 h"}),
     [{"P1": "1 h", "P0": "15 min"}], [{"P0": "1 h", "P1": "15 min"}, {"P0": "15 min", "P1": None}]),
]


@pytest.mark.parametrize("cls, fields, right, wrong", CASES, ids=[c[0].__name__ for c in CASES])
def test_plain_and_sealed_keys_agree(cls, fields, right, wrong):
    plain = cls(qid="q", prompt="?", **fields)
    sealed_fields = {k: v for k, v in fields.items() if k != "answer"}
    sealed = cls(qid="q", prompt="?", key=plain.sealed_key(), **sealed_fields)
    for response in right:
        assert plain.is_correct(response) and sealed.is_correct(response), response
    for response in wrong:
        assert not plain.is_correct(response) and not sealed.is_correct(response), response


def test_sealed_key_holds_no_plain_answer():
    question = ShortText(qid="q", prompt="?", answer="connection terminated unexpectedly")
    assert all("connection" not in digest for digest in question.sealed_key())


def test_same_answer_different_questions_hash_differently():
    first = SingleChoice(qid="a", prompt="?", options=["P0"], answer="P0")
    second = SingleChoice(qid="b", prompt="?", options=["P0"], answer="P0")
    assert first.sealed_key() != second.sealed_key()


def test_short_text_ignores_accents_and_case():
    question = ShortText(qid="q", prompt="?", answer="Token inválido")
    assert question.is_correct("token INVALIDO")


@pytest.mark.parametrize("cls, fields", [
    (SingleChoice, dict(options=["P0"], answer="P9")),
    (Ordering, dict(items=["a", "b"], answer=["a", "c"])),
    (Matching, dict(left=["x"], right=["y"], answer={"x": "z"})),
    (ShortText, dict()),
])
def test_badly_written_quiz_is_refused(cls, fields):
    with pytest.raises(QuizDefinitionError):
        cls(qid="q", prompt="?", **fields)


def test_a_check_asks_a_quiz_whether_a_value_is_its_key(tmp_path):
    """Quiz.accepts: a later check builds on a quiz's key (sealed or plain) without printing it;
    it cannot tell where the key is the hub's, and it says when the quiz has not run yet."""
    from course.quiz import Quiz

    plain = Numeric(qid="budget", prompt="?", answer=223.2, tolerance=0.5)
    quiz = Quiz(tmp_path / "answers.json", service=None)
    with pytest.raises(NotImplementedError, match="run the quiz budget above first"):
        quiz.accepts("budget", 223.2)
    quiz.questions["budget"] = Numeric(qid="budget", prompt="?", key=plain.sealed_key(), tolerance=0.5)
    assert quiz.accepts("budget", 223.0) is True and quiz.accepts("budget", 216.0) is False
    quiz.questions["budget"] = plain
    assert quiz.accepts("budget", 223.2) is True and quiz.accepts("budget", 44.64) is False
    quiz.questions["budget"] = Numeric(qid="budget", prompt="?", answer_from="hub", tolerance=0.5)
    assert quiz.accepts("budget", 223.2) is None
