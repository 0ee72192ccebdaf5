"""The suite's CPU table sums every worker's lines by test file."""
import json

from suite_cpu import per_file


def test_every_workers_lines_are_summed_by_file(tmp_path):
    rows = {"gw0": [("tests/test_a.py::one", 1.0, 2.0, 3.0), ("tests/test_b.py::x[p]", 0.5, 0.0, 1.0)],
            "gw1": [("tests/test_a.py::two@group", 0.25, 4.0, 5.0)]}
    for worker, lines in rows.items():
        (tmp_path / f"{worker}.jsonl").write_text("".join(
            json.dumps({"test": test, "own": own, "children": children, "wall": wall}) + "\n"
            for test, own, children, wall in lines))
    assert per_file(tmp_path) == {"tests/test_a.py": [1.25, 6.0, 8.0, 2], "tests/test_b.py": [0.5, 0.0, 1.0, 1]}
