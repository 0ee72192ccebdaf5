"""A grading worker's reference cache: one parse per file version, copies for every check, and
memory bounded by bytes, so a whole world's tables stay for the next trainee in that world."""
from __future__ import annotations

import pandas as pd
import pytest

from course.trainer.grading import refcache


@pytest.fixture
def parse(monkeypatch):
    """A ``parse_*`` function over a CSV file, cached as in a worker, with a fresh cache."""
    monkeypatch.setattr(refcache, "_cache", type(refcache._cache)())
    monkeypatch.setattr(refcache, "_held", 0)
    monkeypatch.setattr(refcache, "stats", {"hits": 0, "misses": 0})
    calls = []

    def parse_table(path):
        calls.append(path)
        return pd.read_csv(path)

    wrapped = refcache.cached(parse_table)
    wrapped.calls = calls
    return wrapped


def tables(folder, count: int, rows: int = 1000) -> list:
    paths = []
    for i in range(count):
        path = folder / f"table_world{i}.csv"
        pd.DataFrame({"value": range(i, i + rows)}).to_csv(path, index=False)
        paths.append(path)
    return paths


def test_a_file_is_parsed_once_and_each_check_gets_its_own_copy(parse, tmp_path):
    [path] = tables(tmp_path, 1)
    first = parse(path)
    first.loc[0, "value"] = -1  # a check that changes its table
    second = parse(path)
    assert len(parse.calls) == 1 and refcache.stats == {"hits": 1, "misses": 1}
    assert second.loc[0, "value"] == 0


def test_a_file_written_again_is_parsed_again(parse, tmp_path):
    [path] = tables(tmp_path, 1)
    parse(path)
    pd.DataFrame({"value": [7, 8]}).to_csv(path, index=False)
    assert parse(path)["value"].tolist() == [7, 8] and len(parse.calls) == 2


def test_every_table_of_a_world_stays_for_the_next_trainee_in_it(parse, tmp_path, monkeypatch):
    """Variants off: each trainee's six modules read the same 16 files, one after the other."""
    paths = tables(tmp_path, 16)
    monkeypatch.setattr(refcache, "MAX_BYTES", 20 * refcache._nbytes(pd.read_csv(paths[0])))
    for _trainee in range(3):
        for path in paths:
            parse(path)
    assert len(parse.calls) == 16, "a world's tables were dropped before they were reused"
    assert refcache.stats["hits"] == 3 * 16 - 16


def test_memory_stays_under_the_cap_dropping_the_least_recently_used(parse, tmp_path, monkeypatch):
    paths = tables(tmp_path, 6)
    one = refcache._nbytes(parse(paths[0]))
    monkeypatch.setattr(refcache, "MAX_BYTES", 3 * one + one // 2)
    for path in paths[1:4]:
        parse(path)
    parse(paths[1])  # used again: paths[2] is now the least recently used
    parse(paths[4])
    assert refcache._held <= refcache.MAX_BYTES
    kept = {key[2][0] for key in refcache._cache}
    assert kept == {str(paths[i].resolve()) for i in (1, 3, 4)}
    parse(paths[1])
    assert len(parse.calls) == 5  # paths[1] was still there


@pytest.mark.parametrize("configured, installed", [({}, True), ({"cache_references": False}, False)])
def test_every_grading_process_keeps_reference_results_unless_told_not_to(configured, installed, monkeypatch):
    """nbgrader's own `autograde` and the formgrader grade through the same step as a worker:
    the step installs the cache in whatever process runs it (a second trainee of the same world
    reuses the first one's tables)."""
    import nbformat

    from course.trainer.grading.execute import SandboxedExecute

    calls = []
    monkeypatch.setattr(refcache, "install", lambda: calls.append("install"))
    monkeypatch.setattr(SandboxedExecute, "_grade", lambda self, nb, resources, km: (nb, resources))
    step = SandboxedExecute(**configured)
    step.preprocess(nbformat.v4.new_notebook(), {"nbgrader": {"student": "ana"}})
    assert calls == (["install"] if installed else [])
