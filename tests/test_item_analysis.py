"""Item analysis (``course.trainer.cohort.item_analysis``) and ``python -m course regrade``.

- a tiny gradebook made by hand: n, right, p, r (item-rest) and D (upper-lower 27 %) equal the
  figures computed by hand below, distractors come from the answer files, the page has its plots
  with alt text and leaves matplotlib's global backend alone;
- the simulated cohort of Module 5 (``insight_cohort``): ``python -m course report`` shows each
  quiz's first-try count and distractors as the cohort answered, and writes the page;
- a quiz key fixed in ``source/``: ``regrade`` judges that cell again for every submission and
  changes nothing else (other cells, manual grades, comments).
"""
from __future__ import annotations

import base64
import math
import os
import re

import matplotlib
import nbformat
import pytest
from nbgrader.api import Gradebook

from course.quiz.store import AnswerStore
from course.trainer.cohort import item_analysis
from insight_cohort import COHORT, MODULE, cohort, course_cli  # noqa: F401 (cohort: a fixture)

# -- a tiny gradebook, by hand ---------------------------------------------------------------------
# points       q1 (quiz, 1)  c1 (check, 2)  w1 (written, 2)  total
#   s1              0              2              2             4
#   s2              0              0              1             1
#   s3              1              2          not graded        3
#   s4              1              0              0             1
# q1: p = 2/4 = .5; rest = (4, 1, 2, 0): r = -1.5 / sqrt(1 * 8.75) = -.50709; 27 % of 4 is 1
#     trainee: top s1 (share 0) minus bottom s4 (ties s2/s4 by id: s4 last; share 1): D = -1
# c1: p = .5; rest = (2, 1, 1, 1): r = 1 / sqrt(4 * .75) = .57735; D = 1 - 0 = 1
# w1: n = 3, right 1, p = (1 + .5 + 0) / 3 = .5; rest = (2, 0, 1): r = 1 / sqrt(2 * 2) = .5;
#     D: s1 (share 1) minus s4 (share 0) = 1
POINTS = {"s1": (0, 2, 2), "s2": (0, 0, 1), "s3": (1, 2, None), "s4": (1, 0, 0)}
EXPECTED = {"q1": dict(n=4, right=2, p=0.5, r=-1.5 / math.sqrt(8.75), D=-1.0),
            "c1": dict(n=4, right=2, p=0.5, r=1 / math.sqrt(3), D=1.0),
            "w1": dict(n=3, right=1, p=0.5, r=0.5, D=1.0)}
QUIZ = 'quiz.single_choice("q1", "Pick one", options=["a", "b", "c"], answer="a")'


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tiny-gradebook")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.update_or_create_assignment("m9")
        gb.add_notebook("nb", "m9")
        for name, top, kind, source in [("q1", 1, "code", QUIZ), ("c1", 2, "code", "assert x == 1"),
                                        ("w1", 2, "markdown", "Why?")]:
            gb.add_grade_cell(name, "nb", "m9", max_score=top, cell_type=kind)
            gb.add_source_cell(name, "nb", "m9", cell_type=kind, locked=name != "w1", source=source, checksum="")
        gb.add_solution_cell("w1", "nb", "m9")
        for student, scores in POINTS.items():
            gb.add_student(student)
            gb.add_submission("m9", student)
            for name, score in zip(("q1", "c1", "w1"), scores):
                grade = gb.find_grade(name, "nb", "m9", student)
                if name == "w1":
                    grade.manual_score = score
                else:
                    grade.auto_score = score
        gb.db.commit()
    files = {}
    for student, choice in {"s1": "b", "s2": "b", "s3": "a", "s4": "a"}.items():
        files[student] = tmp_path / student / "answers.json"
        store = AnswerStore(files[student])
        store.record("q1", choice, choice, choice == "a")
        if choice != "a":
            store.record("q1", "a", "a", True)  # a later try: not what is counted
    with Gradebook(url) as gb:
        return item_analysis.module_items(gb, "m9", sorted(POINTS), files)


def test_the_figures_are_the_ones_computed_by_hand(tiny):
    stats = tiny.statistics()
    assert list(stats.index) == ["q1", "c1", "w1"]
    assert dict(stats["kind"]) == {"q1": "quiz", "c1": "check", "w1": "written"}
    for item, expected in EXPECTED.items():
        for column, value in expected.items():
            assert stats.at[item, column] == pytest.approx(value), (item, column)
    assert stats.at["q1", "wrong first answers"] == "'b' x2"  # first answers only, of those wrong
    assert stats.at["c1", "wrong first answers"] == ""


def test_the_table_says_which_item_to_check(tiny):
    lines = item_analysis.text_table(tiny)
    q1 = next(line for line in lines if line.startswith("q1"))
    assert item_analysis.NOTE_NEGATIVE in q1 and "-0.51" in q1 and "-1.00" in q1
    c1 = next(line for line in lines if line.startswith("c1"))
    assert item_analysis.NOTE_NEGATIVE not in c1 and "0.58" in c1


