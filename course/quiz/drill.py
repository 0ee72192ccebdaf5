"""An incident drill: injects revealed one at a time on a simulated clock, each followed by a
decision committed like any quiz answer, and a log of when each decision was taken.

    drill = Drill(scenario.redis_drill(), prefix="m6-ex61-", speed=5, facts=STORY)
    drill.single_choice("m6-ex61-acknowledge", "The page. What first?", options=[...], answer=...)
    ...
    drill.debrief()   # the trainee's decisions with their simulated and real times

Each inject names the decision it leads to (``step``); a decision's qid is ``prefix + step``. A
decision cell shows one box: the inject (``InjectPanel``, drawn by drill.js) above the ordinary quiz
widget of ``course.quiz.widgets``, so the decision is answered, committed, marked and restored the
way every quiz is. A step's box stays hidden until the step before it has a committed answer.

**The clock.** The night runs ``speed`` times faster than real time. Step 1's clock starts when its
inject first scrolls into view (or when its cell runs, headless); a later step's clock starts when
the step before it is decided. A decision is stamped with the simulated time (the inject's time,
or the previous decision's if later, plus ``speed`` x the real time spent on it) and the real
seconds spent, in the answer file under ``prefix + "clock"``: seconds and times come from the
kernel's clock, never the browser's. The stamps are a record for the debrief and grade nothing.
When a step's clock starts, the same log records it (``started``, the kernel's epoch seconds), so
a drill rebuilt after a kernel stop or restart resumes each running clock instead of restarting it.
On a hub the quiz service records the decisions' stamps as well (the grading compares the file
with its record, leaving out the start marks, which stay in the file), and the debrief shows the
service's verdicts.

The drill is a ``Quiz``: where a grader builds its own quiz object for each ``Quiz`` of the setup
cell, the decision cells grade like any quiz cell.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import anywidget
import ipywidgets
import traitlets as t
from IPython.display import display

from course.quiz.book import Quiz
from course.quiz.questions import Question
from course.quiz.store import AnswerFileError, AnswerStore, Attempt
from course.quiz.service_client import ServiceError
from course.quiz.widgets import VIEWS, QuestionView, browser_module, committed_answers, service_summary

CLOCK_SUFFIX = "clock"  # the log's qid is the drill's prefix + this
BRT = "America/Sao_Paulo"

# The inject card's look: its own palette in both themes (every pair >= 4.5:1), like quiz.css.
DRILL_CSS = """
.etp-inject {
  --etp-bg: #fbfaf6; --etp-fg: #1b1f24; --etp-muted: #4b5563; --etp-border: #7b8794;
  --etp-accent: #8a4b00; --etp-code-bg: #f1efe8; --etp-focus: #1f5fae;
  --etp-live-bg: #fff6db; --etp-live-fg: #5c4300; --etp-done-bg: #e3f3e8; --etp-done-fg: #14532d;
}
body[data-jp-theme-light="false"] .etp-inject {
  --etp-bg: #221f1a; --etp-fg: #eee9df; --etp-muted: #c4bcae; --etp-border: #8f877a;
  --etp-accent: #ffb454; --etp-code-bg: #2b2822; --etp-focus: #8ab4f8;
  --etp-live-bg: #3a300f; --etp-live-fg: #ffe39a; --etp-done-bg: #12311f; --etp-done-fg: #b9f0cb;
}
.etp-inject-host { min-width: 0; }
.etp-inject-host.jupyter-widgets-disconnected::before,
.etp-drill-step.jupyter-widgets-disconnected::before { display: none; }  /* the note says it */
.etp-drill-step.jupyter-widgets-disconnected { opacity: 1; }
.etp-inject:focus { outline: none; }
.etp-inject {
  box-sizing: border-box; max-width: 820px; min-width: 0; margin: 8px 0 0; padding: 10px 16px;
  border: 1px solid var(--etp-border); border-left: 6px solid var(--etp-accent); border-radius: 8px;
  background: var(--etp-bg); color: var(--etp-fg); font-family: var(--jp-ui-font-family, sans-serif);
  font-size: var(--jp-content-font-size1, 14px); line-height: 1.4; overflow-wrap: anywhere;
}
.etp-inject * { box-sizing: border-box; }
.etp-inject p { margin: 0; }
.etp-inject .etp-inject-head { font-size: 0.85em; text-transform: uppercase; letter-spacing: .05em;
  color: var(--etp-muted); }
