"""What a trainee committed, shown on each quiz cell for the trainer; FLAGGED where it was changed
by hand, never called correct; the gradebook flag and its comment; FLAGGED only where it applies."""
import inspect
import json
import subprocess
import sys

import pytest

from course.trainer.reference import judge as grading
from course.quiz import widgets
from course.quiz.questions import Numeric, SingleChoice
from course.quiz.store import AnswerStore
from course.quiz.widgets import committed_answers
from course.trainer.grading.problems import with_reasons
from course.trainer.grading.verdicts import Verdicts

QUESTION = SingleChoice(qid="sev", prompt="Severity?", options=["P0", "P1", "P2"], answer="P1")
SETUP = "from course.quiz import Quiz\nquiz = Quiz()\n"
QUIZ_CELL = ('quiz.single_choice("sev", "Severity?", options=["P0", "P1", "P2"], answer="P1",\n'
             '                   explanation="Core feature broken for some.")\n'
             '### BEGIN HIDDEN TESTS\nquiz.grade("sev")\n### END HIDDEN TESTS\n')


def commit(store, response, question=QUESTION):
    store.record(question.qid, response, question.canonical(response), question.is_correct(response))


def edit_first_answer(path, answer):
    """A hand edit: the first answer changed in the file, its sealed canonical form left alone."""
    data = json.loads(path.read_text())
    data["questions"]["sev"][0]["answer"] = answer
    path.write_text(json.dumps(data))


def test_first_answer_and_later_tries_are_listed(tmp_path):
    store = AnswerStore(tmp_path / "answers.json")
    commit(store, "P2")
    commit(store, "P1")
    record = committed_answers(QUESTION, store)
    assert record.lines == ("[quiz sev] first answer: P2 (not correct)", "  try 2: P1 (correct; no points)")
    assert record.problem is None


def test_an_answer_changed_by_hand_is_flagged_first_and_never_called_correct(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    edit_first_answer(path, "P1")  # now the right answer, by hand
    record = committed_answers(QUESTION, store)
    assert record.lines[0].startswith("FLAGGED") and "changed by hand" in record.lines[0]
    assert "P1" in record.text and "(correct)" not in record.text
    assert record.problem
    view = widgets.view_for(QUESTION, store)  # the widget's own text (headless runs) agrees
    assert view.summary() == record.text


def test_a_damaged_file_or_an_odd_answer_is_flagged_without_failing(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text("{oops")
    assert committed_answers(QUESTION, AnswerStore(path)).text.startswith("FLAGGED")
    number = Numeric(qid="sev", prompt="How many?", answer=3.0)
    path.unlink()
    store = AnswerStore(path)
    commit(store, 3.0, number)
    edit_first_answer(path, "three")  # no quiz input gives a text here
    record = committed_answers(number, store)
    assert record.problem and "three" in record.text


def test_quiz_cell_output_shows_the_committed_answer_first(tmp_path):
    path = tmp_path / "answers.json"
    commit(AnswerStore(path), "P2")
    outputs = Verdicts([SETUP], path).judge("sev", QUIZ_CELL, None)
    assert outputs[0].output_type == "stream" and outputs[0].text.startswith("[quiz sev] first answer: P2")
    assert outputs[-1].output_type == "error"  # and the verdict, after it
    assert "Core feature" not in "".join(o.get("text", "") for o in outputs)  # no explanation, no key


def test_flagged_quiz_cell_says_so_on_its_first_line(tmp_path):
    path = tmp_path / "answers.json"
    commit(AnswerStore(path), "P2")
    edit_first_answer(path, "P1")
    outputs = Verdicts([SETUP], path).judge("sev", QUIZ_CELL, None)
    assert outputs[0].text.startswith("FLAGGED") and "(correct)" not in outputs[0].text
    assert outputs[-1].evalue.startswith("FLAGGED: quiz sev:")


def test_grade_quiz_source_never_shows_the_flag_word_around_an_ordinary_wrong_answer():
    # Tracebacks print source lines around the failing one (IPython shows several):
    # the flag word lives away from the lines that raise.
    assert "FLAGGED" not in inspect.getsource(grading.grade_quiz)
    assert grading.REVIEW_MARK == widgets.REVIEW_MARK == "FLAGGED"


def test_an_ordinary_wrong_answer_traceback_in_ipython_has_no_flag_word(tmp_path):
    script = f"""
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_cell('''
from course.quiz.questions import SingleChoice
from course.quiz.store import AnswerStore
from course.trainer.reference.judge import grade_quiz
q = SingleChoice(qid="sev", prompt="?", options=["P0", "P1"], answer="P1")
store = AnswerStore({str(tmp_path / "answers.json")!r})
store.record("sev", "P0", q.canonical("P0"), False)
grade_quiz(q, store)
''')
"""
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    text = shown.stdout + shown.stderr
    assert "the first committed answer is not correct" in text and "grade_quiz" in text, text
    assert "FLAGGED" not in text, text


@pytest.mark.parametrize("comment, text, expected", [
    (None, "GRADING PROBLEM: the kernel died", "FLAGGED: GRADING PROBLEM: the kernel died"),
    ("No response.", "FLAGGED: quiz a: changed", "FLAGGED: quiz a: changed\nNo response."),
    ("FLAGGED: quiz a: changed\nNo response.", "FLAGGED: quiz a: changed\nNOT GRADED: x",
     "FLAGGED: quiz a: changed\nFLAGGED: NOT GRADED: x\nNo response."),
])
def test_flag_reasons_come_first_once_each(comment, text, expected):
    assert with_reasons(comment, text) == expected
