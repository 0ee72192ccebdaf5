"""nbgrader configuration of ETP Express Operations Academy (the repository is the course folder).

Environment overrides, for a JupyterHub or a shared grading host:
  NBGRADER_DB_URL     gradebook URL (default: SQLite file gradebook.db here)
  NBGRADER_EXCHANGE   exchange folder (default: .exchange here, created when missing)
  ETP_CELL_TIMEOUT    seconds one cell may run during autograde (default 120)
  ETP_GRADE_WITHOUT_SANDBOX=1  grade without the sandbox (trainee code runs with your rights)

Graded kernels run in a Bubblewrap sandbox with limits set by ``c.Sandbox.*`` below; test cells
are judged in nbgrader's own process (``course.trainer.grading.verdicts``), never in the kernel.
"""
import functools
import os
from pathlib import Path

from course.trainer.cohort.api import assignment_names
from course.trainer.cohort.export import GradeSheetExport
from course.trainer.cohort.feedback import ReleaseFeedback
from course.trainer.grading.nbgrader_setup import (assignment_preprocessors, autograde_preprocessors,
                                           feedback_preprocessors, sanitize_preprocessors)
from course.trainer.grading.problems import keep_feedback_pages

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

# A submission after its due date (`python -m course due`, plus the trainee's extension, `python -m
# course extend`) is marked late. nbgrader's penalty: "none" keeps its score, "zero" scores it 0.
c.LateSubmissionPlugin.penalty_method = "none"

# Each trainee works on their own world: the planted incidents move, the noise is redrawn.
# The seed derives from the course id and the student id; False gives everyone one world.
c.WorldVariants.enabled = True

# The sandbox of every graded kernel (see course/trainer/grading/sandbox.py for each setting).
c.Sandbox.memory_mb = 4096        # address space of one kernel
c.Sandbox.max_processes = 256     # processes and threads of the sandbox user
c.Sandbox.max_file_mb = 512       # largest file a kernel may write
c.SandboxedExecute.max_cell_output_bytes = 100_000
c.SandboxedExecute.max_notebook_output_bytes = 2_000_000
# The stub raises nothing: Run All reaches the end, and each check says "not done yet".
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}

# On JupyterHub (deploy/jupyterhub sets ETP_QUIZ_SERVICE_URL for the formgrader service): the
# student versions carry no quiz key at all, and autograde takes every quiz answer from the quiz
# service's record, never from the answers.json a trainee hands in (course/trainer/grading/hub_grading.py).
if os.environ.get("ETP_QUIZ_SERVICE_URL") or os.environ.get("ETP_QUIZ_SERVICE_DB"):
    from course.trainer.grading import hub_grading

    c.GenerateAssignment.preprocessors = hub_grading.hub_assignment_preprocessors()
    c.Autograde.sanitize_preprocessors = hub_grading.hub_sanitize_preprocessors()
    c.Autograde.autograde_preprocessors = hub_grading.hub_autograde_preprocessors()

# Certification (Module 7, course/trainer/cohort/certification.py, docs/certification.md): the guide's
# checklist for every trainee, from this gradebook. `python -m course certify` proposes "ready for
# sign-off" or "not yet" (with reasons); the trainer signs Approved or Needs Review.
c.Certification.threshold = 0.8                          # knowledge: 80 % of a module's points
c.Certification.practical_threshold = 0.8                # practical: 80 % of an exercise's points
c.Certification.access_file = "certification_access.csv"  # student_id,railway,sentry,github,discord (yes/no)
c.Certification.signoff_file = "certification/signoffs.json"  # the trainer's sign-offs
c.Certification.trainer_name = ""                        # the trainer's name on sign-offs (default: login)
c.Certification.output = "certification"                 # cohort.csv, <trainee>.html/.json, two plots
# An exercise's cells are the guide's steps mapped in docs/certification.md; to replace one:
# c.Certification.exercises = {"2.1": ["m2-ex21-*"]}

# On Kubernetes the exchange is a service, ngshare (deploy/k8s): ETP_NGSHARE_URL names it.
# ngshare-exchange then replaces every exchange step, feedback release included.
if os.environ.get("ETP_NGSHARE_URL"):
    from ngshare_exchange import configureExchange

    configureExchange(c, os.environ["ETP_NGSHARE_URL"])