def test_the_page_has_both_plots_with_alt_text_and_leaves_pyplot_alone(tiny, tmp_path):
    backend, env = matplotlib.get_backend(), os.environ.get("MPLBACKEND")
    page = item_analysis.write_page([tiny], tmp_path / "items.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)">', page)
    assert len(images) == 2
    for data, alt in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
        assert "m9" in alt
    assert "lowest 20 %, median 40 %, highest 80 %" in images[0][1]  # totals 4, 1, 3, 1 of 5
    assert "negative discrimination: q1" in images[1][1]
    assert '<tr class="neg"><td>q1</td>' in page
    assert (matplotlib.get_backend(), os.environ.get("MPLBACKEND")) == (backend, env)


def test_trainee_text_on_the_page_is_escaped(tiny, tmp_path):
    import copy

    hostile = copy.deepcopy(tiny)
    hostile.distractors["q1"]["<script>alert(1)</script>"] = 1
    page = item_analysis.write_page([hostile], tmp_path / "items.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


# -- the simulated cohort -------------------------------------------------------------------------
def wrong_first(qid: str) -> int:
    return sum(qid in trainee.wrong_quizzes for trainee in COHORT)


def item_line(output: str, item: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(item + " "))
    return line.split()


@pytest.mark.slow
def test_report_shows_the_cohorts_item_statistics_and_writes_the_page(cohort, tmp_path):
    page = tmp_path / "cohort.html"
    done = course_cli(cohort["root"], "report", "--module", MODULE, "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert f"Items of {MODULE}, {len(COHORT)} graded submission(s)" in done.stdout
    for qid in ["m5-five-seconds", "m5-jwt-cause", "m5-502-cause", "m5-escalate-p1", "m5-symptom-cause"]:
        item, kind, n, right, p, *_ = item_line(done.stdout, qid)
        assert (kind, int(n), int(right)) == ("quiz", len(COHORT), len(COHORT) - wrong_first(qid)), qid
        assert float(p) == pytest.approx(1 - wrong_first(qid) / len(COHORT), abs=0.005)
        if wrong_first(qid):
            assert f"x{wrong_first(qid)}" in " ".join(item_line(done.stdout, qid)), qid  # one distractor each
    # the trail check: not done by one trainee, no code at all from another
    _, kind, n, right, *_ = item_line(done.stdout, "m5-trail-test")
    assert (kind, int(right)) == ("check", len(COHORT) - 2)
    images = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)">', page.read_text())
    assert len(images) == 2 and f"{len(COHORT)} trainees" in images[0]


def grades(root) -> dict:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {(s.student.id, g.name): (g.auto_score, g.manual_score, g.needs_manual_grade)
                for s in gb.assignment_submissions(MODULE) for nb in s.notebooks for g in nb.grades}


def set_key(root, qid: str, old: str, new: str) -> None:
    [path] = (root / "source" / MODULE).glob("*.ipynb")
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == qid]
    assert f'answer="{old}"' in cell.source
    cell.source = cell.source.replace(f'answer="{old}"', f'answer="{new}"')
    nbformat.write(nb, path)


RIGHT = "A deploy minutes before the first 401s changed JWT_SECRET without keeping the old secret in JWT_SECRET_OLD"
DISTRACTOR = "Many users' tokens reached their expiry at the same minute"


@pytest.mark.slow
def test_regrade_judges_one_quiz_again_and_nothing_else(cohort):
    root, qid = cohort["root"], "m5-jwt-cause"
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:  # the trainer's work in the formgrader
        gb.find_grade("m5-diagnosis", "m5_troubleshooting", MODULE, "ins-ana").manual_score = 2.5
        gb.find_grade(qid, "m5_troubleshooting", MODULE, "ins-eve").manual_score = 1.0
        gb.db.commit()
    before = grades(root)
    wrong = {t.name for t in COHORT if qid in t.wrong_quizzes}
    set_key(root, qid, RIGHT, DISTRACTOR)  # a "fix" that makes the distractor the key
    try:
        done = course_cli(root, "regrade", MODULE, "--question", qid)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"judged again for {len(COHORT)} submission(s): {len(COHORT)} changed" in done.stdout
        assert "manual score kept" in done.stdout and "ins-eve" in done.stdout
        after = grades(root)
        for (student, cell), (auto, manual, needs) in after.items():
            if cell == qid:
                assert auto == (1.0 if student in wrong else 0.0), student  # the distractor is right now
                assert (manual, needs) == before[(student, cell)][1:]
            else:
                assert (auto, manual, needs) == before[(student, cell)], (student, cell)
        [graded_nb] = (root / "autograded" / "ins-ana" / MODULE).glob("*.ipynb")
        cell = next(c for c in nbformat.read(graded_nb, as_version=4).cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == qid)
        assert DISTRACTOR in cell.source and any(o.get("output_type") == "error" for o in cell.outputs)
    finally:
        set_key(root, qid, DISTRACTOR, RIGHT)
    again = course_cli(root, "regrade", MODULE, "--question", qid)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {k: v[0] for k, v in grades(root).items()} == {k: v[0] for k, v in before.items()}


@pytest.mark.slow
def test_regrade_refuses_what_needs_the_trainees_kernel_or_the_trainer(cohort):
    code = course_cli(cohort["root"], "regrade", MODULE, "--question", "m5-trail-test")
    assert code.returncode != 0 and "needs their kernel" in code.stderr
    written = course_cli(cohort["root"], "regrade", MODULE, "--question", "m5-diagnosis")
    assert written.returncode != 0 and "formgrader" in written.stderr
    unknown = course_cli(cohort["root"], "regrade", MODULE, "--question", "m5-nope")
    assert unknown.returncode != 0 and "no graded cell 'm5-nope'" in unknown.stderr
