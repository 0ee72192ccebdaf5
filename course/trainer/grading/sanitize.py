"""Sanitize steps of autograde that run before nbgrader's own ``OverwriteCells``.

- ``CleanText``: a lone surrogate (``"\\ud800"``) anywhere in a notebook makes it unwritable as
  UTF-8 and nbgrader drops the whole submission; replace it and tell the trainer.
- ``RestoreReleasedCells``: a locked cell submitted exactly as it was released gets its source
  back from the gradebook quietly. nbgrader's checksum warning is then left for real edits: a
  released cell lacks its hidden tests and plain quiz keys, so without this step every untouched
  notebook raised the "checksum has changed" warning for each of them.
"""
from __future__ import annotations

import copy

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from course.trainer.grading.sealing import seal_source

PROBLEMS_KEY = "etp_problems"  # notebook metadata carrying sanitize problems to the autograde pass


def clean_text(value):
    """``value`` with every lone surrogate in its strings replaced; (value, changed)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value, False
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), True
    if isinstance(value, list):
        pairs = [clean_text(v) for v in value]
        return type(value)(v for v, _ in pairs), any(c for _, c in pairs)
    if isinstance(value, dict):
        changed = False
        for key in list(value):
            value[key], was = clean_text(value[key])
            changed |= was
        return value, changed
    return value, False


class CleanText(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        nb, changed = clean_text(nb)
        if changed:
            nb.metadata.setdefault(PROBLEMS_KEY, []).append(
                "the notebook held text that is not valid Unicode (replaced with \ufffd)")
        return nb, resources


def released_form(source: str) -> str:
    """What generate_assignment made of a locked cell's source: hidden tests out, keys sealed."""
    cell = _Node(cell_type="code", source=source, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return seal_source(cell["source"])


class _Node(dict):
    """The attribute access ClearHiddenTests expects of a notebook cell."""

    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value


class RestoreReleasedCells(NbGraderPreprocessor):
    def released_form(self, source: str) -> str:
        """How a locked cell of this source reads in the release (sealed quizzes, no hidden tests)."""
        return released_form(source)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id is None:
                    continue
                try:
                    source = gb.find_source_cell(grade_id, info["notebook"], info["assignment"])
                except MissingEntry:
                    continue
                if source.locked and cell.source == self.released_form(source.source):
                    cell.source = copy.copy(source.source)
        return nb, resources
