"""The trainer's side of the course: never in a trainee's install or a graded kernel.

One folder per job:

- ``grading``: the autograde pipeline (sandboxed kernels, trusted verdicts, the reference cache,
  the parallel grader, the nbgrader preprocessors and configuration).
- ``reference``: reference implementations and ``judge``, the helpers hidden tests call.
- ``cohort``: the trainer's commands (``python -m course``): demo, report, audit, feedback,
  certification, bundles, roster and deadlines.
- ``hub``: the course on JupyterHub (quiz service, exchange, jails, deployment).
- ``lab``: starting JupyterLab for a trainee (the trainee runtime) or a trainer.
"""
