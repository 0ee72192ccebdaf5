"""The quiz service: a JupyterHub service that records every committed quiz answer.

    python -m course.trainer.hub.quiz_service --course-root /srv/etp-academy/course-src --data /srv/etp-academy/quiz

JupyterHub starts it (``deploy/jupyterhub/jupyterhub_config.py``) with its own environment
(``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_URL`` ...). Each
request carries a hub token (``Authorization: token ...``): a trainee's widget sends the token of
their own server, so the service knows who answers without trusting anything the trainee says.

The API, under the service's prefix (``/services/etp-quiz/``):

``GET  api/quizzes/<qid>``
    the caller's attempts at one quiz (each marked right or wrong) and, once they answered, its
    explanation. Never a key.
``POST api/quizzes/<qid>`` with ``{"response": ..., "commit": "<id>"}``
    commits one attempt: checked against the key here (the trainee's own world for a key from
    their data), recorded with the service's time; the first attempt stays the graded one. The
    widget's commit id makes a retry safe: an id already recorded returns that attempt
    (``committed``: its number), adding none. ``GET ...?commit=<id>`` asks the same question.
    A drill's clock log (``<prefix>clock``) takes its stamps the same way; they grade nothing.
``POST api/sims/<run>`` with ``{"scenario", "seed", "n", "call", "minute"}``
    records call ``n`` of a run of Module 6's simulation (``course.data.incident_sim``), as the
    trainee's ``IncidentSim`` sends each call: the run is the caller's (from the token), the time
    the service's. Sending a recorded call again is safe; a call out of order is refused (409).
``GET  api/sims/<run>``, ``GET api/sims``
    the caller's run (404 when it is not theirs), or all their runs; ``api/sims?user=<id>``
    reads a trainee's runs with the scope ``custom:etp-quiz:read-answers`` (grading).
``POST api/warm``
    computes the caller's worlds (every module's keys from their data) ahead of their first
    commit; the service also does so for every member of the trainee group and on a caller's
    first request. Returns ``{"worlds": n, "ready": m}``.
``GET  api/answers/<assignment>?user=<id>``
    grading: one trainee's attempts as an answer file (``course.quiz.store`` format, sealed, the
    service's times). Needs the scope ``custom:etp-quiz:read-answers`` (trainers, formgrader).
``GET  api/status``
    how many quizzes the service holds (any hub user or service allowed in).

Storage: SQLite in ``--data`` (0700, the service's account), see ``course.trainer.hub.ledger``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import re
import signal
import sys
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlparse

from tornado import web
from tornado.httpserver import HTTPServer

from course.data import world
from course.trainer.hub.keyring import Entry, Keyring, UnknownQuiz, world_view
from course.trainer.hub.ledger import Ledger, SimFull, SimRefused, prepare
from course.trainer.hub.worlds import AHEAD, URGENT, WorldPool, default_size

SERVICE_NAME = "etp-quiz"
READ_ANSWERS_SCOPE = "custom:etp-quiz:read-answers"
MAX_BODY_BYTES = 16_384  # an answer is a choice, a number or a few words
MAX_TEXT_ANSWER = 500     # characters, as the widget's own limit
MAX_TRIES = 200           # attempts kept per trainee and quiz; more is not practice
LOG_FIELDS = {"step", "qid", "inject_at", "decided_at", "real_seconds", "try"}  # a drill's stamp
MAX_SIM_TEXT = 4000      # characters of one argument of a simulation call (a posted message)
_COMMIT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
log = logging.getLogger("etp-quiz")
_TOKEN = re.compile(r"(?:token|bearer)\s+(\S+)", re.IGNORECASE)

Identity = Callable[[web.RequestHandler], Awaitable[dict | None]]


class QuizService:
    """Keys, storage and the world views being computed; one per process.

    ``worlds``: a ``WorldPool`` (the sandboxed workers), or an executor that runs ``world_view``
    in this process's reach (tests; a course without a hub)."""

    def __init__(self, keyring: Keyring, ledger: Ledger, worlds: WorldPool | Executor | None = None):
        self.keyring, self.ledger, self.worlds = keyring, ledger, worlds
        self._views: dict[tuple[str, int], asyncio.Future] = {}
        self._urgent: set[tuple[str, int]] = set()

    # -- worlds ---------------------------------------------------------------------------------
    async def view(self, assignment: str, seed: int) -> dict:
        """Facts and data-dependent keys of one module in one world: stored, or computed once."""
        stored = self.ledger.world_view(assignment, seed)
        if stored is not None:
            return stored
        return await asyncio.shield(self._compute(assignment, seed, URGENT))

    def _compute(self, assignment: str, seed: int, priority: int) -> asyncio.Future:
        """The future view of one world, queued once (again, sooner, when someone waits on it)."""
        key = (assignment, seed)
        future = self._views.get(key)
        if future is None:
            if isinstance(self.worlds, WorldPool):
                future = asyncio.get_running_loop().create_future()
                self.worlds.submit(assignment, seed, future, priority)
            else:
                future = asyncio.get_running_loop().run_in_executor(
                    self.worlds, world_view, self.keyring.root, assignment, seed)
            self._views[key] = future
            future.add_done_callback(lambda done: self._keep(key, done))
        elif priority == URGENT and isinstance(self.worlds, WorldPool) and key not in self._urgent:
            self._urgent.add(key)
            self.worlds.submit(assignment, seed, future, URGENT)
        return future

    def _keep(self, key: tuple[str, int], done: asyncio.Future) -> None:
        self._views.pop(key, None)
        self._urgent.discard(key)
        if done.cancelled():
            return
        if done.exception() is not None:  # the next request tries again
            log.warning("world view of %s in world %s failed: %s", *key, done.exception())
            return
        self.ledger.keep_world_view(*key, done.result())

    def warm(self, user: str, first: str | None = None) -> dict:
        """Queue every world ``user`` will need (``first``'s module first), before a commit
        waits on one. Returns how many there are and how many are ready."""
        seed = self.keyring.seed_for(user)
        assignments = sorted(self.keyring.world_assignments, key=lambda a: a != first)
        ready = 0
        for assignment in assignments:
            if self.ledger.world_view(assignment, seed) is not None:
                ready += 1
            elif isinstance(self.worlds, WorldPool):  # an executor computes only what is asked
                self._compute(assignment, seed, AHEAD)
        return {"worlds": len(assignments), "ready": ready}

    async def question(self, user: str, qid: str):
        entry = self.keyring.entry(qid)
        seed = self.keyring.seed_for(user)
        view = await self.view(entry.assignment, seed) if entry.needs_world else None
        return entry, seed, self.keyring.keyed(qid, view)

    # -- the trainee's side -------------------------------------------------------------------
    async def record(self, user: str, qid: str, warm: bool = False, commit_id: str | None = None) -> dict:
        """The caller's attempts at ``qid``; the explanation once there is one; with
        ``commit_id``, the attempt that commit was recorded as (``committed``, None if not)."""
        entry = self.keyring.entry(qid)
        attempts = self.ledger.attempts(user, qid)
        body: dict[str, Any] = {"qid": qid, "attempts": [a.public() for a in attempts], "explanation": ""}
        if commit_id is not None:
            known = self.ledger.committed(user, qid, commit_id)
            body["committed"] = None if known is None else known.n
        if warm:
            self.warm(user, first=entry.assignment)
        if attempts and not entry.is_log:
            _, _, question = await self.question(user, qid)
            body["explanation"] = question.explanation or ""
        return body

    async def commit(self, user: str, qid: str, response: Any, commit_id: str | None = None) -> dict:
        """Record one attempt; a commit id already recorded returns that attempt, adding none."""
        entry = self.keyring.entry(qid)
        if commit_id is not None and self.ledger.committed(user, qid, commit_id) is not None:
            return await self.record(user, qid, commit_id=commit_id)
        if entry.is_log:
            seed, canonical, correct = self.keyring.seed_for(user), log_entry(entry, response), False
        else:
            entry, seed, question = await self.question(user, qid)
            try:
                canonical = question.canonical(response) if well_formed(question, response) else None
            except Exception:  # noqa: BLE001 - whatever was sent is not an answer to this quiz
                canonical = None
            correct = canonical is not None and question.is_correct(response)
        if canonical is None:
            raise web.HTTPError(400, reason="not a complete answer to this quiz")
        if len(self.ledger.attempts(user, qid)) >= MAX_TRIES:
            raise web.HTTPError(429, reason=f"at most {MAX_TRIES} attempts are kept per quiz")
        self.ledger.record(user, entry.assignment, qid, response, canonical, correct, seed, commit_id)
        return await self.record(user, qid, commit_id=commit_id)

    # -- grading ----------------------------------------------------------------------------------
    def answers(self, assignment: str, user: str) -> dict:
        from course.trainer.hub.ledger import as_answer_file

        return as_answer_file(self.ledger.assignment(assignment, user))


