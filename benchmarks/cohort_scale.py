"""Grading a cohort: plain sequential ``nbgrader autograde`` against ``python -m course autograde``.

    python benchmarks/cohort_scale.py [--trainees 50] [--modules m2_sla_severity,...]
                                      [--workers N] [--sizes 10,50,100] [--one-worker]

In one temporary course on this machine, in the same run:

1. A simulated cohort of ``--trainees`` honest trainees submits every module (``--modules``
   narrows it). Each trainee's world is generated while they work, as on their own machine.
2. **Sequential**: ``nbgrader autograde <module> --force`` for each module, one after the other,
   with the course's own ``nbgrader_config.py`` (sandbox, outside verdicts): the README's
   underlying step.
3. **Parallel**: ``python -m course autograde --force`` (``--workers``, default one per core).
   ``--one-worker`` also runs it with one worker, which separates what the cut shared work
   gives from what parallelism gives.
4. **Growth** (``--sizes``): a cohort of each size, in a course of its own, graded by
   ``python -m course autograde``: seconds per notebook should stay flat.

Prints seconds per graded notebook, the ratio, and the peak memory of a grading worker (the
largest resident size a worker reached; graded kernels are separate processes). Asserts nothing:
a busy machine should not fail a build.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import ASSIGNMENTS, Trainee, build_course  # noqa: E402

PEAK = re.compile(r"peak worker memory (\d+) MiB")
REUSED = re.compile(r"reference results computed (\d+), reused (\d+)")


def timed(args: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                         f"{done.stderr[-3000:]}")
    return elapsed, done.stdout + done.stderr


def sequential(root: Path, modules: list[str]) -> float:
    total = 0.0
    for module in modules:
        seconds, _ = timed([sys.executable, "-m", "nbgrader", "autograde", module, "--force"], root)
        total += seconds
    return total


def parallel(root: Path, workers: int) -> tuple[float, int, str]:
    seconds, output = timed([sys.executable, "-m", "course", "autograde", "--course", str(root),
                             "--force", "--no-progress", "--workers", str(workers)], root)
    peak = PEAK.search(output)
    reused = REUSED.search(output)
    cache = f"reference computed {reused.group(1)}, reused {reused.group(2)}" if reused else ""
    return seconds, int(peak.group(1)) if peak else 0, cache


def submit(root: Path, modules: list[str], start: int, stop: int) -> None:
    for i in range(start, stop):
        for module in modules:
            Trainee(f"bench-{i:03d}").submit(root, module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=50)
    parser.add_argument("--modules", help="comma-separated (default: every module in source/)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sizes", help="comma-separated cohort sizes for the growth figures")
    parser.add_argument("--one-worker", action="store_true", help="also time the parallel command with one worker")
    args = parser.parse_args()
    modules = args.modules.split(",") if args.modules else ASSIGNMENTS
    sizes = sorted(int(size) for size in args.sizes.split(",")) if args.sizes else []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "course"
        root.mkdir()
        os.environ["ETP_ACADEMY_DATA"] = str(Path(scratch) / "data")
        os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
        build_course(root)
        started = time.perf_counter()
        submit(root, modules, 0, args.trainees)
        notebooks = args.trainees * len(modules)
        print(f"{args.trainees} trainees x {len(modules)} module(s) ({', '.join(modules)}) = {notebooks} "
              f"notebooks; {os.cpu_count()} cores; cohort built in {time.perf_counter() - started:.0f} s",
              flush=True)
        seq = sequential(root, modules)
        print(f"sequential nbgrader autograde:        {seq:8.1f} s  {seq / notebooks:6.2f} s/notebook", flush=True)
        if args.one_worker:
            one, peak, cache = parallel(root, 1)
            print(f"python -m course autograde, 1 worker: {one:8.1f} s  {one / notebooks:6.2f} s/notebook  "
                  f"({seq / one:.2f}x; peak worker {peak} MiB; {cache})", flush=True)
        par, peak, cache = parallel(root, args.workers)
        print(f"python -m course autograde, {args.workers} workers: {par:7.1f} s  {par / notebooks:6.2f} s/notebook  "
              f"({seq / par:.2f}x; peak worker {peak} MiB; {cache})", flush=True)
        growth = {args.trainees: (par, peak)}
        for size in sizes:  # each size in a course of its own; the trainees' worlds are reused
            if size not in growth:
                other = Path(scratch) / f"course-{size}"
                other.mkdir()
                os.environ["NBGRADER_EXCHANGE"] = str(other / "exchange")
                build_course(other)
                submit(other, modules, 0, size)
                seconds, size_peak, _ = parallel(other, args.workers)
                growth[size] = (seconds, size_peak)
            seconds, size_peak = growth[size]
            count = size * len(modules)
            print(f"growth: {size:4d} trainees, {count:4d} notebooks: {seconds:8.1f} s  "
                  f"{seconds / count:6.2f} s/notebook  peak worker {size_peak} MiB", flush=True)

if __name__ == "__main__":
    main()
