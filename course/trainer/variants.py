"""Per-trainee worlds at grading time: which seed a submission is graded in, and copied values.

- ``WorldVariants`` (``c.WorldVariants.enabled`` in nbgrader_config.py) says whether each trainee
  gets their own world; the seed of a submission derives from the course id and the submission's
  folder name (the student id), the same derivation a trainee's kernel makes from its user.
- ``Ledger`` keeps, per seed, what the reference of each check computed in that world, beside the
  gradebook. A trainee's wrong value that is right in another trainee's world (and not in their
  own) is evidence of copied numbers; ``copied_values`` names the world it came from.
"""
from __future__ import annotations

import atexit
import json
import math
import sys
import os
import tempfile
from pathlib import Path
from typing import Any

from traitlets import Bool, Unicode
from traitlets.config import LoggingConfigurable

from ..data import world

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


class Ledger:
    """Reference values per world seed, one small JSON file per (assignment, seed)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, assignment: str, seed: int) -> Path:
        return self.folder / assignment / f"{seed}.json"

    def record(self, assignment: str, seed: int, student: str, references: dict) -> None:
        path = self._path(assignment, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
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
        """One line per failed value that is right in another trainee's world."""
        found = []
        for other, entry in self.worlds(assignment).items():
            if other == seed:
                continue
            references = entry.get("references", {})
            for name, (value, tolerance) in sorted(failed.items()):
                if name in references and matches(value, references[name], tolerance):
                    whose = ", ".join(entry.get("students", [])) or f"seed {other}"
                    found.append(f"{name} matches the world of {whose}, not this trainee's")
        return found


# Submissions graded this run with failed values, checked again at the end against every world
# the run recorded: a copier graded before the trainee they copied from is caught there.
_failures: list[tuple[dict, Ledger, int, dict, list[str]]] = []


def remember_failures(resources: dict, ledger: Ledger, seed: int, failed: dict,
                      already: list[str]) -> None:
    if failed:
        if not _failures:
            atexit.register(_recheck_failures)
        _failures.append((dict(resources["nbgrader"]), ledger, seed, dict(failed), list(already)))


def _recheck_failures() -> None:
    from .problems import flag

    lines = []
    for info, ledger, seed, failed, already in _failures:
        new = [line for line in ledger.copied_values(info["assignment"], seed, failed)
               if line not in already]
        if new:
            flag(info["db_url"], info["assignment"], info["student"], info["notebook"],
                 f"GRADING PROBLEM: {COPIED} " + "; ".join(new))
            lines += [f"  {info['student']}\t{info['assignment']}/{info['notebook']}\t{COPIED} {line}"
                      for line in new]
    if lines:
        print("copy check at the end of the run:\n" + "\n".join(lines), file=sys.stderr)
