"""ETP Express Operations Academy: the course package.

The folders draw the line between the two sides.

Trainee side: everything in ``course/`` except ``course/trainer/`` (and ``python -m course``, its
commands). It is all a trainee's install,
the trainee's kernel and a graded kernel in its sandbox hold.

- ``course.quiz``: the widget quiz engine, its answer file, the incident drill.
- ``course.data``: deterministic generators of the simulated ETP Express world.
- ``course.checks``: visible checks that say "not done yet" instead of stopping Run All.
- ``course.handover``: how a graded kernel hands values to the trainer's process, as data.
- ``course.certification``: the trainee's certification checklist.

Trainer side: ``course.trainer``, never in a trainee's install or a graded kernel. One folder per
job: ``grading`` (the autograde pipeline), ``reference`` (reference code and the helpers hidden
tests call), ``cohort`` (the trainer's commands), ``hub`` (JupyterHub services), ``lab`` (starting
JupyterLab for a trainee or a trainer).
"""
from pathlib import Path

__version__ = "0.1.0"

PACKAGE = Path(__file__).resolve().parent
# The folder of this package that a trainee's install and a graded kernel never hold, and the
# entry point of its commands (``python -m course``).
TRAINER_FOLDER = "trainer"
TRAINER_ENTRY_POINT = "__main__.py"


def trainee_side(package: Path = PACKAGE) -> list[Path]:
    """The package's top-level entries on the trainee side: all but the trainer's folder and commands."""
    return sorted(p for p in package.iterdir()
                  if p.name not in (TRAINER_FOLDER, TRAINER_ENTRY_POINT, "__pycache__"))
