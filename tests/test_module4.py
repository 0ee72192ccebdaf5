"""Module 4: every quiz key and claim holds in every world, and realistic mistakes lose their own
cell (and only it)."""
import nbformat
import pandas as pd
import pytest

from harness import REPO, Trainee, quiz_questions
from test_roundtrip import autograde
from course.data import auth, backend_logs, platform, scenario, world
from course.trainer.reference import auth as ref
from course.trainer.reference import logparse, quiz_keys

ASSIGNMENT = "m4_procedures"
SOURCE = REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
WORLDS = {"canonical": world.CANONICAL_SEED, "alice": world.seed_for("alice"), "bob": world.seed_for("bob")}


def questions():
    return {q.qid: q for qs in quiz_questions(nbformat.read(SOURCE, as_version=4)).values() for q in qs}


@pytest.fixture(scope="module", params=list(WORLDS))
def w(request, data_cache):
    seed = WORLDS[request.param]
    with world.using(seed):
        log = ref.parse_auth_log(auth.auth_log())
        yield dict(seed=seed, log=log, tokens=ref.token_table(log, auth.secrets()),
                   deploy_s=int(auth.rotated_at().timestamp()),
                   deploys=ref.parse_deployments(platform.deployment_history()),
                   made=platform.deployments(), story=scenario.procedures())


# -- quiz keys and narrative claims ---------------------------------------------------------------
def test_too_early_key(w):
    """m4-too-early: the key counts users, some but not all of the night's, two hours later."""
    with world.using(w["seed"]):
        key = quiz_keys.answer("m4_logged_out_early")
    at = w["deploy_s"] + scenario.M4_EARLY_REMOVAL_H * 3600
    assert key == len(ref.logged_out(w["tokens"], at))
    assert 0 < key <= len(ref.logged_out(w["tokens"], w["deploy_s"]))  # "not none"
    assert w["story"]["early_removal_utc"] == pd.Timestamp(at, unit="s", tz="UTC").strftime("%H:%M:%S")
    q = questions()["m4-too-early"]
    assert q.answer_from == "m4_logged_out_early" and q.tolerance == 0


def test_too_early_keys_differ_between_trainees(data_cache):
    keys = set()
    for name in ["alice", "bob", "carol", "dave", "var-bob", "var-alice"]:
        with world.using(world.seed_for(name)):
            keys.add(quiz_keys.answer("m4_logged_out_early"))
    assert len(keys) >= 3, keys
    with world.using(world.seed_for("var-bob")):
        source = quiz_keys.answer("m4_logged_out_early")
    for copier in ("var-aaron", "var-carol", "var-alice"):  # the variants cohort's copiers and neighbour
        with world.using(world.seed_for(copier)):
            assert quiz_keys.answer("m4_logged_out_early") != source


def test_why_wait_and_seven_days_claims(w):
    """m4-why-wait: the plot reaches zero before 24 h, and every token of the old secret was issued
    before the deploy. m4-seven-days: the code's default lifetime is 7 days."""
    old = w["tokens"][w["tokens"]["signed_with"].eq("JWT_SECRET_OLD")]
    assert (old["iat"] < w["deploy_s"]).all()
    assert ref.logged_out(w["tokens"], w["deploy_s"] + 24 * 3600) == []
    assert world.JWT_EXPIRATION_S == 24 * 3600 and world.JWT_EXPIRATION_DEFAULT == "7d"
    assert world.DUAL_KEY_OVERLAP_H == (24, 48)


def test_edited_token_and_fix_the_night_claims(w):
    """m4-edited-token: one refused token verifies with no secret while unexpired, and it says
    role admin. m4-fix-the-night: with JWT_SECRET_OLD added, every other refused token passes;
    with the old value back in JWT_SECRET alone, every token issued since the deploy fails."""
    with world.using(w["seed"]):
        secrets = auth.secrets()
    rejected = w["log"][w["log"]["event"].eq("token_rejected")]
    start, end = (pd.Timestamp(t) for t in backend_logs.jwt_window(w["seed"]))
    burst = rejected[rejected["timestamp"].between(start, end)]
    verdicts = [ref.verify(t, secrets, int(ts.timestamp())) for t, ts in zip(burst["token"], burst["timestamp"])]
    assert verdicts.count(None) == 1 and set(verdicts) == {None, "JWT_SECRET_OLD"}
    edited = burst["token"].iloc[verdicts.index(None)]
    assert ref.claims(edited)["role"] == "admin" and ref.claims(edited)["exp"] > w["deploy_s"]
    issued = w["log"][w["log"]["event"].eq("token_issued") & (w["log"]["timestamp"] > auth.rotated_at(w["seed"]))]
    only_old = {"JWT_SECRET": secrets["JWT_SECRET_OLD"]}
    assert len(issued) > 0
    assert all(ref.verify(t, only_old, w["deploy_s"] + 60) is None for t in issued["token"])


