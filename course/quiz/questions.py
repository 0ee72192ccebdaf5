"""The six question types: what a response is, its canonical form, and how it is checked.

No widgets here: the same classes check a click in JupyterLab, a hidden test in autograde and
a sealed key in a released notebook. A question holds either its plain answer (trainer's source
notebook) or only the salted hashes of it (released notebook); both check the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from course.quiz import keys


class QuizDefinitionError(ValueError):
    """A quiz is written wrongly (an answer that is not an option, no key at all, ...)."""


@dataclass
class Question:
    qid: str
    prompt: str
    answer: Any = None
    key: Sequence[str] | None = None
    explanation: str = ""
    # The name of a trainer-side key function (``course.trainer.reference.quiz_keys``) for a question
    # whose answer depends on the trainee's own world: a count, a time, a day.
    answer_from: str | None = None
    kind: ClassVar[str] = "question"
    # Facts of the trainee's world a locked explanation names as ``{name}`` (``Quiz.build``).
    facts: ClassVar[dict] = {}

    def __post_init__(self):
        if self.answer is None and not self.key and not self.answer_from:
            raise QuizDefinitionError(f"quiz {self.qid!r} has neither an answer nor a key")
        self.explanation = keys.unseal_text(self.explanation or "")
        self.validate_answer()

    # -- what subclasses define --------------------------------------------------------------
    def canonical(self, response: Any) -> str | None:
        """The canonical string of a response, or None while it is incomplete."""
        raise NotImplementedError

    def accepted_responses(self) -> list[Any]:
        """Every plain answer that earns the marks (several where the key accepts several)."""
        answers = self.answer if isinstance(self.answer, (list, tuple)) else [self.answer]
        return list(answers)

    def validate_answer(self) -> None:
        """Raise QuizDefinitionError if the plain answer cannot be given with this input."""

    def describe(self, response: Any) -> str:
        return str(response)

    # -- shared behaviour ---------------------------------------------------------------------
    @property
    def has_plain_answer(self) -> bool:
        return self.answer is not None

    @property
    def pending(self) -> bool:
        """True where only the grader can say: the key comes from the trainee's own data."""
        return self.answer is None and not self.key

    def sealed_key(self) -> list[str]:
        """The salted hashes a released notebook carries instead of the plain answer."""
        if not self.has_plain_answer:
            return list(self.key or [])
        return sorted({keys.digest(self.qid, self.canonical(a)) for a in self.accepted_responses()})

    def key_canonical(self, response: Any) -> str | None:
        """The canonical form whose hash in ``key`` this response matches (None: not a right one)."""
        canonical = self.canonical(response)
        if canonical is None or self.pending or self.has_plain_answer:
            return None
        return canonical if keys.digest(self.qid, canonical) in set(self.key or []) else None

    def explanation_after(self, responses: Sequence[Any]) -> str:
        """The explanation a trainee may read after these answers: a plain one always, a locked
        one (released notebooks) once a right answer opens it."""
        if not self.explanation.startswith(keys.LOCKED_PREFIX):
            return self.explanation
        for response in responses:
            canonical = self.key_canonical(response)
            text = keys.unlock_text(self.explanation, self.qid, canonical) if canonical else None
            if text is not None:
                return text.format_map(self.facts) if self.facts else text
        return ""

    @property
    def explanation_locked(self) -> bool:
        return self.explanation.startswith(keys.LOCKED_PREFIX)

    def is_correct(self, response: Any) -> bool:
        canonical = self.canonical(response)
        if canonical is None or self.pending:
            return False
        if self.has_plain_answer:
            return canonical in {self.canonical(a) for a in self.accepted_responses()}
        return keys.digest(self.qid, canonical) in set(self.key or [])


def _check_in(qid: str, value: str, options: Sequence[str], what: str) -> None:
    if value not in options:
        raise QuizDefinitionError(f"quiz {qid!r}: {what} {value!r} is not one of {list(options)}")


