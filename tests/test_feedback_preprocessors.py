"""The feedback clean-up steps on a hand-made autograded notebook."""
import nbformat

from course.trainer.preprocessors import HideHiddenTests, SealQuizKeys, WidgetsAsText


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
