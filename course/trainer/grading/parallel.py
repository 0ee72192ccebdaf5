"""Parallel autograde: a few long-lived grading workers share the cohort, one gradebook gets it all.

``grade(root, ...)`` is what ``python -m course autograde`` runs:

- **Plan.** Per module, the submissions in ``submitted/`` (nbgrader's layout) of the trainees
  asked for (one, a shard, or the cohort). A submission nbgrader already graded (its graded
  folder holds every submitted notebook and the gradebook has the submission at the same time
  stamp: ``NbGraderAPI.get_autograded_students``) is kept as it is, unless ``force``. A graded
  folder left half-written by an interrupted run is removed, so nbgrader grades it again.
- **Workers.** ``workers`` processes (default: one per core), each started once (a process
  costs seconds: nbgrader, pandas and the course's grading code are imported once), each taking
  trainees from one queue until none are left. A worker runs nbgrader's own Autograde converter
  through ``NbGraderAPI.autograde`` for one trainee and one module at a time, with the course's
  configuration (``nbgrader_config.py``): the sandbox, the outside verdicts, late penalties and
  the problem records are nbgrader's and the course's usual steps. All modules of a trainee go to
  the same worker, one after the other: the trainee's world is generated once and its reference
  results are reused (``refcache``).
- **One gradebook.** Every worker writes to the course's gradebook (``NBGRADER_DB_URL``). With
  SQLite, a worker's connections wait for the write lock (``PRAGMA busy_timeout``) instead of
  failing at once, and a submission whose grading still failed on a locked database is graded
  again (``DB_RETRIES``). PostgreSQL takes concurrent writers as it is.
- **One summary.** Workers print nothing at exit: they send their problem records and the
  failed values the copy check needs to this process, which prints the one autograde summary
  (``problems.print_summary``) and runs the copy check once every world of the run is in the
  ledger (``variants.recheck_failures``).
- **Shards.** ``shard=(i, n)`` keeps the trainees whose id hashes to ``i`` modulo ``n``: the same
  trainee always falls in the same shard, whatever else is in the cohort, so machines grading
  shards of one course never grade the same submission twice.

An interrupted run (Ctrl+C, a killed machine) is run again with the same command: what was
graded is kept, the rest is graded.
"""
from __future__ import annotations

import glob
import hashlib
import os
import queue
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

DB_RETRIES = 3               # a submission whose grading met a locked gradebook is graded again
SQLITE_BUSY_MS = 120_000     # how long a worker's SQLite connection waits for the write lock
LOCKED_MARKERS = ("database is locked", "database table is locked", "error accessing the nbgrader database")


# -- who is graded --------------------------------------------------------------------------------
def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0 <= i < n) as (i, n); None for no sharding."""
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/n (for example 0/4), not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text}: i must be between 0 and n-1")
    return index, count


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``student`` belongs to ``shard``: a stable hash of the id, modulo the shard count."""
    if shard is None:
        return True
    index, count = shard
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count == index


def submitted_students(api, assignment: str) -> list[str]:
    return sorted(api.get_submitted_students(assignment))


def notebooks_of(api, assignment: str) -> list[str]:
    """The notebooks nbgrader grades for ``assignment``: those the gradebook knows."""
    from nbgrader.api import MissingEntry

    with api.gradebook as gb:
        try:
            return sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return []


def graded_completely(api, assignment: str, student: str, notebooks: list[str]) -> bool:
    """Every submitted notebook of the submission has its graded copy."""
    coursedir = api.coursedir
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    graded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    return all((graded / f"{name}.ipynb").is_file()
               for name in notebooks if (submitted / f"{name}.ipynb").is_file())


@dataclass
class Plan:
    """What one run grades: per module, the trainees to grade and those already graded."""

    assignments: list[str]
    students: set[str]                                  # trainees with a submission in the selection
    roster: set[str] = field(default_factory=set)       # trainees of the selection, submitted or not
    pending: dict[str, list[str]] = field(default_factory=dict)   # assignment -> students
    kept: dict[str, list[str]] = field(default_factory=dict)      # graded before, left as is
    unknown: list[str] = field(default_factory=list)              # modules not in the gradebook

    @property
    def jobs(self) -> list[tuple[str, list[str]]]:
        """(student, [assignments]) per trainee: a trainee's modules go to one worker."""
        per_student: dict[str, list[str]] = {}
        for assignment in self.assignments:
            for student in self.pending.get(assignment, []):
                per_student.setdefault(student, []).append(assignment)
        return sorted(per_student.items())

    @property
    def count(self) -> int:
        return sum(len(students) for students in self.pending.values())