def test_cross_check_cell_claims(w, data_cache):
    """The 'two sources, one story' cell prints True twice in every world."""
    with world.using(w["seed"]):
        day = logparse.parse_production(backend_logs.production_log("full"))
    refused = day[day["eventType"].eq("http_error") & day["error"].eq("Token inválido") & day["userId"].notna()]
    rejected = w["log"][w["log"]["event"].eq("token_rejected")]
    assert set(refused["requestId"]) == set(rejected["requestId"])
    holders = w["tokens"][w["tokens"]["signed_with"].eq("JWT_SECRET_OLD") & (w["tokens"]["exp"] > w["deploy_s"])]
    assert set(holders["userId"]) <= set(refused["userId"])


def test_rollback_claims_and_traps(w):
    """The visible check's claims (a CRASHED release, the night's rollback ran the target's commit),
    and each realistic shortcut is wrong on at least one hidden case."""
    deploys, made = w["deploys"], w["made"]
    crashed = deploys[deploys["status"].eq("CRASHED")]
    assert len(crashed) == 1 and crashed["finishedAt"].iloc[0].strftime("%d %b") == "21 Oct"
    target = ref.rollback_target(deploys, crashed["id"].iloc[0])
    night = deploys[deploys["reason"].eq("rollback") & deploys["service"].eq(crashed["service"].iloc[0])].iloc[0]
    assert deploys.loc[deploys["id"].eq(target), "commitHash"].iloc[0] == night["commitHash"]
    assert night["sourceDeploymentId"] == target
    # the previous deployment of any service is a frontend one before the crash-loop release
    i = deploys.index[deploys["id"].eq(crashed["id"].iloc[0])][0]
    assert deploys.loc[i - 1, "service"] != crashed["service"].iloc[0]
    # the push after the failed build: its previous backend deployment FAILED
    backend = made[made["service"].eq("etp-express-backend")].reset_index(drop=True)
    after_failed = backend.loc[backend.index[backend["status"].eq("FAILED")][0] + 1]
    assert ref.rollback_target(deploys, after_failed["id"]) == backend[backend["trigger"].eq("variables")]["id"].iloc[0]
    # the reference agrees with the platform's planted answers where those apply
    for incident in ("crash_loop", "pdf_export_broken", "frontend_bad_release"):
        bad = made[made["incident"].eq(incident)].iloc[0]
        planted = platform.last_good_deployment(w["seed"], bad["service"], before=bad["finished"])
        assert ref.rollback_target(deploys, bad["id"]) == planted["id"]


def test_static_keys_match_the_world():
    qs = questions()
    table = {"Rotating JWT_SECRET": "Secret rotation (JWT)", "Running a database migration": "Database migration",
             "Scaling the backend": "Service scaling", "Rolling back a deployment": "Deployment rollback"}
    for left, right in qs["m4-procedures"].answer.items():
        frequency, risk, minutes = world.PROCEDURES[table[left]]
        assert right.lower().replace("emergency only", "emergency") == f"{frequency} · {risk} risk · {minutes}".lower()
    assert qs["m4-rollback-steps"].answer == list(world.ROLLBACK_STEPS)
    assert all("{" not in q.prompt for q in qs.values())  # the browser test shows prompts unformatted


def test_migration_keys():
    """The visible check's phases of the next release are the reference's."""
    given = next(c.source for c in nbformat.read(SOURCE, as_version=4).cells if c.source.startswith("NEXT_RELEASE"))
    namespace = {"pd": pd}
    exec(given, namespace)  # noqa: S102 - the notebook's own given cell
    assert list(ref.migration_phases(namespace["NEXT_RELEASE"])) == [1, 2, 3, 1, 1, 1, 2, 3, 1]
    # a plain CREATE INDEX blocks writes: the release builds its index CONCURRENTLY (m4-index-lock)
    assert any("CREATE INDEX CONCURRENTLY" in sql for sql in namespace["NEXT_RELEASE"])
    qs = questions()
    assert qs["m4-index-lock"].answer.startswith("CREATE INDEX CONCURRENTLY")


def test_why_wait_key_is_the_digests_reason():
    """m4-why-wait: the runbook's reason (sessions issued before the rotation stay valid) with the
    cookie's 24 h maxAge, not the simulated JWT_EXPIRATION; the text calls 24 h the simulation's."""
    key = questions()["m4-why-wait"].answer
    assert "cookie" in key and "24 hours" in key and "stay valid" in key
    text = "\n".join(c.source for c in nbformat.read(SOURCE, as_version=4).cells)
    assert "Production sets it to" not in text and "course's simulation it is **24 h**" in text
    assert "Exercise 4.3" not in text  # the guide's Module 4 has Exercises 4.1 and 4.2 only


def test_new_practice_keys():
    """m4-scaling follows the runbook's rule (CPU over 70 % for 2 min scales up, min 2 / max 4);
    m4-commands maps the guide's reference card and the runbook's secret command."""
    qs = questions()
    assert qs["m4-scaling"].answer.startswith("It adds replicas, up to 4")
    assert qs["m4-commands"].answer["Generate a new secret the way the runbook does"] == "openssl rand -base64 32"
    assert qs["m4-commands"].answer["Check the status of the project's services"] == "railway status"
    import base64, secrets
    assert len(base64.b64encode(secrets.token_bytes(32))) == 44  # what openssl rand -base64 32 prints


