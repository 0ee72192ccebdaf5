"""Every module through nbgrader: right answers earn every autograded point, blank earns none,
partly wrong earns exactly the rest; feedback shows no hidden test."""
import html
import re

import pytest

from course.data import world
from harness import (ASSIGNMENTS, REPO, Trainee, autograded_points, grade_written_answers, notebooks,
                     quiz_questions)

pytestmark = pytest.mark.slow


def autograde(course, assignment, trainee):
    """Submit and grade; a trainee of ``one_world_course`` answers in the canonical world."""
    root, api = course
    one_world = api.config.WorldVariants.get("enabled", True) is False
    trainee.submit(root, assignment, seed=world.CANONICAL_SEED if one_world else None)
    result = api.autograde(assignment, trainee.name)
    assert result["success"], result.get("log")
    return autograded_points(root, assignment, trainee.name)


def source_quiz_cells(assignment):
    cells = {}
    for nb in notebooks(REPO / "source" / assignment).values():
        cells.update(quiz_questions(nb))
    return cells


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_and_right_answers_earn_every_point(course, assignment):
    points = autograde(course, assignment, Trainee("rt-full"))
    missing = {cell: score for cell, score in points.items() if score[0] != score[1]}
    assert points and not missing, f"cells short of full marks: {missing}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_earns_nothing(course, assignment):
    points = autograde(course, assignment, Trainee("rt-blank", solve=False, answer_quizzes=False))
    assert sum(score for score, _ in points.values()) == 0, points


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_partly_wrong_quizzes_earn_the_rest(course, assignment):
    quiz_cells = source_quiz_cells(assignment)
    wrong_cells = sorted(quiz_cells)[::2]
    wrong_qids = frozenset(q.qid for cell in wrong_cells for q in quiz_cells[cell])
    points = autograde(course, assignment, Trainee("rt-partial", wrong_quizzes=wrong_qids))
    for cell, (score, max_score) in points.items():
        assert score == (0 if cell in wrong_cells else max_score), cell
    assert 0 < sum(s for s, _ in points.values()) < sum(m for _, m in points.values())


def hidden_lines(assignment):
    """Every non-trivial line of every hidden test region of the module's source notebooks."""
    lines = set()
    for nb in notebooks(REPO / "source" / assignment).values():
        for cell in nb.cells:
            regions = re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
            lines.update(l.strip() for region in regions for l in region.splitlines() if len(l.strip()) > 12)
    return lines


def as_text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_no_hidden_test(course, assignment):
    root, api = course
    trainee = Trainee("rt-feedback", wrong_quizzes=frozenset(
        q.qid for qs in source_quiz_cells(assignment).values() for q in qs))
    autograde(course, assignment, trainee)
    grade_written_answers(root, assignment, trainee.name)  # feedback waits for them
    result = api.generate_feedback(assignment, trainee.name)
    assert result["success"], result.get("log")
    pages = list((root / "feedback" / trainee.name / assignment).glob("*.html"))
    assert pages
    for page in pages:
        text = as_text(page.read_text(encoding="utf-8"))
        assert "HIDDEN TESTS" not in text and "Traceback" not in text
        leaked = [line for line in hidden_lines(assignment) if line in text]
        assert not leaked, f"{page.name} shows hidden test code: {leaked[:3]}"
        assert "is not correct" in text  # the trainee still learns which quiz failed
