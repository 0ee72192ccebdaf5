"""Quiz widgets: one anywidget per question (prompt, input, Submit, feedback), drawn by quiz.js.

The browser sends the answer together with the Submit press, so the kernel grades exactly what
the page shows, however fast it was typed or pasted. Key presses stay inside the quiz, and every
control has a plain-words name and a pressed/checked state (see quiz.js).

A view reads the answer file when it is built, so a kernel restart or a re-run shows the
committed answer again. After a page reload without the kernel, JupyterLab draws the widget
state saved in the notebook, read-only until the cell runs again.

On JupyterHub with the quiz service (``service_client``), Submit commits to the service: it says
right or wrong and sends the explanation, and a view shows the attempts the service holds. The
answer file is then only a local copy of them, for display.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from course.quiz.questions import (QUESTION_TYPES, Matching, MultipleSelect, Numeric, Ordering, Question,
                        ShortText, SingleChoice)
from course.quiz.service_client import SERVICE_KEY, Record, ServiceError, Unconfirmed, from_environment, new_commit_id
from course.quiz.store import AnswerFileError, AnswerStore, Attempt, one_line

HERE = Path(__file__).parent


def browser_module(name: str) -> str:
    """A widget's ES module: the shared DOM helpers (dom.js), then its own file."""
    return "".join((HERE / part).read_text(encoding="utf-8") for part in ("dom.js", name))
KIND_KEYS = {cls: key for key, cls in QUESTION_TYPES.items()}
_FROM_ENVIRONMENT = object()
MAX_TEXT_ANSWER = 500  # characters: a short-text answer is a word or two, never a pasted log


class UnreadableAnswer(ValueError):
    """What the browser sent cannot be an answer to this question (message for the trainee)."""


class QuizWidget(anywidget.AnyWidget):
    """One question as the browser draws it; its plain text is what headless runs show."""

    _esm = browser_module("quiz.js")
    _css = (HERE / "quiz.css").read_text(encoding="utf-8")

    kind = t.Unicode().tag(sync=True)  # a QUESTION_TYPES key: which input quiz.js draws
    kind_label = t.Unicode().tag(sync=True)
    qid = t.Unicode().tag(sync=True)
    prompt = t.Unicode().tag(sync=True)
    fields = t.Dict().tag(sync=True)  # options, items, left and right, unit, placeholder
    response = t.Any(None, allow_none=True).tag(sync=True)  # the last committed answer, shown
    verdict = t.Unicode("").tag(sync=True)  # "right" or "wrong" for that answer, "" before any
    feedback = t.Unicode("").tag(sync=True)  # HTML built here, every value escaped
    locked = t.Bool(False).tag(sync=True)  # the answer file cannot be written: Submit is off

    def __init__(self, summary, on_submit, **traits):
        super().__init__(**traits)
        self._summary, self._on_submit = summary, on_submit
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            with self.hold_sync():  # response, verdict and feedback reach the page together
                recorded = self._on_submit(content.get("response")) is not None
            self.send({"event": "done", "recorded": recorded})

    def _repr_mimebundle_(self, **kwargs):
        data, metadata = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = self._summary()
        return data, metadata

    def __repr__(self) -> str:
        return self._summary()


