"""The trainee's kernel never imports nbgrader or nbconvert through the course."""
import subprocess
import sys

TRAINEE_IMPORTS = "import course.quiz, course.quiz.widgets, course.data.traffic, course.trainer.reference.judge"


def test_trainee_side_imports_stay_light():
    probe = f"{TRAINEE_IMPORTS}; import sys; print(sorted(m for m in ('nbgrader', 'nbconvert') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