def log_entry(entry: Entry, response: Any) -> str | None:
    """The canonical form of a drill's clock stamp (as ``course.quiz.drill`` writes it), or None
    when it is not one of this drill's stamps."""
    if not isinstance(response, dict) or set(response) - LOG_FIELDS:
        return None
    step, decided = response.get("step"), response.get("decided_at")
    if not (isinstance(step, str) and step in entry.steps and isinstance(decided, str)
            and len(decided) <= 40):
        return None
    if not all(isinstance(v, (str, int, float, type(None))) and len(str(v)) <= 100
               for v in response.values()):
        return None
    return f"{step} {decided}"


def sim_call(body: Any) -> tuple[str, int, int, list, float]:
    """(scenario, seed, n, call, minute) of a simulation call's body, or a 400 saying what is wrong."""
    from course.data.incident_scenarios import SCENARIOS
    from course.data.incident_sim import REPLAYABLE

    def number(value, low: float, high: float) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and low <= value <= high)

    def argument(value) -> bool:
        return (isinstance(value, str) and len(value) <= MAX_SIM_TEXT) or number(value, -1e6, 1e6)

    if not isinstance(body, dict) or set(body) != {"scenario", "seed", "n", "call", "minute"}:
        raise web.HTTPError(400, reason='the body is {"scenario", "seed", "n", "call", "minute"}')
    scenario, seed, n, call, minute = (body[k] for k in ("scenario", "seed", "n", "call", "minute"))
    if scenario not in SCENARIOS:
        raise web.HTTPError(400, reason=f"no scenario {str(scenario)[:40]!r}")
    if not (isinstance(seed, int) and number(seed, 0, 2**63 - 1) and isinstance(n, int) and number(n, 0, 1e6)):
        raise web.HTTPError(400, reason="seed and n are whole numbers")
    if not (isinstance(call, list) and 1 <= len(call) <= 2 and call[0] in REPLAYABLE
            and all(map(argument, call[1:]))):
        raise web.HTTPError(400, reason="a call is [name] or [name, argument] of the simulation's calls")
    if not number(minute, 0, 1e5):
        raise web.HTTPError(400, reason="minute is the simulated minute of the call")
    return scenario, seed, n, call, float(minute)


