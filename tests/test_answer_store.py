"""The answer file: atomic writes, first-attempt rule, tamper evidence, damaged files kept."""
import json

import pytest

from course.grading import GradingError, grade_quiz
from course.quiz.questions import SingleChoice
from course.quiz.store import AnswerFileError, AnswerStore

QUESTION = SingleChoice(qid="2.1-login", prompt="?", options=["P0", "P1", "P2"], answer=["P0", "P1"])


def commit(store, response):
    return store.record(QUESTION.qid, response, QUESTION.canonical(response), QUESTION.is_correct(response))


def test_first_committed_answer_is_graded(tmp_path):
    store = AnswerStore(tmp_path / "answers.json")
    commit(store, "P2")
    commit(store, "P0")
    tries = store.attempts(QUESTION.qid)
    assert [t.answer for t in tries] == ["P2", "P0"] and tries[0].time <= tries[1].time
    with pytest.raises(GradingError, match="not correct"):
        grade_quiz(QUESTION, store)


def test_right_first_answer_passes(tmp_path, capsys):
    store = AnswerStore(tmp_path / "answers.json")
    commit(store, "P1")
    commit(store, "P2")  # a later wrong try changes no points
    grade_quiz(QUESTION, store)
    assert "correct" in capsys.readouterr().out


def test_no_answer_is_a_clear_failure(tmp_path):
    with pytest.raises(GradingError, match="no committed answer"):
        grade_quiz(QUESTION, AnswerStore(tmp_path / "answers.json"))


def test_answer_edited_by_hand_is_flagged(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    data = json.loads(path.read_text())
    data["questions"][QUESTION.qid][0].update(answer="P0", canonical="p0", correct=True)
    path.write_text(json.dumps(data))
    assert store.tampered(QUESTION.qid)
    with pytest.raises(GradingError, match="FLAGGED"):
        grade_quiz(QUESTION, store)


def test_deleting_the_wrong_first_try_is_flagged(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    commit(store, "P0")
    data = json.loads(path.read_text())
    del data["questions"][QUESTION.qid][0]
    path.write_text(json.dumps(data))
    with pytest.raises(GradingError, match="FLAGGED"):
        grade_quiz(QUESTION, store)


def test_only_the_answer_changed_is_flagged(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    data = json.loads(path.read_text())
    data["questions"][QUESTION.qid][0]["answer"] = "P0"  # seal and canonical left as they were
    path.write_text(json.dumps(data))
    with pytest.raises(GradingError, match="FLAGGED"):
        grade_quiz(QUESTION, store)


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"format": "other"}',
                                     '{"format": "etp-academy-answers/1", "questions": []}'])
def test_damaged_file_is_reported_and_never_overwritten(tmp_path, content):
    path = tmp_path / "answers.json"
    path.write_text(content)
    store = AnswerStore(path)
    with pytest.raises(AnswerFileError) as err:
        commit(store, "P0")
    assert "answers.json" in str(err.value) and "\n" not in str(err.value)
    assert path.read_text() == content
    with pytest.raises(GradingError, match="trainer"):
        grade_quiz(QUESTION, store)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P1")
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("course.quiz.store.os.replace", crash)
    with pytest.raises(OSError):
        commit(store, "P2")
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["answers.json"]  # no temp file left behind
