"""Turn a source quiz call's plain ``answer=`` into the salted ``key=`` a trainee may see.

Only the keyword arguments' source text is replaced, so the rest of the cell keeps the author's
formatting. Quiz arguments must be literals: a key computed at run time could not be sealed.
"""
from __future__ import annotations

import ast
import json

from course.quiz import keys
from course.quiz.questions import QUESTION_TYPES


class SealingError(ValueError):
    """A quiz call in a source notebook cannot be sealed (one-line message)."""


def _quiz_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUESTION_TYPES):
            yield node


def _literal_fields(call: ast.Call) -> tuple[str, str, dict]:
    try:
        qid, prompt = (ast.literal_eval(arg) for arg in call.args[:2])
        fields = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (ValueError, TypeError, SyntaxError) as err:
        raise SealingError(f"quiz call on line {call.lineno}: arguments must be literals ({err})")
    return qid, prompt, fields


def _offsets(source: str):
    """Map (line, utf-8 column) as ast reports them to offsets in the str ``source``."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        line = lines[lineno - 1]
        return starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8"))

    return offset


def _calls_and_questions(source: str):
    """Each quiz call of ``source`` with the question its literal arguments build."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return  # magics or prose: no quiz call here
    for call in _quiz_calls(tree):
        qid, prompt, fields = _literal_fields(call)
        yield call, QUESTION_TYPES[call.func.attr](qid=qid, prompt=prompt, **fields)


def seal_source(source: str) -> str:
    """``source`` with every quiz call's answer hashed and its explanation locked: only a right
    answer opens it. A data-dependent question (no key in the notebook) keeps no explanation:
    no answer in the notebook could open it, and it would name the trainee's own key."""
    offset = _offsets(source)
    edits = []
    for call, question in _calls_and_questions(source):
        if question.key:
            continue  # already sealed
        for kw in call.keywords:
            if kw.arg == "answer":
                replacement = f"key={json.dumps(question.sealed_key())}"
            elif kw.arg == "explanation":
                replacement = f"explanation={json.dumps(_locked_explanation(question))}"
            else:
                continue
            edits.append((offset(kw.lineno, kw.col_offset),
                          offset(kw.end_lineno, kw.end_col_offset), replacement))
    for start, end, replacement in sorted(edits, reverse=True):
        source = source[:start] + replacement + source[end:]
    return source


def _locked_explanation(question) -> str:
    if not question.has_plain_answer or not question.explanation:
        return ""
    right = [question.canonical(answer) for answer in question.accepted_responses()]
    return keys.lock_text(question.explanation, question.qid, right)


def questions_in(source: str) -> list:
    """The quiz questions a cell defines, built from its literal arguments (plain or sealed)."""
    return [question for _, question in _calls_and_questions(source)]