def well_formed(question, response: Any) -> bool:
    """Whether ``response`` is something the quiz's own input can send (as the widget checks)."""
    from course.quiz import questions as q

    def text(value) -> bool:
        return isinstance(value, str)

    if isinstance(question, q.SingleChoice):
        return text(response) and response in question.options
    if isinstance(question, q.MultipleSelect):
        return (isinstance(response, list) and bool(response)
                and all(text(r) and r in question.options for r in response))
    if isinstance(question, q.Numeric):
        return (isinstance(response, (int, float)) and not isinstance(response, bool)
                and math.isfinite(response))
    if isinstance(question, q.ShortText):
        return text(response) and len(response) <= MAX_TEXT_ANSWER
    if isinstance(question, q.Ordering):
        return (isinstance(response, list) and all(map(text, response))
                and sorted(response) == sorted(question.items))
    if isinstance(question, q.Matching):
        return (isinstance(response, dict) and set(response) == set(question.left)
                and all(text(v) and v in question.right for v in response.values()))
    return False


# -- HTTP -------------------------------------------------------------------------------------------
class Handler(web.RequestHandler):
    def initialize(self, service: QuizService, identify: Identity):
        self.service, self.identify = service, identify

    async def prepare(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.caller = await self.identify(self)
        if self.caller is None:
            raise web.HTTPError(403, reason="a hub token allowed to use this service is needed")

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": self._reason}))

    def answer(self, body: dict) -> None:
        self.finish(json.dumps(body, ensure_ascii=False))

    def json_body(self, what: str) -> Any:
        """The request's JSON body, at most MAX_BODY_BYTES (``what`` names it in the refusal)."""
        if len(self.request.body) > MAX_BODY_BYTES:
            raise web.HTTPError(413, reason=f"{what} is at most 16 kB")
        try:
            return json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, reason="the body is not JSON") from None

    @property
    def user(self) -> str:
        if self.caller.get("kind", "user") != "user":
            raise web.HTTPError(403, reason="only a hub user answers quizzes")
        return self.caller["name"]


