"""The quiz service's storage: every committed attempt, in one SQLite file.

The file lives in a folder only the service's account can write (``prepare`` makes it 0700), so
no trainee's server can touch it. Times are the service's own clock, never the trainee's. The
first attempt of a trainee at a question is attempt 1 and stays the graded one: an attempt's
number is given inside one write transaction, and ``UNIQUE(user, qid, n)`` keeps two Submit
presses that arrive together from both becoming the first. A commit may carry the id its widget
gave it: the same id again (a retry after a timeout) returns the attempt already recorded.
Module 6's simulation is kept here too: each run of a trainee's ``IncidentSim`` call by call, with
the call's simulated minute and the service's time; a call's number makes a retry safe.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    assignment TEXT NOT NULL,
    qid TEXT NOT NULL,
    n INTEGER NOT NULL,
    answer TEXT NOT NULL,
    canonical TEXT NOT NULL,
    correct INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    time TEXT NOT NULL,
    UNIQUE (user, qid, n)
);
CREATE INDEX IF NOT EXISTS attempts_by_assignment ON attempts (assignment, user);
CREATE TABLE IF NOT EXISTS commits (
    user TEXT NOT NULL,
    qid TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (user, qid, commit_id)
);
CREATE TABLE IF NOT EXISTS sim_runs (
    user TEXT NOT NULL,
    run TEXT NOT NULL,
    scenario TEXT NOT NULL,
    seed INTEGER NOT NULL,
    started TEXT NOT NULL,
    PRIMARY KEY (user, run)
);
CREATE TABLE IF NOT EXISTS sim_calls (
    user TEXT NOT NULL,
    run TEXT NOT NULL,
    n INTEGER NOT NULL,
    call TEXT NOT NULL,
    minute REAL NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (user, run, n)
);
CREATE TABLE IF NOT EXISTS worlds (
    assignment TEXT NOT NULL,
    seed INTEGER NOT NULL,
    view TEXT NOT NULL,
    PRIMARY KEY (assignment, seed)
);
"""
DATABASE = "quiz-answers.sqlite"
MAX_SIM_CALLS = 500   # calls kept per run: the best path takes about 15
MAX_SIM_RUNS = 200    # runs kept per trainee: each re-run of the start cell opens one


class SimRefused(ValueError):
    """A simulation call that does not continue its run (its number or its run's world differ)."""


class SimFull(SimRefused):
    """A run, or a trainee's runs, at their cap."""


