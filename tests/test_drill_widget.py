"""The incident drill widget: injects revealed one at a time, decisions committed like quiz answers,
each stamped with the night's (simulated) time and the real time it took, restored from the file."""
import json

import pandas as pd
import pytest

from course.quiz import Drill, Quiz
from course.quiz.drill import DrillStep, InjectPanel
from course.quiz.store import AnswerStore
from course.trainer.grading.verdicts import GradingQuiz, Verdicts

INJECTS = [
    {"step": "ack", "kind": "page", "at": "2026-10-14T00:11:00-03:00", "clock": "00:11:00",
     "title": "The page", "body": "[FIRING] health"},
    {"step": "sev", "kind": "log excerpt", "at": "2026-10-14T00:12:00-03:00", "clock": "00:12:00",
     "title": "The log", "body": "ECONNREFUSED"},
    {"step": "fix", "kind": "railway", "at": "2026-10-14T00:30:00-03:00", "clock": "00:30:00",
     "title": "Railway", "body": "no container"},
]


class Clock:
    def __init__(self, start=1_000_000.0):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr("course.quiz.drill.time.time", fake)
    return fake


def make(tmp_path, shown=None):
    drill = Drill(INJECTS, prefix="d-", speed=5, answer_file=tmp_path / "answers.json")
    shown = [] if shown is None else shown
    drill_display = lambda box: shown.append(box)  # noqa: E731
    import course.quiz.drill as module
    module.display, old = drill_display, module.display
    try:
        for step, answer in [("ack", "yes"), ("sev", "P1"), ("fix", "restart")]:
            drill.single_choice(f"d-{step}", f"{step}?", options=["yes", "no", "P1", "P0", "restart", "wait"],
                                answer=answer, explanation=f"because {step}")
    finally:
        module.display = old
    return drill, {box.view.question.qid: box for box in shown}


def press_submit(box, response):
    sent = []
    box.view.box.send = sent.append
    box.view.box._handle_custom_msg({"event": "submit", "response": response}, [])
    return sent[-1]


def seen(box):
    box.panel._handle_custom_msg({"event": "seen"}, [])


def test_only_the_first_step_shows_until_it_is_decided(tmp_path, clock):
    drill, boxes = make(tmp_path)
    assert [boxes[q].layout.display for q in ("d-ack", "d-sev", "d-fix")] == ["flex", "none", "none"]
    assert isinstance(boxes["d-ack"], DrillStep) and isinstance(boxes["d-ack"].panel, InjectPanel)
    assert boxes["d-ack"].panel.briefing and not boxes["d-sev"].panel.briefing  # the rules, once
    assert press_submit(boxes["d-ack"], "no") == {"event": "done", "recorded": True}  # wrong, still decided
    assert boxes["d-sev"].layout.display == "flex" and boxes["d-fix"].layout.display == "none"
    assert "etp-wrong" in boxes["d-ack"].view.box.feedback  # marked like any quiz


def test_decisions_are_stamped_with_the_nights_time_and_the_real_time(tmp_path, clock):
    drill, boxes = make(tmp_path)
    assert not boxes["d-ack"].panel.started  # the clock waits until the card is in view
    seen(boxes["d-ack"])
    assert boxes["d-ack"].panel.started and boxes["d-ack"].panel.running_since_ms == clock.now * 1000
    clock.now += 30  # 30 real seconds: 2.5 minutes on the night
    press_submit(boxes["d-ack"], "yes")
    clock.now += 120  # the next card: 2 real minutes = 10 night minutes after the decision
    press_submit(boxes["d-sev"], "P1")
    log = drill.log()
    assert [entry["step"] for entry in log] == ["ack", "sev"]
    assert log[0]["decided_at"] == "2026-10-14T00:13:30-03:00" and log[0]["real_seconds"] == 30
    # the second inject arrived at 00:12, before the first decision: its clock starts at 00:13:30
    assert log[1]["decided_at"] == "2026-10-14T00:23:30-03:00" and log[1]["real_seconds"] == 120
    assert "00:13:30 BRT" in boxes["d-ack"].panel.decided
    saved = json.loads((tmp_path / "answers.json").read_text())["questions"]
    assert saved["d-ack"][0]["answer"] == "yes" and saved["d-ack"][0]["correct"] is True
    decisions = [entry["answer"] for entry in saved["d-clock"] if "decided_at" in entry["answer"]]
    assert len(decisions) == 2 and decisions[1]["step"] == "sev"
    assert AnswerStore(tmp_path / "answers.json").flagged() == []  # the log is sealed like answers


def test_a_later_inject_waits_for_its_own_time(tmp_path, clock):
    drill, boxes = make(tmp_path)
    seen(boxes["d-ack"])
    press_submit(boxes["d-ack"], "yes")
    press_submit(boxes["d-sev"], "P1")  # decided at once, at 00:12 on the night
    clock.now += 60
    press_submit(boxes["d-fix"], "restart")  # the Railway inject only came at 00:30
    assert drill.log()[2]["decided_at"] == "2026-10-14T00:35:00-03:00"


