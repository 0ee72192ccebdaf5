"""The feedback clean-up steps on a hand-made autograded notebook."""
import nbformat

from course.trainer.grading.preprocessors import HideHiddenTests, SealQuizKeys, WidgetsAsText


def graded_cell(source, outputs):
    cell = nbformat.v4.new_code_cell(source, outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                                 "grade_id": "t", "schema_version": 3}
    return cell


def test_hidden_region_and_traceback_are_removed():
    error = nbformat.v4.new_output("error", ename="GradingError", evalue="uptime_pct: not right",
                                   traceback=["Traceback", "----> 3 expect_close('uptime', x, 99.72)"])
    cell = graded_cell("assert x > 0\n### BEGIN HIDDEN TESTS\nexpect_close('uptime', x, 99.72)\n"
                       "### END HIDDEN TESTS", [error])
    cell, _ = HideHiddenTests(enforce_metadata=False).preprocess_cell(cell, {}, 0)
    assert cell.source == "assert x > 0"
    assert cell.outputs[0]["traceback"] == ["GradingError: uptime_pct: not right"]


def test_quiz_cell_is_sealed_again():
    cell = graded_cell('quiz.short_text("q", "?", answer="status", explanation="The body says so.")', [])
    cell, _ = SealQuizKeys().preprocess_cell(cell, {}, 0)
    assert "answer=" not in cell.source and "The body says so" not in cell.source


def test_widget_output_shows_its_text():
    output = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
        "text/plain": "[quiz q] first answer: P0 (correct)"})
    cell = graded_cell("quiz...", [output])
    cell, _ = WidgetsAsText().preprocess_cell(cell, {}, 0)
    assert list(cell.outputs[0]["data"]) == ["text/plain"]


SOURCE_QUIZ = '''quiz.matching(
    "m2-response-times",
    "Match each severity with its first-response target.",
    left=["P0", "P1"],
    right=["15 minutes", "1 hour"],
    answer={"P0": "15 minutes", "P1": "1 hour"},
    explanation="Each level down gives you about four times longer.",
)
quiz.numeric("m2-count", "How many?", answer_from="m2-count", tolerance=0.5, explanation="x")'''


def test_feedback_shows_quiz_calls_without_key_arguments():
    from course.trainer.grading.preprocessors import QuizCallsWithoutKeys

    sealed = graded_cell(SOURCE_QUIZ, [])
    SealQuizKeys().preprocess_cell(sealed, {}, 0)  # what the trainee's notebook holds
    for source in (SOURCE_QUIZ, sealed.source):
        cell, _ = QuizCallsWithoutKeys().preprocess_cell(graded_cell(source, []), {}, 0)
        for hidden in ("answer", "key=", "explanation", "sealed:", "four times", "15 minutes\"}"):
            assert hidden not in cell.source, (hidden, cell.source)
        assert cell.source == ('quiz.matching(\n    "m2-response-times",\n'
                               '    "Match each severity with its first-response target.",\n'
                               '    left=["P0", "P1"],\n    right=["15 minutes", "1 hour"],\n)\n'
                               'quiz.numeric("m2-count", "How many?", tolerance=0.5)')


def test_feedback_pipeline_refuses_ungraded_work_and_drops_quiz_keys_after_sealing():
    from course.trainer.cohort.feedback import RequireManualGrades
    from course.trainer.grading.nbgrader_setup import feedback_preprocessors
    from course.trainer.grading.preprocessors import QuizCallsWithoutKeys

    steps = feedback_preprocessors()
    assert RequireManualGrades in steps
    assert steps.index(HideHiddenTests) < steps.index(SealQuizKeys) < steps.index(QuizCallsWithoutKeys)
