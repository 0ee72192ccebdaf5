"""m1_architecture: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation  # noqa: F401

# -- 5a · the services ------------------------------------------------------------------------------
STAGING_SERVICES = Mutation(
    "staging's services",
    {"m1-services-solution": '''
flat = pd.json_normalize(export["environments"], record_path="services", meta="name", meta_prefix="environment.")
staging = flat[flat["environment.name"] == "staging"]
services = pd.DataFrame({"service": staging["name"], "replicas": staging["deploy.numReplicas"],
                         "healthcheck_path": staging["deploy.healthcheckPath"],
                         "start_command": staging["deploy.startCommand"]}).reset_index(drop=True)
'''},
    costs="m1-services-test", why="the exercise asks for the production environment; the export lists staging second")

MISSING_FILLED = Mutation(
    "missing paths filled with empty text",
    {"m1-services-solution": '''
flat = pd.json_normalize(export["environments"], record_path="services", meta="name", meta_prefix="environment.")
production = flat[flat["environment.name"] == "production"]
services = pd.DataFrame({"service": production["name"], "replicas": production["deploy.numReplicas"],
                         "healthcheck_path": production["deploy.healthcheckPath"].fillna(""),
                         "start_command": production["deploy.startCommand"].fillna("")}).reset_index(drop=True)
'''},
    costs="m1-services-test", why="the text says: where the export has null, leave the value missing")

# -- 5b · variables ---------------------------------------------------------------------------------
SECRETS_BY_NAME = Mutation(
    "secrets guessed from their names",
    {"m1-variables-solution": '''
rows = [{"environment": e["name"], "service": s["name"], "variable": v["name"]}
        for e in export["environments"] for s in e["services"] for v in s["variables"]]
env = pd.DataFrame(rows)
env = env[env["environment"] == "production"].drop(columns="environment").reset_index(drop=True)
env["secret"] = env["variable"].str.contains("SECRET|PASSWORD|KEY|TOKEN")
per_service = env.groupby("service").agg(
    variables=("variable", "size"),
    secrets=("variable", lambda names: ", ".join(sorted(names[env.loc[names.index, "secret"]]))),
)
'''},
    costs="m1-variables-test", why="a URL that carries a password is a secret too: read the export's flag")

EVERY_ENVIRONMENT_VARIABLES = Mutation(
    "variables of both environments",
    {"m1-variables-solution": '''
rows = [{"service": s["name"], "variable": v["name"], "secret": bool(v["secret"])}
        for e in export["environments"] for s in e["services"] for v in s["variables"]]
env = pd.DataFrame(rows)
per_service = env.groupby("service").agg(
    variables=("variable", "size"),
    secrets=("variable", lambda names: ", ".join(sorted(names[env.loc[names.index, "secret"]]))),
)
'''},
    costs="m1-variables-test", why="the exercise asks for the production environment (JWT_SECRET_OLD is staging's)")

# -- 5c · the month of health checks ----------------------------------------------------------------
CHECKS_HEAD = '''
raw = pd.read_json(HEALTH_CHECKS, lines=True, dtype=False)
body = pd.json_normalize(raw["body"].tolist())
checks = pd.DataFrame({
    "checkedAt": pd.to_datetime(raw["checkedAt"], utc=True), "service": raw["service"], "path": raw["path"],
    "http_status": raw["httpStatus"].astype("Int64"), "response_ms": raw["responseTimeMs"],
    "status": body["status"], "reason": body["reason"],
    "database": body["database"].fillna(body["components.database"]),
    "redis": body["redis"].fillna(body["components.redis"]),
    "openai_circuit_open": body["components.providers.openai.circuitOpen"], "error": raw["error"],
})
'''

STATUS_CODE_ONLY = Mutation(
    "passed from the HTTP status alone",
    {"m1-checks-solution": CHECKS_HEAD + '''
checks["passed"] = checks["http_status"].eq(200).fillna(False).astype(bool)
'''},
    costs="m1-checks-test", why="section 4: both endpoints always answer 200; read the body")

DEGRADED_PASSES = Mutation(
    "a degraded readiness answer counted as passed",
    {"m1-checks-solution": CHECKS_HEAD + '''
healthy_body = checks["status"].isin(["healthy", "ready", "degraded"]) | checks["path"].eq("/")
checks["passed"] = (checks["http_status"].eq(200).fillna(False) & healthy_body).astype(bool)
'''},
    costs="m1-checks-test", why="passed is a status of healthy or ready; degraded means generation fails")

FRONTEND_NEEDS_A_BODY = Mutation(
    "the frontend judged by a body it does not have",
    {"m1-checks-solution": CHECKS_HEAD + '''
checks["passed"] = (checks["http_status"].eq(200).fillna(False) & checks["status"].isin(["healthy", "ready"])).astype(bool)
'''},
    costs="m1-checks-test", why="the frontend's / has no body, so 200 is enough there")

DATABASE_TOP_LEVEL_ONLY = Mutation(
    "database read from the liveness body only",
    {"m1-checks-solution": CHECKS_HEAD.replace('body["database"].fillna(body["components.database"])', 'body["database"]') + '''
healthy_body = checks["status"].isin(["healthy", "ready"]) | checks["path"].eq("/")
checks["passed"] = (checks["http_status"].eq(200).fillna(False) & healthy_body).astype(bool)
'''},
    costs="m1-checks-test", why="database sits at the top level of a liveness answer and under components in a readiness one")

NAIVE_TIMES = Mutation(
    "checkedAt without its timezone",
    {"m1-checks-solution": CHECKS_HEAD + '''
healthy_body = checks["status"].isin(["healthy", "ready"]) | checks["path"].eq("/")
checks["passed"] = (checks["http_status"].eq(200).fillna(False) & healthy_body).astype(bool)
checks["checkedAt"] = checks["checkedAt"].dt.tz_localize(None)
'''},
    costs="m1-checks-test", why="checkedAt must be timezone-aware UTC")

# -- 5d · why did a check fail? ---------------------------------------------------------------------
COUNT_FAILURES = '''

def count_failures(checks):
    return failure_reasons(checks).groupby(["path", "why"])["checkedAt"].agg(checks="size", first="min", last="max")
'''

REVERSED_RULES = Mutation(
    "the last rule that applies instead of the first",
    {"m1-why-solution": '''
def failure_reasons(checks):
    failed = checks[~checks["passed"]].sort_values("checkedAt", kind="stable").copy()
    rules = {
        "openai circuit open": failed["openai_circuit_open"].eq(True),
        "redis not_configured": failed["redis"].eq("not_configured"),
        "redis disconnected": failed["redis"].eq("unhealthy"),
        "database disconnected": failed["database"].eq("disconnected"),
        "HTTP 502": failed["http_status"].eq(502).fillna(False),
        "timeout": failed["error"].eq("timeout"),
    }
    failed["why"] = np.select([rule.fillna(False).astype(bool) for rule in rules.values()], list(rules), default="other")
    return failed
''' + COUNT_FAILURES},
    costs="m1-why-test", why="the table says the first rule that applies names the cause")

LATER_RULES_OVERWRITE = Mutation(
    "each rule written over the one before",
    {"m1-why-solution": '''
def failure_reasons(checks):
    failed = checks[~checks["passed"]].sort_values("checkedAt", kind="stable").copy()
    failed["why"] = "other"
    failed.loc[failed["error"].eq("timeout").fillna(False), "why"] = "timeout"
    failed.loc[failed["http_status"].eq(502).fillna(False), "why"] = "HTTP 502"
    failed.loc[failed["database"].eq("disconnected").fillna(False), "why"] = "database disconnected"
    failed.loc[failed["redis"].eq("unhealthy").fillna(False), "why"] = "redis disconnected"
    failed.loc[failed["redis"].eq("not_configured").fillna(False), "why"] = "redis not_configured"
    failed.loc[failed["openai_circuit_open"].eq(True).fillna(False), "why"] = "openai circuit open"
    return failed
''' + COUNT_FAILURES},
    costs="m1-why-test", why="assignments in table order let the last rule that applies win, not the first")

REASON_ONLY = Mutation(
    "why from the readiness reason alone",
    {"m1-why-solution": '''
def failure_reasons(checks):
    failed = checks[~checks["passed"]].sort_values("checkedAt", kind="stable").copy()
    failed["why"] = failed["reason"].str.replace("_", " ").fillna(failed["error"]).fillna("other")
    return failed
''' + COUNT_FAILURES},
    costs="m1-why-test", why="liveness bodies have no reason, degraded readiness bodies neither")

# -- 5e · not-ready spells ----------------------------------------------------------------------------
SPELLS_BY_DAY = Mutation(
    "one spell per day",
    {"m1-spells-solution": '''
def not_ready_spells(checks):
    ready = checks[(checks["path"] == READY) & ~checks["passed"]].sort_values("checkedAt")
    spells = ready.groupby(ready["checkedAt"].dt.date)["checkedAt"].agg(start="min", end="max", checks="size")
    spells = spells.reset_index(drop=True)
    spells["minutes"] = 5 * spells["checks"]
    return spells
'''},
    costs="m1-spells-test", why="a passed readiness check ends a spell; a day can hold two")

LIVENESS_IN_SPELLS = Mutation(
    "liveness failures counted in the spells",
    {"m1-spells-solution": '''
def not_ready_spells(checks):
    backend = checks[checks["path"] != "/"].sort_values("checkedAt", kind="stable")
    label = backend["passed"].cumsum()
    failed = backend[~backend["passed"]]
    spells = failed.groupby(label[~backend["passed"]])["checkedAt"].agg(start="min", end="max", checks="size")
    spells = spells.reset_index(drop=True)
    spells["minutes"] = 5 * spells["checks"]
    return spells
'''},
    costs="m1-spells-test", why="a not-ready spell is a run of failed readiness checks only")

MINUTES_FROM_THE_CLOCK = Mutation(
    "minutes from end minus start",
    {"m1-spells-solution": '''
def not_ready_spells(checks):
    ready = checks[checks["path"] == READY].sort_values("checkedAt", kind="stable")
    label = ready["passed"].cumsum()
    failed = ready[~ready["passed"]]
    spells = failed.groupby(label[~ready["passed"]])["checkedAt"].agg(start="min", end="max", checks="size")
    spells = spells.reset_index(drop=True)
    spells["minutes"] = (spells["end"] - spells["start"]).dt.total_seconds() // 60
    return spells
'''},
    costs="m1-spells-test", why="each check stands for the 5 minutes up to the next one: 5 * checks")

MUTATIONS: list = [STAGING_SERVICES, MISSING_FILLED, SECRETS_BY_NAME, EVERY_ENVIRONMENT_VARIABLES,
                   STATUS_CODE_ONLY, DEGRADED_PASSES, FRONTEND_NEEDS_A_BODY, DATABASE_TOP_LEVEL_ONLY,
                   NAIVE_TIMES, REVERSED_RULES, LATER_RULES_OVERWRITE, REASON_ONLY, SPELLS_BY_DAY,
                   LIVENESS_IN_SPELLS, MINUTES_FROM_THE_CLOCK]

# -- other right ways ---------------------------------------------------------------------------------
ALTERNATIVES: list = [
    Alternative("services from a loop over the export", {"m1-services-solution": '''
production = next(e for e in export["environments"] if e["name"] == "production")
services = pd.DataFrame([{"service": s["name"], "replicas": s["deploy"]["numReplicas"],
                          "healthcheck_path": s["deploy"]["healthcheckPath"],
                          "start_command": s["deploy"]["startCommand"]} for s in production["services"]])
'''}, why="a list comprehension instead of json_normalize"),
    Alternative("variables with json_normalize", {"m1-variables-solution": '''
flat = pd.json_normalize(export["environments"], record_path=["services", "variables"],
                         meta=["name", ["services", "name"]], meta_prefix="m.")
flat = flat[flat["m.name"] == "production"]
env = pd.DataFrame({"service": flat["m.services.name"], "variable": flat["name"],
                    "secret": flat["secret"].astype(bool)}).reset_index(drop=True)
per_service = pd.DataFrame({
    "variables": env.groupby("service").size(),
    "secrets": env.groupby("service").apply(lambda g: ", ".join(sorted(g.loc[g["secret"], "variable"]))),
})
'''}, why="the hint's other way"),
    Alternative("why with a row-by-row function", {"m1-why-solution": '''
def _why(row):
    if row["error"] == "timeout":
        return "timeout"
    if not pd.isna(row["http_status"]) and row["http_status"] == 502:
        return "HTTP 502"
    if row["database"] == "disconnected":
        return "database disconnected"
    if row["redis"] == "unhealthy":
        return "redis disconnected"
    if row["redis"] == "not_configured":
        return "redis not_configured"
    if row["openai_circuit_open"] is True:
        return "openai circuit open"
    return "other"


def failure_reasons(checks):
    failed = checks[~checks["passed"]].sort_values("checkedAt", kind="stable").copy()
    failed["why"] = failed.apply(_why, axis=1)
    return failed


def count_failures(checks):
    failed = failure_reasons(checks)
    return failed.groupby(["path", "why"]).agg(checks=("checkedAt", "size"), first=("checkedAt", "min"),
                                               last=("checkedAt", "max"))
'''}, why="if/elif in table order is 'the first rule that applies'"),
    Alternative("spells from the gaps between failed checks", {"m1-spells-solution": '''
def not_ready_spells(checks):
    ready = checks[checks["path"] == READY].sort_values("checkedAt", kind="stable").reset_index(drop=True)
    down = ~ready["passed"]
    starts = down & ~down.shift(fill_value=False)
    spell = starts.cumsum()[down]
    spells = ready[down].groupby(spell)["checkedAt"].agg(["min", "max", "size"])
    spells.columns = ["start", "end", "checks"]
    spells = spells.reset_index(drop=True)
    spells["minutes"] = spells["checks"] * 5
    return spells
'''}, why="a spell starts where a failed check follows a passed one"),
]

# -- more 5b: the format of per_service's secrets -----------------------------------------------------------
VARIABLES_ROWS = '''
rows = [{"environment": e["name"], "service": s["name"], "variable": v["name"], "secret": bool(v["secret"])}
        for e in export["environments"] for s in e["services"] for v in s["variables"]]
env = pd.DataFrame(rows)
env = env[env["environment"] == "production"].drop(columns="environment").reset_index(drop=True)
'''
SECRETS_UNSORTED = Mutation(
    "secrets joined in the export's order",
    {"m1-variables-solution": VARIABLES_ROWS + '''
per_service = env.groupby("service").agg(
    variables=("variable", "size"),
    secrets=("variable", lambda names: ", ".join(names[env.loc[names.index, "secret"]][::-1])),
)
'''},
    costs="m1-variables-test", why="the names of its secrets, sorted and joined with ', '")

NO_SECRET_LEFT_MISSING = Mutation(
    "a service with no secret left missing",
    {"m1-variables-solution": VARIABLES_ROWS + '''
per_service = pd.DataFrame({
    "variables": env.groupby("service").size(),
    "secrets": env[env["secret"]].groupby("service")["variable"].apply(lambda names: ", ".join(sorted(names))),
})
'''},
    costs="m1-variables-test", why="an empty string for a service with none")

MUTATIONS += [SECRETS_UNSORTED, NO_SECRET_LEFT_MISSING]
