"""ipywidgets views of the six question types: prompt, input, Submit, feedback.

Every input is a native button, text box or select, so Tab, Enter and Space work and each one
carries a label. A view reads the answer file when it is built, so a kernel restart or a page
reload shows the committed answer again instead of a blank quiz.
"""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from .questions import Matching, MultipleSelect, Numeric, Ordering, Question, ShortText, SingleChoice
from .store import AnswerFileError, AnswerStore, Attempt
from .style import CSS

FULL_WIDTH = w.Layout(width="100%")


class QuizBox(w.VBox):
    """The quiz container; its plain-text form is what headless runs and exported HTML show."""

    def __init__(self, summary, **kwargs):
        super().__init__(**kwargs)
        self._summary = summary

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self._summary()
        return bundle

    def __repr__(self):
        return self._summary()


class QuestionView:
    """Shared frame of every question: header, the type's input, Submit and feedback."""

    def __init__(self, question: Question, store: AnswerStore):
        self.question, self.store = question, store
        self.feedback = w.HTML(layout=FULL_WIDTH).add_class("etp-feedback")
        self.submit = w.Button(description="Submit", button_style="primary", icon="check",
                               tooltip=f"Commit your answer to {question.qid}")
        self.submit.add_class("etp-submit")
        self.submit.on_click(lambda _: self.commit())
        header = w.HTML(
            f'<div class="etp-quiz-kind">{html.escape(question.kind)} · {question.qid}</div>'
            f'<div class="etp-quiz-prompt">{html.escape(question.prompt)}</div>', layout=FULL_WIDTH)
        self.box = QuizBox(self.summary, children=[w.HTML(CSS), header, self.build_input(),
                                                   self.submit, self.feedback])
        self.box.add_class("etp-quiz")
        self.restore()

    # -- the type-specific part ----------------------------------------------------------------
    def build_input(self) -> w.Widget:
        raise NotImplementedError

    def response(self) -> Any:
        raise NotImplementedError

    def show_response(self, response: Any) -> None:
        raise NotImplementedError

    # -- committing and feedback ---------------------------------------------------------------
    def commit(self) -> Attempt | None:
        canonical = self.question.canonical(self.response())
        if canonical is None:
            self._say("etp-note", "Answer first: nothing was recorded yet.")
            return None
        correct = self.question.is_correct(self.response())
        try:
            attempt = self.store.record(self.question.qid, self.response(), canonical, correct)
        except (AnswerFileError, OSError) as err:
            self._say_error(err)
            return None
        self.render_feedback()
        return attempt

    def restore(self) -> None:
        try:
            attempts = self.store.attempts(self.question.qid)
        except AnswerFileError as err:
            self._say_error(err)
            return
        if attempts:
            self.show_response(attempts[-1].answer)
            self.render_feedback(attempts)

    def render_feedback(self, attempts: list[Attempt] | None = None) -> None:
        attempts = attempts if attempts is not None else self.store.attempts(self.question.qid)
        first, last = attempts[0], attempts[-1]
        verdict = "Correct." if first.correct else "Not correct."
        parts = [f"<b>{'✔' if first.correct else '✘'} {verdict}</b> Your first answer "
                 f"({html.escape(self.question.describe(first.answer))}) is the graded one."]
        if len(attempts) > 1:
            parts.append(f"Try {len(attempts)} ({html.escape(self.question.describe(last.answer))}) "
                         f"is {'right' if last.correct else 'still not right'}; it is kept for "
                         "practice and changes no points.")
        if self.question.explanation:
            parts.append(f'<div class="etp-explain">{html.escape(self.question.explanation)}</div>')
        self._say("etp-right" if first.correct else "etp-wrong", "<br>".join(parts), escape=False)

    def _say(self, css_class: str, text: str, escape: bool = True) -> None:
        body = html.escape(text) if escape else text
        self.feedback.value = f'<div class="{css_class}" role="status">{body}</div>'

    def _say_error(self, err: Exception) -> None:
        self.submit.disabled = True
        self._say("etp-error", f"Your answers cannot be saved: {err}. Nothing in the file was "
                  "changed or lost. Ask your trainer to look at it before you answer more quizzes.")

    def summary(self) -> str:
        """One line for headless runs and exported feedback: never the key."""
        qid = self.question.qid
        try:
            first = self.store.first(qid)
        except AnswerFileError as err:
            return f"[quiz {qid}] answer file problem: {err}"
        if first is None:
            return f"[quiz {qid}] {self.question.prompt} (no answer committed yet)"
        verdict = "correct" if first.correct else "not correct"
        return f"[quiz {qid}] first answer: {self.question.describe(first.answer)} ({verdict})"


