"""``python -m course demo``: the trainer's day on a simulated cohort, end to end (one module).

The cohort (course/trainer/cohort/demo.py): ana strong; ben good and late; cy partial, late, and a
cell kills the kernel; dee hands in a damaged notebook; eli forges a quiz answer; fay copies
ana's answer file; gus, on the roster, submits nothing.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from harness import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day(tmp_path_factory, data_cache):
    folder = tmp_path_factory.mktemp("demo") / "course"
    done = subprocess.run([sys.executable, "-m", "course", "demo", "--trainees", "7", "--workers", "2",
                           "--keep", str(folder)], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, ETP_CELL_TIMEOUT="30"))
    return dict(done=done, out=done.stdout, err=done.stderr, folder=folder)


def section(day, title: str) -> str:
    """What one step printed (stdout), from its heading to the next."""
    parts = day["out"].split("\n== ")
    found = [part for part in parts if part.startswith(title)]
    assert found, (title, day["out"][-3000:])
    return found[-1]


def test_the_day_runs_in_a_folder_of_its_own(day):
    assert day["done"].returncode == 0, (day["out"] + day["err"])[-5000:]
    assert "release exit 0, collect exit 0, autograde exit 1, feedback exit 0" in day["out"]
    assert (day["folder"] / "gradebook.db").is_file() and (day["folder"] / "exchange").is_dir()
    submitted = sorted(p.name for p in (day["folder"] / "submitted").iterdir())
    assert submitted == ["ana", "ben", "cy", "dee", "eli", "fay"]  # through nbgrader submit + collect
    for name in submitted:
        [module] = list((day["folder"] / "submitted" / name).iterdir())
        assert (module / "timestamp.txt").is_file() and (module / "answers.json").is_file()


def test_collect_sees_the_late_trainees(day):
    assert re.search(r": 6 new, 0 updated; 6 submission\(s\) in submitted/, 2 after the due date: ben, cy",
                     section(day, "python -m course collect"))


def test_autograde_reports_every_planted_problem_once(day):
    summary = day["err"]
    assert summary.count("autograde summary:") == 1, summary[-3000:]
    lines = {name: [line for line in summary.splitlines() if line.startswith(f"  {name}\t")]
             for name in ("ana", "ben", "cy", "dee", "eli", "fay")}
    assert not lines["ana"] and not lines["ben"]
    assert any("kernel died" in line for line in lines["cy"]), lines["cy"]
    assert any("NOT GRADED" in line and "not a readable notebook" in line for line in lines["dee"])
    assert any("FLAGGED" in line and "changed by hand" in line for line in lines["eli"]), lines["eli"]
    assert any("committed in the world of" in line and "copied" in line for line in lines["fay"]), lines["fay"]
    graded = section(day, "python -m course autograde")
    assert "5 graded this run, 0 graded before and kept, 3 with problems, 2 late, 1 could not be graded, 1 missing" in graded
    assert "with 2 worker(s)" in graded and "(exit code 1: a submission could not be graded, as planted)" in graded


def test_feedback_reaches_every_graded_trainee(day):
    assert "5 feedback page(s) made, 5 released to the trainees" in section(day, "python -m course feedback")
    pages = sorted(p.parent.parent.name for p in (day["folder"] / "feedback").glob("*/*/*.html"))
    assert pages == ["ana", "ben", "cy", "eli", "fay"]


def test_the_report_shows_each_trainee_as_a_trainer_reads_it(day):
    report = section(day, "python -m course report").split("\n\n", 1)[0].splitlines()  # the scores
    rows = {line.split()[0]: line for line in report[2:] if line.strip()}
    assert "Items of m" in section(day, "python -m course report")  # then the item statistics
    assert set(rows) == {"trainee", "ana", "ben", "cy", "dee", "eli", "fay", "gus"}
    assert "late" in rows["ben"] and "late" in rows["cy"] and "flagged" in rows["cy"]
    assert "not graded" in rows["dee"] and "flagged" in rows["eli"] and "flagged" in rows["fay"]
    assert rows["gus"].split()[1] == "-"
    scores = {name: float(rows[name].split()[1]) for name in ("ana", "ben", "cy")}
    assert scores["ana"] > scores["ben"] > scores["cy"] > 0
    [status] = [line.split() for line in section(day, "python -m course status").splitlines()
                if line.startswith("m")][-1:]
    assert status[1:] == ["yes", "6", "6", "5", "5", "5"], status