def commit_id(value: Any) -> str | None:
    """A widget's id for one commit (letters, digits, - and _), or None when none was sent."""
    if value is None:
        return None
    if not isinstance(value, str) or not _COMMIT_ID.match(value):
        raise web.HTTPError(400, reason="a commit id is 8 to 64 letters, digits, - or _")
    return value


class QuizHandler(Handler):
    async def get(self, qid: str):
        try:
            self.answer(await self.service.record(self.user, qid, warm=True,
                                                  commit_id=commit_id(self.get_argument("commit", None))))
        except UnknownQuiz:
            raise web.HTTPError(404, reason=f"no quiz {qid}") from None

    async def post(self, qid: str):
        body = self.json_body("an answer")
        if not isinstance(body, dict) or "response" not in body:
            raise web.HTTPError(400, reason='the body is {"response": ..., "commit": "<id>"}')
        try:
            self.answer(await self.service.commit(self.user, qid, body["response"],
                                                  commit_id(body.get("commit"))))
        except UnknownQuiz:
            raise web.HTTPError(404, reason=f"no quiz {qid}") from None


class AnswersHandler(Handler):
    async def get(self, assignment: str):
        if READ_ANSWERS_SCOPE not in self.caller.get("scopes", []):
            raise web.HTTPError(403, reason="reading answers is for trainers and the formgrader")
        user = self.get_argument("user")
        self.answer({"assignment": assignment, "user": user,
                     "answers": self.service.answers(assignment, user)})


class SimRunHandler(Handler):
    async def get(self, run: str):
        found = self.service.ledger.sim_runs(self.user, run=run)
        if not found:
            raise web.HTTPError(404, reason=f"you have no run {run[:64]}")
        self.answer(found[0])

    async def post(self, run: str):
        body = self.json_body("a simulation call")
        scenario, seed, n, call, minute = sim_call(body)
        try:
            self.answer(self.service.ledger.record_sim_call(self.user, commit_id(run), scenario, seed, n, call, minute))
        except SimFull as err:
            raise web.HTTPError(429, reason=str(err)) from None
        except SimRefused as err:
            raise web.HTTPError(409, reason=str(err)) from None


class SimRunsHandler(Handler):
    async def get(self):
        user = self.get_argument("user", None)
        if user is None:
            user = self.user
        elif READ_ANSWERS_SCOPE not in self.caller.get("scopes", []):
            raise web.HTTPError(403, reason="reading another user's runs is for trainers and the formgrader")
        self.answer({"user": user, "runs": self.service.ledger.sim_runs(user, self.get_argument("scenario", None))})


class WarmHandler(Handler):
    async def post(self):
        """Make the caller's worlds now (their server starts: the first commit will not wait)."""
        self.answer(self.service.warm(self.user))


class StatusHandler(Handler):
    async def get(self):
        entries = self.service.keyring.entries.values()
        self.answer({"quizzes": sum(not entry.is_log for entry in entries),
                     "course_id": self.service.keyring.course_id})


def hub_identity() -> Identity:
    """Who a request comes from, asked of the hub (cached by HubAuth for a few minutes); None
    unless the token may use this service (``access:services!service=etp-quiz``)."""
    from jupyterhub.services.auth import HubAuth

    auth = HubAuth()  # configured from the JUPYTERHUB_* variables the hub gives its services

    async def identify(handler: web.RequestHandler) -> dict | None:
        match = _TOKEN.match(handler.request.headers.get("Authorization", ""))
        if not match:
            return None
        model = await auth.user_for_token(match.group(1), sync=False)
        if not model:
            return None
        if auth.access_scopes and not auth.check_scopes(auth.access_scopes, model):
            return None
        return model

    return identify


