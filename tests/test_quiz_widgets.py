"""Widget views: a click commits, feedback appears, a rebuilt view restores, a damaged file stops."""
import json

from course.quiz import Quiz
from course.quiz.questions import Matching, MultipleSelect, Numeric, Ordering, ShortText, SingleChoice
from course.quiz.store import AnswerStore
from course.quiz.widgets import view_for


def make(question, tmp_path):
    return view_for(question, AnswerStore(tmp_path / "answers.json"))


def test_single_choice_click_and_submit(tmp_path):
    view = make(SingleChoice(qid="s", prompt="?", options=["P0", "P1"], answer="P1",
                             explanation="Core feature broken."), tmp_path)
    assert "Core feature" not in view.feedback.value  # explanation only after a commit
    view.buttons["P1"].click()
    assert "etp-selected" in view.buttons["P1"]._dom_classes
    view.submit.click()
    assert "etp-right" in view.feedback.value and "Core feature" in view.feedback.value
    assert AnswerStore(tmp_path / "answers.json").first("s").answer == "P1"


def test_submit_without_an_answer_records_nothing(tmp_path):
    view = make(SingleChoice(qid="s", prompt="?", options=["P0", "P1"], answer="P1"), tmp_path)
    view.submit.click()
    assert "nothing was recorded" in view.feedback.value
    assert not (tmp_path / "answers.json").exists()


def test_each_type_commits_its_response(tmp_path):
    multi = make(MultipleSelect(qid="m", prompt="?", options=["a", "b", "c"], answer=["a", "c"]), tmp_path)
    multi.buttons["a"].click(); multi.buttons["c"].click(); multi.submit.click()
    number = make(Numeric(qid="n", prompt="?", answer=44.64, tolerance=0.1, unit="min"), tmp_path)
    number.text.value = "44,6"; number.submit.click()
    text = make(ShortText(qid="t", prompt="?", answer="unhealthy"), tmp_path)
    text.text.value = "Unhealthy"; text.submit.click()
    order = make(Ordering(qid="o", prompt="?", items=["b", "a"], answer=["a", "b"]), tmp_path)
    order.rows[1][2].click()  # move "a" up
    order.submit.click()
    match = make(Matching(qid="p", prompt="?", left=["P0", "P3"], right=["15 min", "24 h"],
                          answer={"P0": "15 min", "P3": "24 h"}), tmp_path)
    match.selects["P0"].value = "15 min"; match.selects["P3"].value = "24 h"; match.submit.click()
    for view in (multi, number, text, order, match):
        assert "etp-right" in view.feedback.value, view.question.qid
    saved = json.loads((tmp_path / "answers.json").read_text())["questions"]
    assert saved["o"][0]["answer"] == ["a", "b"] and saved["n"][0]["answer"] == 44.6


def test_not_a_number_is_refused(tmp_path):
    view = make(Numeric(qid="n", prompt="?", answer=1.0), tmp_path)
    view.text.value = "about ten"
    view.submit.click()
    assert "is not a number" in view.feedback.value


def test_rebuilt_view_restores_committed_answer(tmp_path):
    question = SingleChoice(qid="s", prompt="?", options=["P0", "P1"], answer="P1")
    first = make(question, tmp_path)
    first.buttons["P0"].click(); first.submit.click()
    first.buttons["P1"].click(); first.submit.click()
    again = make(question, tmp_path)  # as after a kernel restart
    assert again.selected == ["P1"]
    assert "etp-wrong" in again.feedback.value and "Try 2" in again.feedback.value
    assert "first answer: P0 (not correct)" in again.summary()


def test_damaged_file_disables_submit_and_keeps_content(tmp_path):
    (tmp_path / "answers.json").write_text("{oops")
    view = make(SingleChoice(qid="s", prompt="?", options=["P0"], answer="P0"), tmp_path)
    assert view.submit.disabled and "not valid JSON" in view.feedback.value
    assert (tmp_path / "answers.json").read_text() == "{oops"
    assert "answer file problem" in view.summary()


def test_quiz_facade_registers_and_grades(tmp_path, capsys):
    quiz = Quiz(tmp_path / "answers.json")
    quiz.single_choice("s", "?", options=["P0", "P1"], answer="P0")
    store = quiz.store
    store.record("s", "P0", "p0", True)
    quiz.grade("s")
    assert "[quiz s]" in capsys.readouterr().out  # the headless display is its summary line