@dataclass(frozen=True)
class StoredAttempt:
    user: str
    assignment: str
    qid: str
    n: int
    answer: Any
    canonical: str
    correct: bool
    seed: int
    time: str

    def public(self) -> dict:
        """What the trainee who committed it may see (no key: only whether it was right)."""
        return {"n": self.n, "answer": self.answer, "canonical": self.canonical,
                "correct": self.correct, "time": self.time}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def prepare(folder: Path) -> Path:
    """The service's data folder, private to the account the service runs as.

    A folder of another owner (a volume's root on a cluster) cannot be made 0700 by the service:
    it is used as it is when no other account can reach it (group access is the volume's group),
    and refused otherwise."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        folder.chmod(0o700)
    except PermissionError:
        mode = folder.stat().st_mode & 0o7777
        if mode & 0o007:
            raise PermissionError(
                f"the quiz data folder {folder} is open to every account (mode {mode:o}) and is not "
                "the service's to make private: give the service a folder of its own, for example "
                "a sub-folder of the volume") from None
    return folder / DATABASE


class Ledger:
    """Attempts and cached world views in one SQLite file (one connection per thread)."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path, self.read_only = Path(path), read_only
        self._local = threading.local()
        if not read_only:
            with self._connect() as db:
                db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if self.read_only:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                     isolation_level=None)
            else:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                os.chmod(self.path, 0o600)
            self._local.db = db
        return db

    # -- attempts ------------------------------------------------------------------------------
    def record(self, user: str, assignment: str, qid: str, answer: Any, canonical: str,
               correct: bool, seed: int, commit_id: str | None = None) -> StoredAttempt:
        """Append one attempt with the service's time; the first one stays attempt 1. With a
        ``commit_id`` already recorded, nothing is added and that attempt is returned."""
        db = self._connect()
        text = json.dumps(answer, ensure_ascii=False)
        for _ in range(5):
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    known = self._committed(db, user, qid, commit_id)
                    if known is not None:
                        db.execute("COMMIT")
                        return known
                    (count,) = db.execute("SELECT COUNT(*) FROM attempts WHERE user=? AND qid=?",
                                          (user, qid)).fetchone()
                    time = now()
                    db.execute("INSERT INTO attempts (user, assignment, qid, n, answer, canonical,"
                               " correct, seed, time) VALUES (?,?,?,?,?,?,?,?,?)",
                               (user, assignment, qid, count + 1, text, canonical, int(correct),
                                seed, time))
                    if commit_id is not None:
                        db.execute("INSERT INTO commits (user, qid, commit_id, n) VALUES (?,?,?,?)",
                                   (user, qid, commit_id, count + 1))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                return StoredAttempt(user, assignment, qid, count + 1, answer, canonical,
                                     bool(correct), seed, time)
            except sqlite3.IntegrityError:
                continue  # another writer took this number between our read and write
        raise RuntimeError(f"could not record an attempt at {qid} for {user}")

    def committed(self, user: str, qid: str, commit_id: str) -> StoredAttempt | None:
        """The attempt a commit id was recorded as, or None (not recorded, or not this caller's)."""
        return self._committed(self._connect(), user, qid, commit_id)

    @staticmethod
    def _committed(db, user: str, qid: str, commit_id: str | None) -> StoredAttempt | None:
        if commit_id is None:
            return None
        row = db.execute(
            "SELECT a.user, a.assignment, a.qid, a.n, a.answer, a.canonical, a.correct, a.seed, a.time"
            " FROM commits c JOIN attempts a ON a.user=c.user AND a.qid=c.qid AND a.n=c.n"
            " WHERE c.user=? AND c.qid=? AND c.commit_id=?", (user, qid, commit_id)).fetchone()
        return _attempt(row) if row else None

    def users(self) -> list[str]:
        """Every trainee who committed anything (their worlds are kept warm after a restart)."""
        return [row[0] for row in self._connect().execute("SELECT DISTINCT user FROM attempts")]

    def attempts(self, user: str, qid: str) -> list[StoredAttempt]:
        rows = self._connect().execute(
            "SELECT user, assignment, qid, n, answer, canonical, correct, seed, time FROM attempts"
            " WHERE user=? AND qid=? ORDER BY n", (user, qid)).fetchall()
        return [_attempt(row) for row in rows]

    def assignment(self, assignment: str, user: str | None = None) -> list[StoredAttempt]:
        """Every attempt at one assignment (one trainee's, or the whole cohort's), in order."""
        query = ("SELECT user, assignment, qid, n, answer, canonical, correct, seed, time FROM attempts"
                 " WHERE assignment=?")
        args: tuple = (assignment,)
        if user is not None:
            query += " AND user=?"
            args += (user,)
        rows = self._connect().execute(query + " ORDER BY user, qid, n", args).fetchall()
        return [_attempt(row) for row in rows]

    # -- Module 6's simulation runs -----------------------------------------------------------------
    def record_sim_call(self, user: str, run: str, scenario: str, seed: int, n: int, call: list,
                        minute: float) -> dict:
        """Append call ``n`` to ``user``'s run (opening the run at call 0), stamped with the service's
        time. A call already recorded with that number is returned as it was (a retry); a different
        one there, or a number past the next, is refused."""
        db, text = self._connect(), json.dumps(call, ensure_ascii=False)
        db.execute("BEGIN IMMEDIATE")
        try:
            stored = self._sim_call(db, user, run, n, scenario, seed, text)
            if stored is None:
                stored = {"n": n, "call": call, "minute": minute, "time": now()}
                db.execute("INSERT INTO sim_calls (user, run, n, call, minute, time) VALUES (?,?,?,?,?,?)",
                           (user, run, n, text, minute, stored["time"]))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return stored

    @staticmethod
    def _sim_call(db, user: str, run: str, n: int, scenario: str, seed: int, text: str) -> dict | None:
        """The call already recorded as ``n`` (None: it is the next one); refused when it does not fit."""
        opened = db.execute("SELECT scenario, seed FROM sim_runs WHERE user=? AND run=?", (user, run)).fetchone()
        if opened is not None and tuple(opened) != (scenario, seed):
            raise SimRefused(f"run {run} is a run of {opened[0]} in world {opened[1]}")
        (count,) = db.execute("SELECT COUNT(*) FROM sim_calls WHERE user=? AND run=?", (user, run)).fetchone()
        if n < count:
            known = db.execute("SELECT call, minute, time FROM sim_calls WHERE user=? AND run=? AND n=?",
                               (user, run, n)).fetchone()
            if known[0] != text:
                raise SimRefused(f"call {n} of run {run} was recorded as another call")
            return {"n": n, "call": json.loads(known[0]), "minute": known[1], "time": known[2]}
        if n > count:
            raise SimRefused(f"call {count} of run {run} was never recorded: send it first")
        if count >= MAX_SIM_CALLS:
            raise SimFull(f"a run keeps at most {MAX_SIM_CALLS} calls: start the simulation again")
        if opened is None:
            (runs,) = db.execute("SELECT COUNT(*) FROM sim_runs WHERE user=?", (user,)).fetchone()
            if runs >= MAX_SIM_RUNS:
                raise SimFull(f"at most {MAX_SIM_RUNS} runs of the simulation are kept per trainee")
            db.execute("INSERT INTO sim_runs (user, run, scenario, seed, started) VALUES (?,?,?,?,?)",
                       (user, run, scenario, seed, now()))
        return None

    def sim_runs(self, user: str, scenario: str | None = None, run: str | None = None) -> list[dict]:
        """``user``'s runs (of ``scenario``, or the one ``run``) in the order they were opened, each
        with its calls and their times."""
        db = self._connect()
        query, args = "SELECT run, scenario, seed, started FROM sim_runs WHERE user=?", (user,)
        for column, value in (("scenario", scenario), ("run", run)):
            if value is not None:
                query, args = query + f" AND {column}=?", args + (value,)
        try:
            opened = db.execute(query + " ORDER BY rowid", args).fetchall()
        except sqlite3.OperationalError:  # a read-only copy made before the simulation was recorded
            return []
        runs = [{"run": run, "scenario": sc, "seed": seed, "started": started, "calls": []}
                for run, sc, seed, started in opened]
        for run in runs:
            run["calls"] = [{"n": n, "call": json.loads(call), "minute": minute, "time": time}
                            for n, call, minute, time in db.execute(
                                "SELECT n, call, minute, time FROM sim_calls WHERE user=? AND run=? ORDER BY n",
                                (user, run["run"]))]
        return runs

    # -- world views (keys and facts of one trainee's world), kept across restarts ------------
    def world_view(self, assignment: str, seed: int) -> dict | None:
        row = self._connect().execute("SELECT view FROM worlds WHERE assignment=? AND seed=?",
                                      (assignment, seed)).fetchone()
        return json.loads(row[0]) if row else None

    def keep_world_view(self, assignment: str, seed: int, view: dict) -> None:
        self._connect().execute("INSERT OR REPLACE INTO worlds (assignment, seed, view) VALUES (?,?,?)",
                                (assignment, seed, json.dumps(view, ensure_ascii=False)))


def _attempt(row) -> StoredAttempt:
    user, assignment, qid, n, answer, canonical, correct, seed, time = row
    return StoredAttempt(user, assignment, qid, n, json.loads(answer), canonical, bool(correct),
                         seed, time)


def as_answer_file(attempts: list[StoredAttempt]) -> dict:
    """One trainee's attempts as the course's answer file (sealed chain, the service's times),
    the form grading reads: ``course.quiz.store`` FORMAT."""
    from course.quiz.store import FORMAT, chain_seal

    questions: dict[str, list[dict]] = {}
    for attempt in sorted(attempts, key=lambda a: (a.qid, a.n)):
        tries = questions.setdefault(attempt.qid, [])
        previous = tries[-1]["seal"] if tries else ""
        tries.append({"answer": attempt.answer, "canonical": attempt.canonical,
                      "correct": attempt.correct, "time": attempt.time,
                      "seal": chain_seal(previous, attempt.qid, attempt.canonical, attempt.correct,
                                         attempt.time)})
    worlds = sorted({attempt.seed for attempt in attempts})
    return {"format": FORMAT, "worlds": worlds, "questions": questions}
