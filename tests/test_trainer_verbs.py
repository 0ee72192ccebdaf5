"""``python -m course trainee add | due | extend`` and the late policy in the report.

The simulated cohort of Module 5 (``insight_cohort``) was graded with a due date, the penalty
"zero" and an extension granted before grading: a late trainee scores 0, the extended one does
not, the on-time ones are untouched. An extension or a new due date given after grading takes
effect on the graded submissions at once. Without a penalty configured (the course's default),
the report says so.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from course.trainer.lab import runtime as lab
from course.trainer.cohort.api import open_course
from course.trainer.cohort.cli import late_submissions
from course.trainer.cohort.schedule import late_policy
from harness import REPO
from insight_cohort import (COHORT, DUE, EXTENDED, HANDED_IN, LATE, LATE_LATER_EXTENDED, MODULE, ON_TIME,
                            cohort, course_cli)  # noqa: F401 (cohort: a fixture)


def submissions(root: Path) -> dict:
    """{trainee: (seconds late, penalty, score, extension)} from the gradebook (the penalty is the
    sum of its notebooks': 0.0 when none has one)."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: (s.total_seconds_late, s.late_submission_penalty, s.score, s.extension)
                for s in gb.assignment_submissions(MODULE)}


# -- the late policy, said as configured ----------------------------------------------------------
def test_the_course_configures_no_penalty_and_the_report_header_says_so():
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert late_policy(config).startswith("no late penalty")


def test_the_penalty_and_a_plugin_of_ones_own_are_named():
    zero = Config()
    zero.LateSubmissionPlugin.penalty_method = "zero"
    assert "scores 0" in late_policy(zero)
    from nbgrader.plugins import LateSubmissionPlugin

    class Halve(LateSubmissionPlugin):
        pass

    own = Config()
    own.AssignLatePenalties.plugin_class = Halve
    assert "Halve" in late_policy(own) and "plugin_class" in late_policy(own)


# -- the roster and the trainee's id --------------------------------------------------------------
@pytest.mark.slow
def test_trainee_add_puts_them_on_the_roster_and_writes_their_settings(cohort):
    root = cohort["root"]
    assert all(done.returncode == 0 for done in cohort["added"]), [d.stderr for d in cohort["added"]]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        dan = gb.find_student(EXTENDED)
        assert (dan.first_name, dan.last_name, dan.email) == ("Dan", "Souza", f"{EXTENDED}@example.org")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root / "trainees" / EXTENDED)).load_config()
    assert config.CourseDirectory.student_id == EXTENDED
    again = course_cli(root, "trainee", "add", EXTENDED, "--email", "dan@example.org")  # update, name kept
    assert again.returncode == 0, again.stderr
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        dan = gb.find_student(EXTENDED)
        assert (dan.first_name, dan.email) == ("Dan", "dan@example.org")
    bad = course_cli(root, "trainee", "add", "../evil")
    assert bad.returncode != 0 and "not a usable trainee id" in bad.stderr


