"""Where the test suite's CPU goes: CPU seconds per test file, printed at the end of every run
(tests/conftest.py loads this plugin), beside pytest's slowest durations.

Each test's CPU is what its process and the children it waited for (kernels, ``nbgrader``, the
grading workers) used between its start and its end, set-up and teardown included, so a shared
set-up counts in the test that built it. Every pytest-xdist worker writes its own lines to a folder
of the run (``$SUITE_CPU_DIR``, default a temporary one); the controller sums them by file when
the run ends. Daemons that outlive their test (a live hub's proxy) are counted only as far as
their test waited for them. A second table says when each worker went idle: a worker that ends
long before the run is time the plan (tests/run_plan.py) could share out better. A last line
gives the machine's CPU over the run (``/proc/stat``, every process): kernels that nobody waited
for, a browser and a live hub's daemons are in it, and they are not in the table. Asserts nothing:
the figures are for reading.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

FOLDER_ENV = "SUITE_CPU_DIR"
SHOWN = 20  # files in the table; the rest are summed in one line


def _cpu_seconds() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def machine_cpu_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    """CPU seconds every process of the machine has used since boot (not idle, not waiting for
    the disk), from the first line of ``/proc/stat``; None where there is no such file."""
    try:
        fields = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle, iowait = fields[3], fields[4] if len(fields) > 4 else 0
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")  # guest time is in user


def pytest_configure(config):
    config._suite_cpu_lines = None
    config._suite_cpu_folder = None
    config._suite_cpu_machine = (machine_cpu_seconds(), time.perf_counter())
    if not os.environ.get(FOLDER_ENV):  # the controller picks the folder; workers inherit it
        config._suite_cpu_folder = os.environ[FOLDER_ENV] = tempfile.mkdtemp(prefix="suite-cpu-")


def pytest_unconfigure(config):
    if config._suite_cpu_lines is not None:
        config._suite_cpu_lines.close()
    if config._suite_cpu_folder:  # the run that made the folder removes it
        shutil.rmtree(config._suite_cpu_folder, ignore_errors=True)
        os.environ.pop(FOLDER_ENV, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    own, children, started, at = *_cpu_seconds(), time.perf_counter(), time.time()
    yield
    own_after, children_after = _cpu_seconds()
    lines = item.config._suite_cpu_lines
    if lines is None:
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        lines = item.config._suite_cpu_lines = open(Path(os.environ[FOLDER_ENV]) / f"{name}.jsonl", "a")
    lines.write(json.dumps({"test": item.nodeid, "own": own_after - own, "children": children_after - children,
                            "wall": time.perf_counter() - started, "at": at,
                            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}) + "\n")
    lines.flush()


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for path in folder.glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()]


def per_file(folder: Path) -> dict[str, list[float]]:
    """{test file: [own CPU, children's CPU, wall seconds, tests]} from every worker's lines."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for row in _rows(folder):
        total = totals[row["test"].split("::")[0]]
        total[0] += row["own"]
        total[1] += row["children"]
        total[2] += row["wall"]
        total[3] += 1
    return totals


def per_worker(folder: Path) -> dict[str, tuple[float, float, str]]:
    """{worker: (seconds busy in tests, seconds from the run's first test to its own last end,
    its last test file)}."""
    rows = _rows(folder)
    if not rows:
        return {}
    start = min(row["at"] for row in rows)
    workers: dict[str, tuple[float, float, str]] = {}
    for row in sorted(rows, key=lambda r: r["at"]):
        busy, _, _ = workers.get(row["worker"], (0.0, 0.0, ""))
        workers[row["worker"]] = (busy + row["wall"], row["at"] + row["wall"] - start, row["test"].split("::")[0])
    return workers


def pytest_terminal_summary(terminalreporter, config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    totals = per_file(Path(os.environ[FOLDER_ENV]))
    if not totals:
        return
    ranked = sorted(totals.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    everything = sum(own + children for own, children, _, _ in totals.values())
    write = terminalreporter.write_line
    terminalreporter.section("CPU seconds per test file (the test's process and the children it waited for)")
    write(f"{'CPU s':>8} {'share':>6} {'own':>7} {'children':>9} {'wall s':>8} {'tests':>6}  file")
    for name, (own, children, wall, tests) in ranked[:SHOWN]:
        write(f"{own + children:8.0f} {100 * (own + children) / everything:5.1f}% {own:7.0f} {children:9.0f} "
              f"{wall:8.0f} {tests:6d}  {name}")
    rest = ranked[SHOWN:]
    if rest:
        cpu = sum(own + children for _, (own, children, _, _) in rest)
        write(f"{cpu:8.0f} {100 * cpu / everything:5.1f}% {'':7} {'':9} {'':8} {sum(t for *_, t in (v for _, v in rest)):6d}"
              f"  the other {len(rest)} files")
    write(f"{everything:8.0f} CPU seconds in all ({everything / 60:.1f} CPU-minutes)")
    before, started = config._suite_cpu_machine
    now = machine_cpu_seconds()
    if before is not None and now is not None:
        seconds, cores = now - before, os.cpu_count() or 1
        write(f"{seconds:8.0f} CPU seconds used by the whole machine during the run (/proc/stat), "
              f"{100 * seconds / (cores * (time.perf_counter() - started)):.0f} % of its {cores} cores")
    workers = per_worker(Path(os.environ[FOLDER_ENV]))
    if len(workers) > 1:
        terminalreporter.section("When each worker ran out of tests (seconds from the first test)")
        for worker, (busy, ended, last) in sorted(workers.items(), key=lambda kv: kv[1][1]):
            write(f"{worker:>6} ended at {ended:6.0f} s, {busy:6.0f} s in tests; last: {last}")
