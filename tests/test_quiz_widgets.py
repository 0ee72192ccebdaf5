"""Widget views: a Submit commits what the browser sent, feedback appears, a rebuilt view restores,
a damaged file stops."""
import json

import pytest

from course.quiz import Quiz
from course.quiz.questions import Matching, MultipleSelect, Numeric, Ordering, ShortText, SingleChoice
from course.quiz.store import AnswerStore
from course.quiz.widgets import MAX_TEXT_ANSWER, view_for


def make(question, tmp_path):
    return view_for(question, AnswerStore(tmp_path / "answers.json"))


def press_submit(view, response):
    """What quiz.js sends when Submit is pressed: the answer as the page shows it."""
    sent = []
    view.box.send = sent.append
    view.box._handle_custom_msg({"event": "submit", "response": response}, [])
    return sent[-1]


def test_single_choice_submit(tmp_path):
    view = make(SingleChoice(qid="s", prompt="?", options=["P0", "P1"], answer="P1",
                             explanation="Core feature broken."), tmp_path)
    assert "Core feature" not in view.box.feedback  # explanation only after a commit
    assert press_submit(view, "P1") == {"event": "done", "recorded": True}
    assert view.box.response == "P1" and view.box.verdict == "right"  # the page marks the choice
    assert "etp-right" in view.box.feedback and "Core feature" in view.box.feedback
    assert AnswerStore(tmp_path / "answers.json").first("s").answer == "P1"


def test_submit_without_an_answer_records_nothing(tmp_path):
    view = make(SingleChoice(qid="s", prompt="?", options=["P0", "P1"], answer="P1"), tmp_path)
    assert press_submit(view, None) == {"event": "done", "recorded": False}
    assert "nothing was recorded" in view.box.feedback
    assert not (tmp_path / "answers.json").exists()


def test_each_type_commits_its_response(tmp_path):
    multi = make(MultipleSelect(qid="m", prompt="?", options=["a", "b", "c"], answer=["a", "c"]), tmp_path)
    press_submit(multi, ["c", "a"])
    number = make(Numeric(qid="n", prompt="?", answer=44.64, tolerance=0.1, unit="min"), tmp_path)
    press_submit(number, " 44,6")
    text = make(ShortText(qid="t", prompt="?", answer="unhealthy"), tmp_path)
    press_submit(text, "Unhealthy")
    order = make(Ordering(qid="o", prompt="?", items=["b", "a"], answer=["a", "b"]), tmp_path)
    press_submit(order, ["a", "b"])  # "a" moved up
    match = make(Matching(qid="p", prompt="?", left=["P0", "P3"], right=["15 min", "24 h"],
                          answer={"P0": "15 min", "P3": "24 h"}), tmp_path)
    press_submit(match, {"P0": "15 min", "P3": "24 h"})
    for view in (multi, number, text, order, match):
        assert "etp-right" in view.box.feedback, view.question.qid
    saved = json.loads((tmp_path / "answers.json").read_text())["questions"]
    assert saved["o"][0]["answer"] == ["a", "b"] and saved["n"][0]["answer"] == 44.6
    assert saved["m"][0]["answer"] == ["a", "c"]  # in the options' order


@pytest.mark.parametrize("typed", ["about ten", "nan", "inf", "1e999"])
def test_not_a_number_is_refused(tmp_path, typed):
    view = make(Numeric(qid="n", prompt="?", answer=1.0), tmp_path)
    press_submit(view, typed)
    assert "is not a number" in view.box.feedback
    assert not (tmp_path / "answers.json").exists()


@pytest.mark.parametrize("question, sent", [
    (SingleChoice(qid="s", prompt="?", options=["P0"], answer="P0"), "P9"),
    (MultipleSelect(qid="m", prompt="?", options=["a"], answer=["a"]), "a"),
    (Ordering(qid="o", prompt="?", items=["a", "b"], answer=["a", "b"]), ["a", "c"]),
    (Matching(qid="p", prompt="?", left=["x"], right=["y"], answer={"x": "y"}), {"x": "z"}),
    (ShortText(qid="t", prompt="?", answer="a"), ["a"]),
])
def test_what_no_page_sends_is_refused(tmp_path, question, sent):
    view = make(question, tmp_path)
    assert press_submit(view, sent)["recorded"] is False
    assert "could not be read" in view.box.feedback


def test_incomplete_matching_and_long_text_record_nothing(tmp_path):
    match = make(Matching(qid="p", prompt="?", left=["x", "w"], right=["y"], answer={"x": "y", "w": "y"}), tmp_path)
    press_submit(match, {"x": "y", "w": ""})
    assert "nothing was recorded yet" in match.box.feedback
    text = make(ShortText(qid="t", prompt="?", answer="a"), tmp_path)
    press_submit(text, "x" * (MAX_TEXT_ANSWER + 1))
    assert "Keep it short" in text.box.feedback
    assert not (tmp_path / "answers.json").exists()


def test_rebuilt_view_restores_committed_answer(tmp_path):
    question = SingleChoice(qid="s", prompt="?", options=["P0", "P1"], answer="P1")
    first = make(question, tmp_path)
    press_submit(first, "P0")
    press_submit(first, "P1")
    again = make(question, tmp_path)  # as after a kernel restart
    assert again.box.response == "P1" and again.box.verdict == "right"  # the last try, marked
    assert "etp-wrong" in again.box.feedback and "Try 2" in again.box.feedback
    assert "first answer: P0 (not correct)" in again.summary()


def test_a_quiz_drawn_again_closes_the_widget_before(tmp_path):
    question = SingleChoice(qid="s", prompt="?", options=["P0"], answer="P0")
    first, again = make(question, tmp_path), make(question, tmp_path)
    assert first.box.comm is None and again.box.comm is not None
    other = make(SingleChoice(qid="t", prompt="?", options=["P0"], answer="P0"), tmp_path)
    assert again.box.comm is not None and other.box.comm is not None


def test_damaged_file_disables_submit_and_keeps_content(tmp_path):
    (tmp_path / "answers.json").write_text("{oops")
    view = make(SingleChoice(qid="s", prompt="?", options=["P0"], answer="P0"), tmp_path)
    assert view.box.locked and "not valid JSON" in view.box.feedback
    assert (tmp_path / "answers.json").read_text() == "{oops"
    assert "answer file problem" in view.summary()


def test_headless_display_is_the_summary_line(tmp_path):
    view = make(Numeric(qid="n", prompt="How many?", answer=1.0), tmp_path)
    data, _ = view.box._repr_mimebundle_()
    assert data["text/plain"] == "[quiz n] How many? (no answer committed yet)"
    assert "application/vnd.jupyter.widget-view+json" in data
    assert repr(view.box) == data["text/plain"]


def test_front_end_ships_with_the_widget(tmp_path):
    view = make(Ordering(qid="o", prompt="?", items=["b", "a"], answer=["a", "b"]), tmp_path)
    assert "export default" in view.box._esm and ".etp-quiz" in view.box._css
    assert view.box.kind == "ordering" and view.box.fields == {"items": ["b", "a"]}
    assert "answer" not in view.box.fields and "key" not in view.box.fields  # never the key


def test_quiz_facade_registers_and_grades(tmp_path, capsys):
    quiz = Quiz(tmp_path / "answers.json")
    quiz.single_choice("s", "?", options=["P0", "P1"], answer="P0")
    store = quiz.store
    store.record("s", "P0", "p0", True)
    quiz.grade("s")
    assert "[quiz s]" in capsys.readouterr().out  # the headless display is its summary line
