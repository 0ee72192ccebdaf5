"""Before the first trainee is graded: can a graded kernel import the course's trainee parts?

Every check hands values over through ``course.handover`` in the trainee's kernel. A kernel that
cannot import it (the Python install finds ``course`` somewhere the sandbox does not show, or
not at all) fails every check of every trainee, and the cohort scores zero. One sandboxed kernel,
started as a graded kernel is, imports the trainee parts first; autograde refuses with one line
when it cannot.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import course

from course.trainer.grading.sandbox import Sandbox, SandboxedKernelManager

KERNEL_NAME = "python3"  # the kernel every released notebook asks for
MARK = "ETP-PREFLIGHT "


def trainee_modules() -> list[str]:
    """``course`` and each top-level module of its trainee side, as module names."""
    return ["course"] + [f"course.{part.stem}" for part in course.trainee_side()
                         if part.is_dir() or (part.suffix == ".py" and part.stem not in ("__init__", "__main__"))]


PROBE = f"""
import importlib, json
failed = []
for name in {trainee_modules()!r}:
    try:
        importlib.import_module(name)
    except BaseException as err:
        failed.append(f"{{name}} ({{type(err).__name__}}: {{err}})"[:200])
print({MARK!r} + json.dumps(failed))
"""


def kernel_problem(config, timeout: float = 120.0) -> str | None:
    """None when a graded kernel imports every trainee part; else one line: what, and the fix."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    sandbox = Sandbox(config=config)
    sandboxed = sandbox.ensure()
    with tempfile.TemporaryDirectory(prefix="etp-preflight-") as scratch:
        workdir, rundir = Path(scratch) / "preflight", Path(scratch) / "run"
        workdir.mkdir()
        rundir.mkdir()
        nb = new_notebook(cells=[new_code_cell(PROBE)])
        client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=timeout, allow_errors=True,
                                kernel_manager_class=SandboxedKernelManager)
        km = client.create_kernel_manager()
        km.transport, km.ip = "ipc", str(rundir / "kernel")
        km.connection_file = str(rundir / "kernel.json")
        km.sandbox, km.workdir, km.rundir = (sandbox if sandboxed else None), workdir, rundir
        try:
            client.execute()
        except Exception as err:  # noqa: BLE001 - the kernel did not start or died
            said = km.last_words() if km.rundir else ""
            return (f"autograde refused: a graded kernel did not start ({said or type(err).__name__}); "
                    f"check the {KERNEL_NAME!r} kernel (jupyter kernelspec list) and the sandbox")
    failed = _failed(nb.cells[0].get("outputs", []))
    if failed is None:
        return "autograde refused: a graded kernel could not run the import check (no answer from it)"
    if failed:
        package = Path(course.__file__).resolve().parent
        return (f"autograde refused: a graded kernel cannot import the course's trainee parts "
                f"({failed[0]}); its Python must import `course` from {package} (pip install -e . "
                "in this checkout, with the Python the kernel runs), not from another copy")
    return None


def _failed(outputs) -> list[str] | None:
    for output in outputs:
        for line in str(output.get("text", "")).splitlines():
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
    return None
