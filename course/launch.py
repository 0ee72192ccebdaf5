"""``python -m course.launch``: open the course in JupyterLab on the embedded defaults.

Prepares the local course (gradebook, exchange), copies each released module into ``workspace/``
where a trainee works (never over work already there), then starts JupyterLab on this folder with
the first module open, so that nbgrader's formgrader and assignment list work as well.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "workspace"


def prepare_course() -> list[str]:
    """Register every module in the local gradebook and release it to the exchange."""
    from .trainer.api import assignment_names, open_course

    api = open_course(ROOT)
    names = assignment_names(ROOT)
    released = set(api.get_released_assignments())
    for name in names:
        _report(f"generate {name}", api.generate_assignment(name, force=True))
        if name not in released:
            _report(f"release {name}", api.release_assignment(name))
    return names


def _report(step: str, result: dict) -> None:
    if not result["success"]:
        print(f"warning: {step} failed; the course still opens.\n{result.get('log', '')}",
              file=sys.stderr)


def copy_to_workspace(names: list[str]) -> None:
    """The trainee's copy of each module; an existing copy (with its answers) is left alone."""
    for name in names:
        target = WORKSPACE / name
        if not target.exists():
            shutil.copytree(ROOT / "release" / name, target)


def main() -> None:
    names = prepare_course()
    copy_to_workspace(names)
    first = next(iter(sorted((WORKSPACE / names[0]).glob("*.ipynb"))), None) if names else None
    args = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", "--ServerApp.ip=127.0.0.1"]
    if first is not None:
        args.append(f"--LabApp.default_url=/lab/tree/{first.relative_to(ROOT).as_posix()}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI machines run as root
    os.chdir(ROOT)
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