# -- realistic mistakes lose their own cell ---------------------------------------------------------
ONLY_THE_NEW_KEY = '''
def verify(token, secrets, now):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    if json.loads(base64.urlsafe_b64decode(pad(header))).get("alg") != "HS256":
        return None
    if now >= json.loads(base64.urlsafe_b64decode(pad(payload)))["exp"]:
        return None
    digest = hmac.new(secrets["JWT_SECRET"].encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return "JWT_SECRET" if hmac.compare_digest(digest, base64.urlsafe_b64decode(pad(signature))) else None
'''

NO_EXPIRY = '''
def verify(token, secrets, now):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    if json.loads(base64.urlsafe_b64decode(pad(header))).get("alg") != "HS256":
        return None
    for name in ("JWT_SECRET", "JWT_SECRET_OLD"):
        if name in secrets:
            digest = hmac.new(secrets[name].encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if hmac.compare_digest(digest, base64.urlsafe_b64decode(pad(signature))):
                return name
    return None
'''

# Reads which secret "should" have signed it from the payload, never checks the signature: passes
# every visible check, accepts an edited token.
TRUSTS_THE_PAYLOAD = '''
def verify(token, secrets, now):
    part = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if now >= claims["exp"]:
        return None
    name = "JWT_SECRET" if claims["iat"] >= DEPLOY_S else "JWT_SECRET_OLD"
    return name if name in secrets else None
'''

STILL_VALID_AT_EXP = NO_EXPIRY.replace('''    for name in''', '''    if now > json.loads(base64.urlsafe_b64decode(pad(payload)))["exp"]:
        return None
    for name in''')

URL_SAFE_SECRET = '''
import secrets
def new_secret():
    return secrets.token_urlsafe(32)
'''
HEX_SECRET = '''
import secrets
def new_secret():
    return secrets.token_hex(32)
'''
CONSTANT_SECRET = '''
_ONE = base64.b64encode(bytes(range(32))).decode()
_calls = []
def new_secret():
    _calls.append(1)
    return _ONE if len(_calls) % 2 else base64.b64encode(bytes(range(1, 33))).decode()
'''

FORGETS_EXPIRY = '''
def logged_out(tokens, at):
    return sorted(tokens.loc[tokens["signed_with"].eq("JWT_SECRET_OLD"), "userId"].unique())
'''
COUNTS_TOKENS = '''
def logged_out(tokens, at):
    return sorted(tokens.loc[tokens["signed_with"].eq("JWT_SECRET_OLD") & (tokens["exp"] > at), "userId"])
'''

PREVIOUS_OF_ANY_SERVICE = '''
def rollback_target(history, bad_id):
    ordered = history.sort_values("finishedAt").reset_index(drop=True)
    return ordered.loc[ordered.index[ordered["id"].eq(bad_id)][0] - 1, "id"]
'''
PREVIOUS_WHATEVER_ITS_STATUS = '''
def rollback_target(history, bad_id):
    bad = history.loc[history["id"].eq(bad_id)].iloc[0]
    mine = history[history["service"].eq(bad["service"]) & (history["finishedAt"] < bad["finishedAt"])]
    return mine.sort_values("finishedAt")["id"].iloc[-1]
'''

WORD_ANYWHERE = '''
def migration_phases(statements):
    upper = statements.str.upper()
    return pd.Series(1, index=statements.index).mask(upper.str.contains("DROP"), 2).mask(upper.str.contains("RENAME"), 3)
'''

MISTAKES = {
    "m4-a": {"m4-verify-solution": ONLY_THE_NEW_KEY, "m4-new-secret-solution": URL_SAFE_SECRET,
             "m4-logged-out-solution": FORGETS_EXPIRY, "m4-rollback-solution": PREVIOUS_OF_ANY_SERVICE,
             "m4-migrations-solution": WORD_ANYWHERE},
    "m4-b": {"m4-verify-solution": NO_EXPIRY, "m4-new-secret-solution": HEX_SECRET,
             "m4-logged-out-solution": COUNTS_TOKENS, "m4-rollback-solution": PREVIOUS_WHATEVER_ITS_STATUS},
    "m4-c": {"m4-verify-solution": TRUSTS_THE_PAYLOAD, "m4-new-secret-solution": CONSTANT_SECRET},
    "m4-d": {"m4-verify-solution": STILL_VALID_AT_EXP},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_mistake_loses_its_own_cell_only(one_world_course, name):
    overrides = MISTAKES[name]
    points = autograde(one_world_course, ASSIGNMENT, Trainee(name, code_overrides=overrides))
    lost = {cell for cell, (score, top) in points.items() if score < top}
    assert lost == {cell.replace("-solution", "-test") for cell in overrides}, points
