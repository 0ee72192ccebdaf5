"""What the course costs a trainee's kernel: import time of the quiz engine, and the time each
module's solution takes to run top to bottom (kernel start included).

    python benchmarks/trainee_kernel.py [--runs 3]

Prints figures; it asserts nothing (a noisy machine should not fail a build).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import ASSIGNMENTS, commit_answers, notebooks  # noqa: E402
from course.quiz.store import AnswerStore  # noqa: E402

IMPORT_PROBE = [
    "import sys, time\nstarted = time.perf_counter()",
    "from course.quiz import Quiz\nimport course.quiz.widgets\n"
    "print(time.perf_counter() - started, 'nbgrader' in sys.modules, 'nbconvert' in sys.modules)",
]


def quiz_import_seconds() -> tuple[float, bool]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in IMPORT_PROBE])
    NotebookClient(nb, kernel_name="python3").execute()
    seconds, nbgrader, nbconvert = nb.cells[1].outputs[0].text.split()
    return float(seconds), nbgrader == "True" or nbconvert == "True"


def solution_seconds(assignment: str) -> float:
    """Run every source notebook of ``assignment`` with a right answer file; return seconds."""
    total = 0.0
    for nb in notebooks(REPO / "source" / assignment).values():
        with tempfile.TemporaryDirectory() as folder:
            commit_answers(AnswerStore(Path(folder) / "answers.json"), nb)
            started = time.perf_counter()
            NotebookClient(nb, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": folder}}).execute()
            total += time.perf_counter() - started
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    imports = [quiz_import_seconds() for _ in range(runs)]
    heavy = any(flag for _, flag in imports)
    print(f"quiz engine import in a kernel: median {statistics.median(s for s, _ in imports):.3f} s "
          f"over {runs} runs; nbgrader/nbconvert imported: {'YES' if heavy else 'no'}")
    for assignment in ASSIGNMENTS:
        solution_seconds(assignment)  # first run builds the data cache
        times = [solution_seconds(assignment) for _ in range(runs)]
        print(f"{assignment}: solution top to bottom median {statistics.median(times):.2f} s "
              f"(min {min(times):.2f}, max {max(times):.2f}, kernel start included)")


if __name__ == "__main__":
    main()
