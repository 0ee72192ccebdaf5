"""The module times the README's table and each notebook's opening line state are the ones
benchmarks/module_time.py measures (its reading walk; the kernel's own time is a few seconds)."""
import re
import sys

import nbformat
import pytest

from harness import ASSIGNMENTS, REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import module_time  # noqa: E402

ROW = re.compile(r"^\| (\d) \| .* \| (\d+) min \((\d+)\)(?: \+ (\d+))? \|", re.M)
OPENING = re.compile(r"\*About (\d+) minutes\* \(the guide plans (\d+)\)(?:, and about (\d+) more)?")
SLACK_MIN = 1.5  # the kernel's seconds and rounding


@pytest.fixture(scope="module")
def measured():
    return {name: module_time.walk(name, run=False) for name in ASSIGNMENTS}


def stated_in_readme() -> dict[int, tuple[int, int, int]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return {int(n): (int(path), int(guide), int(optional or 0)) for n, path, guide, optional in ROW.findall(text)}


def stated_in_notebook(name: str) -> tuple[int, int, int]:
    nb = nbformat.read(REPO / "source" / name / f"{name}.ipynb", as_version=4)
    found = OPENING.search(nb.cells[0].source)
    assert found, f"{name}: the opening line does not say its time"
    path, guide, optional = found.groups()
    return int(path), int(guide), int(optional or 0)


def test_readme_and_notebooks_state_the_measured_times(measured):
    readme = stated_in_readme()
    assert sorted(readme) == list(range(1, len(ASSIGNMENTS) + 1))
    for number, name in enumerate(ASSIGNMENTS, start=1):
        walk = measured[name]
        path, optional = walk.path / 60, walk.optional / 60
        for where, (said_path, guide, said_optional) in [("README", readme[number]), (name, stated_in_notebook(name))]:
            assert guide == module_time.GUIDE_MINUTES[number], f"{where}: the guide plans {module_time.GUIDE_MINUTES[number]}"
            assert abs(said_path - path) <= SLACK_MIN, f"{where}: says {said_path} min on the path, measured {path:.1f}"
            assert abs(said_optional - optional) <= SLACK_MIN, f"{where}: says {said_optional} optional, measured {optional:.1f}"


def test_an_optional_section_runs_to_the_next_heading_of_its_level():
    cells = [nbformat.v4.new_markdown_cell(text) for text in
             ["# M", "## 1 · Core", "### 1a (optional)", "#### deeper", "### 1b", "## 2 · Extra (optional)", "### 2a"]]
    flags = module_time.optional_flags(nbformat.v4.new_notebook(cells=cells))
    assert flags == [False, False, True, True, False, True, True]
