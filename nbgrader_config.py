"""nbgrader configuration of ETP Express Operations Academy (the repository is the course folder).

Environment overrides, for a JupyterHub or a shared grading host:
  NBGRADER_DB_URL     gradebook URL (default: SQLite file gradebook.db here)
  NBGRADER_EXCHANGE   exchange folder (default: .exchange here, created when missing)
  ETP_CELL_TIMEOUT    seconds one cell may run during autograde (default 120)
"""
import os
from pathlib import Path

from course.trainer.api import assignment_names
from course.trainer.nbgrader_setup import assignment_preprocessors, feedback_preprocessors

c = get_config()  # noqa: F821 (provided by nbgrader's config loader)
HERE = Path(__file__).resolve().parent
ASSIGNMENTS = assignment_names(HERE)

c.CourseDirectory.course_id = "etp-ops-academy"
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", f"sqlite:///{HERE / 'gradebook.db'}")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*.tmp"]

exchange = Path(os.environ.get("NBGRADER_EXCHANGE", HERE / ".exchange"))
exchange.mkdir(parents=True, exist_ok=True)
c.Exchange.root = str(exchange)

# A student's infinite loop costs one cell's timeout, then grading moves on.
c.Execute.timeout = int(os.environ.get("ETP_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True

# Quiz answers live in the trainee's answer file: autograde must grade it, not replace it.
c.Autograde.exclude_overwriting = {name: ["answers.json"] for name in ASSIGNMENTS}

c.GenerateAssignment.preprocessors = assignment_preprocessors()
c.GenerateFeedback.preprocessors = feedback_preprocessors()
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
