"""nbgrader preprocessors of the course.

- ``SealQuizKeys`` (generate_assignment): plain quiz answers become salted hashes.
- ``CollapseQuizCells`` (generate_assignment): a quiz cell opens with its input collapsed: the
  trainee sees the quiz, not the call that draws it.
- ``QuizCallsWithoutKeys`` (generate_feedback): each quiz call shows without its answer, key and
  explanation arguments: no hash list, no sealed text, nothing of the key.
- ``HideHiddenTests`` (generate_feedback): hidden test code leaves the feedback, as cell source
  and in tracebacks; a failed check shows only its one-line message.
- ``WidgetsAsText`` (generate_feedback): a quiz shows its one-line summary, not an empty widget.
"""
from __future__ import annotations

import ast

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from course.trainer.grading.sealing import _offsets, _quiz_calls, seal_source


class SealQuizKeys(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.source = seal_source(cell.source)
        return cell, resources


def has_quiz_call(source: str) -> bool:
    try:
        return any(True for _ in _quiz_calls(ast.parse(source)))
    except SyntaxError:
        return False  # magics or prose: no quiz call here


class CollapseQuizCells(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and has_quiz_call(cell.source):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        return cell, resources


# Keyword arguments of a quiz call that only grading needs: the key in any form, and the
# explanation (the trainee read it in the quiz when they answered).
KEY_ARGUMENTS = frozenset({"answer", "key", "answer_from", "explanation"})


def without_quiz_keys(source: str) -> str:
    """``source`` with the key arguments of every quiz call removed, the rest as written."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source  # magics or prose: no quiz call here
    offset = _offsets(source)
    cuts = []
    for call in _quiz_calls(tree):
        args = sorted(call.args + call.keywords, key=lambda node: (node.lineno, node.col_offset))
        spans = [(offset(a.lineno, a.col_offset), offset(a.end_lineno, a.end_col_offset),
                  isinstance(a, ast.keyword) and a.arg in KEY_ARGUMENTS) for a in args]
        for i, (start, end, drop) in enumerate(spans):
            if not drop:
                continue
            if any(not kept for _, _, kept in spans[i + 1:]):
                cuts.append((start, spans[i + 1][0]))  # up to the next argument, comma included
            else:
                cuts.append((spans[i - 1][1] if i else start, end))  # from the comma before it
    for start, end in sorted(_outermost(cuts), reverse=True):
        source = source[:start] + source[end:]
    return source


def _outermost(cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The cuts not inside another one (a quiz call within a removed argument)."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(cuts, key=lambda cut: (cut[0], -cut[1])):
        if kept and start < kept[-1][1]:
            kept[-1] = (kept[-1][0], max(end, kept[-1][1]))
        else:
            kept.append((start, end))
    return kept


class QuizCallsWithoutKeys(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.source = without_quiz_keys(cell.source)
        return cell, resources


class HideHiddenTests(ClearHiddenTests):
    """Feedback-time clean-up: drop hidden regions and reduce test tracebacks to one line."""

    def preprocess_cell(self, cell, resources, index):
        self._remove_hidden_test_region(cell)
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class WidgetsAsText(NbGraderPreprocessor):
    """Exported HTML has no live kernel: show a widget's plain-text form instead of a blank box."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/plain" in data:
                del data[WIDGET_VIEW]
        return cell, resources
