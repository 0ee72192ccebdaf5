"""One broken submission never stops a cohort's grading, and each one says what is wrong."""

import pytest

from harness import Trainee, autograded_points
from course.trainer.cohort.api import open_course

pytestmark = pytest.mark.slow
ASSIGNMENT = "m2_sla_severity"
INFINITE_LOOP = "while True:\n    pass"


@pytest.fixture
def short_timeout_api(course, monkeypatch):
    root, _ = course
    monkeypatch.setenv("ETP_CELL_TIMEOUT", "5")
    return root, open_course(root)


def test_cohort_with_corrupt_notebook_and_infinite_loop(short_timeout_api):
    root, api = short_timeout_api
    Trainee("cohort-good").submit(root, ASSIGNMENT)
    looping = Trainee("cohort-loop", code_overrides={"m2-budget-solution": INFINITE_LOOP})
    looping.submit(root, ASSIGNMENT)
    corrupt = Trainee("cohort-corrupt").submit(root, ASSIGNMENT)
    notebook = next(corrupt.glob("*.ipynb"))
    notebook.write_text(notebook.read_text()[:5000])  # cut short: not JSON any more
    (corrupt / "answers.json").write_text("{ broken")

    result = api.autograde(ASSIGNMENT, "cohort-*")  # the whole cohort, as `nbgrader autograde` does
    assert not result["success"] and "cohort-corrupt" in result["log"]

    good = autograded_points(root, ASSIGNMENT, "cohort-good")
    assert all(score == top for score, top in good.values())
    loop = autograded_points(root, ASSIGNMENT, "cohort-loop")
    assert loop["m2-budget-test"][0] == 0 and loop["m2-health-test"][0] == loop["m2-health-test"][1]
    assert (corrupt / "answers.json").read_text() == "{ broken"  # the trainee's file is kept


def test_broken_answer_file_scores_quizzes_zero_with_a_message(course):
    root, api = course
    folder = Trainee("broken-answers").submit(root, ASSIGNMENT)
    (folder / "answers.json").write_text('{"format": "etp-academy-answers/1", "questions": [1]}')
    assert api.autograde(ASSIGNMENT, "broken-answers")["success"]
    points = autograded_points(root, ASSIGNMENT, "broken-answers")
    assert points["m2-ex21-login"][0] == 0 and points["m2-health-test"][0] == 2
    graded = (root / "autograded" / "broken-answers" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "damaged" in graded and "the trainer will look at the file" in graded


def test_a_missing_notebook_gets_a_summary_line(course):
    from course.trainer.grading.problems import summary_lines

    root, api = course
    Trainee("summary-good").submit(root, ASSIGNMENT)
    folder = root / "submitted" / "summary-missing" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "answers.json").write_text("{}")  # handed in the answers, forgot the notebook
    assert api.autograde(ASSIGNMENT, "summary-*")["success"]
    lines = summary_lines()
    assert any(line.startswith("  summary-missing\t") and "was not submitted" in line for line in lines), lines
    assert not any(line.startswith("  summary-good\t") for line in lines)
