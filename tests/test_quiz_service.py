"""The hub's quiz service without a hub: its keys, storage, HTTP API and rules, the widget's service
mode and the client, the hub release (no key in the notebook) and the grading hook that takes quiz
answers from the service. Hub tokens are stood in for by a table (the live hub test uses real ones)."""
import html
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course.data import world
from course.trainer.hub.keyring import Keyring
from course.trainer.hub.ledger import Ledger, as_answer_file, prepare
from course.trainer.hub.quiz_service import READ_ANSWERS_SCOPE, QuizService, make_app
from course.quiz import Quiz, widgets
from course.quiz.questions import SingleChoice
from course.quiz.service_client import SERVICE_KEY, QuizService as Client, ServiceError
from course.quiz.store import AnswerStore
from course.trainer.reference import quiz_keys
from course.trainer.grading import hub_grading
from course.trainer.grading.preprocessors import QuizCallsWithoutKeys, SealQuizKeys
from course.trainer.grading.sealing import questions_in
from service_thread import call, serving

REPO = Path(__file__).resolve().parents[1]
PREFIX = "/services/etp-quiz/"
TOKENS = {
    "tok-alice": {"kind": "user", "name": "alice", "scopes": ["access:services!service=etp-quiz"]},
    "tok-bob": {"kind": "user", "name": "bob", "scopes": ["access:services!service=etp-quiz"]},
    "tok-dave": {"kind": "user", "name": "dave", "scopes": ["access:services!service=etp-quiz"]},
    "tok-trainer": {"kind": "user", "name": "trainer",
                    "scopes": ["access:services!service=etp-quiz", READ_ANSWERS_SCOPE]},
    "tok-formgrader": {"kind": "service", "name": "etp-ops-academy",
                       "scopes": ["access:services!service=etp-quiz", READ_ANSWERS_SCOPE]},
}


async def table_identity(handler):
    header = handler.request.headers.get("Authorization", "")
    return dict(TOKENS[header[6:]]) if header.startswith("token ") and header[6:] in TOKENS else None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service's app on a loopback port, in a thread of its own: (base URL, QuizService)."""
    folder = tmp_path_factory.mktemp("quiz-service")
    service = QuizService(Keyring(REPO, world.COURSE_ID, variants=True), Ledger(prepare(folder / "data")),
                          ThreadPoolExecutor(max_workers=1))
    with serving(lambda: make_app(service, table_identity, PREFIX)) as port:
        yield f"http://127.0.0.1:{port}{PREFIX}", service
    service.worlds.shutdown()


def test_keyring_holds_every_quiz_of_the_course_once():
    keyring = Keyring(REPO)
    sources = {q.qid for path in (REPO / "source").glob("*/*.ipynb")
               for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
               for q in questions_in(cell.source)}
    quizzes = {qid for qid, entry in keyring.entries.items() if not entry.is_log}
    assert quizzes == sources and len(sources) > 50
    clock = keyring.entry("m6-ex61-clock")  # the drill's log: stamps of its decisions only
    assert clock.is_log and "acknowledge" in clock.steps and not clock.needs_world
    login = keyring.entry("m2-ex21-login")
    assert login.assignment == "m2_sla_severity" and login.question.answer == ["P0", "P1"]
    assert not login.needs_world and keyring.entry("m2-llm-bad-day").needs_world
    assert keyring.seed_for("alice") == world.seed_for("alice", world.COURSE_ID)
    assert Keyring(REPO, variants=False).seed_for("alice") == world.CANONICAL_SEED