def make_app(service: QuizService, identify: Identity, prefix: str = "/") -> web.Application:
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    args = {"service": service, "identify": identify}
    return web.Application([
        (prefix + r"api/quizzes/([^/]+)", QuizHandler, args),
        (prefix + r"api/answers/([^/]+)", AnswersHandler, args),
        (prefix + r"api/sims/([^/]+)", SimRunHandler, args),
        (prefix + r"api/sims", SimRunsHandler, args),
        (prefix + r"api/warm", WarmHandler, args),
        (prefix + r"api/status", StatusHandler, args),
    ], xsrf_cookies=False)


async def warm_trainees(service: QuizService, group: str, every_s: float = 60.0) -> None:
    """Keep the worlds of every member of the hub's trainee group made ahead of time (and of
    everyone who answered before a restart): asked of the hub with the service's own token."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    api = os.environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    for user in service.ledger.users():
        service.warm(user)
    while api and token and group:
        try:
            response = await AsyncHTTPClient().fetch(
                f"{api}/groups/{group}", headers={"Authorization": f"token {token}"}, request_timeout=30)
            for user in json.loads(response.body).get("users", []):
                service.warm(str(user))
        except (HTTPClientError, OSError, ValueError) as err:
            log.warning("trainee group %s not read from the hub: %s", group, err)
        await asyncio.sleep(every_s)


async def stop_with_parent(stop: asyncio.Event, every_s: float = 1.0) -> None:
    """Stop when the process that started this one ends. The hub stops the service by signalling
    its jail's Bubblewrap, whose end a service running as another uid is not told of (the
    parent-death signal of a root parent is refused to it), so the service looks for itself."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(every_s)
    log.info("the process that started the service ended: stopping")
    stop.set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course-root", required=True, help="the course folder holding source/")
    parser.add_argument("--data", required=True, help="the service's private data folder")
    parser.add_argument("--course-id", default=os.environ.get(world.COURSE_ENV) or world.COURSE_ID)
    parser.add_argument("--variants", default=os.environ.get(world.VARIANTS_ENV, "on"),
                        help="'off': every trainee in the canonical world")
    parser.add_argument("--workers", type=int, default=0,
                        help="world workers (default: one per core and per GiB of available memory)")
    parser.add_argument("--trainee-group", default="",
                        help="the hub group whose members' worlds are made ahead of time")
    parser.add_argument("--url", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s etp-quiz] %(message)s")

    variants = args.variants.strip().lower() not in ("off", "0", "false", "no")
    keyring = Keyring(Path(args.course_root), args.course_id, variants)
    if not keyring.entries:  # an unreadable source/ looks empty: say so rather than serve nothing
        parser.error(f"no quiz found in {args.course_root}/source: is it there, readable by uid {os.getuid()}?")
    ledger = Ledger(prepare(Path(args.data)))
    pool = WorldPool(keyring.root, Path(args.data) / "world-cache", args.workers or default_size())
    service = QuizService(keyring, ledger, pool)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/etp-quiz/")
    app = make_app(service, hub_identity(), prefix)
    url = urlparse(args.url)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):  # the hub stops its services so
            loop.add_signal_handler(signum, stop.set)
        watching = asyncio.ensure_future(stop_with_parent(stop))
        pool.start()
        server = HTTPServer(app, max_body_size=MAX_BODY_BYTES * 4)
        server.listen(url.port or 80, url.hostname or "127.0.0.1")
        warming = asyncio.ensure_future(warm_trainees(service, args.trainee_group))
        log.info("%d quizzes of course %s, worlds %s; answers in %s; listening on %s%s",
                 len(keyring.entries), args.course_id, "per trainee" if variants else "canonical",
                 ledger.path, args.url, prefix)
        await stop.wait()
        server.stop()
        warming.cancel()
        watching.cancel()
        await pool.close()  # no world worker outlives the service
        log.info("stopped")

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
