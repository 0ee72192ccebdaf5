"""nbgrader configuration of ETP Express Operations Academy (the repository is the course folder).

Environment overrides, for a JupyterHub or a shared grading host:
  NBGRADER_DB_URL     gradebook URL (default: SQLite file gradebook.db here)
  NBGRADER_EXCHANGE   exchange folder (default: .exchange here, created when missing)
  ETP_CELL_TIMEOUT    seconds one cell may run during autograde (default 120)
  ETP_GRADE_WITHOUT_SANDBOX=1  grade without the sandbox (trainee code runs with your rights)

Graded kernels run in a Bubblewrap sandbox with limits set by ``c.Sandbox.*`` below; test cells
are judged in nbgrader's own process (``course.trainer.verdicts``), never in the kernel.
"""
import functools
import os
from pathlib import Path

from course.trainer.api import assignment_names
from course.trainer.export import GradeSheetExport
from course.trainer.feedback import ReleaseFeedback
from course.trainer.nbgrader_setup import (assignment_preprocessors, autograde_preprocessors,
                                           feedback_preprocessors, sanitize_preprocessors)
from course.trainer.problems import keep_feedback_pages

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
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.GenerateFeedback.preprocessors = feedback_preprocessors()
# Feedback is the graded notebook's HTML page only, never files a trainee's code left beside it.
c.GenerateFeedback.post_convert_hook = functools.partial(keep_feedback_pages, HERE)
# A page whose submission lacks nbgrader's secret is reported and skipped; the others are released.
c.ExchangeFactory.release_feedback = ReleaseFeedback
# `nbgrader export`: per-question scores and totals per trainee, names from the roster.
c.ExportApp.plugin_class = GradeSheetExport

# Each trainee works on their own world: the planted incidents move, the noise is redrawn.
# The seed derives from the course id and the student id; False gives everyone one world.
c.WorldVariants.enabled = True

# The sandbox of every graded kernel (see course/trainer/sandbox.py for each setting).
c.Sandbox.memory_mb = 4096        # address space of one kernel
c.Sandbox.max_processes = 256     # processes and threads of the sandbox user
c.Sandbox.max_file_mb = 512       # largest file a kernel may write
c.SandboxedExecute.max_cell_output_bytes = 100_000
c.SandboxedExecute.max_notebook_output_bytes = 2_000_000
# The stub raises nothing: Run All reaches the end, and each check says "not done yet".
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