class QuestionView:
    """Shared part of every question: committing, feedback and the text summary."""

    def __init__(self, question: Question, store: AnswerStore, service=_FROM_ENVIRONMENT):
        # The hub's quiz service (from this server's environment unless given; None: local).
        if service is _FROM_ENVIRONMENT:
            service = from_environment()
        self.question, self.store, self.service = question, store, service
        self.record: Record | None = None  # what the service last said (service mode)
        self._pending: tuple[str, str] | None = None  # (canonical, commit id) not yet confirmed
        self.box = QuizWidget(self.summary, self.submit, kind=KIND_KEYS[type(question)],
                              kind_label=question.kind, qid=question.qid, prompt=question.prompt,
                              fields=self.fields())
        if service is None and question.answer_from == SERVICE_KEY:
            self.box.locked = True
            self._say("etp-error", "This quiz is answered through the course's quiz service on "
                      "JupyterHub, and this server has none: nothing can be recorded here.")
            return
        self.restore()

    # -- the type-specific part ----------------------------------------------------------------
    def fields(self) -> dict:
        """What quiz.js needs to draw this type's input."""
        raise NotImplementedError

    def read(self, raw: Any) -> Any:
        """The response in what the browser sent; None while incomplete; UnreadableAnswer if odd."""
        raise NotImplementedError

    # -- committing and feedback ---------------------------------------------------------------
    def submit(self, raw: Any) -> Attempt | None:
        """The browser's Submit: read what it sent, then commit it."""
        try:
            response = self.read(raw)
        except UnreadableAnswer as err:
            self._say("etp-note", str(err))
            return None
        return self.commit(response)

    def commit(self, response: Any) -> Attempt | None:
        canonical = self.question.canonical(response)
        if canonical is None:
            self._say("etp-note", "Answer first: nothing was recorded yet.")
            return None
        if self.service is not None:
            return self._commit_to_service(response, canonical)
        correct = self.question.is_correct(response)
        try:
            attempt = self.store.record(self.question.qid, response, canonical, correct)
            self.show(self.store.attempts(self.question.qid))
        except (AnswerFileError, OSError) as err:
            self._say_error(err)
            return None
        return attempt

    def _commit_to_service(self, response: Any, canonical: str) -> Attempt | None:
        """The service checks and records the answer; the answer file keeps a copy for display."""
        # The same answer submitted again after no reply keeps its commit id: never counted twice.
        if self._pending is None or self._pending[0] != canonical:
            self._pending = (canonical, new_commit_id())
        try:
            self.record = self.service.commit(self.question.qid, response, self._pending[1])
        except Unconfirmed as err:
            self._say("etp-error", f"The quiz service has not confirmed your answer yet: {err}. "
                      "Press Submit again with the same answer in a moment: it is never counted "
                      "twice. If it keeps failing, tell your trainer.")
            return None
        except ServiceError as err:
            self._pending = None
            self._say("etp-error", f"Your answer was not recorded: {err}. Press Submit again "
                      "in a moment; if it keeps failing, tell your trainer.")
            return None
        self._pending = None
        attempts = _service_attempts(self.record)
        if not attempts:
            self._say("etp-error", "The quiz service did not return your answer: press Submit again.")
            return None
        try:  # the local copy: display only, the service's record is the one graded
            self.store.record(self.question.qid, response, canonical, attempts[-1].correct)
        except (AnswerFileError, OSError):
            pass
        self.show(attempts, self.record.explanation)
        return attempts[-1]

    def restore(self) -> None:
        if self.service is not None:
            try:
                self.record = self.service.record(self.question.qid)
            except ServiceError as err:
                self._say("etp-note", f"Your earlier answers cannot be shown now: {err}.")
                return
            attempts = _service_attempts(self.record)
            if attempts:
                self.show(attempts, self.record.explanation)
            return
        try:
            attempts = self.store.attempts(self.question.qid)
        except AnswerFileError as err:
            self._say_error(err)
            return
        if attempts:
            self.show(attempts)

    def show(self, attempts: list[Attempt], explanation: str | None = None) -> None:
        """The last committed answer in the input, marked, and feedback on the graded first one.
        ``explanation``: the service's (service mode), else the question's own."""
        first, last = attempts[0], attempts[-1]
        if explanation is None:  # a released notebook's explanation opens with a right answer
            explanation = self.question.explanation_after([a.answer for a in attempts if a.correct])
        if self.question.pending and self.service is None:
            self._show_recorded(first, last)
            return
        verdict = "Correct." if first.correct else "Not correct."
        parts = [f"<b>{'✔' if first.correct else '✘'} {verdict}</b> Your first answer "
                 f"({html.escape(self.question.describe(first.answer))}) is the graded one."]
        if len(attempts) > 1:
            parts.append(f"Try {len(attempts)} ({html.escape(self.question.describe(last.answer))}) "
                         f"is {'right' if last.correct else 'still not right'}; it is kept for "
                         "practice and changes no points.")
        if explanation:
            parts.append(f'<div class="etp-explain">{html.escape(explanation)}</div>')
        elif self.question.explanation_locked and self.service is None:
            parts.append("The explanation shows once you find the right answer.")
        self.box.response = last.answer
        self.box.verdict = "right" if last.correct else "wrong"
        self._say("etp-right" if first.correct else "etp-wrong", "<br>".join(parts), escape=False)

    def _show_recorded(self, first: Attempt, last: Attempt) -> None:
        """A key from the trainee's own data is not in their notebook: the grader checks it."""
        self.box.response, self.box.verdict = last.answer, ""
        self._say("etp-note", f"Recorded. Your first answer ({self.question.describe(first.answer)}) "
                  "is the graded one. Its key comes from your own data, so it is checked when "
                  "your work is graded.")

    def _say(self, css_class: str, text: str, escape: bool = True) -> None:
        body = html.escape(text) if escape else text
        self.box.feedback = f'<div class="{css_class}" role="status">{body}</div>'

    def _say_error(self, err: Exception) -> None:
        self.box.locked = True
        self._say("etp-error", f"Your answers cannot be saved: {err}. Nothing in the file was "
                  "changed or lost. Ask your trainer to look at it before you answer more quizzes.")

    def summary(self) -> str:
        """Plain text for headless runs and exported pages: what was committed, never the key."""
        if self.service is not None and self.record is not None:
            return service_summary(self.question, self.record)
        return committed_answers(self.question, self.store).text