def test_a_commit_is_judged_recorded_and_the_first_stays_graded(server):
    url, service = server
    quiz = url + "api/quizzes/m2-ex21-pdf"
    status, before = call(quiz, "tok-alice")
    assert status == 200 and before == {"qid": "m2-ex21-pdf", "attempts": [], "explanation": ""}
    status, first = call(quiz, "tok-alice", {"response": "P0", "time": "1999-01-01T00:00:00"})
    assert status == 200 and [a["correct"] for a in first["attempts"]] == [False]
    assert first["explanation"]  # shown once answered, as the local widget does
    assert first["attempts"][0]["time"].startswith("20") and "1999" not in json.dumps(first)
    status, second = call(quiz, "tok-alice", {"response": "P2"})
    assert [(a["n"], a["answer"], a["correct"]) for a in second["attempts"]] == [(1, "P0", False), (2, "P2", True)]
    # what the grader reads: the first attempt (wrong) is the graded one, sealed with the service's times
    status, graded = call(url + "api/answers/m2_sla_severity?user=alice", "tok-trainer")
    assert status == 200
    store_path = Path(service.ledger.path).parent / "alice-answers.json"
    store_path.write_text(json.dumps(graded["answers"]))
    store = AnswerStore(store_path)
    assert store.first("m2-ex21-pdf").answer == "P0" and not store.tampered("m2-ex21-pdf")
    assert store.worlds() == [world.seed_for("alice", world.COURSE_ID)]


def test_callers_see_only_their_own_answers_and_never_a_key(server):
    url, _ = server
    call(url + "api/quizzes/m2-ex21-typo", "tok-bob", {"response": "P1"})
    status, alice = call(url + "api/quizzes/m2-ex21-typo", "tok-alice")
    assert status == 200 and alice["attempts"] == []
    status, bob = call(url + "api/quizzes/m2-ex21-typo", "tok-bob")
    assert [a["answer"] for a in bob["attempts"]] == ["P1"] and not bob["attempts"][0]["correct"]
    assert set(bob) == {"qid", "attempts", "explanation"}
    assert set(bob["attempts"][0]) == {"n", "answer", "canonical", "correct", "time"}
    for token in ("tok-alice", "tok-bob", None, "forged"):  # a trainee cannot read the cohort's answers
        assert call(url + "api/answers/m2_sla_severity?user=bob", token)[0] == 403
    assert call(url + "api/quizzes/m2-ex21-typo", None)[0] == 403
    assert call(url + "api/quizzes/m2-ex21-typo", "forged", {"response": "P3"})[0] == 403
    assert call(url + "api/quizzes/m2-ex21-typo", "tok-formgrader", {"response": "P3"})[0] == 403
    status, record = call(url + "api/answers/m2_sla_severity?user=bob", "tok-formgrader")
    assert status == 200 and list(record["answers"]["questions"]) == ["m2-ex21-typo"]


def test_what_is_not_an_answer_is_refused_and_not_recorded(server):
    url, service = server
    quiz = url + "api/quizzes/m2-ex21-pool"
    assert call(quiz, "tok-alice", {"response": None})[0] == 400
    assert call(quiz, "tok-alice", {"response": {"not": "a choice"}})[0] == 400
    assert call(quiz, "tok-alice", b"not json")[0] == 400
    assert call(quiz, "tok-alice", {"answer": "P0"})[0] == 400
    assert call(quiz, "tok-alice", {"response": "P0" * 10_000})[0] == 413
    assert call(url + "api/quizzes/no-such-quiz", "tok-alice", {"response": "P0"})[0] == 404
    assert service.ledger.attempts("alice", "m2-ex21-pool") == []


