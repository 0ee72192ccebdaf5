"""m4_procedures: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation  # noqa: F401

_VERIFY = '''
def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(token, secrets, now):
    header, payload, signature = token.split(".")
    if json.loads(b64url_decode(header)).get("alg") != "HS256":
        return None
    if now >= json.loads(b64url_decode(payload))["exp"]:
        return None
    signed = f"{header}.{payload}".encode("ascii")
    for name in ("JWT_SECRET", "JWT_SECRET_OLD"):
        if name in secrets:
            digest = hmac.new(secrets[name].encode("utf-8"), signed, hashlib.sha256).digest()
            if hmac.compare_digest(digest, b64url_decode(signature)):
                return name
    return None
'''

VALID_AT_EXP = Mutation(
    "a token still valid at its exp",
    {"m4-verify-solution": _VERIFY.replace("if now >= json.loads", "if now > json.loads")},
    costs="m4-verify-test", why="the text says a token is valid while now < exp (expired from now >= exp)")

ONLY_THE_NEW_KEY = Mutation(
    "JWT_SECRET_OLD never tried",
    {"m4-verify-solution": _VERIFY.replace('("JWT_SECRET", "JWT_SECRET_OLD")', '("JWT_SECRET",)')},
    costs="m4-verify-test", why="dual-key mode checks JWT_SECRET, then JWT_SECRET_OLD")

NO_ALG_CHECK = Mutation(
    "the header's alg not checked",
    {"m4-verify-solution": _VERIFY.replace('    if json.loads(b64url_decode(header)).get("alg") != "HS256":\n        return None\n', '')},
    costs="m4-verify-test", why="the text says: refuse a token whose header does not say HS256")

URL_SAFE_SECRET = Mutation(
    "a url-safe secret",
    {"m4-new-secret-solution": '''
import secrets
def new_secret():
    return secrets.token_urlsafe(32)
'''},
    costs="m4-new-secret-test", why="openssl rand -base64 32 writes standard base64, with = padding")

HEX_SECRET = Mutation(
    "a hex secret (another page's openssl rand -hex 32)",
    {"m4-new-secret-solution": '''
import secrets
def new_secret():
    return secrets.token_hex(32)
'''},
    costs="m4-new-secret-test", why="the course follows the runbook: 32 bytes in base64, 44 characters")

STILL_LOGGED_OUT_AT_EXP = Mutation(
    "a token counted at its exp",
    {"m4-logged-out-solution": '''
def logged_out(tokens, at):
    exposed = tokens["signed_with"].eq("JWT_SECRET_OLD") & (tokens["exp"] >= at)
    return sorted(tokens.loc[exposed, "userId"].unique())
'''},
    costs="m4-logged-out-test", why="valid while at < exp")

ROLLBACK_SH = Mutation(
    "rollback.sh's choice: the previous deployment of the service",
    {"m4-rollback-solution": '''
def rollback_target(history, bad_id):
    bad = history.loc[history["id"].eq(bad_id)].iloc[0]
    mine = history[history["service"].eq(bad["service"]) & (history["finishedAt"] < bad["finishedAt"])]
    return mine.sort_values("finishedAt")["id"].iloc[-1]
'''},
    costs="m4-rollback-test", why="the script takes the previous deployment, which may have FAILED or CRASHED")

PREVIOUS_OF_ANY_SERVICE = Mutation(
    "the previous deployment of any service",
    {"m4-rollback-solution": '''
def rollback_target(history, bad_id):
    ordered = history.sort_values("finishedAt").reset_index(drop=True)
    return ordered.loc[ordered.index[ordered["id"].eq(bad_id)][0] - 1, "id"]
'''},
    costs="m4-rollback-test", why="of the same service")

_PHASES = '''
def migration_phases(statements):
    bare = statements{strip}.str.upper()
    phases = pd.Series(1, index=statements.index)
    phases[bare.str.contains(r"{drop}")] = 2
    phases[bare.str.contains(r"{rename}")] = 3
    return phases
'''
RENAME_IN_A_NAME = Mutation(
    "RENAME found inside a quoted name",
    {"m4-migrations-solution": _PHASES.format(strip="", drop=r"\bDROP\s+(?:COLUMN|TABLE)\b", rename="RENAME")},
    costs="m4-migrations-test", why='a column called "renamed_at" is not a rename')

DROP_IN_A_NAME = Mutation(
    "DROP found inside a quoted name",
    {"m4-migrations-solution": _PHASES.format(strip="", drop="DROP", rename=r"\bRENAME\b")},
    costs="m4-migrations-test", why='a column called "drop_reason" is not a drop')

DOUBLE_QUOTES_ONLY = Mutation(
    "keywords read inside string literals",
    {"m4-migrations-solution": _PHASES.format(strip=""".str.replace(r'"[^"]*"', '""', regex=True)""",
                                              drop=r"\bDROP\s+(?:COLUMN|TABLE)\b", rename=r"\bRENAME\b")},
    costs="m4-migrations-test", why="a comment's 'drop column later' is not a drop")

WHOLE_WORDS_ANYWHERE = Mutation(
    "whole words, quotes not removed",
    {"m4-migrations-solution": _PHASES.format(strip="", drop=r"\bDROP\b", rename=r"\bRENAME\b")},
    costs="m4-migrations-test", why="a quoted name or literal can hold the whole word")

MUTATIONS: list = [VALID_AT_EXP, ONLY_THE_NEW_KEY, NO_ALG_CHECK, URL_SAFE_SECRET, HEX_SECRET,
                   STILL_LOGGED_OUT_AT_EXP, ROLLBACK_SH, PREVIOUS_OF_ANY_SERVICE, RENAME_IN_A_NAME,
                   DROP_IN_A_NAME, DOUBLE_QUOTES_ONLY, WHOLE_WORDS_ANYWHERE]

ALTERNATIVES: list = [
    Alternative("os.urandom secret", {"m4-new-secret-solution": '''
import os
def new_secret():
    return base64.b64encode(os.urandom(32)).decode()
'''}),
    Alternative("signature compared as base64url text", {"m4-verify-solution": '''
def verify(token, secrets, now):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    if json.loads(base64.urlsafe_b64decode(pad(header)))["alg"] != "HS256":
        return None
    if not now < json.loads(base64.urlsafe_b64decode(pad(payload)))["exp"]:
        return None
    for name in ["JWT_SECRET", "JWT_SECRET_OLD"]:
        secret = secrets.get(name)
        if secret is None:
            continue
        mac = hmac.new(secret.encode(), (header + "." + payload).encode(), hashlib.sha256).digest()
        if hmac.compare_digest(base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), signature):
            return name
    return None
'''}),
    Alternative("logged_out with a set", {"m4-logged-out-solution": '''
def logged_out(tokens, at):
    return sorted({u for u, e, s in zip(tokens["userId"], tokens["exp"], tokens["signed_with"]) if s == "JWT_SECRET_OLD" and at < e})
'''}),
    Alternative("rollback target walking back", {"m4-rollback-solution": '''
def rollback_target(history, bad_id):
    bad = history.loc[history["id"].eq(bad_id)].iloc[0]
    mine = history[history["service"].eq(bad["service"])].sort_values("finishedAt").reset_index(drop=True)
    live = mine[mine["status"].ne("FAILED")].reset_index(drop=True)
    for i in range(len(live) - 1, -1, -1):
        row = live.loc[i]
        if row["finishedAt"] >= bad["finishedAt"] or row["status"] == "CRASHED":
            continue
        if i + 1 < len(live) and live.loc[i + 1, "reason"] == "rollback":
            continue
        return row["id"]
'''}),
    Alternative("migration phases with re.sub per statement", {"m4-migrations-solution": '''
import re
def migration_phases(statements):
    def phases(sql):
        bare = re.sub(r"'[^']*'", "", re.sub(r'"[^"]*"', "", sql)).upper()
        if re.search(r"\\bRENAME\\b", bare):
            return 3
        if re.search(r"\\bDROP\\s+(COLUMN|TABLE)\\b", bare):
            return 2
        return 1
    return statements.map(phases)
'''}),
]