@pytest.mark.slow
def test_a_trainee_with_the_settings_hands_in_under_their_id(cohort, tmp_path, monkeypatch):
    """`nbgrader submit` run as another login, in a `make start` trainee folder, with the file
    `trainee add` wrote in ~/.jupyter: the exchange receives it under the roster id."""
    root, exchange = cohort["root"], cohort["root"] / "exchange"
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(exchange))
    api = open_course(root)
    if MODULE not in api.get_released_assignments():
        assert api.release_assignment(MODULE)["success"]
    home, workspace = tmp_path / "home", tmp_path / "workspace"
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        (root / "trainees" / ON_TIME / "nbgrader_config.py").read_text())
    lab.write_student_config(workspace, api.coursedir.course_id, exchange, tmp_path / "cache")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(HOME=str(home), USER="someone-else", LOGNAME="someone-else")
    bin_dir = Path(sys.executable).parent
    for step in ("fetch_assignment", "submit"):
        done = subprocess.run([str(bin_dir / "nbgrader"), step, MODULE], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    inbound = [p.name for p in (exchange / api.coursedir.course_id / "inbound").iterdir()]
    assert any(name.startswith(f"{ON_TIME}+{MODULE}+") for name in inbound), inbound


# -- due date and extension in a graded late submission -------------------------------------------
@pytest.mark.slow
def test_the_due_date_and_the_extension_take_effect_in_grading(cohort):
    root = cohort["root"]
    assert cohort["due"].returncode == 0 and "due 2026-11-20 17:00 UTC" in cohort["due"].stdout
    assert "applied when their submission is graded" in cohort["extend"].stdout
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_assignment(MODULE).duedate == DUE
    graded = submissions(root)
    for name, (late, penalty, score, extension) in graded.items():
        if name in (LATE, LATE_LATER_EXTENDED):  # late, no extension: "zero" takes the whole score
            assert late == HANDED_IN[name].total_seconds() and score > 0 and penalty == score, name
        elif name == EXTENDED:  # 30 h late by the module's date, within its 48 h extension
            assert extension == timedelta(hours=48) and late == 0 and not penalty, name
        else:
            assert late == 0 and not penalty, name
    assert "2 late" in cohort["autograde"].stdout


@pytest.mark.slow
def test_the_report_marks_the_late_and_names_the_policy(cohort):
    done = course_cli(cohort["root"], "report", "--module", MODULE)
    assert done.returncode == 0, done.stderr
    assert "late penalty: a late submission scores 0" in done.stdout
    assert "late penalties applied" not in done.stdout
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("ins-")}
    assert set(rows) == {t.name for t in COHORT}
    assert rows[LATE].split()[1] == "0" and "late" in rows[LATE]
    assert "late" not in rows[EXTENDED] and "late" not in rows[ON_TIME]


@pytest.mark.slow
def test_collect_counts_an_extension(cohort):
    api = open_course(cohort["root"])
    students = sorted(t.name for t in COHORT)
    assert sorted(late_submissions(api, MODULE, students)) == sorted([LATE, LATE_LATER_EXTENDED])


@pytest.mark.slow
def test_an_extension_after_grading_takes_effect_at_once_and_can_be_taken_back(cohort):
    root = cohort["root"]
    done = course_cli(root, "extend", MODULE, LATE_LATER_EXTENDED, "--hours", "4")
    assert done.returncode == 0, done.stderr
    assert "on their graded submission now" in done.stdout and "due 2026-11-20 21:00 UTC" in done.stdout
    late, penalty, score, extension = submissions(root)[LATE_LATER_EXTENDED]
    assert (late, penalty, extension) == (0, 0, timedelta(hours=4)) and score > 0
    report = course_cli(root, "report", "--module", MODULE).stdout
    row = next(line for line in report.splitlines() if line.startswith(LATE_LATER_EXTENDED))
    assert row.split()[1] == f"{score:g}" and "late" not in row
    undo = course_cli(root, "extend", MODULE, LATE_LATER_EXTENDED, "--hours", "0")
    assert undo.returncode == 0 and "extension removed" in undo.stdout
    late, penalty, score, extension = submissions(root)[LATE_LATER_EXTENDED]
    assert late > 0 and penalty == score and extension is None


@pytest.mark.slow
def test_a_later_due_date_lifts_the_penalties_and_the_old_one_brings_them_back(cohort):
    root = cohort["root"]
    later = course_cli(root, "due", MODULE, "2026-11-22T17:00-03:00")  # 20:00 UTC
    assert later.returncode == 0 and "due 2026-11-22 20:00 UTC" in later.stdout, later.stderr
    assert all(penalty == 0 for _, penalty, _, _ in submissions(root).values())
    back = course_cli(root, "due", MODULE, DUE.strftime("%Y-%m-%dT%H:%M"))
    assert back.returncode == 0 and f"graded submissions now late: {LATE}, {LATE_LATER_EXTENDED}" in back.stdout
    assert submissions(root)[LATE][1] == submissions(root)[LATE][2]


@pytest.mark.slow
def test_bad_input_is_refused_in_one_line(cohort):
    root = cohort["root"]
    for args, words in [(("due", MODULE, "next friday-ish"), "not a date and time"),
                        (("due", "m0_nope", "2026-12-01T10:00"), "no module 'm0_nope'"),
                        (("extend", MODULE, "nobody", "--hours", "5"), "no trainee 'nobody' on the roster"),
                        (("extend", MODULE, EXTENDED, "--hours", "-5"), "cannot be negative")]:
        done = course_cli(root, *args)
        assert done.returncode != 0 and words in done.stderr, (args, done.stderr)
    assert submissions(root)[EXTENDED][3] == timedelta(hours=48)  # the refused one changed nothing
