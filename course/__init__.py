"""ETP Express Operations Academy: the course package.

Sub-packages, by what they hold:

Trainee side (all that a trainee's kernel, or a graded kernel in its sandbox, can import):

- ``course.quiz``: the widget quiz engine and its answer file (light imports).
- ``course.data``: deterministic generators of simulated ETP Express data.
- ``course.checks``: visible checks that report "not done yet" instead of stopping Run All.
- ``course.handover``: how a graded kernel hands values to the trainer's process, as data.

Trainer side (never in a trainee's install or a graded kernel):

- ``course.reference``: reference implementations that hidden tests compare against.
- ``course.grading``: helpers that hidden tests call (run in the trainer's process).
- ``course.trainer``: nbgrader steps (sandbox, trusted verdicts, feedback), course API, audit.
"""

__version__ = "0.1.0"

# The parts of this package a trainee's install holds; the sandbox exposes only these.
TRAINEE_PARTS = ("__init__.py", "checks.py", "figures.py", "handover.py", "quiz", "data", "incident_template.py",
                 "certification")
