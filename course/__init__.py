"""ETP Express Operations Academy: the course package.

Sub-packages, by what they hold:

- ``course.quiz``: the widget quiz engine and its answer file (trainee side, light imports).
- ``course.data``: deterministic generators of simulated ETP Express data.
- ``course.reference``: reference implementations that hidden tests compare against.
- ``course.grading``: helpers that hidden tests call to grade quiz answers.
- ``course.trainer``: nbgrader-side tools for trainers (feedback clean-up, cohort grading).
"""

__version__ = "0.1.0"
