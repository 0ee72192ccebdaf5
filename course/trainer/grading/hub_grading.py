"""Releasing and grading on JupyterHub, where the quiz service holds the answers.

Switched on in ``nbgrader_config.py`` when ``ETP_QUIZ_SERVICE_URL`` (or ``ETP_QUIZ_SERVICE_DB``)
is set, as ``deploy/jupyterhub`` does for the formgrader service:

- **Release** (``hub_assignment_preprocessors``): each quiz call of the student version loses
  every key argument (``answer``, ``key``, ``answer_from``, ``explanation``), where the local
  release seals them. The notebook holds nothing to try answers against offline; the trainee's
  widget asks the service (``course.quiz.service_client``).
- **Grading** (``ServiceAnswers``, first of the autograde steps): the answer file of the
  submission being graded is replaced by the service's record of that trainee's attempts (the
  service's times, a sealed chain), before the kernel or any check reads it. Whatever
  ``answers.json`` the trainee handed in (forged, copied from a classmate, deleted) changes no
  score; a handed-in file that differs from the record is named to the trainer. When the service
  cannot be read, the submission is not graded (never graded from the trainee's own file).
"""
from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode

from course.quiz.drill import clock_start
from course.quiz.store import ANSWER_FILE, AnswerFileError, AnswerStore
from course.trainer.grading.execute import SandboxedExecute
from course.trainer.grading.nbgrader_setup import assignment_preprocessors, autograde_preprocessors, sanitize_preprocessors
from course.trainer.grading.preprocessors import QuizCallsWithoutKeys, SealQuizKeys, without_quiz_keys
from course.trainer.grading.problems import note_problem
from course.trainer.grading.sanitize import RestoreReleasedCells, _Node

URL_ENV = "ETP_QUIZ_SERVICE_URL"
TOKEN_ENV = "ETP_QUIZ_SERVICE_TOKEN"   # else the formgrader service's own JUPYTERHUB_API_TOKEN
DB_ENV = "ETP_QUIZ_SERVICE_DB"         # read the service's SQLite file instead of its API


class QuizServiceUnavailable(RuntimeError):
    """The service's record cannot be read: the submission is not graded (one line)."""


def hub_mode(environ=None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get(URL_ENV, "").strip() or env.get(DB_ENV, "").strip())


def hub_assignment_preprocessors() -> list:
    """generate_assignment for a hub: quiz calls without any key argument instead of sealed."""
    steps = assignment_preprocessors()
    steps[steps.index(SealQuizKeys)] = QuizCallsWithoutKeys
    return steps


def hub_sanitize_preprocessors() -> list:
    """Untouched released cells are recognised in their hub form (no key argument at all)."""
    steps = sanitize_preprocessors()
    steps[steps.index(RestoreReleasedCells)] = RestoreHubReleasedCells
    return steps