REVIEW_MARK = "FLAGGED"  # starts the text of a quiz whose committed answers need the trainer
MAX_LATER_SHOWN = 10  # later tries listed one by one; beyond, only their number


@dataclass(frozen=True)
class CommittedAnswers:
    """What a trainee committed to one quiz, as lines of text: never the key.

    ``problem`` says why the trainer must review the answers (the answer file was changed by
    hand, or cannot be read); it is None for an ordinary answer, right or wrong."""

    qid: str
    lines: tuple[str, ...]
    problem: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def committed_answers(question: Question, store: AnswerStore) -> CommittedAnswers:
    """The first committed answer (the graded one) and the later tries of ``question``.

    A first answer changed by hand is never called correct: its text starts with FLAGGED."""
    qid = question.qid
    try:
        attempts = store.attempts(qid)
        tampered = store.tampered(qid)
    except AnswerFileError as err:
        problem = f"answer file problem: {err}"
        return CommittedAnswers(qid, (f"{REVIEW_MARK} [quiz {qid}] {problem}",), problem)
    if not attempts:
        return CommittedAnswers(qid, (f"[quiz {qid}] {question.prompt} (no answer committed yet)",))
    first, later = attempts[0], attempts[1:]
    if tampered or not _as_committed(question, first):
        problem = "the answer file was changed by hand after the answer was committed"
        lines = [f"{REVIEW_MARK} [quiz {qid}] {problem}; the trainer reviews this answer",
                 f"  first answer, as the file now holds it: {_describe(question, first.answer)}"]
        lines += [f"  try {n}: {_describe(question, a.answer)}"
                  for n, a in enumerate(later[:MAX_LATER_SHOWN], start=2)]
    else:
        problem = None
        lines = _answer_lines(question, first, later, lambda a: _verdict(question, a))
    if len(later) > MAX_LATER_SHOWN:
        lines.append(f"  and {len(later) - MAX_LATER_SHOWN} more tries")
    return CommittedAnswers(qid, tuple(lines), problem)


def _answer_lines(question: Question, first: Attempt, later: list[Attempt], verdict) -> list[str]:
    """The first (graded) answer with its verdict, then the tries shown, each with its own."""
    lines = [f"[quiz {question.qid}] first answer: {_describe(question, first.answer)} ({verdict(first)})"]
    lines += [f"  try {n}: {_describe(question, a.answer)} ({verdict(a)}; no points)"
              for n, a in enumerate(later[:MAX_LATER_SHOWN], start=2)]
    return lines


def _service_attempts(record: Record) -> list[Attempt]:
    """The service's attempts in the form a view shows (the service has no seal to show)."""
    return [Attempt(a.get("answer"), str(a.get("canonical", "")), bool(a.get("correct")),
                    str(a.get("time", "")), "") for a in record.attempts]


def service_summary(question: Question, record: Record) -> str:
    """The text of a quiz answered through the hub's service: its verdicts are the service's."""
    attempts = _service_attempts(record)
    if not attempts:
        return f"[quiz {question.qid}] {question.prompt} (no answer committed yet)"
    first, later = attempts[0], attempts[1:]
    lines = _answer_lines(question, first, later, lambda a: "correct" if a.correct else "not correct")
    if len(later) > MAX_LATER_SHOWN:
        lines.append(f"  and {len(later) - MAX_LATER_SHOWN} more tries")
    return "\n".join(lines)


