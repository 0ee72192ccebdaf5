"""The suite's CPU table sums every worker's lines by test file; the worker table says when each
worker ran out of tests; the machine's CPU is read from /proc/stat."""
import json
import os

from suite_cpu import machine_cpu_seconds, per_file, per_worker


def _lines(folder, rows):
    for worker, lines in rows.items():
        (folder / f"{worker}.jsonl").write_text("".join(
            json.dumps({"test": test, "own": own, "children": children, "wall": wall, "at": at, "worker": worker})
            + "\n" for test, own, children, wall, at in lines))


def test_every_workers_lines_are_summed_by_file(tmp_path):
    _lines(tmp_path, {"gw0": [("tests/test_a.py::one", 1.0, 2.0, 3.0, 100.0), ("tests/test_b.py::x[p]", 0.5, 0.0, 1.0, 103.0)],
                      "gw1": [("tests/test_a.py::two@group", 0.25, 4.0, 5.0, 100.5)]})
    assert per_file(tmp_path) == {"tests/test_a.py": [1.25, 6.0, 8.0, 2], "tests/test_b.py": [0.5, 0.0, 1.0, 1]}


def test_each_worker_ends_with_its_last_test(tmp_path):
    _lines(tmp_path, {"gw0": [("tests/test_b.py::late", 0, 0, 4.0, 110.0), ("tests/test_a.py::early", 0, 0, 3.0, 100.0)],
                      "gw1": [("tests/test_c.py::one", 0, 0, 2.0, 101.0)]})
    assert per_worker(tmp_path) == {"gw0": (7.0, 14.0, "tests/test_b.py"), "gw1": (2.0, 3.0, "tests/test_c.py")}


def test_the_machines_cpu_leaves_out_idle_and_disk_waits(tmp_path):
    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text(f"cpu  {3 * tick} {tick} {2 * tick} {100 * tick} {50 * tick} 0 {tick} 0 {5 * tick} 0\n"
                    "cpu0 1 2 3 4 5 6 7 8 9 10\n")
    assert machine_cpu_seconds(stat) == 7.0
    assert machine_cpu_seconds(tmp_path / "missing") is None