class ChoiceView(QuestionView):
    """Large option buttons; one selection (single choice) or several (multiple select)."""

    def build_input(self):
        self.selected: list[str] = []
        self.buttons = {}
        for option in self.question.options:
            button = w.Button(description=option, tooltip=option, layout=FULL_WIDTH,
                              icon="square" if self.multiple else "circle")
            button.add_class("etp-option")
            button.on_click(lambda _, o=option: self.toggle(o))
            self.buttons[option] = button
        return w.VBox(list(self.buttons.values()), layout=FULL_WIDTH)

    @property
    def multiple(self) -> bool:
        return isinstance(self.question, MultipleSelect)

    def toggle(self, option: str) -> None:
        if not self.multiple:
            self.selected = [option]
        elif option in self.selected:
            self.selected.remove(option)
        else:
            self.selected.append(option)
        for name, button in self.buttons.items():
            chosen = name in self.selected
            (button.add_class if chosen else button.remove_class)("etp-selected")
            button.icon = ("check-square" if chosen else "square") if self.multiple else (
                "dot-circle" if chosen else "circle")

    def response(self):
        if self.multiple:
            return [o for o in self.question.options if o in self.selected]
        return self.selected[0] if self.selected else None

    def show_response(self, response):
        self.selected = []
        for option in response if self.multiple else [response]:
            if option in self.buttons:
                self.toggle(option)


class NumericView(QuestionView):
    def build_input(self):
        self.text = w.Text(placeholder="a number, e.g. 43.2", description="Your answer",
                           style={"description_width": "initial"})
        unit = w.HTML(html.escape(self.question.unit))
        return w.HBox([self.text, unit])

    def response(self):
        raw = self.text.value.strip().replace(",", ".")
        try:
            return float(raw) if raw else None
        except ValueError:
            return None

    def show_response(self, response):
        self.text.value = f"{response:g}"

    def commit(self):
        if self.text.value.strip() and self.response() is None:
            self._say("etp-note", f"'{self.text.value}' is not a number: nothing was recorded.")
            return None
        return super().commit()


class ShortTextView(QuestionView):
    def build_input(self):
        self.text = w.Text(placeholder=self.question.placeholder, description="Your answer",
                           style={"description_width": "initial"}, layout=w.Layout(width="70%"))
        return self.text

    def response(self):
        return self.text.value

    def show_response(self, response):
        self.text.value = response or ""


class OrderingView(QuestionView):
    """Steps with up/down buttons; the list as shown is the response.

    The rows stay put and only their labels change, so a quick second click never lands on a
    row that a redraw is replacing.
    """

    def build_input(self):
        self.order = list(self.question.items)
        self.rows = [self._row(i) for i in range(len(self.order))]
        self.redraw()
        return w.VBox([row for row, _, _, _ in self.rows], layout=FULL_WIDTH)

    def _row(self, index: int):
        label = w.HTML().add_class("etp-order-label")
        up = w.Button(icon="arrow-up", disabled=index == 0)
        down = w.Button(icon="arrow-down", disabled=index == len(self.order) - 1)
        up.on_click(lambda _: self.move(index, -1))
        down.on_click(lambda _: self.move(index, +1))
        return w.HBox([label, up, down], layout=FULL_WIDTH).add_class("etp-order-row"), label, up, down

    def redraw(self):
        for index, (_, label, up, down) in enumerate(self.rows):
            item = self.order[index]
            label.value = f"<b>{index + 1}.</b> {html.escape(item)}"
            up.tooltip, down.tooltip = f"Move '{item}' up", f"Move '{item}' down"

    def move(self, index: int, offset: int) -> None:
        target = index + offset
        if 0 <= target < len(self.order):
            self.order[index], self.order[target] = self.order[target], self.order[index]
            self.redraw()

    def response(self):
        return list(self.order)

    def show_response(self, response):
        if sorted(response or []) == sorted(self.question.items):
            self.order = list(response)
            self.redraw()


class MatchingView(QuestionView):
    """One labelled drop-down per left-hand item."""

    def build_input(self):
        choices = [("— choose —", None)] + [(r, r) for r in self.question.right]
        self.selects = {
            item: w.Dropdown(options=choices, value=None, description=item,
                             style={"description_width": "45%"}, layout=FULL_WIDTH)
            for item in self.question.left
        }
        return w.VBox(list(self.selects.values()), layout=FULL_WIDTH)

    def response(self):
        return {item: select.value for item, select in self.selects.items()}

    def show_response(self, response):
        for item, value in (response or {}).items():
            if item in self.selects and value in self.question.right:
                self.selects[item].value = value


VIEWS = {
    SingleChoice: ChoiceView,
    MultipleSelect: ChoiceView,
    Numeric: NumericView,
    ShortText: ShortTextView,
    Ordering: OrderingView,
    Matching: MatchingView,
}


def view_for(question: Question, store: AnswerStore) -> QuestionView:
    return VIEWS[type(question)](question, store)