def hub_released_form(source: str) -> str:
    """What a hub's generate_assignment made of a locked cell: hidden tests out, keys removed."""
    from nbgrader.preprocessors import ClearHiddenTests

    cell = _Node(cell_type="code", source=source, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return without_quiz_keys(cell["source"])


class RestoreHubReleasedCells(RestoreReleasedCells):
    """``RestoreReleasedCells`` for notebooks released on a hub."""

    def released_form(self, source: str) -> str:
        return hub_released_form(source)


def hub_autograde_preprocessors() -> list:
    """autograde for a hub: the service's record becomes the answer file before anything runs;
    after the run, each graded simulation drill is looked for among the service's runs."""
    from course.trainer.grading.hub_sim import ServiceSimRuns  # it builds on ServiceAnswers

    steps = autograde_preprocessors()
    steps.insert(steps.index(SandboxedExecute), ServiceAnswers)
    steps.insert(steps.index(SandboxedExecute) + 1, ServiceSimRuns)
    return steps


class ServiceAnswers(NbGraderPreprocessor):
    """Put the quiz service's record of the graded trainee in place of their answer file."""

    url = Unicode(help="The quiz service's URL (default: $ETP_QUIZ_SERVICE_URL)").tag(config=True)
    token = Unicode(help="A hub token with custom:etp-quiz:read-answers (default: "
                    f"${TOKEN_ENV}, else $JUPYTERHUB_API_TOKEN)").tag(config=True)
    database = Unicode(help="The service's SQLite file, read directly instead of the API "
                       f"(default: ${DB_ENV})").tag(config=True)
    timeout = Float(60.0, help="Seconds to wait for the service").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        folder = Path(resources["metadata"]["path"])
        record = self.fetch(info["assignment"], info["student"])
        differs = handed_in_differs(folder / ANSWER_FILE, record)
        if differs:
            note_problem(resources, "the answers.json handed in differs from the quiz service's "
                         f"record ({differs}); the service's record was graded")
        write_answer_file(folder / ANSWER_FILE, record)
        return nb, resources

    def fetch(self, assignment: str, student: str) -> dict:
        return self.read_service(lambda path: read_database(path, assignment, student),
                                 lambda url, token: read_api(url, token, assignment, student, self.timeout))

    def read_service(self, from_database: Callable[[Path], Any], from_api: Callable[[str, str], Any]) -> Any:
        """What ``from_database`` reads from the service's SQLite file when one is configured, else
        what ``from_api`` reads from its URL with the grader's token."""
        database = self.database or os.environ.get(DB_ENV, "")
        if database:
            return from_database(Path(database))
        url = self.url or os.environ.get(URL_ENV, "")
        token = self.token or os.environ.get(TOKEN_ENV) or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not url:
            raise QuizServiceUnavailable(f"no quiz service configured ({URL_ENV} or {DB_ENV})")
        return from_api(url, token)


def read_api(url: str, token: str, assignment: str, student: str, timeout: float = 60.0) -> dict:
    answers = service_get(url, token, f"api/answers/{urllib.parse.quote(assignment, safe='')}", student,
                          "answers", timeout).get("answers")
    if not isinstance(answers, dict):
        raise QuizServiceUnavailable("the quiz service sent a damaged record")
    return answers


def service_get(url: str, token: str, path: str, student: str, what: str, timeout: float = 60.0) -> dict:
    """The quiz service's JSON answer to ``path?user=student``, read with the grader's token;
    ``what`` names it in the errors (the answers, the simulation runs)."""
    address = f"{url.rstrip('/')}/{path}?{urllib.parse.urlencode({'user': student})}"
    request = urllib.request.Request(address, headers={"Authorization": f"token {token}",
                                                       "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        raise QuizServiceUnavailable(f"the quiz service refused the {what} of {student} "
                                     f"({err.code} {err.reason})") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise QuizServiceUnavailable(f"the quiz service cannot be read ({err})") from None
    if not isinstance(body, dict) or body.get("user") != student:
        raise QuizServiceUnavailable("the quiz service sent a damaged record")
    return body


def read_database(path: Path, assignment: str, student: str) -> dict:
    from course.trainer.hub.ledger import as_answer_file

    return as_answer_file(service_ledger(path).assignment(assignment, student))


def service_ledger(path: Path):
    """The quiz service's SQLite file, opened read-only."""
    from course.trainer.hub.ledger import Ledger

    if not path.is_file():
        raise QuizServiceUnavailable(f"the quiz service's database {path} is not there")
    return Ledger(path, read_only=True)


def write_answer_file(path: Path, record: dict) -> None:
    """The record as the submission's answer file (atomic; a link or folder there is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_dir():
        path.unlink() if path.is_symlink() else _remove_tree(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def handed_in_differs(path: Path, record: dict) -> str:
    """Which quizzes' first answers differ between the handed-in file and the record ('' if none)."""
    if not path.exists() and not path.is_symlink():
        return "no answers.json was handed in" if record.get("questions") else ""
    try:
        handed = AnswerStore(path).load()
    except AnswerFileError as err:
        return f"it cannot be read: {err}"
    handed = {qid: [t for t in tries if not clock_start(t.get("answer"))]  # the file's own marks
              for qid, tries in handed.items()}
    recorded = record.get("questions", {})
    first = lambda tries: tries[0].get("canonical") if tries else None  # noqa: E731
    differ = sorted(qid for qid in set(handed) | set(recorded)
                    if first(handed.get(qid, [])) != first(recorded.get(qid, [])))
    if not differ:
        return ""
    shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
    return f"first answers of {shown}"
