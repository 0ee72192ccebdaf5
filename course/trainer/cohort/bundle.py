"""``python -m course bundle``: what a trainee without JupyterHub receives, as one zip.

The zip holds one folder, ``etp-ops-academy/``, with:

- each released module, ``<module>/`` (the student version in ``release/``: no solutions, no
  hidden tests, quiz keys sealed);
- the trainee install of the ``course`` package, its trainee side only (``course/`` without ``course/trainer``) (the same copy the
  trainee's Lab and every graded kernel get: ``course.trainer.lab.runtime.copy_trainee_course``), with a
  ``pyproject.toml`` so that ``pip install .`` installs it;
- ``requirements.txt``: the notebook and analysis packages, pinned as the course pins them;
- ``start-lab.sh``: JupyterLab on the folder, in the trainee's own world;
- ``README.md`` for the trainee.

Never in it: ``source/``, ``course/trainer/reference``, ``course/trainer/reference/judge``, ``course/trainer``, the
gradebook, the exchange, submissions, or any key file (``tests/test_bundle.py`` checks).
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from course.data.handin import ID_ENV
from course.trainer.lab.runtime import copy_trainee_course
from course.trainer.lab.launch import world_env

TOP = "etp-ops-academy"
# What a trainee's machine needs to run the notebooks (pinned in the course's requirements.txt).
TRAINEE_PACKAGES = ("jupyterlab", "notebook", "ipywidgets", "anywidget", "psygnal", "ipykernel",
                    "nbformat", "pandas", "numpy", "pyarrow", "matplotlib")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "answers.json",
                              "feedback", ".*")


def trainee_requirements(repo_requirements: Path) -> str:
    """The trainee's pins, taken from the course's own requirements.txt."""
    pins = {}
    for line in repo_requirements.read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip().lower()
        if "==" in line and name in TRAINEE_PACKAGES:
            pins[name] = line.strip()
    lines = [pins.get(name, name) for name in TRAINEE_PACKAGES]
    return ("# ETP Express Operations Academy, trainee install: pip install -r requirements.txt .\n"
            + "\n".join(lines) + "\n")


PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "etp-ops-academy-trainee"
version = "{version}"
description = "ETP Express Operations Academy: what a trainee's notebooks import"
requires-python = ">=3.10"
dependencies = ["ipywidgets>=8.1", "anywidget>=0.11", "pandas>=2.2", "numpy>=1.26", "matplotlib>=3.8"]

[tool.setuptools.packages.find]
include = ["course*"]

[tool.setuptools.package-data]
"course.quiz" = ["*.js", "*.css"]
"course.certification" = ["*.ipynb"]
"""


# A copy for the cohort asks once for the trainee id the work is handed in under (kept in
# .trainee-id): the world follows it, as the grader's does, whatever the login name is.
ASK_ID = f"""if [ -z "${ID_ENV}" ] && [ -f .trainee-id ]; then {ID_ENV}=$(cat .trainee-id); fi
if [ -z "${ID_ENV}" ]; then
  printf 'Your trainee id (as your trainer gave it; your work is handed in under it): '
  read -r {ID_ENV}
  printf '%s\\n' "${ID_ENV}" > .trainee-id
fi
export {ID_ENV}
"""


def start_script(env: dict[str, str], ask_id: bool = False) -> str:
    exports = "".join(f"export {name}='{value}'\n" for name, value in sorted(env.items()))
    return ("#!/bin/sh\n"
            "# JupyterLab on this folder, in your own world of the course's data.\n"
            'cd "$(dirname "$0")"\n' + exports + (ASK_ID if ask_id else "") + 'exec jupyter lab "$@"\n')


def readme(modules: list[str], student: str | None, course_id: str) -> str:
    who = (f"This copy is for trainee **{student}**: `start-lab.sh` opens it in your own world (your "
           "incidents, ids and counts differ from your classmates'). Hand your work in under that id."
           if student else
           "Your world of the course's data (where the incidents are, the ids and the counts) follows "
           "your trainee id: `start-lab.sh` asks for it once (kept in `.trainee-id`). Type it as your "
           "trainer gave it and hand your work in under that id: a different id grades your work in "
           "another world.")
    listed = "\n".join(f"- `{m}/`" for m in modules)
    return f"""# ETP Express Operations Academy ({course_id})

On-call training of ETP Express as JupyterLab notebooks: you classify incidents, read raw logs
with pandas and check a month of production data against the SLOs. Everything runs on your
machine; no Railway, Sentry or Discord account is needed.

## Modules in this folder

{listed}

## Install (once)

Python 3.10 or newer:

```bash
python3 -m venv .venv
. .venv/bin/activate            # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt .
```

## Work

```bash
sh start-lab.sh                 # JupyterLab on this folder
```

{who}

1. Open a module's notebook and run its first cell: it builds the module's data (a few seconds,
   once).
2. Quizzes: choose, then press **Submit answer**. Only your first committed answer counts; later
   tries are for practice. Answers are saved in `answers.json` beside the notebook: do not edit
   it (hand edits are flagged to your trainer).
3. Code exercises: write your code where it says `# YOUR CODE HERE`, then run the check cell
   below it: ✔, ✘ with what is wrong, or "not done yet". The grader runs more checks on the full
   data.
4. Written answers are graded by your trainer.

## Hand in

*Kernel → Restart Kernel and Run All Cells*, save, then send your trainer the module's folder
(the notebook and `answers.json`) as a zip named after your trainee id. Your feedback page comes
back the same way.
"""


def make_bundle(api, root: Path, modules: list[str], output: Path,
                student: str | None = None) -> tuple[Path, list[str]]:
    """Write the bundle zip; returns its path and the names it holds."""
    release = Path(root) / api.coursedir.release_directory
    missing = [m for m in modules if not (release / m).is_dir()]
    if missing:
        raise FileNotFoundError(f"no student version of {', '.join(missing)} in {release}: "
                                "run python -m course release first")
    env = world_env(api.config, api.coursedir.course_id)
    if student:
        from course.data import world
        from course.trainer.grading.variants import WorldVariants

        env[world.SEED_ENV] = str(WorldVariants(config=api.config).seed_of(student))
    with tempfile.TemporaryDirectory(prefix="etp-bundle-") as scratch:
        top = Path(scratch) / TOP
        top.mkdir()
        for module in modules:
            shutil.copytree(release / module, top / module, ignore=SKIP)
        copy_trainee_course(top)
        import course

        (top / "pyproject.toml").write_text(PYPROJECT.format(version=course.__version__), encoding="utf-8")
        requirements = Path(root) / "requirements.txt"
        if not requirements.is_file():
            requirements = Path(course.__file__).resolve().parents[1] / "requirements.txt"
        (top / "requirements.txt").write_text(trainee_requirements(requirements), encoding="utf-8")
        script = top / "start-lab.sh"
        script.write_text(start_script(env, ask_id=not student), encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        (top / "README.md").write_text(readme(modules, student, api.coursedir.course_id), encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        names = []
        tmp = output.with_name(f".{output.name}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(top.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    name = path.relative_to(scratch).as_posix()
                    info = zipfile.ZipInfo.from_file(path, name)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with open(path, "rb") as fh:
                        zf.writestr(info, fh.read())
                    names.append(name)
        os.replace(tmp, output)
    return output, names
