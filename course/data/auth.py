"""The JWT audit of the 27 Oct secret rotation, for Module 4 (operational procedures).

On the on-call day a deploy replaced ``JWT_SECRET`` and left ``JWT_SECRET_OLD`` unset (the
``jwt_rotation`` story of ``course.data.world``): from the moment the new container went live,
every token signed with the previous secret was refused with 401 "Token inválido"
(``course.data.backend_logs``). For the review, the security team exported what the backend's
auth module recorded about the users of that half hour. ``auth_log()`` writes it, one JSON object
per line, in time order:

- ``token_issued``: a token the backend signed, with when, for whom (``userId``,
  ``organizationId``) and the login request's ``requestId``. The tokens of the day before the deploy
  are signed with the previous secret, those issued after it with the new one.
- ``token_rejected``: a request refused with "Token inválido": when, who, its ``requestId`` and
  ``path`` (the very request of the backend's log, and of the month's) and the token it carried.
  The everyday refusals of stale sessions, which name no user in the logs, are not in the export.

Scope: every user with an authenticated request between the deploy going live (``rotated_at``)
and the end of the burst (``story("jwt_rotation").window_end``), every token issued to them from
two days before the deploy to the end of the burst, and every login of that half hour (a login
line of the backend's log, same request id and time).

Tokens are real HS256 JSON Web Tokens (``header.payload.signature``, base64url without padding),
signed the way Node's ``jsonwebtoken`` does with a string secret: the HMAC key is the secret's
text. The payload is ``{"sub", "organizationId", "role", "iat", "exp"}`` with
``exp = iat + world.JWT_EXPIRATION_S``. ``secrets()`` gives the two practice secrets: the new
``JWT_SECRET`` and the value it had before the deploy (what ``JWT_SECRET_OLD`` should have held).

What holds in every variant, by construction and checked by the tests:

- the users holding a token of the previous secret still unexpired when the deploy went live are
  exactly the users the backend's log shows refused in the burst (``jwt_window``, both minutes
  included: ``backend_logs.jwt_refused_users``); each of those refusals is a ``token_rejected``
  line carrying that token, still valid then;
- the other users' tokens of the previous secret had expired by then, each after the user's last
  request before the deploy. (In the rare world where a refusal falls in the seconds after the
  burst's last minute and its user was not refused before, that request carried such an expired
  token: the code answers "Token inválido" to an expired token too.)
- every token issued after the deploy is signed with the new secret and is a successful login of
  the backend's log (same time and request id). Each user back at work after the deploy got one
  before their first successful request whenever the backend's log has a login in time (it has
  none when the user is back within seconds); a refused user's comes after their first refusal
  unless a request of theirs succeeded before it (a second device);
- one ``token_rejected`` line of the burst carries a tampered token: a refused user's token whose
  payload was edited to say ``"role":"admin"``, signature unchanged: neither secret verifies it;
- no token of the previous secret is valid ``world.JWT_EXPIRATION_S`` after the deploy.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from course.data import backend_logs, cache, world
from course.data.ids import uuid4_strings

GENERATOR_VERSION = 2
STREAM = 4101                    # this module's random streams: variant.rng(STREAM, use)
_USES = ("secrets", "old_tokens", "logins", "tampered")
LIFETIME_MS = world.JWT_EXPIRATION_S * 1000
DAY_MS = 86_400_000
HEADER = {"alg": world.JWT_ALGORITHM, "typ": "JWT"}
ROLE, TAMPERED_ROLE = "user", "admin"
LOGIN_PATH = "/api/v1/auth/login"
SINCE_DEPLOY_MS = 2 * DAY_MS     # the export starts two days before the deploy


# ---------------------------------------------------------------- JWT, as jsonwebtoken writes it

def b64url(raw: bytes) -> str:
    """base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _sign(payload: dict, secret: str, header: dict | None = None) -> str:
    """An HS256 token of ``payload`` signed with ``secret`` (its text is the HMAC key)."""
    signing_input = f"{b64url(_json(header or HEADER))}.{b64url(_json(payload))}"
    digest = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(digest)}"