def _as_committed(question: Question, attempt: Attempt) -> bool:
    """Whether the answer still is the one its sealed canonical form was made from."""
    try:
        return question.canonical(attempt.answer) == attempt.canonical
    except Exception:  # noqa: BLE001 - an answer no quiz input can give was written by hand
        return False


def _describe(question: Question, answer: Any) -> str:
    try:
        text = question.describe(answer)
    except Exception:  # noqa: BLE001 - a later try may hold anything a hand edit put there
        text = repr(answer)
    return one_line(str(text), 200)


def _verdict(question: Question, attempt: Attempt) -> str:
    if question.pending:
        return "checked when graded"
    try:
        return "correct" if question.is_correct(attempt.answer) else "not correct"
    except Exception:  # noqa: BLE001
        return "not correct"


def _unreadable() -> UnreadableAnswer:
    return UnreadableAnswer("That answer could not be read: nothing was recorded. "
                            "Run the cell again to redraw the quiz.")


class ChoiceView(QuestionView):
    """Option buttons: one choice (radio) or several (toggle buttons)."""

    def fields(self):
        return {"options": list(self.question.options)}

    @property
    def multiple(self) -> bool:
        return isinstance(self.question, MultipleSelect)

    def read(self, raw):
        options = list(self.question.options)
        if not self.multiple:
            if raw in (None, ""):
                return None
            if raw not in options:
                raise _unreadable()
            return raw
        if not isinstance(raw, list) or any(choice not in options for choice in raw):
            raise _unreadable()
        return [option for option in options if option in raw]


class NumericView(QuestionView):
    def fields(self):
        return {"unit": self.question.unit, "placeholder": "a number, e.g. 43.2"}

    def read(self, raw):
        if not isinstance(raw, str):
            raise _unreadable()
        text = raw.strip().replace(",", ".")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise UnreadableAnswer(f"'{raw.strip()[:40]}' is not a number: nothing was recorded.")
        return number


class ShortTextView(QuestionView):
    def fields(self):
        return {"placeholder": self.question.placeholder}

    def read(self, raw):
        if not isinstance(raw, str):
            raise _unreadable()
        if len(raw) > MAX_TEXT_ANSWER:
            raise UnreadableAnswer(f"Keep it short (at most {MAX_TEXT_ANSWER} characters): "
                                   "nothing was recorded.")
        return raw


class OrderingView(QuestionView):
    """Steps with Move up / Move down buttons; the list as shown is the response."""

    def fields(self):
        return {"items": list(self.question.items)}

    def read(self, raw):
        if not isinstance(raw, list) or sorted(map(str, raw)) != sorted(self.question.items):
            raise _unreadable()
        return list(raw)


class MatchingView(QuestionView):
    """One labelled drop-down per left-hand item."""

    def fields(self):
        return {"left": list(self.question.left), "right": list(self.question.right)}

    def read(self, raw):
        if not isinstance(raw, dict):
            raise _unreadable()
        right = set(self.question.right)
        pairs = {item: raw.get(item) or None for item in self.question.left}
        if any(value is not None and value not in right for value in pairs.values()):
            raise _unreadable()
        return pairs


VIEWS = {
    SingleChoice: ChoiceView,
    MultipleSelect: ChoiceView,
    Numeric: NumericView,
    ShortText: ShortTextView,
    Ordering: OrderingView,
    Matching: MatchingView,
}


# The widget shown for each (answer file, question). A quiz drawn again (its cell run again)
# closes the one before, so old widgets do not pile up in the kernel or in the widget state
# JupyterLab saves in the notebook.
_SHOWN: dict[tuple[str, str], QuizWidget] = {}


def view_for(question: Question, store: AnswerStore, service=_FROM_ENVIRONMENT) -> QuestionView:
    view = VIEWS[type(question)](question, store, service)
    previous = _SHOWN.get((str(store.path), question.qid))
    if previous is not None:
        previous.close()
    _SHOWN[(str(store.path), question.qid)] = view.box
    return view
