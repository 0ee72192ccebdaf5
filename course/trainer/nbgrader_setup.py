"""The course's additions to nbgrader's pipelines, for ``nbgrader_config.py``.

Inserted into nbgrader's own default lists so that an nbgrader upgrade keeps its new steps.
"""
from __future__ import annotations

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearMarkScheme, GetGrades

from .preprocessors import HideHiddenTests, SealQuizKeys, WidgetsAsText


def assignment_preprocessors() -> list:
    """nbgrader's generate_assignment steps with quiz sealing after the hidden tests are gone.

    The gradebook keeps the plain source (saved earlier), which autograde restores into the
    locked quiz cells; the checksums computed after sealing match the released cells.
    """
    steps = list(GenerateAssignment.class_traits()["preprocessors"].default())
    steps.insert(steps.index(ClearMarkScheme) + 1, SealQuizKeys)
    return steps


def feedback_preprocessors() -> list:
    return [HideHiddenTests, SealQuizKeys, WidgetsAsText, GetGrades, CSSHTMLHeaderPreprocessor]
