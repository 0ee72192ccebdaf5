"""Grading a cohort: plain sequential ``nbgrader autograde`` against ``python -m course autograde``.

    python benchmarks/cohort_scale.py [--trainees 50] [--modules m2_sla_severity,...]
                                      [--sets 'm2_sla_severity,m5_troubleshooting;all']
                                      [--workers N] [--sizes 10,50,100] [--one-worker]
                                      [--growth-modules m2_sla_severity,...] [--variants-off]

In one temporary course on this machine, in the same run:

1. A simulated cohort of ``--trainees`` honest trainees submits every module (``--modules``
   narrows it). Each trainee's world is generated while they work, as on their own machine.
2. **Sequential**: ``nbgrader autograde <module> --force`` for each module, one after the other,
   with the course's own ``nbgrader_config.py`` (sandbox, outside verdicts): the underlying
   step docs/trainer.md names.
3. **Parallel**: ``python -m course autograde --force`` (``--workers``, default one per core).
   ``--one-worker`` also runs it with one worker, which separates what the cut shared work
   gives from what parallelism gives.
4. **Growth** (``--sizes``): a cohort of each size, in a course of its own, graded by
   ``python -m course autograde`` (``--growth-modules`` narrows the modules, to keep 100
   trainees affordable): seconds per notebook should stay flat.

``--variants-off`` grades the cohort in one shared world (``c.WorldVariants.enabled = False``):
the data is generated once and, in a worker, the reference results are computed once for everyone.

Every timed run starts from an empty data cache, as on a trainer's machine that has never seen
these trainees: generating each trainee's world is part of grading, in every run alike.

Also prints where a graded notebook's time goes: the seconds its kernel spent running the
trainee's cells (imports, the trainee's own code and plots; from the cells' execution times in
the graded notebooks), which no cache shares between trainees.

``--sets`` measures several module sets one after the other, each in a course of its own, and
ends with one table row per set: seconds per notebook (sequential, and the parallel command's
wall time and worker time, i.e. wall time x workers), the trainee's own cell time per notebook
(the graded cells' ``execution`` timings, nbclient's ``record_timing``, from the sequential run,
one kernel at a time), grading/cell (worker time over cell time: what grading costs beside the
trainee's own work) and the speed-up over sequential nbgrader.

Prints seconds per graded notebook, the ratio, and the peak memory of a grading worker (the
largest resident size a worker reached; graded kernels are separate processes). Asserts nothing:
a busy machine should not fail a build.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import ASSIGNMENTS, Trainee, build_course  # noqa: E402

PEAK = re.compile(r"peak worker memory (\d+) MiB")
REUSED = re.compile(r"reference results computed (\d+), reused (\d+)")


def timed(args: list[str], cwd: Path) -> tuple[float, str]:
    """Run ``args`` on an empty data cache of its own; (seconds, output)."""
    env = dict(os.environ, ETP_ACADEMY_DATA=tempfile.mkdtemp(prefix="data-", dir=cwd.parent))
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
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


def kernel_seconds(root: Path) -> tuple[float, int]:
    """(seconds the graded kernels spent running cells, notebooks) over the course's graded folder."""
    total, count = 0.0, 0
    for path in (root / "autograded").glob("*/*/*.ipynb"):
        count += 1
        for cell in json.loads(path.read_text()).get("cells", []):
            timing = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
                total += (_stamp(timing["shell.execute_reply"]) - _stamp(timing["iopub.execute_input"]))
    return total, count


