"""The trainer's command line (``python -m course``): arguments, shards, the reference cache,
and the read-only commands on a released course."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course.trainer.grading import parallel
from course.trainer.cohort.cli import main, parser
from harness import ASSIGNMENTS, REPO, failure_log

COMMANDS = ["release", "collect", "autograde", "feedback", "report", "status", "bundle", "demo"]


def course_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course", *args], cwd=cwd or REPO,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=600)


def test_help_lists_every_command():
    done = course_cli("--help")
    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert command in done.stdout
    for command in ["collect", "autograde", "feedback", "report", "status"]:
        options = parser().parse_args([command]).__dict__
        assert {"module", "student", "course"} <= set(options), command


def test_autograde_defaults_to_one_worker_per_core():
    assert parser().parse_args(["autograde"]).workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("text", ["2/2", "-1/3", "1", "a/b", "0/0"])
def test_a_bad_shard_is_refused(text):
    with pytest.raises(ValueError):
        parallel.parse_shard(text)


def test_an_unknown_module_is_refused_with_the_modules_there(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["status", "--course", str(REPO), "--module", "m0_nothing"])
    assert "no module 'm0_nothing'" in str(stop.value) and ASSIGNMENTS[0] in str(stop.value)


def test_shards_split_the_cohort_deterministically():
    cohort = [f"trainee-{i:03d}" for i in range(200)]
    shards = [[s for s in cohort if parallel.in_shard(s, (i, 4))] for i in range(4)]
    assert sorted(sum(shards, [])) == cohort  # each trainee in exactly one shard
    assert all(20 < len(shard) < 80 for shard in shards), [len(s) for s in shards]
    # a trainee's shard does not depend on who else is in the cohort
    assert [s for s in cohort[:50] if parallel.in_shard(s, (1, 4))] == [s for s in shards[1] if s in cohort[:50]]
    assert parallel.parse_shard("3/4") == (3, 4) and parallel.parse_shard(None) is None


def test_jobs_give_all_modules_of_a_trainee_to_one_worker():
    plan = parallel.Plan(assignments=["m2", "m5"], students=set(),
                         pending={"m2": ["ana", "ben"], "m5": ["ana", "cy"]})
    assert plan.jobs == [("ana", ["m2", "m5"]), ("ben", ["m2"]), ("cy", ["m5"])]
    assert plan.count == 4


REFCACHE_PROBE = textwrap.dedent("""
    import json, os, sys, time
    from course.trainer.grading import refcache
    refcache.install()
    assert "course.trainer.reference.slo" not in sys.modules  # nothing imported before a check needs it
    from course.trainer.reference import slo  # imported after install: wrapped by the import hook
    path = sys.argv[1]
    first = slo.parse_health_log(path)
    first["up"] = False                # a check that changes its table ...
    second = slo.parse_health_log(path)  # ... changes nothing the next check sees
    hits = dict(refcache.stats)
    with open(path, "a") as fh:        # the file written again: parsed again
        fh.write("2026-10-31T23:59:30Z GET /api/health 200 12ms {\\"status\\":\\"healthy\\"}\\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = slo.parse_health_log(path)
    print(json.dumps({"wrapped": getattr(slo.parse_health_log, "_etp_cached", False),
                      "second_up": int(second["up"].sum()), "rows": [len(first), len(second), len(third)],
                      "hits": hits, "after": dict(refcache.stats)}))
""")


def test_reference_results_are_reused_per_file_and_copied(tmp_path):
    log = tmp_path / "health.log"
    log.write_text("".join(f"2026-10-01T00:{m:02d}:00Z GET /api/health 200 15ms "
                           '{"status":"healthy","database":"up","redis":"up"}\n' for m in range(40)))
    done = subprocess.run([sys.executable, "-c", REFCACHE_PROBE, str(log)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, failure_log(done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["wrapped"]
    assert result["second_up"] == 40, "the cached table was changed by an earlier caller"
    assert result["hits"] == {"hits": 1, "misses": 1}
    assert result["rows"] == [40, 40, 41] and result["after"] == {"hits": 1, "misses": 2}


def test_status_and_report_read_a_released_course(course):
    root, api = course
    done = course_cli("release", "--course", str(root), env={"NBGRADER_EXCHANGE": api.exchange_root})
    assert done.returncode == 0, done.stdout + done.stderr
    status = course_cli("status", "--course", str(root), env={"NBGRADER_EXCHANGE": api.exchange_root})
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[1].split()[:3] == ["module", "released", "in"]
    for module in ASSIGNMENTS:
        [row] = [line for line in lines if line.startswith(module + " ")]
        assert row.split()[1] == "yes", row
    again = course_cli("release", "--course", str(root), env={"NBGRADER_EXCHANGE": api.exchange_root})
    assert again.returncode == 0 and "already released" in again.stdout
    report = course_cli("report", "--course", str(root), "--student", "nobody-at-all")
    assert report.returncode == 0, report.stderr
