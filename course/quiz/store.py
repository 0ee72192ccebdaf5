"""The answer file: where committed quiz answers live between kernel restarts and into autograde.

Autograde re-runs the notebook in a fresh kernel, where a widget's clicked value is gone, so every
committed answer is written here and the hidden tests grade what the file holds.

- Writes are atomic (temporary file + ``os.replace``): a crash never leaves half a file.
- The first committed answer is the graded one; later tries are kept, with their times.
- Each attempt carries a seal chained to the one before it, so an answer edited by hand (or a
  deleted first try) no longer verifies and is flagged to the trainer.
- A file that cannot be read is never overwritten: the store refuses to write and says why.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ANSWER_FILE = "answers.json"
FORMAT = "etp-academy-answers/1"


class AnswerFileError(Exception):
    """The answer file exists but cannot be trusted as written by the course (one-line message)."""


@dataclass(frozen=True)
class Attempt:
    answer: Any
    canonical: str
    correct: bool
    time: str
    seal: str

    def as_json(self) -> dict:
        return dict(answer=self.answer, canonical=self.canonical, correct=self.correct,
                    time=self.time, seal=self.seal)


def chain_seal(previous: str, qid: str, canonical: str, correct: bool, time: str) -> str:
    payload = json.dumps([previous, qid, canonical, bool(correct), time], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class AnswerStore:
    """Reads and appends to one assignment's answer file (default ``answers.json`` in the cwd)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else Path.cwd() / ANSWER_FILE

    # -- reading ------------------------------------------------------------------------------
    def load(self) -> dict:
        """The file's questions as ``{qid: [attempt dicts]}``; raise AnswerFileError if unreadable."""
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise AnswerFileError(f"{self.path.name} is not UTF-8 text") from None
        except json.JSONDecodeError as err:
            raise AnswerFileError(
                f"{self.path.name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
            ) from None
        return self._questions_of(data)

    def _questions_of(self, data: Any) -> dict:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AnswerFileError(f"{self.path.name} is not an answer file written by this course")
        questions = data.get("questions")
        if not isinstance(questions, dict) or not all(
            isinstance(tries, list) and all(isinstance(t, dict) for t in tries)
            for tries in questions.values()
        ):
            raise AnswerFileError(f"{self.path.name} has a damaged 'questions' section")
        return questions

    def attempts(self, qid: str) -> list[Attempt]:
        """Every committed attempt at ``qid``, oldest first."""
        try:
            return [Attempt(**raw) for raw in self.load().get(qid, [])]
        except TypeError:
            raise AnswerFileError(f"{self.path.name} has a damaged entry for {qid}") from None

    def first(self, qid: str) -> Attempt | None:
        tries = self.attempts(qid)
        return tries[0] if tries else None

    def tampered(self, qid: str) -> bool:
        """True if the seals of ``qid``'s attempts no longer verify (edited or removed by hand)."""
        previous = ""
        for attempt in self.attempts(qid):
            expected = chain_seal(previous, qid, attempt.canonical, attempt.correct, attempt.time)
            if attempt.seal != expected:
                return True
            previous = attempt.seal
        return False

    # -- writing ------------------------------------------------------------------------------
    def record(self, qid: str, answer: Any, canonical: str, correct: bool) -> Attempt:
        """Append one committed attempt and write the file atomically; return the attempt."""
        questions = self.load()  # raises on a damaged file, so it is never overwritten
        tries = questions.setdefault(qid, [])
        previous = tries[-1].get("seal", "") if tries else ""
        time = _now()
        attempt = Attempt(answer, canonical, bool(correct), time,
                          chain_seal(previous, qid, canonical, correct, time))
        tries.append(attempt.as_json())
        self._write({"format": FORMAT, "questions": questions})
        return attempt

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
