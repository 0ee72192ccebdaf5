"""What the sandbox and the outside verdicts cost autograde: seconds per graded notebook.

    python benchmarks/autograde_cohort.py [--trainees 8]

In one temporary course, the same cohort of honest submissions is graded twice per module in
the same run: first with nbgrader's stock pipeline (hidden tests in the kernel, no sandbox, as
the course graded before), then with the course's pipeline. Prints figures and the ratio; it
asserts nothing (a noisy machine should not fail a build).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from nbgrader.apps import NbGraderAPI  # noqa: E402
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402
from traitlets.config.loader import PyFileConfigLoader  # noqa: E402

from harness import ASSIGNMENTS, Trainee, build_course  # noqa: E402


def course_api(root: Path, stock: bool) -> NbGraderAPI:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    if stock:
        for trait in ("sanitize_preprocessors", "autograde_preprocessors"):
            setattr(config.Autograde, trait, list(Autograde.class_traits()[trait].default()))
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def seconds_per_notebook(root: Path, assignment: str, trainees: int, stock: bool) -> float:
    api = course_api(root, stock)
    started = time.perf_counter()
    result = api.autograde(assignment, "*", force=True)
    elapsed = time.perf_counter() - started
    if not result["success"]:
        raise SystemExit(f"autograde failed:\n{result.get('log', '')[-2000:]}")
    return elapsed / trainees


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "course"
        root.mkdir()
        os.environ.setdefault("ETP_ACADEMY_DATA", str(Path(scratch) / "data"))
        os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
        build_course(root)
        print(f"{args.trainees} honest trainees per module, 2 cores, same run")
        print(f"{'module':<22}{'stock s/nb':>12}{'course s/nb':>13}{'ratio':>8}")
        for assignment in ASSIGNMENTS:
            for i in range(args.trainees):
                Trainee(f"bench-{i:03d}").submit(root, assignment)
            stock = seconds_per_notebook(root, assignment, args.trainees, stock=True)
            course = seconds_per_notebook(root, assignment, args.trainees, stock=False)
            print(f"{assignment:<22}{stock:>12.2f}{course:>13.2f}{course / stock:>7.2f}x")


if __name__ == "__main__":
    main()
