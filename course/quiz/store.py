"""The answer file: where committed quiz answers live between kernel restarts and into autograde.

Autograde re-runs the notebook in a fresh kernel, where a widget's clicked value is gone, so every
committed answer is written here and the hidden tests grade what the file holds.

- Writes are atomic (temporary file + ``os.replace``): a crash never leaves half a file.
- The first committed answer is the graded one; later tries are kept, with their times.
- Each attempt carries a seal chained to the one before it, so an answer edited by hand (or a
  deleted first try) no longer verifies and is flagged to the trainer.
- A file that cannot be read is never overwritten: the store refuses to write and says why.
- Reading is bounded whatever a trainee puts there: only a regular file, never a link, at most
  ``MAX_ANSWER_FILE_BYTES``, strictly shaped; anything else is one AnswerFileError line.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ANSWER_FILE = "answers.json"
FORMAT = "etp-academy-answers/1"
MAX_ANSWER_FILE_BYTES = 1_000_000  # thousands of committed answers; far below what hangs a reader
MAX_NESTING = 32  # real files nest six deep; a cap keeps sealing and writing back safe
# A link or FIFO swapped in between the checks and the open neither escapes the folder nor blocks.
_READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_BINARY", 0))


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


ATTEMPT_TYPES = {"canonical": str, "correct": bool, "time": str, "seal": str}  # answer: any JSON
ATTEMPT_FIELDS = {f.name for f in fields(Attempt)}


def chain_seal(previous: str, qid: str, canonical: str, correct: bool, time: str) -> str:
    payload = json.dumps([previous, qid, canonical, bool(correct), time], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _world_seed() -> int:
    from course.data import world

    return world.current().seed


def _world_owner() -> str | None:
    from course.data import world

    return world.own_world_id()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def one_line(text: str, limit: int = 80) -> str:
    """``text`` safe to show on one line: control characters escaped, long text cut."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _valid_attempt(raw: Any) -> bool:
    return (isinstance(raw, dict) and raw.keys() == ATTEMPT_FIELDS
            and all(isinstance(raw[name], kind) for name, kind in ATTEMPT_TYPES.items()))


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _broken_chain(qid: str, attempts: list[Attempt]) -> bool:
    previous = ""
    for attempt in attempts:
        if attempt.seal != chain_seal(previous, qid, attempt.canonical, attempt.correct, attempt.time):
            return True
        previous = attempt.seal
    return False


