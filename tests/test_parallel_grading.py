"""``python -m course autograde``: parallel workers, one gradebook, one summary, reruns.

A small cohort of Module 2 in a course of its own, graded by two workers:

- three honest trainees (full marks), a copier who typed in two of a classmate's numbers
  (caught by the copy check, whoever is graded first), a trainee whose kernel dies, and
  a damaged notebook (cannot be graded: the command exits 1 and says why);
- a second run changes nothing; a run killed halfway is finished by the next run, which grades
  only what is missing; a graded folder left half-written is graded again;
- SQLite: a worker waits for a gradebook locked longer than SQLite's default timeout.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from course.trainer.grading import parallel
from course.trainer.cohort.api import open_course
from harness import ASSIGNMENTS, REPO, Trainee, autograded_points, build_course, failure_log, notebooks

# The module graded here: Module 2, where a copier can type in a classmate's numbers.
MODULE = "m2_sla_severity"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(MODULE not in ASSIGNMENTS, reason=f"{MODULE} is not in source/")]


def typed_in_from(source: str) -> dict:
    """Module 2's solution with two of ``source``'s numbers typed over the trainee's own (the
    worst 24 h error rate and the LLM p95, drawn anew in every world): two values right in one
    other world point there (``variants.Ledger.copied_values``)."""
    from course.data import traffic, world
    from course.trainer.reference import slo
    from harness import COURSE_ID, solution_sources

    with world.using(world.seed_for(source, COURSE_ID)):
        log = traffic.request_log()
        worst = slo.worst_rolling_error_rate_pct(slo.parse_request_log(log))
        llm = slo.llm_section_p95_seconds(slo.parse_section_completions(log))
    [source_nb] = notebooks(REPO / "source" / MODULE).values()
    solution = solution_sources(source_nb)
    return {"m2-errors-solution": solution["m2-errors-solution"] + f"\nworst_error_rate_24h_pct = {worst!r}\n",
            "m2-llm-solution": solution["m2-llm-solution"] + f"\nllm_p95_s = {llm!r}\n"}


SOURCE, COPIER, DIES, BROKEN = "par-zz-source", "par-aa-copier", "par-dies", "par-broken"
HONEST = ["par-ana", "par-ben", SOURCE]


def autograde(root: Path, *args: str, exchange: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NBGRADER_EXCHANGE=exchange, ETP_CELL_TIMEOUT="30")
    return subprocess.run([sys.executable, "-m", "course", "autograde", "--course", str(root),
                           "--module", MODULE, "--no-progress", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1200)


def graded_files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for p in sorted((root / "autograded").glob(f"*/{MODULE}/*.ipynb"))}


def gradebook_scores(root: Path) -> dict[str, list]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: sorted((g.name, g.auto_score) for nb in s.notebooks for g in nb.grades)
                for s in gb.assignment_submissions(MODULE)}


def flags(root: Path, student: str) -> tuple[bool, str]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        notebooks_ = gb.find_submission(MODULE, student).notebooks
        return (any(nb.flagged for nb in notebooks_),
                " ".join(c.auto_comment or "" for nb in notebooks_ for c in nb.comments))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, data_cache):
    root = tmp_path_factory.mktemp("parallel-course")
    exchange = str(root / "exchange")
    previous = os.environ.get("NBGRADER_EXCHANGE")
    os.environ["NBGRADER_EXCHANGE"] = exchange
    try:
        build_course(root)
    finally:
        if previous is not None:
            os.environ["NBGRADER_EXCHANGE"] = previous
    [source_nb] = notebooks(REPO / "source" / MODULE).values()
    first_solution = next(c.metadata.nbgrader["grade_id"] for c in source_nb.cells
                          if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    cohort = [Trainee(name) for name in HONEST]
    cohort += [Trainee(COPIER, code_overrides=typed_in_from(SOURCE)),
               Trainee(DIES, code_overrides={first_solution: "import os\nos._exit(1)"}),
               Trainee(BROKEN)]
    for trainee in cohort:
        trainee.submit(root, MODULE)
    for path in (root / "submitted" / BROKEN / MODULE).glob("*.ipynb"):
        path.write_text(path.read_text()[:1500])  # cut off: no longer a notebook
    first = autograde(root, "--workers", "2", exchange=exchange)
    return dict(root=root, exchange=exchange, first=first, cohort=[t.name for t in cohort])


def test_one_summary_with_every_problem_and_exit_1_for_what_could_not_be_graded(graded):
    run = graded["first"]
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-4000:]
    assert output.count("autograde summary:") == 1, output[-4000:]
    summary = run.stderr
    assert f"{BROKEN}\t{MODULE}/" in summary and "NOT GRADED" in summary and "could not be graded" in summary
    assert f"{DIES}\t{MODULE}/" in summary and "kernel died" in summary
    assert f"{COPIER}\t" in summary and "another trainee's world" in summary
    assert f"{MODULE}: 5 graded this run, 0 graded before and kept" in run.stdout
    assert "could not be graded 1" in run.stdout and "with 2 worker(s)" in run.stdout


def test_honest_trainees_earn_everything_and_every_graded_submission_is_in_the_gradebook(graded):
    root = graded["root"]
    for name in HONEST:
        earned = autograded_points(root, MODULE, name)
        assert earned and all(score == top for score, top in earned.values()), (name, earned)
    assert set(gradebook_scores(root)) >= set(graded["cohort"]) - {BROKEN}
    assert not flags(root, "par-ana")[0]


def test_the_copy_check_sees_every_world_of_the_run(graded):
    root = graded["root"]
    flagged, comments = flags(root, COPIER)
    assert flagged and "another trainee's world" in comments and SOURCE in comments, comments
    lost = {cell for cell, (score, top) in autograded_points(root, MODULE, COPIER).items() if score < top}
    assert {"m2-errors-test", "m2-llm-test"} <= lost, lost
    worlds = list((root / ".grading" / "worlds" / MODULE).glob("*.json"))
    assert len(worlds) == 5, worlds  # every graded trainee's world, from both workers


def test_a_second_run_changes_nothing(graded):
    root = graded["root"]
    before, scores = graded_files(root), gradebook_scores(root)
    again = autograde(root, "--workers", "2", exchange=graded["exchange"])
    assert again.returncode == 1  # the damaged notebook still cannot be graded
    assert f"{MODULE}: 0 graded this run, 5 graded before and kept" in again.stdout, again.stdout
    assert graded_files(root) == before and gradebook_scores(root) == scores


def test_an_interrupted_run_is_finished_by_the_next_one(graded):
    root, exchange = graded["root"], graded["exchange"]
    for folder in (root / "autograded").glob(f"*/{MODULE}"):
        shutil.rmtree(folder)  # the cohort's submissions, none graded yet
    before = graded_files(root)
    started = time.time_ns()
    env = dict(os.environ, NBGRADER_EXCHANGE=exchange, ETP_CELL_TIMEOUT="30")
    run = subprocess.Popen([sys.executable, "-m", "course", "autograde", "--course", str(root), "--module",
                            MODULE, "--no-progress", "--workers", "1"], cwd=root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and run.poll() is None:
        if sum(1 for mtime in graded_files(root).values() if mtime > started) >= 1:
            break
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # the machine goes away mid-run
    run.wait()
    done_before_kill = {p for p, mtime in graded_files(root).items() if mtime > started}
    assert not before and 1 <= len(done_before_kill) < 5, done_before_kill
    finish = autograde(root, "--workers", "2", exchange=exchange)
    after = graded_files(root)
    regraded = {p for p, mtime in after.items() if mtime > started}
    assert len(after) == 5 and regraded == set(after), finish.stdout
    # only what the killed run had not finished was graded by the second run
    kept = len(done_before_kill)
    assert f"{MODULE}: {5 - kept} graded this run, {kept} graded before and kept" in finish.stdout, finish.stdout
    assert all(after[p] == graded_files(root)[p] for p in done_before_kill)


def test_a_half_written_graded_folder_is_graded_again(graded):
    root = graded["root"]
    [notebook] = (root / "autograded" / "par-ben" / MODULE).glob("*.ipynb")
    notebook.unlink()  # the folder is there, its notebook is not: a run stopped while writing it
    before = graded_files(root)
    again = autograde(root, "--workers", "1", exchange=graded["exchange"])
    assert f"{MODULE}: 1 graded this run, 4 graded before and kept" in again.stdout, again.stdout
    after = graded_files(root)
    assert notebook.is_file() and {p: after[p] for p in before} == before
    earned = autograded_points(root, MODULE, "par-ben")
    assert all(score == top for score, top in earned.values())


def test_shards_of_the_course_cover_it_once(graded):
    api = open_course(graded["root"])
    plans = [parallel.plan(api, [MODULE], shard=(i, 3), force=True) for i in range(3)]
    shares = [set(p.pending.get(MODULE, [])) for p in plans]
    assert set().union(*shares) == set(graded["cohort"])
    assert sum(len(s) for s in shares) == len(graded["cohort"])


LOCKED_WRITE = textwrap.dedent("""
    import sys, time
    from nbgrader.api import Gradebook
    if sys.argv[2] == "worker":
        from course.trainer.grading.parallel import _sqlite_waits_for_lock
        _sqlite_waits_for_lock()
    print("READY", flush=True)
    sys.stdin.readline()  # the lock is taken
    started = time.monotonic()
    try:
        with Gradebook(sys.argv[1]) as gb:
            gb.update_or_create_student("waited-" + sys.argv[2])
    except Exception as err:
        print("FAILED", type(err).__name__, " ".join(str(err).split())[:200])
    else:
        print("WROTE", round(time.monotonic() - started, 1))