def plan(api, assignments: list[str], student: str | None = None,
         shard: tuple[int, int] | None = None, force: bool = False) -> Plan:
    """The submissions a run grades; removes graded folders an interrupted run left half-written."""
    coursedir = api.coursedir
    selected: set[str] = set()
    result = Plan(assignments=list(assignments), students=selected)
    with api.gradebook as gb:
        roster = {s.id for s in gb.students}
    result.roster = {student} if student else {s for s in roster if in_shard(s, shard)}
    for assignment in assignments:
        notebooks = notebooks_of(api, assignment)
        if not notebooks:
            result.unknown.append(assignment)
            continue
        students = [s for s in submitted_students(api, assignment)
                    if (student is None or s == student) and in_shard(s, shard)]
        selected.update(students)
        result.roster.update(students)
        done = set() if force else api.get_autograded_students(assignment)
        for name in students:
            if name in done and graded_completely(api, assignment, name, notebooks):
                result.kept.setdefault(assignment, []).append(name)
                continue
            dest = Path(coursedir.format_path(coursedir.autograded_directory, name, assignment))
            if not force and dest.is_dir():
                shutil.rmtree(dest)  # half-written by an interrupted run: nbgrader would skip it
            result.pending.setdefault(assignment, []).append(name)
    return result


# -- the worker process ---------------------------------------------------------------------------
def _sqlite_waits_for_lock(ms: int = SQLITE_BUSY_MS) -> None:
    """Every SQLite connection of this process waits up to ``ms`` for a lock before failing."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _busy_timeout(dbapi_connection, _record):  # noqa: ANN001 - SQLAlchemy's signature
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {int(ms)}")


def _die_with_parent(parent: int) -> None:
    """A worker whose parent is gone (killed) stops too; its kernels die with it."""
    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(1.0)
    threading.Thread(target=watch, daemon=True).start()


def worker_main(number: int, root: str, parent: int, jobs, results, log_path: str,
                settings: dict) -> None:
    """A grading worker: trainees from ``jobs`` until a None, each outcome to ``results``."""
    import resource
    import warnings

    _die_with_parent(parent)
    log = open(log_path, "a", buffering=1, encoding="utf-8")
    os.dup2(log.fileno(), 1)  # nothing a worker prints garbles the trainer's progress bar
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    warnings.filterwarnings("ignore", message="Object of type")  # nbgrader's SQLAlchemy warnings
    try:
        from course.trainer.grading import problems, refcache, variants
        from course.trainer.cohort.api import open_course

        problems.defer_summary()
        variants.defer_recheck()
        _sqlite_waits_for_lock()
        api = open_course(root, overrides=settings.get("config"))
    except BaseException:  # noqa: BLE001 - the parent must hear why the worker cannot start
        results.put(("broken", number, traceback.format_exc()[-2000:]))
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's: it stops the workers
    signal.signal(signal.SIGTERM, _stop)           # ... with SIGTERM, cleaned up as nbgrader does
    import glob as _glob

    while True:
        try:
            job = jobs.get()
        except KeyboardInterrupt:
            break
        if job is None:
            break
        student, assignments, force = job
        for assignment in assignments:
            results.put(("start", number, student, assignment))
            started = time.perf_counter()
            outcome = None
            for attempt in range(1, DB_RETRIES + 1):
                outcome = api.autograde(assignment, _glob.escape(student), force=force)
                if "KeyboardInterrupt" in (outcome.get("error") or ""):
                    return  # stopped (SIGTERM): nbgrader removed the half-graded folder
                text = (outcome.get("log") or "") + (outcome.get("error") or "")
                if outcome["success"] or not any(m in text for m in LOCKED_MARKERS):
                    break
                print(f"[worker {number}] {student} {assignment}: gradebook locked, "
                      f"grading again ({attempt}/{DB_RETRIES})", flush=True)
                time.sleep(attempt)
            text = outcome.get("log") or ""
            print(f"===== {student} {assignment}\n{text}{outcome.get('error') or ''}", flush=True)
            records = problems.take_records()
            failures = variants.take_failures()
            results.put(("done", number, student, assignment, bool(outcome["success"]),
                         time.perf_counter() - started, _reason(outcome), records, failures))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results.put(("exit", number, peak_kb * 1024, dict(refcache.stats)))


def _stop(_signum, _frame):
    raise KeyboardInterrupt


def _reason(outcome: dict) -> str:
    """The last error line nbgrader logged for a failed submission (empty when it succeeded)."""
    if outcome.get("success"):
        return ""
    lines = [line for line in (outcome.get("log") or "").splitlines()
             if line.startswith("[ERROR]") and "There was an error processing" not in line
             and "Please see the" not in line]
    error_lines = (outcome.get("error") or "").strip().splitlines()
    reason = lines[-1][len("[ERROR] "):] if lines else (error_lines[-1] if error_lines else "")
    return reason.strip()[:300] or "nbgrader could not grade it"


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Outcome:
    student: str
    assignment: str
    graded: bool
    seconds: float
    reason: str = ""


@dataclass
class RunResult:
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    not_graded_rows: list = field(default_factory=list)   # problems.print_summary rows
    copied: list = field(default_factory=list)            # variants.recheck_failures findings
    workers: int = 0
    worker_peak_bytes: list[int] = field(default_factory=list)
    reference_cache: dict = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False
    log_path: str = ""


def grade(api, root: Path, assignments: list[str], student: str | None = None,
          shard: tuple[int, int] | None = None, force: bool = False, workers: int | None = None,
          progress: bool | None = None, cache_references: bool = True, config=None,
          log_dir: Path | None = None) -> RunResult:
    """Grade the submissions of ``assignments`` with ``workers`` processes; see the module doc."""
    import multiprocessing

    from tqdm import tqdm

    from course.trainer.grading import problems, variants

    started = time.perf_counter()
    run = RunResult(plan=plan(api, assignments, student, shard, force))
    jobs = run.plan.jobs
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = Path(log_dir or Path(root) / ".grading" / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    run.log_path = str(log_dir / f"autograde-{stamp}-{os.getpid()}.log")
    count = min(max(1, workers or os.cpu_count() or 1), max(1, len(jobs)))
    run.workers = count if jobs else 0
    # the summary looks at every module of the run, even one no worker could grade at all
    autograded = Path(api.coursedir.root) / api.coursedir.autograded_directory
    problems.add_records([], [], [(str(autograded), a, api.coursedir.db_url) for a in run.plan.pending])
    if jobs:  # plan() opened the gradebook: its tables exist before workers start
        import copy

        from traitlets.config import Config

        run_config = copy.deepcopy(config) if config else Config()
        run_config.SandboxedExecute.cache_references = cache_references  # the step installs the cache
        settings = {"config": run_config}
        context = multiprocessing.get_context("spawn")
        job_queue, results = context.Queue(), context.Queue()
        for name, pending in jobs:
            job_queue.put((name, pending, force))
        for _ in range(count):
            job_queue.put(None)
        procs = [context.Process(target=worker_main, name=f"etp-grader-{n}", daemon=False,
                                 args=(n, str(root), os.getpid(), job_queue, results,
                                       f"{run.log_path}.worker{n}", settings))
                 for n in range(count)]
        for proc in procs:
            proc.start()
        show = sys.stderr.isatty() if progress is None else progress
        screen = shutil.get_terminal_size((100, 20))  # a terminal that reports no size: 100x20
        bar = tqdm(total=run.plan.count, unit="submission", desc="autograde", file=sys.stderr,
                   ncols=min(120, screen.columns), nrows=max(screen.lines, 2)) if show else None
        try:
            _collect(run, procs, results, bar)
        except KeyboardInterrupt:
            run.interrupted = True
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()
        finally:
            if bar is not None:
                bar.close()
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
            if len(run.worker_peak_bytes) < len(procs):
                _drain(run, results, wait=0.1)
            _merge_logs(run.log_path, count)
    ran: dict[str, set[str]] = {}  # what this run tried: a run stopped halfway flags nothing else
    for outcome in run.outcomes:
        ran.setdefault(outcome.assignment, set()).add(outcome.student)
    run.not_graded_rows = problems.print_summary(students=ran) if ran else []
    # the copy check, once, against every world recorded by now: this run's failed values and
    # those earlier runs and other shards kept
    failures = Path(root) / FAILURES_FOLDER
    forget_failures(failures, [(o.student, o.assignment) for o in run.outcomes if o.graded])
    keep_failures(failures, variants.take_failures())
    variants.add_failures(earlier_failures(failures, run.plan.assignments, api.coursedir.db_url))
    run.copied = variants.recheck_failures()
    keep_failures(failures, variants.take_failures(), run.copied)
    run.seconds = time.perf_counter() - started
    return run


def _collect(run: RunResult, procs, results, bar) -> None:
    from course.trainer.grading import problems, variants

    current: dict[int, tuple[str, str]] = {}
    exited: set[int] = set()
    remaining = run.plan.count
    expected = {(s, a) for a, students in run.plan.pending.items() for s in students}
    while remaining > 0 and len(exited) < len(procs):
        try:
            message = results.get(timeout=1.0)
        except queue.Empty:
            for number, proc in enumerate(procs):
                if number not in exited and not proc.is_alive():
                    exited.add(number)
                    lost = current.pop(number, None)
                    if lost:  # the worker died grading it
                        remaining -= _lose(run, [lost], f"the grading worker stopped (exit code {proc.exitcode})",
                                           expected, bar)
            continue
        kind, number = message[0], message[1]
        if kind == "start":
            current[number] = (message[2], message[3])
        elif kind == "done":
            _, _, student, assignment, ok, seconds, reason, records, failures = message
            current.pop(number, None)
            problems.add_records(*records)
            variants.add_failures(failures)
            run.outcomes.append(Outcome(student, assignment, ok, seconds, reason))
            expected.discard((student, assignment))
            remaining -= 1
            if bar is not None:
                bar.update(1)
                bad = sum(1 for o in run.outcomes if not o.graded)
                if bad:
                    bar.set_postfix(not_graded=bad)
        elif kind == "exit":
            exited.add(number)
            run.worker_peak_bytes.append(message[2])
            for key, value in message[3].items():
                run.reference_cache[key] = run.reference_cache.get(key, 0) + value
        elif kind == "broken":
            exited.add(number)
            print(f"a grading worker could not start:\n{message[2]}", file=sys.stderr)
    _drain(run, results, wait=0.5)  # the workers' last words (their peak memory)
    # a worker that could not start, or died: what nobody graded is reported, not lost
    if expected:
        _lose(run, sorted(expected), "no grading worker was left to grade it", expected, bar)


def _drain(run: RunResult, results, wait: float) -> None:
    """Late "exit" messages of workers that finished: their peak memory and cache counts."""
    while True:
        try:
            message = results.get(timeout=wait)
        except (queue.Empty, OSError, ValueError):
            return
        if message[0] == "exit":
            run.worker_peak_bytes.append(message[2])
            for key, value in message[3].items():
                run.reference_cache[key] = run.reference_cache.get(key, 0) + value


def _lose(run: RunResult, pairs, reason: str, expected: set, bar) -> int:
    for student, assignment in pairs:
        run.outcomes.append(Outcome(student, assignment, False, 0.0, reason))
        expected.discard((student, assignment))
        if bar is not None:
            bar.update(1)
    return len(pairs)


def _merge_logs(path: str, count: int) -> None:
    """The workers' logs, one after the other, in the run's log file."""
    with open(path, "a", encoding="utf-8") as out:
        for number in range(count):
            part = Path(f"{path}.worker{number}")
            if part.is_file():
                out.write(f"##### worker {number}\n")
                out.write(part.read_text(encoding="utf-8", errors="replace"))
                part.unlink()


# -- the copy check across runs and shards ---------------------------------------------------------
FAILURES_FOLDER = ".grading/failed-values"


def keep_failures(folder: Path, failures: list, found: list | None = None) -> None:
    """Keep each graded notebook's failed values beside the ledger, so that the end-of-run copy
    check of any later run (another shard, on another machine) checks them against every world
    recorded by then. ``found``: findings of a check, not to be reported again."""
    import pickle

    from course.trainer.grading.variants import COPIED

    new: dict[tuple, list[str]] = {}
    for student, assignment, notebook, line in found or []:
        new.setdefault((student, assignment, notebook), []).append(line[len(COPIED):].strip())
    for info, ledger, seed, failed, already in failures:
        key = (info["student"], info["assignment"], info["notebook"])
        path = folder / info["assignment"] / f"{info['student']}+{info['notebook']}.pickle"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps((info, ledger, seed, failed, sorted({*already, *new.get(key, [])}))))
        os.replace(tmp, path)


def forget_failures(folder: Path, graded: list[tuple[str, str]]) -> None:
    """Submissions graded again: what their earlier grading failed no longer counts."""
    for student, assignment in graded:
        for path in (folder / assignment).glob(f"{glob.escape(student)}+*.pickle"):
            path.unlink(missing_ok=True)


def earlier_failures(folder: Path, assignments: list[str], db_url: str) -> list:
    """The failed values kept by earlier runs (written by this course's graders only)."""
    import pickle

    found = []
    for assignment in assignments:
        for path in sorted((folder / assignment).glob("*.pickle")):
            try:
                info, ledger, seed, failed, already = pickle.loads(path.read_bytes())  # noqa: S301
            except Exception:  # noqa: BLE001 - a damaged record only loses its recheck
                continue
            found.append((dict(info, db_url=db_url), ledger, seed, failed, already))
    return found


# -- what the trainer reads -----------------------------------------------------------------------
@dataclass
class ModuleCount:
    assignment: str
    graded: int = 0            # graded this run
    kept: int = 0              # graded before, left as is
    problems: int = 0          # graded (this run or before) with problems: flagged
    late: int = 0
    not_graded: int = 0
    missing: int = 0           # on the roster, nothing submitted


def module_counts(api, run: RunResult) -> list[ModuleCount]:
    """Per module: graded, graded with problems (flagged), late, not graded and missing."""
    from nbgrader.api import MissingEntry

    counts = []
    failed = {(o.student, o.assignment) for o in run.outcomes if not o.graded}
    failed |= {(student, assignment) for _, assignment, student, _, why in run.not_graded_rows
               if "could not be graded" in why}
    with api.gradebook as gb:
        for assignment in run.plan.assignments:
            count = ModuleCount(assignment)
            if assignment in run.plan.unknown:
                counts.append(count)
                continue
            graded_now = {o.student for o in run.outcomes if o.assignment == assignment and o.graded}
            count.not_graded = len({s for s, a in failed if a == assignment})
            count.graded = len(graded_now - {s for s, a in failed if a == assignment})
            kept = set(run.plan.kept.get(assignment, []))
            count.kept = len(kept)
            for student in graded_now | kept:
                try:
                    submission = gb.find_submission(assignment, student)
                except MissingEntry:
                    continue
                if any(nb.flagged for nb in submission.notebooks):
                    count.problems += 1
                if (submission.total_seconds_late or 0) > 0:
                    count.late += 1
            count.missing = len(run.plan.roster - set(submitted_students(api, assignment)))
            counts.append(count)
    return counts


def summary_lines(counts: list[ModuleCount], run: RunResult) -> list[str]:
    lines = []
    for c in counts:
        if c.assignment in run.plan.unknown:
            lines.append(f"{c.assignment}: not in the gradebook (release it first: python -m course release)")
            continue
        lines.append(f"{c.assignment}: {c.graded} graded this run, {c.kept} graded before and kept, "
                     f"{c.problems} with problems, {c.late} late, {c.not_graded} could not be graded, "
                     f"{c.missing} missing")
    total = ModuleCount("total")
    for c in counts:
        for name in ("graded", "kept", "problems", "late", "not_graded", "missing"):
            setattr(total, name, getattr(total, name) + getattr(c, name))
    done = len([o for o in run.outcomes if o.graded]) if run.interrupted else run.plan.count
    per = f", {run.seconds / done:.2f} s per graded notebook" if done else ""
    peak = max(run.worker_peak_bytes, default=0)
    memory = f"{peak / 2**20:.0f} MiB" if peak else "not reported (workers stopped)"
    lines.append(f"total: graded {total.graded + total.kept} ({total.graded} this run), graded with "
                 f"problems {total.problems}, late {total.late}, missing {total.missing}, "
                 f"could not be graded {total.not_graded}")
    if run.workers:
        lines.append(f"{done} submission(s) in {run.seconds:.1f} s with {run.workers} worker(s){per}; "
                     f"peak worker memory {memory}; reference results computed "
                     f"{run.reference_cache.get('misses', 0)}, reused {run.reference_cache.get('hits', 0)}; "
                     f"log: {run.log_path}")
    if run.interrupted:
        again = " ".join(a for a in sys.argv[1:] if a != "--force") if sys.argv[1:] else "autograde"
        lines.append(f"interrupted: run `python -m course {again}` (without --force) to grade the rest "
                     "(what was graded is kept)")
    return lines


def worker_config(extra=None):
    """Settings of the grading workers on top of ``nbgrader_config.py``: a graded kernel keeps
    nothing, so it is stopped at once instead of being asked to shut down and waited for."""
    from traitlets.config import Config

    config = Config()
    config.SandboxedExecute.shutdown_kernel = "immediate"
    if extra:
        config.merge(extra)
    return config
