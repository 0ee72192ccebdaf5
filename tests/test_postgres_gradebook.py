"""One PostgreSQL gradebook for graders on several machines (``NBGRADER_DB_URL``).

- Two processes write through nbgrader's Gradebook at the same moment: nothing is lost.
- ``python -m course autograde --workers 2`` grades a small cohort into PostgreSQL, and the
  scores are there.

The cluster is a throw-away one (``postgres_url`` in conftest.py), installed when missing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from course.trainer.cohort.demo import environment
from harness import ASSIGNMENTS, Trainee, autograded_cells, build_course, notebooks, REPO

pytestmark = pytest.mark.slow
MODULE = "m5_troubleshooting" if "m5_troubleshooting" in ASSIGNMENTS else ASSIGNMENTS[0]

WRITER = textwrap.dedent("""
    import sys
    from nbgrader.api import Gradebook
    url, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("READY", flush=True)
    sys.stdin.readline()
    with Gradebook(url) as gb:
        for i in range(count):
            student = f"{tag}-{i:03d}"
            gb.update_or_create_student(student, first_name=tag)
            submission = gb.add_submission("pg-module", student)
            for grade in submission.notebooks[0].grades:
                grade.auto_score = (i % 3) / 2
            gb.db.commit()
    print("DONE", flush=True)
""")


def with_tools(env: dict) -> dict:
    """nbgrader runs ``alembic`` when it creates a gradebook: the one beside this Python."""
    return dict(env, PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")


def test_two_writers_at_once_lose_nothing(postgres_url):
    os.environ["PATH"] = with_tools(os.environ)["PATH"]
    with Gradebook(postgres_url) as gb:
        gb.update_or_create_assignment("pg-module")
        gb.add_notebook("pg-notebook", "pg-module")
        for cell in ("c1", "c2"):
            gb.add_grade_cell(cell, "pg-notebook", "pg-module", max_score=1.0, cell_type="code")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, postgres_url, tag, "60"], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=with_tools(os.environ))
               for tag in ("east", "west")]
    for proc in writers:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()[-2000:]
    for proc in writers:  # both start writing at once
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in writers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "DONE" in out, err[-3000:]
    with Gradebook(postgres_url) as gb:
        submissions = gb.assignment_submissions("pg-module")
        assert len(submissions) == 120
        scores = sorted((s.student.id, s.score) for s in submissions)
    expected = sorted((f"{tag}-{i:03d}", 2 * (i % 3) / 2) for tag in ("east", "west") for i in range(60))
    assert scores == expected


@pytest.fixture(scope="module")
def pg_course(postgres_url, tmp_path_factory, data_cache):
    root = tmp_path_factory.mktemp("pg-course")
    with environment(NBGRADER_DB_URL=postgres_url, NBGRADER_EXCHANGE=str(root / "exchange"),
                     PATH=with_tools(os.environ)["PATH"]):
        build_course(root)
    return root


def test_parallel_autograde_fills_one_postgres_gradebook(pg_course, postgres_url):
    cohort = [f"pg-{name}" for name in ("ana", "ben", "cy", "dee")]
    for name in cohort:
        Trainee(name, solve=name != "pg-dee").submit(pg_course, MODULE)
    env = with_tools(dict(os.environ, NBGRADER_DB_URL=postgres_url, ETP_CELL_TIMEOUT="30",
                          NBGRADER_EXCHANGE=str(pg_course / "exchange")))
    done = subprocess.run([sys.executable, "-m", "course", "autograde", "--course", str(pg_course),
                           "--module", MODULE, "--workers", "2", "--no-progress"], cwd=pg_course,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert f"{MODULE}: 4 graded this run" in done.stdout and "with 2 worker(s)" in done.stdout
    assert not (pg_course / "gradebook.db").exists()  # everything went to PostgreSQL
    tests = set().union(*(autograded_cells(nb) for nb in notebooks(REPO / "source" / MODULE).values()))
    with Gradebook(postgres_url) as gb:
        points = {s.student.id: {g.name: (g.auto_score or 0.0, g.max_score) for nb in s.notebooks
                                 for g in nb.grades if g.name in tests}
                  for s in gb.assignment_submissions(MODULE)}
    assert set(points) == set(cohort)
    for name in ("pg-ana", "pg-ben", "pg-cy"):
        assert points[name] and all(score == top for score, top in points[name].values()), (name, points[name])
    solved = sum(score for score, _ in points["pg-dee"].values())
    assert solved < sum(score for score, _ in points["pg-ana"].values())
