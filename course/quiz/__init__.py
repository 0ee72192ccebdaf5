"""The widget quiz engine. Trainee-side: imports only ipywidgets, anywidget and IPython,
never nbgrader.

    from course.quiz import Quiz
    quiz = Quiz()
    quiz.single_choice("2.1-login", "Users cannot log in at all. Severity?",
                       options=["P0", "P1", "P2", "P3"], answer=["P0", "P1"],
                       explanation="...")
"""
from course.quiz.book import Quiz
from course.quiz.questions import QUESTION_TYPES, QuizDefinitionError
from course.quiz.store import ANSWER_FILE, AnswerFileError, AnswerStore

__all__ = ["Quiz", "Drill", "QUESTION_TYPES", "QuizDefinitionError", "ANSWER_FILE", "AnswerFileError",
           "AnswerStore"]


def __getattr__(name: str):
    """``Drill`` (an incident drill, ``course.quiz.drill``) is imported when first asked for: its
    widget libraries stay out of a kernel that only shows quizzes."""
    if name == "Drill":
        from course.quiz.drill import Drill

        return Drill
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
