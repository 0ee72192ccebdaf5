"""One small graded cohort of Module 5, shared by the due-date, extension, regrade and item
analysis tests (grading it takes about a minute; it is graded once per test run).

A course folder with Module 5 only, a due date set with ``python -m course due``, the late
penalty "zero" configured, and six trainees of varied skill: three on time, one late, one late
with an extension granted before grading (``python -m course extend``), one late with none yet.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from nbgrader.exchange.abc import Exchange

from harness import REPO, Trainee
from course.trainer.cohort.api import open_course

MODULE = "m5_troubleshooting"
DUE = datetime(2026, 11, 20, 17, 0)  # UTC
ON_TIME, LATE, EXTENDED, LATE_LATER_EXTENDED = "ins-ana", "ins-cat", "ins-dan", "ins-gil"
CODE_GAP = {"m5-trail-solution": "pass  # not done"}
COHORT = [
    Trainee(ON_TIME),
    Trainee("ins-ben", wrong_quizzes=frozenset({"m5-five-seconds", "m5-jwt-cause"})),
    Trainee(LATE, wrong_quizzes=frozenset({"m5-five-seconds", "m5-flow-path", "m5-502-cause"}),
            code_overrides=CODE_GAP),
    Trainee(EXTENDED, solve=False, wrong_quizzes=frozenset({"m5-five-seconds", "m5-jwt-cause", "m5-502-cause",
                                                            "m5-escalate-p1", "m5-flow-path"})),
    Trainee("ins-eve", wrong_quizzes=frozenset({"m5-jwt-cause"})),
    Trainee(LATE_LATER_EXTENDED, wrong_quizzes=frozenset({"m5-escalate-p1"})),
]
HANDED_IN = {ON_TIME: -timedelta(hours=1), "ins-ben": -timedelta(minutes=5), "ins-eve": -timedelta(days=1),
             LATE: timedelta(hours=2), EXTENDED: timedelta(hours=30), LATE_LATER_EXTENDED: timedelta(hours=3)}

_graded: dict = {}


def course_cli(root: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = dict(os.environ, NBGRADER_EXCHANGE=str(root / "exchange"), ETP_CELL_TIMEOUT="60")
    return subprocess.run([sys.executable, "-m", "course", *args, "--course", str(root)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def stamp(folder: Path, when: datetime) -> None:
    """The time ``nbgrader submit`` records, as it writes it."""
    stamp_format = Exchange.class_traits()["timestamp_format"].default_value
    (folder / "timestamp.txt").write_text(when.replace(tzinfo=timezone.utc).strftime(stamp_format))


def build(root: Path) -> None:
    (root / "source").mkdir(parents=True)
    shutil.copytree(REPO / "source" / MODULE, root / "source" / MODULE)
    config = (REPO / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(config + '\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    previous = os.environ.get("NBGRADER_EXCHANGE")
    os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
    try:
        result = open_course(root).generate_assignment(MODULE, force=True)
    finally:
        if previous is None:
            os.environ.pop("NBGRADER_EXCHANGE", None)
        else:
            os.environ["NBGRADER_EXCHANGE"] = previous
    assert result["success"], result.get("log") or result.get("error")


def graded_cohort(tmp_path_factory) -> dict:
    """The cohort, graded once: {root, added, due, extend, autograde} (the commands' results)."""
    if _graded:
        return _graded
    root = tmp_path_factory.mktemp("insight-course")
    build(root)
    for trainee in COHORT:
        folder = trainee.submit(root, MODULE)
        stamp(folder, DUE + HANDED_IN[trainee.name])
    added = [course_cli(root, "trainee", "add", t.name, "--name", f"{t.name[4:].title()} Souza",
                        "--email", f"{t.name}@example.org") for t in COHORT]
    due = course_cli(root, "due", MODULE, DUE.strftime("%Y-%m-%dT%H:%M"))
    extend = course_cli(root, "extend", MODULE, EXTENDED, "--hours", "48")
    graded = course_cli(root, "autograde", "--module", MODULE, "--workers", "2", "--no-progress")
    _graded.update(root=root, added=added, due=due, extend=extend, autograde=graded)
    return _graded


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, data_cache):
    graded = graded_cohort(tmp_path_factory)
    assert graded["autograde"].returncode == 0, graded["autograde"].stdout + graded["autograde"].stderr
    return graded