@dataclass
class SingleChoice(Question):
    options: Sequence[str] = field(default_factory=list)
    kind: ClassVar[str] = "single choice"

    def validate_answer(self):
        if self.has_plain_answer:
            for answer in self.accepted_responses():
                _check_in(self.qid, answer, self.options, "answer")

    def canonical(self, response):
        return None if response in (None, "") else keys.normalise_text(response)


@dataclass
class MultipleSelect(Question):
    options: Sequence[str] = field(default_factory=list)
    kind: ClassVar[str] = "multiple select"

    def accepted_responses(self):
        return [list(self.answer)]

    def validate_answer(self):
        if self.has_plain_answer:
            for answer in self.answer:
                _check_in(self.qid, answer, self.options, "answer")

    def canonical(self, response):
        if not response:
            return None
        return "\x1f".join(sorted(keys.normalise_text(r) for r in set(response)))

    def describe(self, response):
        return ", ".join(response or []) or "(nothing selected)"


@dataclass
class Numeric(Question):
    tolerance: float = 0.0
    unit: str = ""
    kind: ClassVar[str] = "numeric"

    def canonical(self, response):
        if response is None:
            return None
        return str(round(float(response) / keys.numeric_step(self.tolerance)))

    def is_correct(self, response):
        if response is None or self.pending:
            return False
        value = float(response)
        if self.has_plain_answer:
            return any(abs(value - float(a)) <= self.tolerance + 1e-12 for a in self.accepted_responses())
        return self.key_canonical(response) is not None

    def key_canonical(self, response):
        if response is None or self.pending or self.has_plain_answer:
            return None
        value = float(response)
        step, accepted = keys.numeric_step(self.tolerance), set(self.key or [])
        return next((str(cell) for cell in keys.numeric_cells(value, self.tolerance)
                     if abs(value - cell * step) <= self.tolerance + step / 2
                     and keys.digest(self.qid, str(cell)) in accepted), None)

    def describe(self, response):
        return f"{response:g} {self.unit}".strip() if response is not None else "(no number)"


@dataclass
class ShortText(Question):
    placeholder: str = "Type your answer"
    kind: ClassVar[str] = "short text"

    def canonical(self, response):
        text = keys.normalise_text(response or "")
        return text or None


@dataclass
class Ordering(Question):
    items: Sequence[str] = field(default_factory=list)
    kind: ClassVar[str] = "ordering"

    def accepted_responses(self):
        return [list(self.answer)]

    def validate_answer(self):
        if self.has_plain_answer and sorted(self.answer) != sorted(self.items):
            raise QuizDefinitionError(f"quiz {self.qid!r}: the answer must order exactly the items")

    def canonical(self, response):
        if not response or sorted(response) != sorted(self.items):
            return None
        return "\x1f".join(keys.normalise_text(r) for r in response)

    def describe(self, response):
        return " → ".join(response or [])


@dataclass
class Matching(Question):
    left: Sequence[str] = field(default_factory=list)
    right: Sequence[str] = field(default_factory=list)
    kind: ClassVar[str] = "matching"

    def accepted_responses(self):
        return [dict(self.answer)]

    def validate_answer(self):
        if not self.has_plain_answer:
            return
        if sorted(self.answer) != sorted(self.left):
            raise QuizDefinitionError(f"quiz {self.qid!r}: the answer must pair every left item")
        for value in self.answer.values():
            _check_in(self.qid, value, self.right, "match")

    def canonical(self, response):
        if not response or any(response.get(item) in (None, "") for item in self.left):
            return None
        pairs = (f"{keys.normalise_text(k)}=>{keys.normalise_text(response[k])}" for k in self.left)
        return "\x1f".join(sorted(pairs))

    def describe(self, response):
        return "; ".join(f"{k} → {v}" for k, v in (response or {}).items())


QUESTION_TYPES = {
    "single_choice": SingleChoice,
    "multiple_select": MultipleSelect,
    "numeric": Numeric,
    "short_text": ShortText,
    "ordering": Ordering,
    "matching": Matching,
}
