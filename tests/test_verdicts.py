"""The pieces of trusted grading, one at a time: the hand-over codec, the names a check needs,
verdicts in the trainer's process, the sandbox command and the quiet restore of released cells."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import course
from course import handover
from course.quiz.store import AnswerStore
from course.trainer.grading.sandbox import Sandbox, SandboxUnavailable
from course.trainer.grading.sanitize import clean_text, released_form
from course.trainer.grading.verdicts import Unavailable, Verdicts, free_names


@pytest.mark.parametrize("value", [
    None, True, 3, 2.5, math.inf, "texto ç", [1, "a"], (1, 2), {"k": [1, 2]}, {1, 2},
    pd.Timestamp("2026-10-07 14:02", tz="UTC"), pd.Timedelta("15min"), Path("a/b.log"), np.int64(7),
])
def test_small_values_round_trip_as_json(tmp_path, value):
    entry = handover.write_value(value, tmp_path / "v")
    assert entry["kind"] == "json"
    json.dumps(entry)  # plain JSON: nothing but data crosses over
    assert handover.read_value(entry, tmp_path, 1 << 20) == (value.item() if isinstance(value, np.generic) else value)


def test_tables_keep_dtypes_index_and_names(tmp_path):
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2026-01-14", periods=3, freq="min", tz="UTC"),
        "level": pd.Categorical(["info", "error", "warn"], categories=["info", "warn", "error"], ordered=True),
        "statusCode": pd.array([200, None, 500], dtype="Int64"),
        3: [1.5, 2.5, 3.5],
    }, index=pd.Index([10, 11, 12], name="line"))
    frame.attrs["malformed"] = pd.DataFrame({"raw": ["x"]})  # attrs never travel
    back = handover.read_value(handover.write_value(frame, tmp_path / "f"), tmp_path, 1 << 30)
    pd.testing.assert_frame_equal(back, _no_attrs(frame))
    series = frame["statusCode"].rename("code")
    pd.testing.assert_series_equal(handover.read_value(handover.write_value(series, tmp_path / "s"), tmp_path, 1 << 30), series)


def _no_attrs(frame):
    frame = frame.copy()
    frame.attrs = {}
    return frame


def test_a_row_of_mixed_values_travels_as_json(tmp_path):
    row = pd.Series({"timestamp": pd.Timestamp("2026-01-14T13:02:11Z"), "level": "error",
                     "statusCode": np.int64(500), "userAgent": np.float64("nan"), "n": pd.NA}, name=47)
    back = handover.read_value(handover.write_value(row, tmp_path / "r"), tmp_path, 1 << 20)
    assert back.name == 47 and back["level"] == "error" and back["statusCode"] == 500
    assert back["timestamp"] == row["timestamp"] and math.isnan(back["userAgent"]) and back["n"] is pd.NA


def test_reading_refuses_pickles_links_and_oversized_files(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([object()]), allow_pickle=True)
    with pytest.raises(ValueError):
        handover.read_value({"kind": "array", "file": "obj.npy"}, tmp_path, 1 << 20)
    (tmp_path / "link.parquet").symlink_to("/etc/passwd")
    with pytest.raises(handover.HandOverError, match="missing"):
        handover.read_value({"kind": "dataframe", "file": "link.parquet"}, tmp_path, 1 << 20)
    entry = handover.write_value(pd.DataFrame({"a": range(1000)}), tmp_path / "big")
    with pytest.raises(handover.HandOverError, match="larger"):
        handover.read_value(entry, tmp_path, 100)
    with pytest.raises(handover.HandOverError, match="nothing"):
        handover.read_manifest(tmp_path)


def test_kernel_side_export_describes_what_is_not_data(tmp_path):
    namespace = {"x": 3, "f": len, "json": json, "frame": pd.DataFrame({"a": [1]}), "gen": (i for i in [])}
    exec("from course import handover\nhandover.export(['x', 'f', 'json', 'frame', 'gen', 'nope'], folder)",
         {**namespace, "folder": str(tmp_path)})
    entries = handover.read_manifest(tmp_path)["entries"]
    assert {k: e["kind"] for k, e in entries.items()} == {
        "x": "json", "f": "callable", "json": "module", "frame": "dataframe", "gen": "unsupported",
        "nope": "undefined"}


def test_free_names_are_what_a_check_reads_and_never_sets():
    source = ("assert len(api) == n\nimport math\nx = [v for v in values if v > limit]\n"
              "def helper(a):\n    return a + offset\nprint(helper(1), x)")
    assert free_names(source) == {"api", "n", "values", "limit", "offset"}


SETUP = "from course.quiz import Quiz\nquiz = Quiz()\nLIMIT = 3\n"


def test_verdicts_judge_handed_over_values_and_grade_the_answer_file(tmp_path):
    store = AnswerStore(tmp_path / "answers.json")
    store.record("q1", "P0", "p0", True)
    verdicts = Verdicts([SETUP], tmp_path / "answers.json")

    class Bridge:
        def fetch(self, names):
            return {"total": 5}  # what the trainee's kernel computed

    good = verdicts.judge("t1", "assert total > LIMIT, 'too small'\nprint('ok')", Bridge())
    assert [o.output_type for o in good] == ["stream"] and good[0].text == "ok\n"
    bad = verdicts.judge("t2", "assert total > 10, 'too small'", Bridge())
    assert bad[-1].output_type == "error" and bad[-1].evalue == "too small"
    missing = verdicts.judge("t3", "assert other == 1", Bridge())
    assert missing[-1].ename == "NameError" and "other" in missing[-1].evalue
    quiz = verdicts.judge("q", "quiz.single_choice('q1', 'Severity?', options=['P0', 'P1'], answer='P0')\n"
                               "quiz.grade('q1')", None)
    assert quiz[0].output_type == "stream" and "correct" in quiz[0].text
    unusable = verdicts.judge("u", "assert thing.shape", type("B", (), {"fetch": lambda s, n: {
        "thing": Unavailable("thing", "it is a module")}})())
    assert "cannot be checked" in unusable[-1].evalue


def test_sandbox_command_exposes_only_the_trainee_parts(tmp_path):
    work, run = tmp_path / "m2", tmp_path / "run"
    work.mkdir(), run.mkdir()
    command = Sandbox().wrap(["python", "-m", "ipykernel_launcher"], work, run)
    text = " ".join(command)
    package = course.PACKAGE
    for part in course.trainee_side():
        assert f"--ro-bind {part} {part}" in text
    assert str(package / course.TRAINER_FOLDER) not in text and course.TRAINER_ENTRY_POINT not in text
    assert "--unshare-net" in command and "--clearenv" in command
    assert command[-3:] == ["python", "-m", "ipykernel_launcher"]
    assert "NBGRADER_DB_URL" not in text


def test_sandbox_starts_here():
    assert shutil.which("bwrap"), "bubblewrap is needed to grade: apt-get install bubblewrap"
    assert Sandbox().status() == (True, "ok")


def test_released_cells_are_recognised_and_edits_are_not():
    source = ('quiz.single_choice("q9", "Which?", options=["a", "b"], answer="a", explanation="because")\n'
              "### BEGIN HIDDEN TESTS\nquiz.grade(\"q9\")\n### END HIDDEN TESTS")
    released = released_form(source)
    assert "HIDDEN" not in released and "answer=" not in released and "key=" in released
    assert released_form(source) == released  # deterministic, so a match means untouched


def test_lone_surrogates_are_replaced_everywhere():
    value, changed = clean_text({"cells": [{"source": "x = '\ud800'", "outputs": [{"text": "ok"}]}]})
    assert changed and value["cells"][0]["source"] == "x = '\ufffd\ufffd\ufffd'"
    assert clean_text({"a": "fine"}) == ({"a": "fine"}, False)


def test_no_sandbox_means_refusal_unless_opted_out(monkeypatch):
    with pytest.raises(SandboxUnavailable, match="autograde refused: no sandbox") as refused:
        Sandbox(bwrap="no-such-bwrap").ensure()
    assert "\n" not in str(refused.value)
    monkeypatch.setenv("ETP_GRADE_WITHOUT_SANDBOX", "1")
    assert Sandbox(bwrap="no-such-bwrap").ensure() is False


def test_a_table_passed_again_is_linked_not_written_again(tmp_path):
    day = pd.DataFrame({"a": range(1000)})
    written = {}
    handover.write_request(tmp_path / "r1", (day, 3), {}, written)
    handover.write_request(tmp_path / "r2", (day,), {"n": 5}, written)
    first, second = tmp_path / "r1" / "a0.parquet", tmp_path / "r2" / "a0.parquet"
    assert first.stat().st_ino == second.stat().st_ino  # one file, two names
    request = json.loads((tmp_path / "r2" / "request.json").read_text())
    assert handover.read_value(request["args"][0], tmp_path / "r2", 1 << 20).equals(day)
    assert "path" not in request["args"][0]  # the trainer's paths never reach the kernel


def test_a_fifo_in_a_submission_is_left_out_of_the_kernels_copy(tmp_path):
    import os
    import threading

    from course.trainer.grading.execute import _special_files

    submission = tmp_path / "m2"
    submission.mkdir()
    (submission / "answers.json").write_text("{}")
    os.mkfifo(submission / "pipe")  # copying it the ordinary way would wait forever
    copy = threading.Thread(target=shutil.copytree, args=(submission, tmp_path / "copy"),
                            kwargs=dict(symlinks=True, ignore=_special_files), daemon=True)
    copy.start()
    copy.join(10)
    assert not copy.is_alive() and sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["answers.json"]


def test_a_value_that_reads_undefined_is_still_a_value(tmp_path):
    from course.trainer.grading.execute import KernelBridge

    entry = handover.write_value("undefined", tmp_path / "v")
    bridge = KernelBridge(type("Executor", (), {"max_value_bytes": 1 << 20})(), tmp_path, 0)
    assert bridge._value("answer", entry, tmp_path) == "undefined"


def test_a_frame_with_a_column_called_name_travels(tmp_path):
    frame = pd.DataFrame({"name": ["JWT_SECRET", "PORT"], "secret": [True, False]})
    back = handover.read_value(handover.write_value(frame, tmp_path / "f"), tmp_path, 1 << 20)
    pd.testing.assert_frame_equal(back, frame)


def test_hidden_comparisons_still_count_as_evidence_when_a_visible_check_fails(tmp_path):
    """A value typed in from another world fails a visible consistency check first; the hidden
    comparison still runs, for the copy check's evidence, and the verdict stays the visible one."""
    verdicts = Verdicts([SETUP], tmp_path / "answers.json")

    class Bridge:
        def fetch(self, names):
            return {"worst": 3.71, "series_max": 2.5}

    source = ("assert worst == series_max, 'worst is the max of your series'\n"
              "### BEGIN HIDDEN TESTS\nfrom course.trainer.reference.judge import expect_close\n"
              "expect_close('worst', worst, 2.5, 0.01)\n### END HIDDEN TESTS\n")
    outputs = verdicts.judge("t", source, Bridge())
    assert outputs[-1].evalue == "worst is the max of your series"
    assert verdicts.evidence.references == {"worst": 2.5} and verdicts.evidence.failed["worst"][0] == 3.71
