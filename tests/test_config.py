"""nbgrader_config.py: embedded defaults, environment overrides, answer files protected."""
import shutil

from harness import ASSIGNMENTS, REPO
from course.trainer.cohort.api import open_course
from course.trainer.grading.preprocessors import HideHiddenTests, SealQuizKeys


def course_copy(tmp_path):
    shutil.copytree(REPO / "source", tmp_path / "source")
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    return tmp_path


def test_defaults_are_sqlite_and_a_local_exchange(tmp_path, monkeypatch):
    monkeypatch.delenv("NBGRADER_DB_URL", raising=False)
    monkeypatch.delenv("NBGRADER_EXCHANGE", raising=False)
    api = open_course(course_copy(tmp_path))
    assert api.coursedir.db_url == f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert (tmp_path / ".exchange").is_dir()  # created when missing
    assert api.config.CourseDirectory.course_id == "etp-ops-academy"


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_DB_URL", "postgresql://grader@db/etp")
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "shared" / "exchange"))
    monkeypatch.setenv("ETP_CELL_TIMEOUT", "7")
    api = open_course(course_copy(tmp_path))
    assert api.coursedir.db_url == "postgresql://grader@db/etp"
    assert (tmp_path / "shared" / "exchange").is_dir()
    assert api.config.Execute.timeout == 7


def test_answer_files_are_never_overwritten_and_pipelines_are_extended(tmp_path):
    config = open_course(course_copy(tmp_path)).config
    assert config.Autograde.exclude_overwriting == {name: ["answers.json"] for name in ASSIGNMENTS}
    assert SealQuizKeys in config.GenerateAssignment.preprocessors
    assert config.GenerateFeedback.preprocessors[:2] == [HideHiddenTests, SealQuizKeys]