""")


def test_a_worker_waits_for_a_locked_sqlite_gradebook(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")  # alembic
    db = tmp_path / "gradebook.db"
    url = f"sqlite:///{db}"
    Gradebook(url).close()  # the schema
    writers = {kind: subprocess.Popen([sys.executable, "-c", LOCKED_WRITE, url, kind], text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for kind in ("worker", "plain")}
    for proc in writers.values():
        assert proc.stdout.readline().strip() == "READY"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing for 7 s, past SQLite's default 5 s
    for proc in writers.values():
        proc.stdin.write("go\n")
        proc.stdin.flush()
    time.sleep(7)
    holder.execute("COMMIT")
    holder.close()
    said = {kind: (proc.communicate(timeout=120)[0].strip().splitlines() or ["nothing"])[-1]
            for kind, proc in writers.items()}
    assert said["plain"].startswith("FAILED") and "locked" in said["plain"], said  # what nbgrader does alone
    assert said["worker"].startswith("WROTE"), said
    with Gradebook(url) as gb:
        assert "waited-worker" in {s.id for s in gb.students}


def test_a_copier_graded_in_an_earlier_run_or_another_shard_is_caught_later(graded):
    root, exchange = graded["root"], graded["exchange"]
    Trainee("par-x-copier", code_overrides=typed_in_from("par-x-source")).submit(root, MODULE)
    Trainee("par-x-source").submit(root, MODULE)
    alone = autograde(root, "--student", "par-x-copier", exchange=exchange)
    assert alone.returncode == 0, alone.stdout + failure_log(alone.stderr)
    assert "another trainee's world" not in flags(root, "par-x-copier")[1]  # the source's world is unknown yet
    later = autograde(root, "--student", "par-x-source", exchange=exchange)
    assert later.returncode == 0, later.stdout + failure_log(later.stderr)
    assert "copy check at the end of the run" in later.stderr and "par-x-copier\t" in later.stderr
    flagged, comments = flags(root, "par-x-copier")
    assert flagged and "another trainee's world" in comments and "par-x-source" in comments, comments
    quiet = autograde(root, "--student", "par-x-source", exchange=exchange)
    assert "copy check at the end of the run" not in quiet.stderr  # told once, not at every run