.etp-inject .etp-inject-title { font-size: 1.08em; font-weight: 600; margin: 4px 0 6px; }
.etp-inject .etp-inject-briefing { margin: 4px 0 8px; }
.etp-inject .etp-inject-body { margin: 6px 0; padding: 8px 10px; background: var(--etp-code-bg);
  color: var(--etp-fg); border: 1px solid var(--etp-border); border-radius: 6px; white-space: pre-wrap;
  overflow-wrap: anywhere; font-family: var(--jp-code-font-family, monospace); font-size: 0.86em;
  max-height: 22em; overflow: auto; }
.etp-inject .etp-inject-body:focus-visible { outline: 3px solid var(--etp-focus); outline-offset: 2px; }
.etp-inject .etp-inject-clock { display: inline-block; margin-top: 4px; padding: 2px 10px; border-radius: 10px;
  font-weight: 600; background: var(--etp-live-bg); color: var(--etp-live-fg); }
.etp-inject[data-decided] .etp-inject-clock { background: var(--etp-done-bg); color: var(--etp-done-fg); }
.etp-inject .etp-inject-note { margin-top: 4px; font-style: italic; color: var(--etp-fg); }
"""


class InjectPanel(anywidget.AnyWidget):
    """One inject as the browser draws it; its plain text is what headless runs and pages show."""

    _esm = browser_module("drill.js")
    _css = DRILL_CSS

    step = t.Int(1).tag(sync=True)  # 1-based position in the drill
    steps = t.Int(1).tag(sync=True)
    kind = t.Unicode().tag(sync=True)  # page, health probe, log excerpt, chat message, ...
    title = t.Unicode().tag(sync=True)
    clock = t.Unicode().tag(sync=True)  # when the inject became available, HH:MM:SS BRT
    body = t.Unicode().tag(sync=True)  # raw excerpt, shown as it is
    briefing = t.Unicode().tag(sync=True)  # the first inject only: the drill's rules
    speed = t.Float(1.0).tag(sync=True)
    started = t.Bool(False).tag(sync=True)  # the clock of this step runs (or ran)
    sim_start_ms = t.Float(0.0).tag(sync=True)  # simulated epoch ms when this step's clock starts
    running_since_ms = t.Float(0.0).tag(sync=True)  # real epoch ms (kernel) when it started
    decided = t.Unicode("").tag(sync=True)  # a line on the decision once taken, "" before

    def __init__(self, on_seen, **traits):
        super().__init__(**traits)
        self._on_seen = on_seen
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "seen":
            self._on_seen()

    def summary(self) -> str:
        return (f"[inject {self.step} of {self.steps}, {self.clock} BRT, {self.kind}] {self.title}"
                + (f"\n  {self.decided}" if self.decided else ""))

    def _repr_mimebundle_(self, **kwargs):
        data, metadata = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.summary()
        return data, metadata

    def __repr__(self) -> str:
        return self.summary()


class DrillStep(ipywidgets.VBox):
    """One step as displayed: the inject above its decision; hidden until the step is reached."""

    def __init__(self, panel: InjectPanel, view: QuestionView, **kwargs):
        super().__init__(children=[panel, view.box], **kwargs)
        self.panel, self.view = panel, view
        self.add_class("etp-drill-step")

    def summary(self) -> str:
        return self.panel.summary() + "\n" + self.view.summary()

    def _repr_mimebundle_(self, **kwargs):
        data = dict(super()._repr_mimebundle_(**kwargs) or {})  # ipywidgets gives the data alone
        data["text/plain"] = self.summary()  # in full: ipywidgets would cut it at 110 characters
        return data

    def __repr__(self) -> str:
        return self.summary()

    def close(self) -> None:
        for child in (self.panel, self.view.box):
            child.close()
        super().close()


class _StepView:
    """A quiz view that tells its drill when a decision is committed."""

    drill: "Drill"
    step: str

    def commit(self, response: Any) -> Attempt | None:
        attempt = super().commit(response)  # type: ignore[misc]
        if attempt is not None:
            self.drill._decided(self.step, self.question, attempt)
        return attempt


_STEP_VIEWS: dict[type, type] = {}


def _step_view(question: Question, store: AnswerStore, drill: "Drill", step: str) -> QuestionView:
    base = VIEWS[type(question)]
    cls = _STEP_VIEWS.setdefault(base, type(f"Drill{base.__name__}", (_StepView, base), {}))
    view = cls(question, store, drill.service)
    view.drill, view.step = drill, step
    return view


# A step drawn again (its cell run again) closes the box before it.
_SHOWN: dict[tuple[str, str], DrillStep] = {}


class Drill(Quiz):
    """A drill's decisions (quiz questions) and the injects they follow, on one simulated clock."""

    def __init__(self, injects: Sequence[dict], prefix: str, speed: float = 5.0,
                 answer_file=None, facts=None, briefing: str | None = None):
        super().__init__(answer_file, facts)
        if briefing is None:
            briefing = (f"You hold the pager: you are the First Responder. From the moment this card is "
                        f"in view, the night's clock runs {speed:g} times faster than real time. Take "
                        "the decision below each card; the next inject arrives when you commit it.")
        self.injects = {inject["step"]: dict(inject) for inject in injects}
        self.order = [inject["step"] for inject in injects]
        self.prefix, self.speed, self.briefing = prefix, float(speed), briefing
        self.clock_qid = prefix + CLOCK_SUFFIX
        self._shown: dict[str, DrillStep] = {}
        self._revealed: dict[str, float] = {}  # step -> real epoch seconds its clock started

    # -- steps and their state ---------------------------------------------------------------------
    def step_of(self, qid: str) -> str:
        step = qid[len(self.prefix):] if qid.startswith(self.prefix) else ""
        if step not in self.injects:
            raise KeyError(f"{qid!r} is not a decision of this drill (steps: {', '.join(self.order)})")
        return step

    def qid_of(self, step: str) -> str:
        return self.prefix + step

    def _answered(self) -> set[str]:
        try:
            questions = self.store.load()
        except AnswerFileError:
            return set()  # the decision's own widget says what is wrong with the file
        return {step for step in self.order if questions.get(self.qid_of(step))}

    def _reached(self, step: str, answered: set[str]) -> bool:
        index = self.order.index(step)
        return index == 0 or self.order[index - 1] in answered

    def _entries(self) -> list[dict]:
        try:
            return [attempt.answer for attempt in self.store.attempts(self.clock_qid)
                    if isinstance(attempt.answer, dict)]
        except AnswerFileError:
            return []

    def log(self) -> list[dict]:
        """Every stamped decision, oldest first: step, qid, inject_at, decided_at, real_seconds, try."""
        return [entry for entry in self._entries() if "decided_at" in entry]

    def _recorded_starts(self) -> dict[str, float]:
        """When each step's clock started (kernel epoch seconds), as the log recorded it."""
        starts: dict[str, float] = {}
        for entry in self._entries():
            if isinstance(entry.get("started"), (int, float)):
                starts.setdefault(str(entry.get("step")), float(entry["started"]))
        return starts

    def _reveal(self, step: str, now: float) -> None:
        """Start ``step``'s clock at ``now`` unless it runs already, and record when it started."""
        if step in self._revealed:
            return
        self._revealed[step] = now
        try:
            self.store.record(self.clock_qid, {"step": step, "started": round(now, 1)},
                              f"{step} started", False)
        except (AnswerFileError, OSError):
            pass  # the decision's widget says that the file cannot be written

    def _first_stamps(self) -> dict[str, dict]:
        stamps: dict[str, dict] = {}
        for entry in self.log():
            stamps.setdefault(str(entry.get("step")), entry)
        return stamps

    # -- the simulated clock -------------------------------------------------------------------------
    def _inject_at(self, step: str):
        import pandas as pd

        return pd.Timestamp(self.injects[step]["at"])

    def _sim_start(self, step: str, stamps: dict[str, dict]):
        """When this step's clock starts on the night: its inject, or the last decision if later."""
        import pandas as pd

        start = self._inject_at(step)
        index = self.order.index(step)
        if index and self.order[index - 1] in stamps:
            start = max(start, pd.Timestamp(stamps[self.order[index - 1]]["decided_at"]))
        return start

    def _start_clock(self, step: str, stamps: dict[str, dict] | None = None) -> None:
        if step in self._revealed:
            return
        self._reveal(step, time.time())
        box = self._shown.get(step)
        if box is not None:
            self._paint(step, box.panel, stamps if stamps is not None else self._first_stamps())

    def _paint(self, step: str, panel: InjectPanel, stamps: dict[str, dict]) -> None:
        import pandas as pd

        with panel.hold_sync():
            panel.sim_start_ms = self._sim_start(step, stamps).value / 1e6
            stamp = stamps.get(step)
            if stamp:
                decided = pd.Timestamp(stamp["decided_at"])
                spent = stamp.get("real_seconds")
                real = "" if spent is None else f", after {_duration(spent)} of real time"
                panel.decided = (f"You decided at {decided.tz_convert(BRT):%H:%M:%S} BRT on the night's "
                                 f"clock{real}.")
                panel.started = True
                panel.running_since_ms = 0.0
            elif step in self._revealed:
                panel.started = True
                panel.running_since_ms = self._revealed[step] * 1000
                panel.decided = ""

    def _decided(self, step: str, question: Question, attempt: Attempt) -> None:
        """A decision was committed: stamp it, and reveal the next step on the first one."""
        import pandas as pd

        now = time.time()
        stamps = self._first_stamps()
        first = step not in stamps
        revealed = self._revealed.get(step)
        sim = self._sim_start(step, stamps)
        if revealed is not None:
            sim += pd.Timedelta(seconds=self.speed * max(0.0, now - revealed))
        entry = {"step": step, "qid": question.qid, "inject_at": self.injects[step]["at"],
                 "decided_at": sim.tz_convert(BRT).isoformat(timespec="seconds"),
                 "real_seconds": None if revealed is None else round(now - revealed, 1),
                 "try": len([e for e in self.log() if e.get("step") == step]) + 1}
        try:
            self.store.record(self.clock_qid, entry, f"{step} {entry['decided_at']}", False)
        except (AnswerFileError, OSError):
            return  # the decision's widget has said already that the file cannot be written
        if self.service is not None:  # on a hub the service keeps the log the grading reads
            try:
                self.service.commit(self.clock_qid, entry)
            except ServiceError:
                pass  # the decision itself is recorded; the grader is told the log differs
        if not first:
            return
        stamps[step] = entry
        box = self._shown.get(step)
        if box is not None:
            self._paint(step, box.panel, stamps)
        index = self.order.index(step)
        if index + 1 < len(self.order):
            following = self.order[index + 1]
            self._reveal(following, now)
            nxt = self._shown.get(following)
            if nxt is not None:
                self._paint(following, nxt.panel, stamps)
                nxt.layout.display = "flex"

    # -- showing a step ------------------------------------------------------------------------------
    def ask(self, kind: str, qid: str, prompt: str, **fields) -> None:
        """Build the decision of ``qid``'s step and show it under its inject."""
        question = self.build(kind, qid, prompt, **fields)
        step = self.step_of(qid)
        inject = self.injects[step]
        index = self.order.index(step)
        answered = self._answered()
        reached = self._reached(step, answered)
        started = self._recorded_starts().get(step)
        if started is not None:
            self._revealed.setdefault(step, started)  # a clock that ran before the kernel stopped
        elif reached and index:
            self._reveal(step, time.time())  # its cell ran after the step before was decided
        panel = InjectPanel(self._seen_handler(step), step=index + 1, steps=len(self.order),
                            kind=inject.get("kind", ""), title=inject.get("title", ""),
                            clock=inject.get("clock", ""), body=inject.get("body", ""),
                            briefing=self.briefing if index == 0 else "", speed=self.speed)
        view = _step_view(question, self.store, self, step)
        box = DrillStep(panel, view, layout=ipywidgets.Layout(display="flex" if reached else "none"))
        previous = _SHOWN.get((str(self.store.path), qid))
        if previous is not None:
            previous.close()
        _SHOWN[(str(self.store.path), qid)] = box
        self._shown[step] = box
        self._paint(step, panel, self._first_stamps())
        display(box)

    def _seen_handler(self, step: str):
        def seen() -> None:
            if self.order.index(step) == 0 and step not in self._first_stamps():
                self._start_clock(step)
        return seen

    # -- after the drill --------------------------------------------------------------------------------
    def _decision(self, step: str, question: Question) -> str:
        """The first line of a decision's record: the service's verdict on a hub, else the file's."""
        if self.service is None:
            return committed_answers(question, self.store).lines[0]
        box = self._shown.get(step)
        record = box.view.record if box is not None else None
        if record is None:
            try:
                record = self.service.record(question.qid)
            except ServiceError as err:
                return f"first answer: (the quiz service cannot be reached: {err})"
        return service_summary(question, record).splitlines()[0]

    def debrief(self):
        """The drill as you ran it: one row per decision (your first answer to each), with the
        inject's time, your decision and whether the playbook agrees, its time on the night's
        clock, the minutes since the first inject and the real time you spent on it. The table
        shows every decision in full (pandas would cut text at 50 characters)."""
        import pandas as pd

        stamps = self._first_stamps()
        origin = self._inject_at(self.order[0])
        rows = []
        for step in self.order:
            qid, stamp = self.qid_of(step), stamps.get(step)
            question = self.questions.get(qid)
            answer = self._decision(step, question) if question else ""
            decision, verdict = _decision_and_verdict(answer)
            decided = pd.Timestamp(stamp["decided_at"]) if stamp else pd.NaT
            rows.append({
                "step": step, "inject": f"{self._inject_at(step).tz_convert(BRT):%H:%M:%S} {self.injects[step].get('kind', '')}",
                "your decision": decision or "(not shown yet)",
                "playbook": verdict,
                "decided at (BRT)": "" if stamp is None else f"{decided.tz_convert(BRT):%H:%M:%S}",
                "minutes after the first inject": None if stamp is None else round((decided - origin) / pd.Timedelta(minutes=1), 1),
                "real seconds": None if stamp is None else stamp.get("real_seconds"),
            })
        return _full_width(pd.DataFrame(rows).set_index("step"))


def clock_start(answer: Any) -> bool:
    """Whether a clock-log entry marks a step's clock starting rather than stamping a decision.
    The marks stay in the trainee's file (a rebuilt drill resumes its clock from them); the quiz
    service records only the decisions' stamps."""
    return isinstance(answer, dict) and "started" in answer and "decided_at" not in answer


def _decision_and_verdict(line: str) -> tuple[str, str]:
    """``[quiz q] first answer: <decision> (<verdict>)`` as its decision and its verdict."""
    if "first answer: " not in line:
        return "", ""
    decision = line.split("first answer: ", 1)[1]
    if decision.endswith(")") and " (" in decision:
        decision, verdict = decision[:-1].rsplit(" (", 1)
        return decision, verdict
    return decision, ""


def _full_width(table):
    """``table`` drawn with every cell's text in full, in a notebook and as text."""
    import pandas as pd

    class FullWidthTable(pd.DataFrame):
        @property
        def _constructor(self):
            return FullWidthTable

        def _repr_html_(self):
            with pd.option_context("display.max_colwidth", None):
                return super()._repr_html_()

        def __repr__(self):
            return self.to_string()

    return FullWidthTable(table)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
