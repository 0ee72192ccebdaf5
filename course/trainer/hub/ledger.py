"""The quiz service's storage: every committed attempt, in one SQLite file.

The file lives in a folder only the service's account can write (``prepare`` makes it 0700), so
no trainee's server can touch it. Times are the service's own clock, never the trainee's. The
first attempt of a trainee at a question is attempt 1 and stays the graded one: an attempt's
number is given inside one write transaction, and ``UNIQUE(user, qid, n)`` keeps two Submit
presses that arrive together from both becoming the first. A commit may carry the id its widget
gave it: the same id again (a retry after a timeout) returns the attempt already recorded.
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
CREATE TABLE IF NOT EXISTS worlds (
    assignment TEXT NOT NULL,
    seed INTEGER NOT NULL,
    view TEXT NOT NULL,
    PRIMARY KEY (assignment, seed)
);
"""
DATABASE = "quiz-answers.sqlite"


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
