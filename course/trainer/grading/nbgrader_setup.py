"""The course's additions to nbgrader's pipelines, for ``nbgrader_config.py``.

Inserted into nbgrader's own default lists so that an nbgrader upgrade keeps its new steps.
"""
from __future__ import annotations

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.preprocessors import (AssignLatePenalties, ClearMarkScheme, Execute, GetGrades, OverwriteCells,
                                    SaveAutoGrades)

from course.trainer.grading.execute import SandboxedExecute
from course.trainer.cohort.feedback import RequireManualGrades
from course.trainer.grading.manual_grades import KeepManualGrades, RememberManualGrades
from course.trainer.grading.preprocessors import (CollapseQuizCells, HideHiddenTests, QuizCallsWithoutKeys, SealQuizKeys,
                            WidgetsAsText)
from course.trainer.grading.problems import RecordProblems
from course.trainer.cohort.schedule import GrantExtensions
from course.trainer.grading.sanitize import CleanText, RestoreReleasedCells


def _default(converter, trait: str) -> list:
    return list(converter.class_traits()[trait].default())


def assignment_preprocessors() -> list:
    """nbgrader's generate_assignment steps with quiz sealing after the hidden tests are gone,
    and every quiz cell's input collapsed.

    The gradebook keeps the plain source (saved earlier), which autograde restores into the
    locked quiz cells; the checksums computed after sealing match the released cells.
    """
    steps = _default(GenerateAssignment, "preprocessors")
    steps.insert(steps.index(ClearMarkScheme) + 1, SealQuizKeys)
    steps.insert(steps.index(SealQuizKeys) + 1, CollapseQuizCells)
    return steps


def sanitize_preprocessors() -> list:
    """Invalid text cleaned first; released cells restored quietly before OverwriteCells."""
    steps = _default(Autograde, "sanitize_preprocessors")
    steps.insert(steps.index(OverwriteCells), RestoreReleasedCells)
    return [CleanText] + steps


def autograde_preprocessors() -> list:
    """Execute replaced by the sandboxed one with outside verdicts; problems recorded; the
    trainer's manual grades of unchanged answers kept (``manual_grades``); extensions granted
    before the late penalty is assigned."""
    steps = _default(Autograde, "autograde_preprocessors")
    steps[steps.index(Execute)] = SandboxedExecute
    steps.insert(steps.index(SaveAutoGrades), RememberManualGrades)
    steps.insert(steps.index(SaveAutoGrades) + 1, KeepManualGrades)
    steps.insert(steps.index(KeepManualGrades) + 1, RecordProblems)
    steps.insert(steps.index(AssignLatePenalties), GrantExtensions)
    return steps


def feedback_preprocessors() -> list:
    """Hidden tests out and quiz keys sealed, no page while written answers wait for a grade,
    then each quiz call shown without its key arguments at all."""
    return [HideHiddenTests, SealQuizKeys, RequireManualGrades, QuizCallsWithoutKeys, WidgetsAsText,
            GetGrades, CSSHTMLHeaderPreprocessor]
