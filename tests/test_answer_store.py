"""The answer file: atomic writes, first-attempt rule, tamper evidence, damaged files kept."""
import builtins
import io
import json
import os
import stat
from pathlib import Path

import pytest

from course.trainer.reference.judge import GradingError, grade_quiz
from course.quiz.questions import SingleChoice
from course.quiz.store import MAX_ANSWER_FILE_BYTES, MAX_NESTING, AnswerFileError, AnswerStore

QUESTION = SingleChoice(qid="2.1-login", prompt="?", options=["P0", "P1", "P2"], answer=["P0", "P1"])


def commit(store, response):
    return store.record(QUESTION.qid, response, QUESTION.canonical(response), QUESTION.is_correct(response))


def test_first_committed_answer_is_graded(tmp_path):
    store = AnswerStore(tmp_path / "answers.json")
    commit(store, "P2")
    commit(store, "P0")
    tries = store.attempts(QUESTION.qid)
    assert [t.answer for t in tries] == ["P2", "P0"] and tries[0].time <= tries[1].time
    with pytest.raises(GradingError, match="not correct"):
        grade_quiz(QUESTION, store)


def test_right_first_answer_passes(tmp_path, capsys):
    store = AnswerStore(tmp_path / "answers.json")
    commit(store, "P1")
    commit(store, "P2")  # a later wrong try changes no points
    grade_quiz(QUESTION, store)
    assert "correct" in capsys.readouterr().out


def test_no_answer_is_a_clear_failure(tmp_path):
    with pytest.raises(GradingError, match="no committed answer"):
        grade_quiz(QUESTION, AnswerStore(tmp_path / "answers.json"))


def test_answer_edited_by_hand_is_flagged(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    data = json.loads(path.read_text())
    data["questions"][QUESTION.qid][0].update(answer="P0", canonical="p0", correct=True)
    path.write_text(json.dumps(data))
    assert store.tampered(QUESTION.qid)
    with pytest.raises(GradingError, match="FLAGGED"):
        grade_quiz(QUESTION, store)


def test_deleting_the_wrong_first_try_is_flagged(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    commit(store, "P0")
    data = json.loads(path.read_text())
    del data["questions"][QUESTION.qid][0]
    path.write_text(json.dumps(data))
    with pytest.raises(GradingError, match="FLAGGED"):
        grade_quiz(QUESTION, store)


def test_only_the_answer_changed_is_flagged(tmp_path):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P2")
    data = json.loads(path.read_text())
    data["questions"][QUESTION.qid][0]["answer"] = "P0"  # seal and canonical left as they were
    path.write_text(json.dumps(data))
    with pytest.raises(GradingError, match="FLAGGED"):
        grade_quiz(QUESTION, store)


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"format": "other"}',
                                     '{"format": "etp-academy-answers/1", "questions": []}'])
def test_damaged_file_is_reported_and_never_overwritten(tmp_path, content):
    path = tmp_path / "answers.json"
    path.write_text(content)
    store = AnswerStore(path)
    with pytest.raises(AnswerFileError) as err:
        commit(store, "P0")
    assert "answers.json" in str(err.value) and "\n" not in str(err.value)
    assert path.read_text() == content
    with pytest.raises(GradingError, match="trainer"):
        grade_quiz(QUESTION, store)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    commit(store, "P1")
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("course.quiz.store.os.replace", crash)
    with pytest.raises(OSError):
        commit(store, "P2")
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["answers.json"]  # no temp file left behind


# -- files a trainee can leave in place of answers.json: each is one AnswerFileError line ---------
def committed_data(path):
    """A genuine one-attempt file at ``path``, returned as parsed JSON to be broken by a test."""
    commit(AnswerStore(path), "P1")
    return json.loads(path.read_text())


def assert_refused(path, match):
    """Every public entry point refuses with one line; the file is left as it was."""
    before = os.lstat(path)  # compared without opening: some of these files must never be opened
    store = AnswerStore(path)
    for call in (store.load, lambda: store.attempts(QUESTION.qid), lambda: store.first(QUESTION.qid),
                 lambda: store.tampered(QUESTION.qid), store.flagged, lambda: commit(store, "P0")):
        with pytest.raises(AnswerFileError, match=match) as err:
            call()
        assert "\n" not in str(err.value)
    after = os.lstat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size,
                                                                before.st_mtime_ns)
    with pytest.raises(GradingError, match="trainer"):
        grade_quiz(QUESTION, store)


def refuse_opening(monkeypatch, path, error=AssertionError("the file was opened")):
    """Make every way of opening ``path`` raise ``error``; other files open as usual."""
    def guard(real):
        def opener(target, *args, **kwargs):
            if str(target) == str(path):
                raise error
            return real(target, *args, **kwargs)
        return opener

    for owner, name in [(os, "open"), (builtins, "open"), (io, "open"), (Path, "open"),
                        (Path, "read_bytes"), (Path, "read_text")]:
        monkeypatch.setattr(owner, name, guard(getattr(owner, name)))


def test_directory_is_not_a_regular_file(tmp_path):
    (tmp_path / "answers.json").mkdir()
    assert_refused(tmp_path / "answers.json", "^answers.json is not a regular file$")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "answers.json")  # opening it to read would block forever
    assert_refused(tmp_path / "answers.json", "^answers.json is not a regular file$")


def test_oversized_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    with open(path, "wb") as fh:
        fh.truncate(100 * 1024 * 1024)  # sparse: 100 MB long, no disk used
    refuse_opening(monkeypatch, path)
    assert_refused(path, "answers.json is 104857600 bytes, more than the 1000000-byte limit")


