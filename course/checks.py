"""Visible checks that report instead of stopping the notebook.

    with check("5a · uptime"):
        assert 95 < uptime_pct < 100, "uptime_pct is a percentage"

    with show("plot"):          # a cell that only draws or prints: silent when it works
        ax.plot(...)

A ✔ claims only what the visible checks tested: that every trap the exercise names is avoided.
The exact values are compared with the reference when graded, and the line says so. In a
trainee's kernel a failed or unfinished check prints one line and the notebook goes on, so
*Run All* reaches the end of an untouched notebook and every quiz below still runs. During
autograde the trainer's process runs the same cell with ``strict_check`` in its place, so a
failure there is a failure: an unfinished exercise still scores zero. Under nbgrader's Validate
(``NBGRADER_VALIDATING`` in the kernel's environment) the line is printed and the error raised,
so Validate lists every unfinished or failing exercise, not only unwritten answers.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

NOT_DONE = (NameError, NotImplementedError)
PASSED = "every visible check passes (the exact values are compared with the reference when graded)"


class check:  # noqa: N801 - reads as a statement: `with check("5a"):`
    """Run the checks in the block; print one line for the outcome instead of raising."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            print(f"✔ {self.name}: {PASSED}")
        elif issubclass(kind, NOT_DONE):
            print(f"… {self.name}: not done yet ({error})")
        elif issubclass(kind, AssertionError):
            print(f"✘ {self.name}: {error or 'a check did not pass'}")
        elif issubclass(kind, Exception):
            print(f"✘ {self.name}: your code raised {kind.__name__}: {error}")
        else:
            return False  # KeyboardInterrupt and the like still stop the notebook
        return not validating()


class show(check):  # noqa: N801 - `with show("plot"):`
    """A cell that only draws or prints what earlier exercises computed: it says nothing when it
    works (it checks nothing, so it has nothing to tick) and one line when it cannot run."""

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is not None and issubclass(kind, NOT_DONE):
            print(f"… {self.name}: needs the exercises above first ({error})")
            return True
        if kind is not None and issubclass(kind, Exception):
            print(f"✘ {self.name}: could not be shown: {kind.__name__}: {error}")
            return True
        return kind is None


def validating() -> bool:
    """True in a kernel run by nbgrader's Validate (the Assignments tab's or `nbgrader validate`)."""
    return os.environ.get("NBGRADER_VALIDATING") == "1"


@contextmanager
def strict_check(name: str):
    """The grader's ``check``: the block's exceptions propagate, so a failure scores zero."""
    del name
    yield