def _stamp(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def submit(root: Path, modules: list[str], start: int, stop: int, seed: int | None = None) -> None:
    """Honest trainees submit every module; in their own worlds, or all in world ``seed``."""
    for i in range(start, stop):
        for module in modules:
            Trainee(f"bench-{i:03d}").submit(root, module, seed=seed)


def prepare(root: Path, shared_world: bool) -> int | None:
    """A course folder; with ``shared_world``, graded with variants off. The trainees' seed."""
    root.mkdir()
    os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
    build_course(root)
    if not shared_world:
        return None
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write("\nc.WorldVariants.enabled = False  # cohort_scale --variants-off\n")
    return 0


@dataclass
class Row:
    """One module set's figures: seconds per notebook, sequential and parallel, and cell time."""

    label: str
    notebooks: int
    sequential: float        # s per notebook, sequential nbgrader autograde
    parallel: float          # s per notebook (wall), python -m course autograde with `workers`
    workers: int
    cell_time: float         # s per notebook the graded kernels spent running the trainee's cells
    peak: int = 0            # MiB, the largest grading worker

    @property
    def worker_seconds(self) -> float:
        """What one notebook costs a worker: wall time x workers (the workers share the cores)."""
        return self.parallel * self.workers

    def line(self) -> str:
        return (f"{self.label:<28} {self.notebooks:5d} {self.sequential:9.2f} {self.parallel:9.2f} "
                f"{self.worker_seconds:9.2f} {self.cell_time:9.2f} {self.worker_seconds / self.cell_time:8.2f}x "
                f"{self.sequential / self.parallel:8.2f}x")


HEADER = (f"{'modules':<28} {'nbs':>5} {'seq s/nb':>9} {'par s/nb':>9} {'worker s':>9} {'cell s':>9} "
          f"{'grading/cell':>9} {'over seq':>9}")


def measure(scratch: Path, modules: list[str], args, label: str) -> tuple[Row, Path]:
    """Build a cohort for ``modules``, grade it both ways, print the details; the summary row."""
    root = scratch / f"course-{label.replace(' ', '-')}"
    seed = prepare(root, args.variants_off)
    started = time.perf_counter()
    submit(root, modules, 0, args.trainees, seed)
    notebooks = args.trainees * len(modules)
    print(f"[{label}] {args.trainees} trainees x {len(modules)} module(s) ({', '.join(modules)}) = {notebooks} "
          f"notebooks, {'one shared world' if args.variants_off else 'a world per trainee'}; "
          f"{os.cpu_count()} cores; cohort built in {time.perf_counter() - started:.0f} s", flush=True)
    seq = sequential(root, modules)
    print(f"sequential nbgrader autograde:        {seq:8.1f} s  {seq / notebooks:6.2f} s/notebook", flush=True)
    in_kernel, graded = kernel_seconds(root)
    cell_time = in_kernel / max(graded, 1)
    print(f"  of which the trainee's kernel running cells (one kernel at a time): {cell_time:.2f} s per notebook",
          flush=True)
    if args.one_worker:
        one, peak, cache = parallel(root, 1)
        print(f"python -m course autograde, 1 worker: {one:8.1f} s  {one / notebooks:6.2f} s/notebook  "
              f"({seq / one:.2f}x; {one / notebooks / cell_time:.2f}x cell time; peak worker {peak} MiB; {cache})",
              flush=True)
    par, peak, cache = parallel(root, args.workers)
    print(f"python -m course autograde, {args.workers} workers: {par:7.1f} s  {par / notebooks:6.2f} s/notebook  "
          f"({seq / par:.2f}x; peak worker {peak} MiB; {cache})", flush=True)
    in_kernel, graded = kernel_seconds(root)
    print(f"  the trainee's kernel running cells ({args.workers} workers at once): "
          f"{in_kernel / max(graded, 1):.2f} s per notebook", flush=True)
    return Row(label, notebooks, seq / notebooks, par / notebooks, args.workers, cell_time, peak), root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=50)
    parser.add_argument("--modules", help="comma-separated (default: every module in source/)")
    parser.add_argument("--sets", help="module sets graded one after the other, each in a course of its "
                        "own: ';'-separated comma lists, 'all' for every module "
                        "(e.g. 'm2_sla_severity,m5_troubleshooting;all'); overrides --modules")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sizes", help="comma-separated cohort sizes for the growth figures")
    parser.add_argument("--one-worker", action="store_true", help="also time the parallel command with one worker")
    parser.add_argument("--growth-modules", help="comma-separated modules for --sizes (default: --modules)")
    parser.add_argument("--variants-off", action="store_true", help="one world for the whole cohort")
    args = parser.parse_args()
    if args.sets:
        sets = [ASSIGNMENTS if part.strip() == "all" else part.split(",") for part in args.sets.split(";")]
    else:
        sets = [args.modules.split(",") if args.modules else ASSIGNMENTS]
    sizes = sorted(int(size) for size in args.sizes.split(",")) if args.sizes else []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        os.environ["ETP_ACADEMY_DATA"] = str(scratch / "data")
        rows = []
        for modules in sets:
            label = "all six" if modules == ASSIGNMENTS else "+".join(m.split("_")[0] for m in modules)
            row, _ = measure(scratch, modules, args, label)
            rows.append(row)
        modules = sets[-1]
        growth_modules = args.growth_modules.split(",") if args.growth_modules else modules
        growth = {}
        if growth_modules == modules:
            growth[args.trainees] = (rows[-1].parallel * rows[-1].notebooks, rows[-1].peak)
        for size in sizes:  # each size in a course of its own
            if size not in growth:
                other = scratch / f"course-{size}"
                seed = prepare(other, args.variants_off)
                submit(other, growth_modules, 0, size, seed)
                seconds, size_peak, _ = parallel(other, args.workers)
                growth[size] = (seconds, size_peak)
            seconds, size_peak = growth[size]
            count = size * len(growth_modules)
            print(f"growth ({len(growth_modules)} module(s)): {size:4d} trainees, {count:4d} notebooks: {seconds:8.1f} s  "
                  f"{seconds / count:6.2f} s/notebook  peak worker {size_peak} MiB", flush=True)
        print("\nper notebook: sequential nbgrader (seq), python -m course autograde wall time (par) and "
              "worker time (par x workers),\nthe trainee's own cell time (cell, from the graded cells' "
              "timings), grading/cell = worker s / cell s, over seq = seq / par")
        print(HEADER)
        for row in rows:
            print(row.line())


if __name__ == "__main__":
    main()
