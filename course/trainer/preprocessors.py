"""nbgrader preprocessors of the course.

- ``SealQuizKeys`` (generate_assignment, generate_feedback): plain quiz answers become salted hashes.
- ``HideHiddenTests`` (generate_feedback): hidden test code leaves the feedback, as cell source
  and in tracebacks; a failed check shows only its one-line message.
- ``WidgetsAsText`` (generate_feedback): a quiz shows its one-line summary, not an empty widget.
"""
from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .sealing import seal_source


class SealQuizKeys(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.source = seal_source(cell.source)
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
