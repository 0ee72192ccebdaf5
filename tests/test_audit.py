"""The answer-file audit finds hand edits and damaged files across a cohort."""
import json
import os
from pathlib import Path

import pytest

from course.quiz.store import AnswerStore
from course.trainer.cohort.audit import audit, main


def test_audit_lists_edited_and_damaged_files(tmp_path, capsys):
    honest = AnswerStore(tmp_path / "submitted" / "ana" / "m2" / "answers.json")
    honest.record("q1", "P2", "p2", False)
    edited_path = tmp_path / "submitted" / "bruno" / "m2" / "answers.json"
    AnswerStore(edited_path).record("q1", "P2", "p2", False)
    data = json.loads(edited_path.read_text())
    data["questions"]["q1"][0].update(answer="P0", canonical="p0", correct=True)
    edited_path.write_text(json.dumps(data))
    damaged = tmp_path / "submitted" / "carla" / "m2" / "answers.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{")

    findings = audit(tmp_path / "submitted")
    assert [(f.student, f.problem.split(":")[0]) for f in findings] == [
        ("bruno", "q1"), ("carla", "answers.json is not valid JSON (line 1, column 2")]
    assert main([str(tmp_path)]) == 1
    assert "2 answer file problem(s)" in capsys.readouterr().out


# -- whatever a trainee submits, the audit reads the whole cohort and says what it found ---------
def honest_file(path):
    AnswerStore(path).record("q1", "P1", "p1", True)
    return path


def folder(submitted, student, assignment="m2"):
    path = submitted / student / assignment
    path.mkdir(parents=True)
    return path / "answers.json"


def test_mixed_cohort_lists_each_broken_file_and_counts_the_good_ones(tmp_path, monkeypatch, capsys):
    submitted = tmp_path / "submitted"
    honest_file(submitted / "ana" / "m2" / "answers.json")
    honest_file(submitted / "ana" / "m3" / "answers.json")
    folder(submitted, "dir").mkdir()
    folder(submitted, "utf").write_bytes(b"\xff\xfe")
    with open(folder(submitted, "huge"), "wb") as fh:
        fh.truncate(100 * 1024 * 1024)
    outside = honest_file(tmp_path / "elsewhere" / "answers.json")
    folder(submitted, "link").symlink_to(outside)
    (submitted / "linkdir").mkdir()
    (submitted / "linkdir" / "m2").symlink_to(outside.parent)
    folder(submitted, "surrogate").write_text(
        '{"format": "etp-academy-answers/1", "questions": {"\\ud800": []}}')
    wrong = honest_file(folder(submitted, "types"))
    data = json.loads(wrong.read_text())
    data["questions"]["q1"][0]["correct"] = "yes"
    wrong.write_text(json.dumps(data))
    folder(submitted, "deep").write_text("[" * 100_000 + "]" * 100_000)
    locked = honest_file(folder(submitted, "locked"))
    odd = honest_file(folder(submitted, "odd"))
    honest_file(folder(submitted, "tab\tand\nnewline")).write_text("{")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder(submitted, "fifo"))
    honest_file(submitted / "zoe" / "m2" / "answers.json")

    real_open, real_flagged = os.open, AnswerStore.flagged

    def open_unless_locked_or_huge(path, *args, **kwargs):
        assert Path(path).parent.parent.name != "huge", "the 100 MB file was opened"
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    def flagged_unless_odd(store):
        if store.path == odd:
            raise MemoryError  # anything unforeseen in one file
        return real_flagged(store)

    monkeypatch.setattr(os, "open", open_unless_locked_or_huge)
    monkeypatch.setattr(AnswerStore, "flagged", flagged_unless_odd)
    problems = {f.student: f.problem for f in audit(submitted)}
    expected = {
        "deep": "answers.json nests too deeply (more than 32 levels)",
        "dir": "answers.json is not a regular file",
        "huge": "answers.json is 104857600 bytes, more than the 1000000-byte limit for an answer file",
        "link": "answers.json is a link, not the answer file itself",
        "linkdir": "folder is a link; not followed",
        "locked": "answers.json cannot be read (Permission denied)",
        "odd": "answers.json could not be read: MemoryError",
        "surrogate": "answers.json holds invalid text (a lone surrogate)",
        "tab\tand\nnewline": "answers.json is not valid JSON (line 1, column 2: Expecting property name "
                             "enclosed in double quotes)",
        "types": "answers.json has a damaged entry for q1",
        "utf": "answers.json is not UTF-8 text",
    }
    if hasattr(os, "mkfifo"):
        expected["fifo"] = "answers.json is not a regular file"
    assert problems == expected  # one finding each; ana and zoe are fine

    assert main([str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    findings = lines[:len(expected)]
    assert all(line.count("\t") == 2 for line in findings)
    assert "tab\\tand\\nnewline\tm2\tanswers.json is not valid JSON" in "\n".join(findings)
    assert lines[len(expected)] == (f"{len(expected)} answer file problem(s) in {submitted.resolve()}; "
                                    f"3 of {len(expected) + 3} answer file(s) fine")
    assert "self-reported" in lines[-2] and "cannot write" in lines[-1]


def test_clean_cohort_exits_zero_and_states_the_limit(tmp_path, capsys):
    honest_file(tmp_path / "submitted" / "ana" / "m2" / "answers.json")
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0 answer file problem(s)" in out and "1 of 1 answer file(s) fine" in out
    assert "Without JupyterHub" in out and "cannot be detected" in out


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage_and_exits_zero(tmp_path, monkeypatch, capsys, flag):
    monkeypatch.chdir(tmp_path)  # no submitted/ here: --help must not be taken for a folder
    assert main([flag]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m course.trainer.cohort.audit") and "self-reported" in out


@pytest.mark.parametrize("make, says", [
    (lambda root: None, "does not exist"),
    (lambda root: root.mkdir(), "has no submitted/ folder"),
    (lambda root: root.write_text("x"), "is not a folder"),
])
def test_missing_course_or_submitted_folder_is_a_usage_error(tmp_path, capsys, make, says):
    root = tmp_path / "course"
    make(root)
    assert main([str(root)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"audit: {root} {says}\n"


@pytest.mark.parametrize("args", [["a", "b"], ["--verbose"]])
def test_unknown_arguments_are_a_usage_error(capsys, args):
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("usage:")