def test_later_tries_are_logged_but_the_first_counts(tmp_path, clock):
    drill, boxes = make(tmp_path)
    seen(boxes["d-ack"])
    press_submit(boxes["d-ack"], "no")
    clock.now += 10
    press_submit(boxes["d-ack"], "yes")
    assert [entry["try"] for entry in drill.log()] == [1, 2]
    table = drill.debrief()
    assert table.loc["ack", "your decision"].startswith("no")  # the first answer, the graded one
    assert table.loc["ack", "decided at (BRT)"] == "00:11:00"
    assert pd.isna(table.loc["fix", "minutes after the first inject"])


def test_a_rebuilt_drill_restores_answers_and_the_step_reached(tmp_path, clock):
    drill, boxes = make(tmp_path)
    seen(boxes["d-ack"])
    clock.now += 12
    press_submit(boxes["d-ack"], "yes")
    again, boxes = make(tmp_path)  # the kernel restarted and the cells ran again
    assert [boxes[q].layout.display for q in ("d-ack", "d-sev", "d-fix")] == ["flex", "flex", "none"]
    assert boxes["d-ack"].view.box.response == "yes" and "00:12:00 BRT" in boxes["d-ack"].panel.decided
    assert boxes["d-sev"].panel.started and not boxes["d-sev"].panel.decided
    assert boxes["d-sev"].panel.sim_start_ms == pd.Timestamp("2026-10-14T00:12:00-03:00").value / 1e6


def test_text_forms_for_headless_runs_and_pages(tmp_path, clock):
    drill, boxes = make(tmp_path)
    press_submit(boxes["d-ack"], "yes")
    text = boxes["d-ack"]._repr_mimebundle_()["text/plain"]
    assert text.startswith("[inject 1 of 3, 00:11:00 BRT, page] The page")
    assert "[quiz d-ack] first answer: yes (correct)" in text and "because" not in text


def test_a_damaged_answer_file_shows_in_the_decision_and_breaks_nothing(tmp_path, clock):
    (tmp_path / "answers.json").write_text("{ not json")
    drill, boxes = make(tmp_path)
    assert boxes["d-ack"].layout.display == "flex" and boxes["d-sev"].layout.display == "none"
    assert boxes["d-ack"].view.box.locked and "cannot be saved" in boxes["d-ack"].view.box.feedback
    assert drill.log() == [] and len(drill.debrief()) == 3


def test_an_unknown_decision_is_refused(tmp_path):
    drill = Drill(INJECTS, prefix="d-", answer_file=tmp_path / "answers.json")
    with pytest.raises(KeyError):
        drill.single_choice("d-nope", "?", options=["a"], answer="a")


def test_the_grader_builds_its_own_quiz_for_a_drill(tmp_path):
    """A drill made by the setup cell becomes a plain grading quiz in the trainer's process, so a
    decision cell grades like any quiz cell and shows nothing."""
    setup = ("from course.quiz import Drill\n"
             f"drill = Drill({INJECTS!r}, prefix='d-', facts={{'page': '00:11'}})\n")
    answers = tmp_path / "answers.json"
    AnswerStore(answers).record("d-ack", "yes", "yes", True)
    verdicts = Verdicts([setup], answers)
    assert isinstance(verdicts.namespace["drill"], GradingQuiz)
    outputs = verdicts.judge("d-ack", "drill.single_choice('d-ack', 'at {page}?', options=['yes', 'no'], "
                             "answer='yes')\ndrill.grade('d-ack')", None)
    assert not [o for o in outputs if o.output_type == "error"]
    assert "first committed answer is correct" in "".join(o.get("text", "") for o in outputs)


def test_the_quiz_package_stays_light():
    import subprocess
    import sys

    probe = ("import sys; import course.quiz; print('anywidget' in sys.modules, 'course.quiz.drill' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert issubclass(Drill, Quiz)


def test_a_running_clock_resumes_after_a_kernel_stop(tmp_path, clock):
    drill, boxes = make(tmp_path)
    seen(boxes["d-ack"])
    clock.now += 30
    again, boxes = make(tmp_path)  # the kernel stopped; the cells ran again in a new one
    assert boxes["d-ack"].panel.running_since_ms == 1_000_000.0 * 1000  # not restarted
    clock.now += 30
    press_submit(boxes["d-ack"], "yes")
    assert again.log()[0]["real_seconds"] == 60 and again.log()[0]["decided_at"] == "2026-10-14T00:16:00-03:00"
    clock.now += 20
    third, boxes = make(tmp_path)  # and the step revealed by that decision keeps its own start
    clock.now += 10
    press_submit(boxes["d-sev"], "P1")
    assert third.log()[1]["real_seconds"] == 30 and [e["step"] for e in third.log()] == ["ack", "sev"]


def test_the_debrief_shows_whole_decisions_and_their_verdicts(tmp_path, clock):
    long = "Acknowledge the page in #incidents, then open the Railway logs of the worker and read them"
    drill = Drill(INJECTS[:1], prefix="d-", answer_file=tmp_path / "answers.json")
    import course.quiz.drill as module
    shown = []
    module.display, old = shown.append, module.display
    try:
        drill.single_choice("d-ack", "First?", options=[long, "wait"], answer="wait")
    finally:
        module.display = old
    press_submit(shown[0], long)
    table = drill.debrief()
    assert table.loc["ack", "your decision"] == long and table.loc["ack", "playbook"] == "not correct"
    assert long in table._repr_html_() and "not correct" in table._repr_html_()
    assert long in repr(table)
