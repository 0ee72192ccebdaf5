"""The quiz service: a JupyterHub service that records every committed quiz answer.

    python -m course.hub.quiz_service --course-root /srv/etp-academy/course-src --data /srv/etp-academy/quiz

JupyterHub starts it (``deploy/jupyterhub/jupyterhub_config.py``) with its own environment
(``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_URL`` ...). Each
request carries a hub token (``Authorization: token ...``): a trainee's widget sends the token of
their own server, so the service knows who answers without trusting anything the trainee says.

The API, under the service's prefix (``/services/etp-quiz/``):

``GET  api/quizzes/<qid>``
    the caller's attempts at one quiz (each marked right or wrong) and, once they answered, its
    explanation. Never a key.
``POST api/quizzes/<qid>`` with ``{"response": ...}``
    commits one attempt: checked against the key here (the trainee's own world for a key from
    their data), recorded with the service's time; the first attempt stays the graded one.
``GET  api/answers/<assignment>?user=<id>``
    grading: one trainee's attempts as an answer file (``course.quiz.store`` format, sealed, the
    service's times). Needs the scope ``custom:etp-quiz:read-answers`` (trainers, formgrader).
``GET  api/status``
    how many quizzes the service holds (any hub user or service allowed in).

Storage: SQLite in ``--data`` (0700, the service's account), see ``course.hub.ledger``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import multiprocessing
import os
import re
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlparse

from tornado import web
from tornado.httpserver import HTTPServer

from ..data import world
from .keyring import Keyring, UnknownQuiz, world_view
from .ledger import Ledger, prepare

SERVICE_NAME = "etp-quiz"
READ_ANSWERS_SCOPE = "custom:etp-quiz:read-answers"
MAX_BODY_BYTES = 16_384  # an answer is a choice, a number or a few words
MAX_TEXT_ANSWER = 500     # characters, as the widget's own limit
MAX_TRIES = 200           # attempts kept per trainee and quiz; more is not practice
log = logging.getLogger("etp-quiz")
_TOKEN = re.compile(r"(?:token|bearer)\s+(\S+)", re.IGNORECASE)

Identity = Callable[[web.RequestHandler], Awaitable[dict | None]]


class QuizService:
    """Keys, storage and the world views being computed; one per process."""

    def __init__(self, keyring: Keyring, ledger: Ledger, executor: Executor | None = None):
        self.keyring, self.ledger = keyring, ledger
        self.executor = executor
        self._views: dict[tuple[str, int], asyncio.Future] = {}

    # -- worlds ---------------------------------------------------------------------------------
    async def view(self, assignment: str, seed: int) -> dict:
        """Facts and data-dependent keys of one module in one world: stored, or computed once."""
        stored = self.ledger.world_view(assignment, seed)
        if stored is not None:
            return stored
        key = (assignment, seed)
        if key not in self._views:
            loop = asyncio.get_running_loop()
            self._views[key] = loop.run_in_executor(self.executor, world_view, self.keyring.root,
                                                    assignment, seed)
        try:
            view = await asyncio.shield(self._views[key])
        except Exception:
            self._views.pop(key, None)  # the next request tries again
            raise
        self.ledger.keep_world_view(assignment, seed, view)
        self._views.pop(key, None)
        return view

    def warm(self, assignment: str, seed: int) -> None:
        """Start computing a world view in the background (a quiz was shown: a commit follows)."""
        if self.ledger.world_view(assignment, seed) is None and (assignment, seed) not in self._views:
            task = asyncio.ensure_future(self.view(assignment, seed))

            def report(done: asyncio.Future) -> None:
                if not done.cancelled() and done.exception() is not None:
                    log.warning("world view of %s in world %s failed: %s", assignment, seed,
                                done.exception())

            task.add_done_callback(report)

    async def question(self, user: str, qid: str):
        entry = self.keyring.entry(qid)
        seed = self.keyring.seed_for(user)
        view = await self.view(entry.assignment, seed) if entry.needs_world else None
        return entry, seed, self.keyring.keyed(qid, view)

    # -- the trainee's side -------------------------------------------------------------------
    async def record(self, user: str, qid: str, warm: bool = False) -> dict:
        """The caller's attempts at ``qid``; the explanation once there is one."""
        entry = self.keyring.entry(qid)
        attempts = self.ledger.attempts(user, qid)
        if not attempts:
            if warm and entry.needs_world:
                self.warm(entry.assignment, self.keyring.seed_for(user))
            return {"qid": qid, "attempts": [], "explanation": ""}
        _, _, question = await self.question(user, qid)
        return {"qid": qid, "attempts": [a.public() for a in attempts],
                "explanation": question.explanation or ""}

    async def commit(self, user: str, qid: str, response: Any) -> dict:
        entry, seed, question = await self.question(user, qid)
        try:
            canonical = question.canonical(response) if well_formed(question, response) else None
        except Exception:  # noqa: BLE001 - whatever was sent is not an answer to this quiz
            canonical = None
        if canonical is None:
            raise web.HTTPError(400, reason="not a complete answer to this quiz")
        if len(self.ledger.attempts(user, qid)) >= MAX_TRIES:
            raise web.HTTPError(429, reason=f"at most {MAX_TRIES} attempts are kept per quiz")
        correct = question.is_correct(response)
        self.ledger.record(user, entry.assignment, qid, response, canonical, correct, seed)
        return await self.record(user, qid)

    # -- grading ----------------------------------------------------------------------------------
    def answers(self, assignment: str, user: str) -> dict:
        from .ledger import as_answer_file

        return as_answer_file(self.ledger.assignment(assignment, user))


