"""``python -m course.trainer.lab.launch``: open the course in JupyterLab on the embedded defaults.

``make start``: the trainee's Lab. Registers every module in the local gradebook and releases it
to the exchange, fetches it with nbgrader into the trainee folder ``workspace/`` (a copy already
there keeps its work), adds the certification checklist beside the modules, then opens
JupyterLab on that folder at the first module (see ``course.trainer.lab.runtime``).

``make trainer`` (``--trainer``): the trainer's Lab on the course folder, formgrader included.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from course.trainer.lab import runtime as lab

ROOT = lab.ROOT
TRAINEE_FOLDER = ROOT / "workspace"
RUNTIME = ROOT / ".trainee"  # what the trainee's Lab runs on, rebuilt at every start


def say(text: str) -> None:
    print(text, flush=True)  # flushed: each step shows while the next one runs


def prepare_course():
    """Register every module in the local gradebook and release it to the exchange."""
    from course.trainer.cohort.api import assignment_names, open_course

    api = open_course(ROOT)
    names = assignment_names(ROOT)
    released = set(api.get_released_assignments())
    for name in names:
        say(f"  {name}: generating the student version")
        _report(f"generate {name}", api.generate_assignment(name, force=True))
        if name not in released:
            say(f"  {name}: releasing it to the exchange")
            _report(f"release {name}", api.release_assignment(name))
    return api, names


def _report(step: str, result: dict) -> None:
    if not result["success"]:
        print(f"warning: {step} failed; the course still opens.\n{result.get('log', '')}",
              file=sys.stderr)


def prepare_trainee_folder(api, names: list[str]) -> str | None:
    """The trainee folder with every module fetched; returns the first notebook's path in it."""
    lab.write_student_config(TRAINEE_FOLDER, api.coursedir.course_id,
                             Path(api.config.Exchange.root), RUNTIME / "nbgrader_cache")
    lab.prepare_trainee_runtime(RUNTIME, world_env(api.config, api.coursedir.course_id))
    for name in names:
        fetch(name)
    from course.certification import copy_notebook  # the checklist reads the module folders beside it

    say(f"  certification checklist: workspace/{copy_notebook(TRAINEE_FOLDER).relative_to(TRAINEE_FOLDER)}")
    notebooks = sorted((TRAINEE_FOLDER / names[0]).glob("*.ipynb")) if names else []
    return notebooks[0].relative_to(TRAINEE_FOLDER).as_posix() if notebooks else None


def world_env(config, course_id: str) -> dict[str, str]:
    """What the trainee's kernel needs to pick its own world, from the course's configuration."""
    from course.data import world
    from course.trainer.grading.variants import WorldVariants

    variants = WorldVariants(config=config)
    return {world.COURSE_ENV: variants.course_id or course_id or world.COURSE_ID,
            world.VARIANTS_ENV: "on" if variants.enabled else "off"}


def fetch(name: str) -> None:
    if (TRAINEE_FOLDER / name).exists():
        say(f"  {name}: your copy in workspace/{name} is kept")
        return
    try:
        lab.fetch_assignment(TRAINEE_FOLDER, name)
        say(f"  {name}: fetched into workspace/{name}")
    except Exception as err:  # the Assignments tab can still fetch it
        print(f"warning: fetching {name} failed ({err}); use the Assignments tab.", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    trainer = "--trainer" in (sys.argv[1:] if argv is None else argv)
    say("ETP Express Operations Academy: preparing the course (gradebook and exchange)...")
    api, names = prepare_course()
    if trainer:
        args, env, root = lab.trainer_lab_args(ROOT), dict(os.environ), ROOT
        say("Opening the trainer's JupyterLab on the course folder.")
    else:
        say("Preparing your trainee folder, workspace/ ...")
        first = prepare_trainee_folder(api, names)
        args, env = lab.trainee_lab_args(TRAINEE_FOLDER, RUNTIME, first), lab.trainee_lab_env(RUNTIME)
        root = TRAINEE_FOLDER
        say("Opening JupyterLab on workspace/ (Nbgrader > Assignment List: submit from there).")
    say("JupyterLab prints its address with a login token below; Ctrl+C stops it.")
    open_lab(root, args, env)


def open_lab(root: Path, args: list[str], env: dict) -> None:
    """Become JupyterLab, serving ``root``."""
    os.chdir(root)
    os.execve(sys.executable, args, env)


if __name__ == "__main__":
    main()