def _tamper(token: str, **changes) -> str:
    """``token`` with its payload edited and its signature kept (what no secret verifies)."""
    header, payload, signature = token.split(".")
    padded = payload + "=" * (-len(payload) % 4)
    claims = json.loads(base64.urlsafe_b64decode(padded))
    return f"{header}.{b64url(_json({**claims, **changes}))}.{signature}"


# ---------------------------------------------------------------- variants and helpers

def _variant(variant: world.Variant | int | None) -> world.Variant:
    """``None`` is the world this process should see; an int is taken as a world seed."""
    return world.resolve(variant)


def _rng(variant: world.Variant, use: str) -> np.random.Generator:
    return variant.rng(STREAM, _USES.index(use))


def _secret(rng: np.random.Generator) -> str:
    """What `openssl rand -base64 32` prints: 32 random bytes in base64 (44 characters)."""
    return base64.b64encode(rng.bytes(world.JWT_SECRET_BYTES)).decode("ascii")


def _iso(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms").isoformat(timespec="milliseconds") + "Z"


def _busy_time(rng: np.random.Generator, low_ms: int, high_ms: int) -> int:
    """A moment in ``(low_ms, high_ms]``, more likely in busy hours (the month's daily rhythm)."""
    low_ms, high_ms = int(low_ms) + 1, int(high_ms)
    if high_ms - low_ms < 120_000:
        return int(rng.integers(low_ms, high_ms + 1))
    first = pd.Timestamp(low_ms, unit="ms").floor("min")
    minutes = int((high_ms - first.value // 1_000_000) // 60_000) + 1
    days = minutes // 1440 + 2
    weights = world.minute_intensity(first.isoformat(), days)[:minutes] + 1e-3
    minute = int(rng.choice(minutes, p=weights / weights.sum()))
    start = max(low_ms, first.value // 1_000_000 + minute * 60_000)
    end = min(high_ms, first.value // 1_000_000 + (minute + 1) * 60_000 - 1)
    return int(rng.integers(start, max(start, end) + 1))


# ---------------------------------------------------------------- the export

@dataclass(frozen=True)
class AuthFacts:
    """The planted facts of one variant's export (times in epoch ms, UTC).

    ``rotated_at``: the new container went live, the new secret took effect. ``refused``: the users
    refused with "Token inválido" (sorted), each holding a token of the previous secret valid then.
    ``expired_users``: the other users with a token of the previous secret, all expired by then.
    ``tampered_request``: the request id of the ``token_rejected`` line with the edited token.
    ``old_expiry``: user -> when their token of the previous secret expires (refused users).
    """

    rotated_at: int
    window_end: int
    refused: tuple[str, ...]
    expired_users: tuple[str, ...]
    tampered_request: str
    old_expiry: tuple[tuple[str, int], ...]


@dataclass(frozen=True, eq=False)
class _Export:
    variant: world.Variant
    secrets: dict
    lines: pd.DataFrame      # timestamp (ms), event, userId, organizationId, requestId, path, token
    facts: AuthFacts


def _day(variant: world.Variant) -> pd.DataFrame:
    """The backend's full production day, as its generator made it (before the log collector's
    edits, which never touch the hour of the rotation)."""
    return backend_logs.production_events(variant)


def _greedy_logins(logins: np.ndarray, jobs: list[tuple[str, int, int]]) -> dict[int, str]:
    """Give each job (user, release, deadline) a login strictly inside its span, earliest deadline
    first (a login serves one job). A job no login can meet (the backend's log has a user back at
    work seconds after the deploy, before any login) gets the first free login after its release.
    Returns {login index: user}."""
    given, open_jobs = {}, sorted(jobs, key=lambda job: job[2])
    for i, at in enumerate(logins):
        ready = [job for job in open_jobs if job[1] < at < job[2]]
        if ready:
            given[i] = ready[0][0]
            open_jobs.remove(ready[0])
    for user, release, _ in open_jobs:
        free = [i for i, at in enumerate(logins) if at > release and i not in given]
        if free:
            given[free[0]] = user
    return given


@functools.lru_cache(maxsize=8)
def _export(variant: world.Variant) -> _Export:
    rng_secret = _rng(variant, "secrets")
    old_secret, new_secret = _secret(rng_secret), _secret(rng_secret)
    story = backend_logs.story("jwt_rotation", variant)
    rotated = backend_logs._ms(variant.at("jwt_rotation", world.ON_CALL_LIVE["jwt_rotation"]))
    burst_end = backend_logs._ms(story.window_end)

    day = _day(variant)
    requests = day[day["eventType"].eq("http_request") & day["userId"].notna()
                   & day["path"].ne(LOGIN_PATH)]
    done = day[day["eventType"].isin(["http_response", "http_error"]) & day["userId"].notna()
               & day["path"].ne(LOGIN_PATH)]
    starts = dict(zip(requests["requestId"], requests["t"]))
    done = done.assign(start=done["requestId"].map(starts).astype("int64"),
                       refused=done["error"].eq(world.TOKEN_INVALID))
    orgs = dict(zip(requests["userId"], requests["organizationId"]))
    active = done[(done["start"] >= rotated) & (done["start"] <= burst_end)]
    in_scope = sorted(set(active["userId"]))
    refusals = done[done["refused"]]
    assert set(refusals["userId"]) <= set(in_scope) and (refusals["start"] > rotated).all()
    # The burst as Module 5 counts it: refusals up to the last minute of ``jwt_window``. A rare
    # refusal in the seconds after that minute carried a token that had expired already.
    low, high = (backend_logs._ms(t) for t in backend_logs.jwt_window(variant))
    counted = refusals[refusals["t"].between(low, high)]
    refused = sorted(set(counted["userId"]))

    logins = day[day["eventType"].eq("http_response") & day["path"].eq(LOGIN_PATH)]
    before = logins[logins["t"] < rotated]
    after = logins[(logins["t"] > rotated) & (logins["t"] <= burst_end)].sort_values("t")

    rows = []

    def issue(at_ms: int, user: str, request_id: str, secret: str) -> str:
        iat = int(at_ms // 1000)
        token = _sign({"sub": user, "organizationId": orgs[user], "role": ROLE, "iat": iat,
                      "exp": iat + world.JWT_EXPIRATION_S}, secret)
        rows.append((int(at_ms), "token_issued", user, orgs[user], request_id, None, token))
        return token

    # Tokens of the previous secret: the refused users' still valid at their last refusal, the
    # others' expired before the deploy, each covering every request the user made before it.
    rng = _rng(variant, "old_tokens")
    old_tokens, expiry, expired_users = {}, {}, []
    stale = set(refusals["userId"]) - set(refused)  # refused only after the burst's last minute
    spare_logins = before.sample(frac=1.0, random_state=rng.integers(2**31))
    spare = iter(zip(spare_logins["t"], spare_logins["requestId"]))
    for user in in_scope:
        mine = done[done["userId"].eq(user)]
        earlier = mine[mine["start"] < rotated]
        started = requests.loc[requests["userId"].eq(user) & (requests["t"] < rotated), "t"]
        last = max(int(earlier["t"].max()) if len(earlier) else 0, int(started.max()) if len(started) else 0)
        if user in refused:
            must_outlive = max(rotated, int(refusals.loc[refusals["userId"].eq(user), "t"].max()))
            low = must_outlive - LIFETIME_MS + 1000
            pick = None if last else next(spare, None)
            if pick is not None:   # logged in earlier that day, came back after the deploy
                at, request_id = pick
            else:                  # logged in the day before: the cookie outlived the night
                first = requests.loc[requests["userId"].eq(user), "t"].min()
                at = _busy_time(rng, low, min(int(first), rotated) - 60_000)
                request_id = str(uuid4_strings(rng, 1)[0])
            old_tokens[user] = issue(at, user, request_id, old_secret)
            expiry[user] = (at // 1000) * 1000 + LIFETIME_MS
        elif last or user in stale or rng.random() < 0.5:
            last = last or rotated - LIFETIME_MS - 3_600_000
            low = max(last - LIFETIME_MS + 1000, rotated - SINCE_DEPLOY_MS)
            at = _busy_time(rng, low, rotated // 1000 * 1000 - LIFETIME_MS)
            old_tokens[user] = issue(at, user, str(uuid4_strings(rng, 1)[0]), old_secret)
            expired_users.append(user)

    # Tokens of the new secret: the logins of the burst, first to whoever needs one before their
    # first successful request after the deploy, then to users already back at work.
    jobs = []
    for user in in_scope:
        mine = done[done["userId"].eq(user) & (done["start"] > rotated)].sort_values("start")
        worked = mine[~mine["refused"]]
        if worked.empty:
            continue
        first_ok = int(worked["start"].iloc[0])
        first_no = int(mine.loc[mine["refused"], "t"].min()) if mine["refused"].any() else None
        release = first_no if first_no is not None and first_no < first_ok else rotated
        jobs.append((user, release, first_ok))
    times = after["t"].to_numpy()
    given = _greedy_logins(times, jobs)
    rng = _rng(variant, "logins")
    first_seen = active.groupby("userId")["start"].min()
    for i, (at, request_id) in enumerate(zip(times, after["requestId"])):
        user = given.get(i)
        if user is None:
            back = first_seen[first_seen < at]
            pool = sorted(back.index) if len(back) else [u for u in in_scope if u not in refused]
            user = pool[int(rng.integers(len(pool)))]
        issue(int(at), user, request_id, new_secret)

    # The refused requests, each with the token it carried; one carries an edited token.
    rng = _rng(variant, "tampered")
    counts = counted["userId"].value_counts()
    candidates = sorted(counts[counts >= 2].index) or sorted(counts.index)
    edited_by = candidates[int(rng.integers(len(candidates)))]
    edited_at = counted.loc[counted["userId"].eq(edited_by), "t"].max()
    tampered_request = None
    for r in refusals.sort_values("t").itertuples():
        token = old_tokens[r.userId]
        if r.userId == edited_by and r.t == edited_at and tampered_request is None:  # in the burst
            token, tampered_request = _tamper(token, role=TAMPERED_ROLE), r.requestId
        rows.append((int(r.t), "token_rejected", r.userId, r.organizationId, r.requestId, r.path, token))

    lines = pd.DataFrame(rows, columns=["timestamp", "event", "userId", "organizationId", "requestId",
                                        "path", "token"])
    lines = lines.sort_values(["timestamp", "event"], kind="stable", ignore_index=True)
    facts = AuthFacts(rotated_at=rotated, window_end=burst_end, refused=tuple(refused),
                      expired_users=tuple(sorted(expired_users)),
                      tampered_request=tampered_request,
                      old_expiry=tuple(sorted(expiry.items())))
    return _Export(variant, {"JWT_SECRET": new_secret, "JWT_SECRET_OLD": old_secret}, lines, facts)


# ---------------------------------------------------------------- public API

def secrets(variant: world.Variant | int | None = None) -> dict[str, str]:
    """The two practice secrets of ``variant``: ``JWT_SECRET`` as the deploy set it, and
    ``JWT_SECRET_OLD``, the value JWT_SECRET had before (what the deploy should have kept)."""
    return dict(_export(_variant(variant)).secrets)


def rotated_at(variant: world.Variant | int | None = None) -> pd.Timestamp:
    """When the new JWT_SECRET took effect: the deploy's container went live (UTC)."""
    return pd.Timestamp(_export(_variant(variant)).facts.rotated_at, unit="ms", tz="UTC")


def facts(variant: world.Variant | int | None = None) -> AuthFacts:
    """The planted facts of ``variant``'s export (see ``AuthFacts``)."""
    return _export(_variant(variant)).facts


def _file_name(variant: world.Variant) -> str:
    tag = "seed0" if variant.canonical else f"variant{variant.seed}"
    return f"etp-auth-audit-v{GENERATOR_VERSION}.{backend_logs.GENERATOR_VERSION}-{tag}.jsonl"


def auth_log(variant: world.Variant | int | None = None) -> Path:
    """Path of ``variant``'s auth export (JSON lines, oldest first)."""
    export = _export(_variant(variant))

    def write(fh: IO) -> None:
        for row in export.lines.itertuples(index=False):
            record = {"timestamp": _iso(row.timestamp), "event": row.event, "userId": row.userId,
                      "organizationId": row.organizationId, "requestId": row.requestId}
            if isinstance(row.path, str):
                record["path"] = row.path
            record["token"] = row.token
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    return cache.materialise(_file_name(export.variant), write)