def well_formed(question, response: Any) -> bool:
    """Whether ``response`` is something the quiz's own input can send (as the widget checks)."""
    from ..quiz import questions as q

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

    @property
    def user(self) -> str:
        if self.caller.get("kind", "user") != "user":
            raise web.HTTPError(403, reason="only a hub user answers quizzes")
        return self.caller["name"]


class QuizHandler(Handler):
    async def get(self, qid: str):
        try:
            self.answer(await self.service.record(self.user, qid, warm=True))
        except UnknownQuiz:
            raise web.HTTPError(404, reason=f"no quiz {qid}") from None

    async def post(self, qid: str):
        if len(self.request.body) > MAX_BODY_BYTES:
            raise web.HTTPError(413, reason="an answer is at most 16 kB")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, reason="the body is not JSON") from None
        if not isinstance(body, dict) or "response" not in body:
            raise web.HTTPError(400, reason='the body is {"response": ...}')
        try:
            self.answer(await self.service.commit(self.user, qid, body["response"]))
        except UnknownQuiz:
            raise web.HTTPError(404, reason=f"no quiz {qid}") from None


class AnswersHandler(Handler):
    async def get(self, assignment: str):
        if READ_ANSWERS_SCOPE not in self.caller.get("scopes", []):
            raise web.HTTPError(403, reason="reading answers is for trainers and the formgrader")
        user = self.get_argument("user")
        self.answer({"assignment": assignment, "user": user,
                     "answers": self.service.answers(assignment, user)})


class StatusHandler(Handler):
    async def get(self):
        self.answer({"quizzes": len(self.service.keyring.entries), "course_id": self.service.keyring.course_id})


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
        (prefix + r"api/status", StatusHandler, args),
    ], xsrf_cookies=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course-root", required=True, help="the course folder holding source/")
    parser.add_argument("--data", required=True, help="the service's private data folder")
    parser.add_argument("--course-id", default=os.environ.get(world.COURSE_ENV) or world.COURSE_ID)
    parser.add_argument("--variants", default=os.environ.get(world.VARIANTS_ENV, "on"),
                        help="'off': every trainee in the canonical world")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes computing trainees' worlds (each holds a world's data)")
    parser.add_argument("--url", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s etp-quiz] %(message)s")

    variants = args.variants.strip().lower() not in ("off", "0", "false", "no")
    keyring = Keyring(Path(args.course_root), args.course_id, variants)
    if not keyring.entries:  # an unreadable source/ looks empty: say so rather than serve nothing
        parser.error(f"no quiz found in {args.course_root}/source: is it there, readable by uid {os.getuid()}?")
    ledger = Ledger(prepare(Path(args.data)))
    os.environ.setdefault("ETP_ACADEMY_DATA", str(Path(args.data) / "data-cache"))
    executor = ProcessPoolExecutor(max_workers=args.workers, mp_context=multiprocessing.get_context("spawn"))
    service = QuizService(keyring, ledger, executor)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/etp-quiz/")
    app = make_app(service, hub_identity(), prefix)
    url = urlparse(args.url)

    async def serve() -> None:
        server = HTTPServer(app, max_body_size=MAX_BODY_BYTES * 4)
        server.listen(url.port or 80, url.hostname or "127.0.0.1")
        log.info("%d quizzes of course %s, worlds %s; answers in %s; listening on %s%s",
                 len(keyring.entries), args.course_id, "per trainee" if variants else "canonical",
                 ledger.path, args.url, prefix)
        await asyncio.Event().wait()  # until the hub stops the service

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    finally:
        executor.shutdown(cancel_futures=True)

if __name__ == "__main__":
    sys.exit(main())