class AnswerStore:
    """Reads and appends to one assignment's answer file (default ``answers.json`` in the cwd)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else Path.cwd() / ANSWER_FILE

    # -- reading ------------------------------------------------------------------------------
    def load(self) -> dict:
        """The file's questions as ``{qid: [attempt dicts]}``; raise AnswerFileError if unreadable."""
        raw = self._read()
        if raw is None:
            return {}
        name = self.path.name
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise AnswerFileError(f"{name} is not UTF-8 text") from None
        except json.JSONDecodeError as err:
            raise AnswerFileError(
                f"{name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
            ) from None
        except RecursionError:
            raise self._too_deep() from None
        except ValueError:  # e.g. a number too long to convert
            raise AnswerFileError(f"{name} is not valid JSON (a value is out of range)") from None
        self._check_text(data)
        return self._questions_of(data)

    def _read(self) -> bytes | None:
        """The file's bytes (None if there is no file), refused before reading if it is odd."""
        name = self.path.name
        try:
            info = os.lstat(self.path)
            if stat.S_ISLNK(info.st_mode):  # could point anywhere, even outside the folder
                raise AnswerFileError(f"{name} is a link, not the answer file itself")
            if not stat.S_ISREG(info.st_mode):
                raise AnswerFileError(f"{name} is not a regular file")
            self._check_size(info.st_size)
            with os.fdopen(os.open(self.path, _READ_FLAGS), "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    raise AnswerFileError(f"{name} is not a regular file")
                raw = fh.read(MAX_ANSWER_FILE_BYTES + 1)  # bounded even if the file grows meanwhile
        except FileNotFoundError:
            return None
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise AnswerFileError(f"{name} cannot be read ({reason})") from None
        self._check_size(len(raw))
        return raw

    def _check_size(self, size: int) -> None:
        if size > MAX_ANSWER_FILE_BYTES:
            raise AnswerFileError(f"{self.path.name} is {size} bytes, more than the "
                                  f"{MAX_ANSWER_FILE_BYTES}-byte limit for an answer file")

    def _check_text(self, data: Any) -> None:
        """Refuse lone surrogates (valid JSON escapes, but they cannot be sealed or written back)
        and deep nesting; a loop rather than recursion, so any parsed file is safe to walk."""
        stack = [(data, 1)]
        while stack:
            item, depth = stack.pop()
            if depth > MAX_NESTING:
                raise self._too_deep()
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((value, depth + 1) for value in item.values())
            elif isinstance(item, list):
                stack.extend((value, depth + 1) for value in item)
            elif isinstance(item, str) and _has_lone_surrogate(item):
                raise AnswerFileError(f"{self.path.name} holds invalid text (a lone surrogate)")

    def _too_deep(self) -> AnswerFileError:
        return AnswerFileError(f"{self.path.name} nests too deeply (more than {MAX_NESTING} levels)")

    def _questions_of(self, data: Any) -> dict:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AnswerFileError(f"{self.path.name} is not an answer file written by this course")
        questions = data.get("questions")
        if not isinstance(questions, dict):
            raise AnswerFileError(f"{self.path.name} has a damaged 'questions' section")
        for qid, tries in questions.items():
            if not (isinstance(qid, str) and isinstance(tries, list)
                    and all(map(_valid_attempt, tries))):
                raise AnswerFileError(f"{self.path.name} has a damaged entry for {one_line(str(qid))}")
        return questions

    def attempts(self, qid: str) -> list[Attempt]:
        """Every committed attempt at ``qid``, oldest first."""
        return [Attempt(**raw) for raw in self.load().get(qid, [])]  # load checked every field

    def first(self, qid: str) -> Attempt | None:
        tries = self.attempts(qid)
        return tries[0] if tries else None

    def tampered(self, qid: str) -> bool:
        """True if the seals of ``qid``'s attempts no longer verify (edited or removed by hand)."""
        return _broken_chain(qid, self.attempts(qid))

    def flagged(self) -> list[str]:
        """Every question whose seals no longer verify, from a single reading of the file."""
        return [qid for qid, tries in self.load().items()
                if _broken_chain(qid, [Attempt(**raw) for raw in tries])]

    # -- writing ------------------------------------------------------------------------------
    def record(self, qid: str, answer: Any, canonical: str, correct: bool) -> Attempt:
        """Append one committed attempt and write the file atomically; return the attempt."""
        questions = self.load()  # raises on a damaged file, so it is never overwritten
        worlds = self.worlds()
        tries = questions.setdefault(qid, [])
        previous = tries[-1]["seal"] if tries else ""
        time = _now()
        attempt = Attempt(answer, canonical, bool(correct), time,
                          chain_seal(previous, qid, canonical, correct, time))
        tries.append(attempt.as_json())
        seed, committed_as = _world_seed(), self.committed_as()
        who = _world_owner()
        if who:
            committed_as[str(seed)] = who
        data = {"format": FORMAT, "worlds": sorted({*worlds, seed}), "questions": questions}
        if committed_as:
            data["trainees"] = committed_as
        self._write(data)
        return attempt

    def committed_as(self) -> dict[str, str]:
        """{world seed: the trainee id that world was derived from} (those the file names).
        Only says whom an answer was committed as: the seeds in ``worlds`` are what counts."""
        raw = self._read()
        named = json.loads(raw.decode("utf-8")).get("trainees", {}) if raw else {}
        if not (isinstance(named, dict) and all(isinstance(v, str) for v in named.values())):
            return {}
        return {str(k): v[:100] for k, v in named.items()}

    def worlds(self) -> list[int]:
        """The seeds of the worlds the answers were committed in (one, for an honest file)."""
        self.load()  # every check of a readable answer file first
        raw = self._read()
        seeds = json.loads(raw.decode("utf-8")).get("worlds", []) if raw else []
        if not (isinstance(seeds, list) and all(type(s) is int for s in seeds)):
            raise AnswerFileError(f"{self.path.name} has a damaged 'worlds' section")
        return seeds

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
