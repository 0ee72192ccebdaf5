"""The line between the trainee's side and the trainer's is a folder: ``course/trainer``."""
import ast
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import course
from course.trainer.lab import runtime as lab

TRAINER = f"course.{course.TRAINER_FOLDER}"
ENTRY_POINT = course.PACKAGE / course.TRAINER_ENTRY_POINT  # python -m course: the trainer's commands


def trainee_files() -> list[Path]:
    return [f for part in course.trainee_side() for f in ([part] if part.is_file() else part.rglob("*.py"))
            if f.suffix == ".py" and f != ENTRY_POINT]


def imported_modules(file: Path) -> set[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{file}: a relative import hides which side it reaches"
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_trainee_side_imports_nothing_of_the_trainers():
    files = trainee_files()
    assert len(files) > 20 and any(f.name == "drill.py" for f in files)
    crossing = {str(f.relative_to(course.PACKAGE)): sorted(n for n in imported_modules(f)
                                                           if n == TRAINER or n.startswith(TRAINER + "."))
                for f in files}
    assert not {f: names for f, names in crossing.items() if names}


def test_the_check_sees_a_crossing(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from course.trainer.reference import slo\n")
    assert "course.trainer.reference" in imported_modules(bad)


def test_every_trainee_module_imports_from_a_trainee_copy(tmp_path):
    """A copy without ``course/trainer`` (what a trainee installs) imports all its modules."""
    copy = lab.copy_trainee_course(tmp_path)
    # as the trainee's kernel runs: -S, the copy first, site-packages without their .pth files
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sysconfig.get_paths()["purelib"].split()]),
           "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    probe = ("import importlib, pkgutil, sys, course\n"
             f"assert course.__file__.startswith({str(copy)!r}), course.__file__\n"
             "names = [m.name for m in pkgutil.walk_packages(course.__path__, 'course.') if m.name != 'course.__main__']\n"
             "for name in names: importlib.import_module(name)\n"
             f"print(len(names), sorted(m for m in sys.modules if m.startswith({TRAINER!r})))")
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    count, loaded = out.stdout.split(" ", 1)
    assert int(count) > 20 and loaded.strip() == "[]"



def test_trainer_side_is_one_folder_per_job():
    jobs = sorted(p.name for p in (course.PACKAGE / course.TRAINER_FOLDER).iterdir()
                  if p.is_dir() and p.name != "__pycache__")
    assert jobs == ["cohort", "grading", "hub", "lab", "reference"]
    loose = [p.name for p in (course.PACKAGE / course.TRAINER_FOLDER).glob("*.py") if p.name != "__init__.py"]
    assert loose == []
