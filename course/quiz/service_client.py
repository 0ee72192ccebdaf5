"""The trainee's side of the quiz service (JupyterHub): commit an answer, read one's attempts.

On a hub, the trainee's server has ``ETP_QUIZ_SERVICE_URL`` (set by the hub's spawner) and its own
hub token, ``JUPYTERHUB_API_TOKEN``; with both, every quiz commits to the service, which holds
the keys and records the attempt. This module holds no key and no grading code: only HTTP.
Standard library only, so the trainee's kernel imports nothing new.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

# ``answer_from`` of a quiz released for a hub (no key in the notebook): only the service keys it.
SERVICE_KEY = "quiz-service"
URL_ENV = "ETP_QUIZ_SERVICE_URL"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
TIMEOUT_S = 30.0  # the first answer in a trainee's world may wait for that world's keys


class ServiceError(Exception):
    """The quiz service did not record or return the answer (one line, for the trainee)."""


class Unconfirmed(ServiceError):
    """No answer came back (timeout, lost connection, server error): the commit may have been
    recorded. Sending it again with the same commit id is safe."""


@dataclass
class Record:
    """One trainee's attempts at one quiz, as the service holds them."""

    qid: str
    attempts: list[dict] = field(default_factory=list)  # answer, canonical, correct, time, n
    explanation: str = ""
    committed: int | None = None  # the attempt a commit id was recorded as (None: not recorded)


class QuizService:
    def __init__(self, url: str, token: str, timeout: float = TIMEOUT_S):
        self.url, self.token, self.timeout = url.rstrip("/") + "/", token, timeout

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json",
            "Accept": "application/json"})
        try:
            with _opener().open(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            kind = Unconfirmed if err.code >= 500 else ServiceError
            raise kind(f"the quiz service said {err.code} ({_reason(err)})") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            # refused: nothing was sent; any other loss may come after the service recorded it
            kind = ServiceError if isinstance(reason, ConnectionRefusedError) else Unconfirmed
            raise kind(f"the quiz service cannot be reached ({reason})") from None
        except ValueError:
            raise ServiceError("the quiz service sent an answer that is not JSON") from None

    @staticmethod
    def _path(qid: str) -> str:
        import urllib.parse

        return "api/quizzes/" + urllib.parse.quote(qid, safe="")

    def record(self, qid: str) -> Record:
        """The caller's attempts at ``qid`` (and its explanation once they answered)."""
        return _record(qid, self._call("GET", self._path(qid)))

    def commit(self, qid: str, response: Any, commit_id: str | None = None) -> Record:
        """Commit one answer; the service's verdict comes back with every attempt so far. When
        no answer comes back, the service is asked whether ``commit_id`` was recorded: a
        recorded answer is never reported lost (``Unconfirmed`` only when it cannot say)."""
        commit_id = commit_id or new_commit_id()
        try:
            return _record(qid, self._call("POST", self._path(qid),
                                           {"response": response, "commit": commit_id}))
        except Unconfirmed as err:
            try:
                record = self.confirm(qid, commit_id)
            except ServiceError:
                raise err from None
            if record.committed is None:
                raise
            return record

    def confirm(self, qid: str, commit_id: str) -> Record:
        """The caller's attempts, and ``committed``: the attempt ``commit_id`` was recorded as."""
        import urllib.parse

        query = urllib.parse.urlencode({"commit": commit_id})
        return _record(qid, self._call("GET", f"{self._path(qid)}?{query}"))

    def sim_call(self, run: str, body: dict) -> dict:
        """Record one call of a run of Module 6's simulation (``course.quiz.sim_recorder``)."""
        import urllib.parse

        return self._call("POST", "api/sims/" + urllib.parse.quote(run, safe=""), body)

    def sim_runs(self) -> list[dict]:
        """The caller's runs of the simulation, each with its calls and the service's times."""
        runs = self._call("GET", "api/sims").get("runs")
        if not isinstance(runs, list):
            raise ServiceError("the quiz service sent a damaged answer")
        return runs

    def warm(self) -> dict:
        """Ask the service to make this trainee's worlds now (keys from their data)."""
        return self._call("POST", "api/warm", {})


def new_commit_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _record(qid: str, raw: dict) -> Record:
    attempts = raw.get("attempts") if isinstance(raw, dict) else None
    if not isinstance(attempts, list) or not all(isinstance(a, dict) for a in attempts):
        raise ServiceError("the quiz service sent a damaged answer")
    committed = raw.get("committed")
    committed = committed if isinstance(committed, int) and not isinstance(committed, bool) else None
    return Record(qid, attempts, str(raw.get("explanation") or ""), committed)


def _reason(err) -> str:
    try:
        return str(json.loads(err.read().decode("utf-8")).get("error") or err.reason)[:200]
    except Exception:  # noqa: BLE001 - any body: the status line says enough
        return str(err.reason)[:200]


def _opener():
    """urllib's opener without redirects: a redirect (to a login page) is an error here, and the
    token is never sent on to another address. Built when first needed (light kernel imports)."""
    import urllib.request

    global _OPENER
    if _OPENER is None:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        _OPENER = urllib.request.build_opener(NoRedirect)
    return _OPENER


_OPENER = None


def from_environment(environ: dict | None = None) -> QuizService | None:
    """The hub's quiz service when this server runs on a hub that has one; else None."""
    env = os.environ if environ is None else environ
    url, token = env.get(URL_ENV, "").strip(), env.get(TOKEN_ENV, "").strip()
    return QuizService(url, token) if url and token else None
