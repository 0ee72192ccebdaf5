"""m2_sla_severity: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation

HEALTH, LATENCY, ERRORS = "m2-health-solution", "m2-latency-solution", "m2-errors-solution"
LLM, SLO, INCIDENTS, BUDGET = "m2-llm-solution", "m2-slo-solution", "m2-incidents-solution", "m2-budget-solution"

# 5a: a monitor that trusts the status code reports the unhealthy bodies as up (the module's trap).
STATUS_CODE_ONLY = '''
probes = probe_lines.str.extract(r"^(?P<timestamp>\\S+) \\S+ \\S+ (?P<code>\\d{3}|-) ")
health = pd.DataFrame({"timestamp": pd.to_datetime(probes["timestamp"], utc=True)})
health["up"] = probes["code"].eq("200")
uptime_pct = 100 * health["up"].mean()
downtime_min = (~health["up"]).sum() * 0.5
'''
NOT_UNHEALTHY_IS_UP = STATUS_CODE_ONLY.replace('probes["code"].eq("200")',
                                               '~probe_lines.str.contains("unhealthy")')
DOWNTIME_IN_SECONDS = STATUS_CODE_ONLY.replace(
    'probes["code"].eq("200")', 'probes["code"].eq("200") & probe_lines.str.contains(\'"status":"healthy"\')'
).replace("* 0.5", "* 30")

# 5b: the successful requests only, or the health checks left in.
LATENCY_BASE = '''
log = pd.read_json(REQUEST_LOG, lines=True, engine="pyarrow")
requests = log[log["eventType"].isin(["http_response", "http_error"])].copy()
requests["timestamp"] = pd.to_datetime(requests["timestamp"], utc=True, format="ISO8601")
requests = requests.sort_values("timestamp")
api = requests[~requests["path"].str.startswith("/api/health")]
api_p95_s = api["durationMs"].quantile(0.95) / 1000
'''
SUCCESSES_ONLY = LATENCY_BASE.replace('isin(["http_response", "http_error"])', 'eq("http_response")')
HEALTH_KEPT = LATENCY_BASE.replace('requests[~requests["path"].str.startswith("/api/health")]', "requests")
P99 = LATENCY_BASE.replace("quantile(0.95)", "quantile(0.99)")

# 5c: which errors, and which window.
ERRORS_BASE = '''
is_5xx = pd.Series((api["statusCode"] >= 500).astype(float).to_numpy(), index=pd.DatetimeIndex(api["timestamp"]))
error_rate_24h = 100 * is_5xx.rolling("24h").mean()
worst_error_rate_24h_pct = error_rate_24h.max()
'''
FOUR_XX = ERRORS_BASE.replace(">= 500", ">= 400")
LAST_N_REQUESTS = ERRORS_BASE.replace('rolling("24h")', "rolling(2000, min_periods=1)")
MONTH_AVERAGE = ERRORS_BASE.replace('rolling("24h")', "expanding()")
AS_FRACTION = ERRORS_BASE.replace("100 * is_5xx", "is_5xx")

# 5d: every line of the worker, or milliseconds.
LLM_BASE = '''
log = pd.read_json(REQUEST_LOG, lines=True, engine="pyarrow")
sections = log[(log["context"] == "SectionsProcessor") & (log["message"] == "Section generation completed")]
sections = sections.assign(timestamp=pd.to_datetime(sections["timestamp"], utc=True, format="ISO8601"))
llm_p95_s = sections["durationMs"].quantile(0.95) / 1000
'''
EVERY_WORKER_LINE = LLM_BASE.replace(' & (log["message"] == "Section generation completed")', "")
MILLISECONDS = LLM_BASE.replace(" / 1000", "")

# 5e: "met" read the same way for every row.
SLO_BASE = '''
slo = pd.DataFrame(
    {"target": [99.5, 2.0, 1.0, 30.0],
     "actual": [uptime_pct, api_p95_s, worst_error_rate_24h_pct, llm_p95_s]},
    index=pd.Index(["uptime_pct", "api_p95_s", "error_rate_24h_pct", "llm_p95_s"], name="metric"),
)
slo["met"] = (slo["actual"] < slo["target"]).astype(bool)
slo.loc["uptime_pct", "met"] = bool(slo.loc["uptime_pct", "actual"] >= 99.5)
slo["met"] = slo["met"].astype(bool)
'''
UPTIME_BELOW_TARGET = SLO_BASE.replace('slo.loc["uptime_pct", "met"] = bool(slo.loc["uptime_pct", "actual"] >= 99.5)\n', "")
SLA_TARGET = SLO_BASE.replace("[99.5, 2.0", "[99.9, 2.0").replace(">= 99.5", ">= 99.9")

# 6: the channel's clock, and which ACK counts.
INCIDENTS_BASE = '''
msgs = channel.str.extract(r"^(?P<stamp>\\S+ \\S+) BRT \\| @(?P<author>\\S+) \\| (?P<text>.*)$")
msgs["time"] = pd.to_datetime(msgs["stamp"] + "-0300")
opened = msgs["text"].str.extract(r"^\\[INCIDENT\\] (?P<id>INC-[\\d-]+): .*? \\| Severity: (?P<severity>P\\d)")
opened["opened"] = msgs["time"]
incidents = opened.dropna(subset=["id"]).drop_duplicates("id")
for column, pattern in [("acknowledged", r"^ACK (INC-[\\d-]+)"), ("resolved", r"^\\[RESOLVED\\] (INC-[\\d-]+)")]:
    ids = msgs["text"].str.extract(pattern, expand=False)
    first = msgs["time"].groupby(ids).min().rename(column)
    incidents = incidents.merge(first, left_on="id", right_index=True, how="left")
incidents = incidents.reset_index(drop=True)
deadlines = incidents.copy()
last_message = msgs["time"].max()
for step, (done, which) in {"ack": ("acknowledged", 0), "resolve": ("resolved", 1)}.items():
    deadlines[f"{step}_deadline"] = [o + TARGETS[s][which] for o, s in zip(deadlines["opened"], deadlines["severity"])]
    late = deadlines[done] > deadlines[f"{step}_deadline"]
    overdue = deadlines[done].isna() & (deadlines[f"{step}_deadline"] < last_message)
    deadlines[f"{step}_breached"] = (late | overdue).astype(bool)
'''
READ_AS_UTC = INCIDENTS_BASE.replace('pd.to_datetime(msgs["stamp"] + "-0300")', 'pd.to_datetime(msgs["stamp"], utc=True)')
LAST_ACK = INCIDENTS_BASE.replace(".groupby(ids).min()", ".groupby(ids).max()")
OPEN_ALWAYS_BREACHED = INCIDENTS_BASE.replace(
    'deadlines[done].isna() & (deadlines[f"{step}_deadline"] < last_message)', "deadlines[done].isna()")

# 7: the stricter target, or a 30-day month.
SLA_BUDGET = "budget_left_min = (100 - 99.9) / 100 * 44_640 - downtime_min\n"
THIRTY_DAYS = "budget_left_min = (100 - 99.5) / 100 * 30 * 24 * 60 - downtime_min\n"

MUTATIONS = [
    Mutation("uptime from the status code only", {HEALTH: STATUS_CODE_ONLY}, "m2-health-test",
             "a 200 with an unhealthy body is down"),
    Mutation("anything but 'unhealthy' is up", {HEALTH: NOT_UNHEALTHY_IS_UP}, "m2-health-test",
             "502s and timeouts are down too"),
    Mutation("downtime in seconds", {HEALTH: DOWNTIME_IN_SECONDS}, "m2-health-test"),
    Mutation("successful requests only", {LATENCY: SUCCESSES_ONLY}, "m2-latency-test",
             "users waited for the failed requests too"),
    Mutation("health checks kept in the API traffic", {LATENCY: HEALTH_KEPT}, "m2-latency-test"),
    Mutation("p99 instead of p95", {LATENCY: P99}, "m2-latency-test"),
    Mutation("4xx counted as errors", {ERRORS: FOUR_XX}, "m2-errors-test", "the SLO counts 5xx only"),
    Mutation("a window of 2000 requests", {ERRORS: LAST_N_REQUESTS}, "m2-errors-test", "the window is 24 hours"),
    Mutation("the month's running average", {ERRORS: MONTH_AVERAGE}, "m2-errors-test"),
    Mutation("a fraction, not a percentage", {ERRORS: AS_FRACTION}, "m2-errors-test"),
    Mutation("every SectionsProcessor line", {LLM: EVERY_WORKER_LINE}, "m2-llm-test"),
    Mutation("LLM time in milliseconds", {LLM: MILLISECONDS}, "m2-llm-test"),
    Mutation("uptime met only below its target", {SLO: UPTIME_BELOW_TARGET}, "m2-slo-test"),
    Mutation("the SLA's 99.9 % in the guide's table", {SLO: SLA_TARGET}, "m2-slo-test"),
    Mutation("BRT read as UTC", {INCIDENTS: READ_AS_UTC}, "m2-incidents-test"),
    Mutation("the last ACK counted", {INCIDENTS: LAST_ACK}, "m2-incidents-test", "only the first ACK counts"),
    Mutation("an open incident always breached", {INCIDENTS: OPEN_ALWAYS_BREACHED}, "m2-incidents-test"),
    Mutation("the 99.9 % allowance", {BUDGET: SLA_BUDGET}, "m2-budget-test"),
    Mutation("a 30-day month", {BUDGET: THIRTY_DAYS}, "m2-budget-test"),
]

ALTERNATIVES = [
    Alternative("health from str.contains", {HEALTH: '''
health = pd.DataFrame({"timestamp": pd.to_datetime(probe_lines.str.split(" ").str[0], utc=True)})
health["up"] = (probe_lines.str.contains(" 200 ", regex=False)
                & probe_lines.str.contains('"status":"healthy"', regex=False)).to_numpy()
uptime_pct = health["up"].mean() * 100
downtime_min = (len(health) - health["up"].sum()) / 2
'''}),
    Alternative("budget from the quiz's number", {BUDGET: "budget_left_min = 223.2 - downtime_min\n"}),
]