def test_two_submits_at_once_make_one_first_attempt(server):
    url, service = server
    quiz = url + "api/quizzes/m2-budget-995"
    threads = [threading.Thread(target=call, args=(quiz, "tok-bob", {"response": value}))
               for value in (223.2, 1.0, 2.0, 3.0, 4.0, 5.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    attempts = service.ledger.attempts("bob", "m2-budget-995")
    assert sorted(a.n for a in attempts) == [1, 2, 3, 4, 5, 6]


def test_a_key_from_the_trainees_data_is_computed_in_their_own_world(server):
    url, _ = server
    keys = {}
    for name in ("alice", "dave"):
        with world.using(world.seed_for(name, world.COURSE_ID)):
            keys[name] = quiz_keys.answer("slow_llm_day")
    assert keys["alice"] != keys["dave"], "two trainees whose bad days differ"
    quiz = url + "api/quizzes/m2-llm-bad-day"
    status, alice = call(quiz, "tok-alice", {"response": keys["alice"]})
    assert status == 200 and alice["attempts"][0]["correct"]
    status, dave = call(quiz, "tok-dave", {"response": keys["alice"]})  # a classmate's day is wrong here
    assert status == 200 and not dave["attempts"][0]["correct"]
    status, dave = call(quiz, "tok-dave", {"response": keys["dave"]})
    assert [a["correct"] for a in dave["attempts"]] == [False, True]


def test_ledger_keeps_the_first_attempt_and_seals_it_for_grading(tmp_path):
    ledger = Ledger(prepare(tmp_path / "data"))
    assert oct((tmp_path / "data").stat().st_mode)[-3:] == "700"
    ledger.record("carol", "m2_sla_severity", "m2-ex21-login", "P3", "p3", False, 7)
    ledger.record("carol", "m2_sla_severity", "m2-ex21-login", "P1", "p1", True, 7)
    record = as_answer_file(ledger.assignment("m2_sla_severity", "carol"))
    assert record["worlds"] == [7] and [t["answer"] for t in record["questions"]["m2-ex21-login"]] == ["P3", "P1"]
    reader = Ledger(ledger.path, read_only=True)
    assert [a.n for a in reader.attempts("carol", "m2-ex21-login")] == [1, 2]


# -- the widget's service mode ------------------------------------------------------------------
SOURCE_CELL = ('quiz.single_choice("m2-ex21-login", "Users cannot log in at all. Severity?",\n'
               '                   options=["P0", "P1", "P2", "P3"], answer=["P0", "P1"],\n'
               '                   explanation="Login is the way in: P0 or P1.")\n')


def test_hub_release_keeps_no_key_and_the_widget_asks_the_service(server, tmp_path):
    url, _ = server
    released = QuizCallsWithoutKeys().preprocess_cell(
        nbformat.v4.new_code_cell(SOURCE_CELL), {}, 0)[0].source
    for word in ("answer", "key=", "explanation", "P0\", \"P1\"]", "Login is the way in"):
        assert word not in released.replace('options=["P0", "P1", "P2", "P3"]', "")
    assert SealQuizKeys in hub_grading.assignment_preprocessors()
    assert QuizCallsWithoutKeys in hub_grading.hub_assignment_preprocessors()
    assert SealQuizKeys not in hub_grading.hub_assignment_preprocessors()

    client = Client(url, "tok-alice")
    quiz = Quiz(tmp_path / "answers.json", service=client)
    namespace = {"quiz": quiz}
    exec(released, namespace)  # noqa: S102 - the released cell, as the trainee's kernel runs it
    question = quiz.questions["m2-ex21-login"]
    assert question.answer is None and not question.key and question.answer_from == SERVICE_KEY
    view = widgets._SHOWN[(str(quiz.store.path), "m2-ex21-login")]
    view._handle_message(view, {"event": "submit", "response": "P2"}, [])
    assert view.verdict == "wrong" and "Not correct" in view.feedback
    explained = Keyring(REPO).entry("m2-ex21-login").question.explanation
    assert html.escape(explained) in view.feedback  # the service's, from the source notebook
    view._handle_message(view, {"event": "submit", "response": "P1"}, [])
    assert view.verdict == "right" and "Not correct" in view.feedback  # the first one is graded
    local = AnswerStore(tmp_path / "answers.json")
    assert [(a.answer, a.correct) for a in local.attempts("m2-ex21-login")] == [("P2", False), ("P1", True)]
    assert "first answer: P2 (not correct)" in repr(view) and "try 2: P1 (correct" in repr(view)
    # a re-run shows what the service holds, even when the local copy is gone
    (tmp_path / "answers.json").unlink()
    again = Quiz(tmp_path / "answers.json", service=client)
    exec(released, {"quiz": again})  # noqa: S102
    shown = widgets._SHOWN[(str(again.store.path), "m2-ex21-login")]
    assert shown.response == "P1" and shown.verdict == "right" and "Not correct" in shown.feedback


def test_without_the_service_a_hub_release_records_nothing(tmp_path):
    quiz = Quiz(tmp_path / "answers.json", service=None)
    quiz.single_choice("m2-ex21-login", "Severity?", options=["P0", "P1"])
    view = widgets._SHOWN[(str(quiz.store.path), "m2-ex21-login")]
    assert view.locked and "quiz service" in view.feedback
    assert not (tmp_path / "answers.json").exists()


def test_an_unreachable_service_records_nothing_and_says_so(tmp_path):
    question = SingleChoice(qid="sev", prompt="Severity?", options=["P0", "P1"], answer_from=SERVICE_KEY)
    client = Client("http://127.0.0.1:9/services/etp-quiz/", "tok", timeout=2)
    with pytest.raises(ServiceError, match="cannot be reached"):
        client.commit("sev", "P0")
    view = widgets.view_for(question, AnswerStore(tmp_path / "answers.json"), client)
    assert view.submit("P0") is None and "not recorded" in view.box.feedback
    assert not (tmp_path / "answers.json").exists()


# -- grading on a hub ----------------------------------------------------------------------------
def forged_file(path: Path) -> None:
    """A trainee's answers.json rewritten consistently: every first answer right, seals valid."""
    path.unlink(missing_ok=True)
    store = AnswerStore(path)
    for qid, answer in (("m2-ex21-pdf", "P2"), ("m2-ex21-pool", "P0")):
        store.record(qid, answer, answer.lower(), True)


def test_grading_takes_the_services_record_not_the_handed_in_file(server, tmp_path):
    url, _ = server
    call(url + "api/quizzes/m2-ex21-pdf", "tok-bob", {"response": "P0"})
    folder = tmp_path / "autograded" / "bob" / "m2_sla_severity"
    folder.mkdir(parents=True)
    forged_file(folder / "answers.json")
    resources = {"nbgrader": {"student": "bob", "assignment": "m2_sla_severity",
                              "notebook": "m2_sla_severity"}, "metadata": {"path": str(folder)}}
    step = hub_grading.ServiceAnswers(url=url, token="tok-trainer")
    step.preprocess(nbformat.v4.new_notebook(), resources)
    graded = AnswerStore(folder / "answers.json")
    assert graded.first("m2-ex21-pdf").answer == "P0" and not graded.first("m2-ex21-pdf").correct
    assert graded.attempts("m2-ex21-pool") == []
    assert any("differs from the quiz service's record" in p and "m2-ex21-pdf" in p
               for p in resources["etp_problems"])
    # a trainee's token cannot read the record, and then nothing is graded from the file
    with pytest.raises(hub_grading.QuizServiceUnavailable, match="403"):
        hub_grading.ServiceAnswers(url=url, token="tok-bob").preprocess(nbformat.v4.new_notebook(), resources)
    with pytest.raises(hub_grading.QuizServiceUnavailable, match="cannot be read"):
        hub_grading.ServiceAnswers(url="http://127.0.0.1:9/", token="x", timeout=2).fetch("m2_sla_severity", "bob")


def test_grading_can_read_the_services_database_directly(server, tmp_path):
    _, service = server
    record = hub_grading.ServiceAnswers(database=str(service.ledger.path)).fetch("m2_sla_severity", "alice")
    assert record["questions"]["m2-ex21-pdf"][0]["answer"] == "P0"
    assert hub_grading.handed_in_differs(tmp_path / "answers.json", record) == "no answers.json was handed in"


def test_hub_mode_is_switched_on_by_the_service_settings():
    assert not hub_grading.hub_mode({})
    assert hub_grading.hub_mode({"ETP_QUIZ_SERVICE_URL": "http://127.0.0.1:8000/services/etp-quiz/"})
    steps = hub_grading.hub_autograde_preprocessors()
    assert steps.index(hub_grading.ServiceAnswers) == steps.index(hub_grading.SandboxedExecute) - 1