def test_file_growing_after_the_size_check_is_still_bounded(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    with open(path, "wb") as fh:
        fh.truncate(5 * MAX_ANSWER_FILE_BYTES)
    small = os.stat_result((stat.S_IFREG | 0o644,) + tuple(os.lstat(path))[1:6] + (10,)
                           + tuple(os.lstat(path))[7:10])
    monkeypatch.setattr("course.quiz.store.os.lstat", lambda p: small)  # as if it grew meanwhile
    with pytest.raises(AnswerFileError, match=f"is {MAX_ANSWER_FILE_BYTES + 1} bytes, more than"):
        AnswerStore(path).load()


def test_link_is_refused_even_to_a_good_file(tmp_path):
    outside = tmp_path / "elsewhere" / "answers.json"
    outside.parent.mkdir()
    committed_data(outside)
    link = tmp_path / "trainee" / "answers.json"
    link.parent.mkdir()
    link.symlink_to(outside)
    assert_refused(link, "^answers.json is a link")
    assert link.is_symlink() and AnswerStore(outside).first(QUESTION.qid).answer == "P1"
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere")
    with pytest.raises(AnswerFileError, match="is a link"):
        AnswerStore(tmp_path / "dangling.json").load()


@pytest.mark.parametrize("where", ["answer", "nested answer", "canonical", "question id", "field name"])
def test_lone_surrogate_is_invalid_text(tmp_path, where):
    path = tmp_path / "answers.json"
    data = committed_data(path)
    tries = data["questions"][QUESTION.qid]
    if where == "answer":
        tries[0]["answer"] = "P\ud800"
    elif where == "nested answer":
        tries[0]["answer"] = [{"x": ["\udfff"]}]
    elif where == "canonical":
        tries[0]["canonical"] = "\udc80"
    elif where == "question id":
        data["questions"]["q\ud800"] = tries
    else:
        tries[0]["\ud800"] = 1
    path.write_text(json.dumps(data))  # ensure_ascii writes the escape, as a hand edit would
    assert "\\ud" in path.read_text()
    assert_refused(path, r"^answers.json holds invalid text \(a lone surrogate\)$")


@pytest.mark.parametrize("content, match", [
    (b'{"format": "etp-academy-answers/1", "questions": {"q": [{"answer": "\xff"}]}}', "not UTF-8 text"),
    (b'"\xed\xa0\x80"', "not UTF-8 text"),  # a surrogate encoded as bytes is not UTF-8 either
    (b'{"format": "etp-academy-answers/1", "questions": {}, "n": ' + b"9" * 5000 + b"}",
     "not valid JSON"),
])
def test_bytes_that_are_not_answer_json(tmp_path, content, match):
    (tmp_path / "answers.json").write_bytes(content)
    assert_refused(tmp_path / "answers.json", match)


DAMAGE = {
    "correct as text": lambda tries: tries[0].update(correct="true"),
    "correct as a number": lambda tries: tries[0].update(correct=1),
    "canonical missing a value": lambda tries: tries[0].update(canonical=None),
    "time as a number": lambda tries: tries[0].update(time=5),
    "seal as a list": lambda tries: tries[0].update(seal=[]),
    "a field missing": lambda tries: tries[0].pop("seal"),
    "an extra field": lambda tries: tries[0].update(points=10),
    "attempt as text": lambda tries: tries.__setitem__(0, "P1"),
    "attempt as null": lambda tries: tries.__setitem__(0, None),
    "attempt as a list": lambda tries: tries.__setitem__(0, [1, 2]),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_wrong_field_types_are_a_damaged_entry(tmp_path, damage):
    path = tmp_path / "answers.json"
    data = committed_data(path)
    DAMAGE[damage](data["questions"][QUESTION.qid])
    path.write_text(json.dumps(data))
    assert_refused(path, f"^answers.json has a damaged entry for {QUESTION.qid}$")


@pytest.mark.parametrize("tries", [{"a": 1}, "P1", None, 3])
def test_attempts_not_in_a_list_are_a_damaged_entry(tmp_path, tries):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"format": "etp-academy-answers/1", "questions": {QUESTION.qid: tries}}))
    assert_refused(path, f"damaged entry for {QUESTION.qid}$")


def test_question_id_is_shown_on_one_line(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"format": "etp-academy-answers/1", "questions": {"a\nb\t" + "x" * 500: 1}}))
    with pytest.raises(AnswerFileError, match=r"damaged entry for a\\nb\\tx+\.\.\.$") as err:
        AnswerStore(path).load()
    assert len(str(err.value)) < 150


@pytest.mark.parametrize("depth", [MAX_NESTING, 100_000])  # past the cap; past the parser's stack
def test_deep_nesting_is_refused(tmp_path, depth):
    path = tmp_path / "answers.json"
    data = committed_data(path)
    data["questions"][QUESTION.qid][0]["answer"] = "DEEP"
    path.write_text(json.dumps(data).replace('"DEEP"', "[" * depth + "]" * depth))
    assert_refused(path, r"^answers.json nests too deeply \(more than 32 levels\)$")


def test_unreadable_file_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    committed_data(path)
    refuse_opening(monkeypatch, path, PermissionError(13, "Permission denied"))
    assert_refused(path, r"^answers.json cannot be read \(Permission denied\)$")


def test_flagged_lists_hand_edited_questions_from_one_reading(tmp_path, monkeypatch):
    path = tmp_path / "answers.json"
    store = AnswerStore(path)
    for qid in ("a", "b", "c"):
        store.record(qid, "P2", "p2", False)
    data = json.loads(path.read_text())
    data["questions"]["b"][0]["correct"] = True
    path.write_text(json.dumps(data))
    reads = []
    real_read = AnswerStore._read
    monkeypatch.setattr(AnswerStore, "_read", lambda self: reads.append(1) or real_read(self))
    assert store.flagged() == ["b"] and len(reads) == 1
