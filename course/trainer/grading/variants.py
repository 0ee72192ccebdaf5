"""Per-trainee worlds at grading time: which seed a submission is graded in, and copied values.

- ``WorldVariants`` (``c.WorldVariants.enabled`` in nbgrader_config.py) says whether each trainee
  gets their own world; the seed of a submission derives from the course id and the submission's
  folder name (the student id), the same derivation a trainee's kernel makes from its user.
- ``Ledger`` keeps, per seed, what the reference of each check computed in that world, beside the
  gradebook. A trainee's wrong value that is right in another trainee's world (and not in their
  own) is evidence of copied numbers; ``copied_values`` names the world it came from.
- The ledger is a folder of JSON files: the grading workers of a parallel run share it (a lock
  file per world keeps two workers from losing each other's entries), and the copy check at the
  end of the run (``recheck_failures``) runs once, in the parent, after every world is in.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import math
import sys
import os
import tempfile
from pathlib import Path
from typing import Any

from traitlets import Bool, Unicode
from traitlets.config import LoggingConfigurable

from course.data import world

LEDGER_FOLDER = ".grading/worlds"
COPIED = "values from another trainee's world:"


class WorldVariants(LoggingConfigurable):
    """Per-trainee variants of the simulated world."""

    enabled = Bool(True, help="Give each trainee their own world (off: one world for all)."
                   ).tag(config=True)
    course_id = Unicode("", help="Seeds derive from this and the student id; empty: "
                        "CourseDirectory.course_id, else the course's default id.").tag(config=True)

    def seed_of(self, student: str) -> int:
        if not self.enabled:
            return world.CANONICAL_SEED
        course_id = self.course_id or self.config.CourseDirectory.get("course_id") or world.COURSE_ID
        return world.seed_for(student, course_id)


def matches(value: Any, expected: Any, tolerance: float) -> bool:
    """Whether a check comparing ``value`` with ``expected`` would pass."""
    if isinstance(expected, list):
        return value in expected
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return not math.isnan(value) and abs(value - expected) <= tolerance
    return value == expected


def distinctive(value: Any) -> bool:
    """A value an honest mistake is unlikely to hit by chance: a number with a fraction, or a
    long text (a time to the second, an id, a list of titles); not a count or a short label."""
    if isinstance(value, float):
        return not value.is_integer()
    return isinstance(value, str) and len(value) >= 16


class Ledger:
    """Reference values per world seed, one small JSON file per (assignment, seed)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, assignment: str, seed: int) -> Path:
        return self.folder / assignment / f"{seed}.json"

    def record(self, assignment: str, seed: int, student: str, references: dict) -> None:
        path = self._path(assignment, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_suffix(".lock")):  # workers of one run may share a world
            entry = {"students": [student], "references": references}
            if path.exists():
                old = self._load(path)
                entry["students"] = sorted({*old.get("students", []), student})
                entry["references"] = {**old.get("references", {}), **references}
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, path)

    @staticmethod
    def _load(path: Path) -> dict:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def worlds(self, assignment: str) -> dict[int, dict]:
        return {int(p.stem): self._load(p) for p in sorted((self.folder / assignment).glob("*.json"))
                if p.stem.isdigit()}

    def copied_values(self, assignment: str, seed: int, failed: dict) -> list[str]:
        """One line per failed value that points at another trainee's world: a distinctive value
        right there and in no other world, or one of two or more failed values right in that
        same world.

        A single value from a small space (a count, a choice among a few options) or right in
        several worlds says nothing about where it came from: an honest mistake lands there as
        easily.
        """
        others = {other: entry for other, entry in self.worlds(assignment).items() if other != seed}
        hits = {name: [other for other, entry in others.items()
                       if name in entry.get("references", {})
                       and matches(value, entry["references"][name], tolerance)]
                for name, (value, tolerance) in sorted(failed.items())}
        per_world = {}
        for worlds in hits.values():
            for other in worlds:
                per_world[other] = per_world.get(other, 0) + 1
        found = []
        for name, worlds in hits.items():
            value = failed[name][0]
            named = [w for w in worlds if (len(worlds) == 1 and distinctive(value)) or per_world[w] >= 2]
            for other in named:
                whose = ", ".join(others[other].get("students", [])) or "another trainee"
                found.append(f"{name} matches the world of {whose}, not this trainee's")
        return found


def world_mismatch(student: str, foreign: list[int], committed_as: dict[str, str],
                   roster: dict[int, str], seed_of) -> str:
    """Why an answer file's worlds are not ``student``'s, in the trainer's words: another
    trainee's world reads as a copy; a world derived from an id on no roster reads as a set-up
    problem (a login name that is not the roster id). ``roster``: {seed: trainee} of the
    gradebook; ``committed_as``: the file's {seed: id}, believed only where the seed matches."""
    owners = sorted({roster[s] for s in foreign if roster.get(s, student) != student})
    if owners:
        return (f"the quiz answers were committed in the world of {', '.join(owners)}, not this "
                "trainee's (a copied answers.json?)")
    names = sorted({name for s in foreign if (name := committed_as.get(str(s))) and seed_of(name) == s})
    if names:
        return (f"answers committed as {', '.join(names)}, handed in as {student}: check the trainee's "
                f"id (their world follows the id they work under; graded in the world of {student})")
    return (f"the quiz answers were committed in a world that is not {student}'s nor any trainee's on "
            "the roster: check the trainee's id (their world follows the id they work under)")


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# Submissions graded this run with failed values, checked again at the end against every world
# the run recorded: a copier graded before the trainee they copied from is caught there.
_failures: list[tuple[dict, Ledger, int, dict, list[str]]] = []
_registered = False
_deferred = False  # a grading worker: the parent runs the check once every worker is done


def remember_failures(resources: dict, ledger: Ledger, seed: int, failed: dict,
                      already: list[str]) -> None:
    global _registered
    if failed:
        if not _registered and not _deferred:
            atexit.register(_recheck_failures)
            _registered = True
        _failures.append((dict(resources["nbgrader"]), ledger, seed, dict(failed), list(already)))


def defer_recheck() -> None:
    """In a grading worker: no copy check at exit; the parent gathers ``take_failures``."""
    global _deferred
    _deferred = True


def take_failures() -> list:
    """The failed values remembered since the last call (picklable); then forgotten."""
    taken = list(_failures)
    _failures.clear()
    return taken


def add_failures(failures) -> None:
    """Failed values a worker took with ``take_failures``, for this process's copy check."""
    _failures.extend(failures)


def recheck_failures() -> list[tuple[str, str, str, str]]:
    """The copy check at the end of a run, against every world recorded by then: flags and
    prints each new finding; returns them as (student, assignment, notebook, line)."""
    from course.trainer.grading.problems import flag

    found = []
    for info, ledger, seed, failed, already in _failures:
        new = [line for line in ledger.copied_values(info["assignment"], seed, failed)
               if line not in already]
        if new:
            flag(info["db_url"], info["assignment"], info["student"], info["notebook"],
                 f"GRADING PROBLEM: {COPIED} " + "; ".join(new))
            found += [(info["student"], info["assignment"], info["notebook"], f"{COPIED} {line}")
                      for line in new]
    if found:
        print("copy check at the end of the run:\n" + "\n".join(
            f"  {student}\t{assignment}/{notebook}\t{line}" for student, assignment, notebook, line in found),
            file=sys.stderr)
    return found


def _recheck_failures() -> None:
    recheck_failures()
