"""Module 4 reference: the rotation's auth export, deployments to roll back to, migrations.

Every function starts from a raw file (``course.data.auth.auth_log``, ``platform.deployment_history``)
or from the frame the module's notebook builds from it; none reads the generators' own tables.
Definitions the hidden tests and quiz keys rely on (the notebook states the same ones):

- **verify(token, secrets, now)**: an HS256 token ``header.payload.signature`` (base64url, no
  padding) is accepted by the first secret, in the order of ``secrets`` (JWT_SECRET, then
  JWT_SECRET_OLD), whose HMAC-SHA256 of ``header.payload`` (the secret's text as the key) equals the
  signature, provided the header says HS256 and the payload's ``exp`` is later than ``now``
  (seconds since the epoch: a token is expired from ``now >= exp`` on, as jsonwebtoken has it).
  The answer is that secret's name, or None.
- **signed_with**: the same check without the expiry: which secret's signature the token carries.
- **Logged out if JWT_SECRET_OLD is removed at ``at``**: the users holding a token signed with
  JWT_SECRET_OLD (and not with JWT_SECRET) that has not expired at ``at``.
- **The deployment to roll back to** before a bad one: of the same service, the latest that went
  live before the bad one did and neither FAILED nor CRASHED nor was itself rolled back
  (``platform.last_good_deployment``).
- **Phases of a migration statement**: RENAME (a column or a table) 3, DROP (a column or a
  table) 2, anything else (ADD a column, CREATE a table or an index, COMMENT ON) 1. The keywords
  are read outside the double-quoted identifiers and the single-quoted string literals. (One phase
  says the statement keeps both releases working, not that it is free: a plain CREATE INDEX blocks
  writes to its table while it builds; CREATE INDEX CONCURRENTLY does not.)
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

import pandas as pd

from course.trainer.reference import platform as platform_ref

SECRET_NAMES = ("JWT_SECRET", "JWT_SECRET_OLD")


# ---------------------------------------------------------------- the auth export

def parse_auth_log(path) -> pd.DataFrame:
    """One row per line: timestamp (UTC), event, userId, organizationId, requestId, path, token."""
    frame = pd.read_json(Path(path), lines=True, dtype=False)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims(token: str) -> dict:
    """The payload of a token, unverified."""
    return json.loads(b64url_decode(token.split(".")[1]))


def _signature_ok(token: str, secret: str) -> bool:
    try:
        header, payload, signature = token.split(".")
        if json.loads(b64url_decode(header)).get("alg") != "HS256":
            return False
        expected = hmac.new(secret.encode("utf-8"), f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
        return hmac.compare_digest(expected, b64url_decode(signature))
    except (ValueError, TypeError, UnicodeError, AttributeError):
        return False


def signed_with(token: str, secrets: dict) -> str | None:
    """The name of the first secret whose signature the token carries (expiry not checked)."""
    return next((name for name, secret in secrets.items() if secret and _signature_ok(token, secret)), None)


def verify(token: str, secrets: dict, now: int) -> str | None:
    """The name of the secret that verifies ``token`` at ``now`` (epoch seconds), or None."""
    name = signed_with(token, secrets)
    if name is None:
        return None
    try:
        exp = claims(token)["exp"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return name if isinstance(exp, (int, float)) and now < exp else None


def token_table(log: pd.DataFrame, secrets: dict) -> pd.DataFrame:
    """Each distinct token of the export once: userId, iat and exp (epoch seconds) and signed_with."""
    tokens = log.drop_duplicates("token")[["userId", "token"]].reset_index(drop=True)
    payloads = pd.json_normalize([claims(t) for t in tokens["token"]])
    tokens["iat"] = payloads["iat"].astype("int64")
    tokens["exp"] = payloads["exp"].astype("int64")
    tokens["signed_with"] = [signed_with(t, secrets) for t in tokens["token"]]
    return tokens


def logged_out(tokens: pd.DataFrame, at: int) -> list[str]:
    """The users logged out if JWT_SECRET_OLD were removed at ``at`` (epoch seconds), sorted."""
    exposed = tokens["signed_with"].eq("JWT_SECRET_OLD") & (tokens["exp"] > at)
    return sorted(tokens.loc[exposed, "userId"].unique())


def refused_users(events: pd.DataFrame, start, end) -> list[str]:
    """The users with an http_error 'Token inválido' in ``[start, end]`` of a parsed backend day
    (an everyday refusal of a stale session names no user)."""
    inside = events["timestamp"].between(pd.Timestamp(start), pd.Timestamp(end))
    hits = events[inside & events["eventType"].eq("http_error") & events["error"].eq("Token inválido")]
    return sorted(hits["userId"].dropna().unique())


# ---------------------------------------------------------------- rollback (Exercise 4.2)

def parse_deployments(path) -> pd.DataFrame:
    """The deployment history as the notebook reads it (``platform_ref.parse_deployments``)."""
    return platform_ref.parse_deployments(path)


def rollback_target(deploys: pd.DataFrame, bad_id: str) -> str:
    """The id of the deployment to roll back to when ``bad_id`` turns out bad."""
    bad = deploys.loc[deploys["id"].eq(bad_id)].iloc[0]
    return platform_ref.last_good_deployment(deploys, bad["service"], before=bad["finishedAt"])["id"]


# ---------------------------------------------------------------- migrations

_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')  # identifiers and string literals


def migration_phases(statements: pd.Series) -> pd.Series:
    """How many phases (releases) each SQL statement needs to run without breaking the release
    that is still serving: 3 for a rename, 2 for a drop, 1 otherwise."""
    bare = statements.str.replace(_QUOTED, '""', regex=True).str.upper()
    phases = pd.Series(1, index=statements.index, dtype="int64")
    phases[bare.str.contains(r"\bDROP\s+(?:COLUMN|TABLE)\b", regex=True)] = 2
    phases[bare.str.contains(r"\bRENAME\b", regex=True)] = 3
    return phases
