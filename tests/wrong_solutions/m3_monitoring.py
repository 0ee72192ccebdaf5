"""m3_monitoring: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation  # noqa: F401

# -- 2a · the events export ---------------------------------------------------------------------------
IDS_AS_NUMBERS = Mutation(
    "ids read as numbers",
    {"m3-events-solution": '''
raw = pd.read_json(SENTRY_EVENTS, lines=True)
events = pd.json_normalize(raw.to_dict("records"))
events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
events["title"] = events["exception.type"] + ": " + events["exception.value"]
'''},
    costs="m3-events-test", why="the hint: dtype=False keeps the ids as text")

TITLE_WITHOUT_TYPE = Mutation(
    "the title without the exception's class",
    {"m3-events-solution": '''
raw = pd.read_json(SENTRY_EVENTS, lines=True, dtype=False)
events = pd.json_normalize(raw.to_dict("records"))
events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
events["title"] = events["exception.value"]
'''},
    costs="m3-events-test", why="an issue's title is '<exception.type>: <exception.value>'")


# -- 2b · the top 3 -------------------------------------------------------------------------------------
def top_errors_code(keep: str, order: str = 'counts.sort_values(["events", "issueId"], ascending=[False, True], ignore_index=True)') -> str:
    return f'''
def top_errors(events, since, until, environment="production", n=3):
    {keep}
    counts = events[keep].groupby(["issueId", "title"]).size().rename("events").reset_index()
    counts = {order}
    return counts.head(n)
'''


ENVIRONMENT_IGNORED = Mutation(
    "no environment filter",
    {"m3-top-errors-solution": top_errors_code(
        'keep = events["level"].isin(["error", "fatal"]) & (events["timestamp"] >= since) & (events["timestamp"] < until)')},
    costs="m3-top-errors-test", why="section 2c: the staging suite tops the list when the environment is not filtered")

WARNINGS_COUNTED = Mutation(
    "warnings counted as errors",
    {"m3-top-errors-solution": top_errors_code(
        'keep = (events["timestamp"] >= since) & (events["timestamp"] < until)\n'
        '    if environment is not None:\n'
        '        keep &= events["environment"] == environment')},
    costs="m3-top-errors-test", why="errors are the levels error and fatal; the everyday 401 warnings crowd in otherwise")

ERROR_LEVEL_ONLY = Mutation(
    "fatal events left out",
    {"m3-top-errors-solution": top_errors_code(
        'keep = events["level"].eq("error") & (events["timestamp"] >= since) & (events["timestamp"] < until)\n'
        '    if environment is not None:\n'
        '        keep &= events["environment"] == environment')},
    costs="m3-top-errors-test", why="the text: the levels error and fatal")

UNTIL_INCLUDED = Mutation(
    "until included in the range",
    {"m3-top-errors-solution": top_errors_code(
        'keep = events["level"].isin(["error", "fatal"]) & events["timestamp"].between(since, until)\n'
        '    if environment is not None:\n'
        '        keep &= events["environment"] == environment')},
    costs="m3-top-errors-test", why="since <= timestamp < until")

TIME_RANGE_IGNORED = Mutation(
    "no time range",
    {"m3-top-errors-solution": top_errors_code(
        'keep = events["level"].isin(["error", "fatal"])\n'
        '    if environment is not None:\n'
        '        keep &= events["environment"] == environment')},
    costs="m3-top-errors-test", why="counting an issue's events over the whole export is the issue list's count, not the range's")

TIES_LARGER_FIRST = Mutation(
    "ties broken by the larger issueId",
    {"m3-top-errors-solution": top_errors_code(
        'keep = events["level"].isin(["error", "fatal"]) & (events["timestamp"] >= since) & (events["timestamp"] < until)\n'
        '    if environment is not None:\n'
        '        keep &= events["environment"] == environment',
        order='counts.sort_values(["events", "issueId"], ascending=False, ignore_index=True)')},
    costs="m3-top-errors-test", why="on equal counts, the smaller issueId first")

# -- 2d · one failed request ------------------------------------------------------------------------------
CONTEXT_KEYS = '''
context = {"time": hit["timestamp"], "environment": hit["environment"], "endpoint": hit["tags.endpoint"],
           "status_code": hit["tags.status_code"], "user_id": hit["user.id"], "release": hit["release"],
           "raised_in": raised_in}
'''

FIRST_EXPORT_FAILURE_OF_THE_DAY = Mutation(
    "the day's first export failure instead of the ticket's",
    {"m3-ticket-solution": '''
exports = events[events["tags.endpoint"].fillna("").str.startswith("GET /api/v1/export/")
                 & events["timestamp"].dt.strftime("%Y-%m-%d").eq("2026-10-23")]
hit = exports.sort_values("timestamp").iloc[0]
raised_in = [frame["function"] for frame in hit["exception.stacktrace.frames"] if frame["in_app"]][-1]
''' + CONTEXT_KEYS},
    costs="m3-ticket-test", why="the request id finds the one event; the ticket's time is BRT")

OUTERMOST_FRAME = Mutation(
    "raised_in from the outermost frame",
    {"m3-ticket-solution": '''
hit = events[events["tags.request_id"] == TICKET_REQUEST_ID].iloc[0]
raised_in = hit["exception.stacktrace.frames"][0]["function"]
''' + CONTEXT_KEYS},
    costs="m3-ticket-test", why="the frames run from the outermost call to the one that raised: the last in-app frame")

# -- 3a · load what you need ----------------------------------------------------------------------------------
def metrics_code(percent: str = '100 * frame["memory_mb"] / frame["memory_limit_mb"]',
                 window: str = '(frame["timestamp"] >= until - pd.Timedelta(hours=24)) & (frame["timestamp"] < until)') -> str:
    return f'''
METRIC_COLUMNS = ["timestamp", "service", "replica", "cpu_percent", "memory_mb", "memory_limit_mb"]


def load_metrics(path, service=None):
    frame = pd.read_csv(path, usecols=METRIC_COLUMNS, engine="pyarrow")
    if service is not None:
        frame = frame[frame["service"] == service].reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["memory_percent"] = {percent}
    return frame


def last_24h(frame, until):
    until = pd.Timestamp(until)
    return frame[{window}]
'''


LAST_24H_WITH_UNTIL = Mutation(
    "last_24h includes until",
    {"m3-metrics-solution": metrics_code(
        window='frame["timestamp"].between(until - pd.Timedelta(hours=24), until)')},
    costs="m3-metrics-test", why="until - 24 h <= timestamp < until")

LAST_24H_WITHOUT_ITS_FIRST_MINUTE = Mutation(
    "last_24h leaves out until - 24 h",
    {"m3-metrics-solution": metrics_code(
        window='(frame["timestamp"] > until - pd.Timedelta(hours=24)) & (frame["timestamp"] <= until)')},
    costs="m3-metrics-test", why="until - 24 h <= timestamp < until: the window is shifted by a minute")

MEMORY_AS_A_FRACTION = Mutation(
    "memory_percent as a fraction",
    {"m3-metrics-solution": metrics_code(percent='frame["memory_mb"] / frame["memory_limit_mb"]')},
    costs="m3-metrics-test", why="alert rules speak in percent of the limit")

MEMORY_OF_TWO_GB = Mutation(
    "memory_percent of a fixed 2 GB",
    {"m3-metrics-solution": metrics_code(percent='100 * frame["memory_mb"] / 2048')},
    costs="m3-metrics-test", why="each replica has its own limit, memory_limit_mb")

EVERY_COLUMN_READ = Mutation(
    "every column read",
    {"m3-metrics-solution": metrics_code().replace('usecols=METRIC_COLUMNS, ', '')},
    costs="m3-metrics-test", why="read only the columns you need (usecols=)")

# -- 3b · alert firings -----------------------------------------------------------------------------------------
REPLICAS_MIXED = Mutation(
    "runs across interleaved replicas",
    {"m3-alerts-solution": '''
def alert_firings(metrics, rules):
    frame = metrics.sort_values("timestamp", kind="stable")
    found = []
    for source, metric, above, minutes, severity in rules:
        hot = frame[metric] > above
        run = (hot & ~hot.shift(fill_value=False)).cumsum()
        runs = frame[hot].groupby(run[hot]).agg(service=("service", "first"), replica=("replica", "first"),
                                                start=("timestamp", "min"), end=("timestamp", "max"),
                                                minutes=("timestamp", "size"))
        runs = runs[runs["minutes"] >= minutes]
        found.append(runs.assign(source=source, metric=metric, threshold=above, severity=severity))
    return pd.concat(found, ignore_index=True)
'''},
    costs="m3-alerts-test", why="each service and replica on its own")


def alerts_code(hot: str = 'frame[metric] > above', prepare: str = "") -> str:
    return f'''
def alert_firings(metrics, rules):
    frame = metrics.sort_values(["service", "replica", "timestamp"], kind="stable"){prepare}
    series = frame["service"] + "#" + frame["replica"].astype(str)
    same_series = series.eq(series.shift())
    found = []
    for source, metric, above, minutes, severity in rules:
        hot = {hot}
        run = (hot & ~(hot.shift(fill_value=False) & same_series)).cumsum()
        runs = frame[hot].groupby(run[hot]).agg(service=("service", "first"), replica=("replica", "first"),
                                                start=("timestamp", "min"), end=("timestamp", "max"),
                                                minutes=("timestamp", "size"))
        runs = runs[runs["minutes"] >= minutes]
        found.append(runs.assign(source=source, metric=metric, threshold=above, severity=severity))
    columns = ["source", "metric", "threshold", "service", "replica", "start", "end", "minutes", "severity"]
    return pd.concat(found, ignore_index=True)[columns]
'''


AT_THE_THRESHOLD = Mutation(
    "a sample at the threshold fires",
    {"m3-alerts-solution": alerts_code(hot='frame[metric] >= above')},
    costs="m3-alerts-test", why="a rule fires above its threshold, strictly")

GAPS_DROPPED = Mutation(
    "missing samples dropped, so runs join across them",
    {"m3-alerts-solution": alerts_code(prepare='.dropna(subset=["cpu_percent", "memory_percent"])')},
    costs="m3-alerts-test", why="a missing sample (no container) ends a run")

# -- 4a · the last 7 days -----------------------------------------------------------------------------------------
DEPLOYMENTS_HEAD = '''
deployments = pd.json_normalize(history["deployments"])
for column in ["createdAt", "startedAt", "finishedAt"]:
    deployments[column] = pd.to_datetime(deployments[column], utc=True)
in_window = deployments["createdAt"].between(*LAST_7_DAYS, inclusive="left")
'''

LIVE_ONLY = Mutation(
    "only the deployments that went live",
    {"m3-deploys-solution": DEPLOYMENTS_HEAD + '''
recent = deployments[in_window & deployments["status"].ne("FAILED")]
'''},
    costs="m3-deploys-test", why="the text: of every service and whatever became of them (a failed build too)")

BACKEND_ONLY = Mutation(
    "the backend's deployments only",
    {"m3-deploys-solution": DEPLOYMENTS_HEAD + '''
recent = deployments[in_window & deployments["service"].eq(BACKEND)]
'''},
    costs="m3-deploys-test", why="the text: of every service")

MUTATIONS: list = [IDS_AS_NUMBERS, TITLE_WITHOUT_TYPE, ENVIRONMENT_IGNORED, WARNINGS_COUNTED, ERROR_LEVEL_ONLY,
                   UNTIL_INCLUDED, TIME_RANGE_IGNORED, TIES_LARGER_FIRST, FIRST_EXPORT_FAILURE_OF_THE_DAY,
                   OUTERMOST_FRAME, LAST_24H_WITH_UNTIL, LAST_24H_WITHOUT_ITS_FIRST_MINUTE, MEMORY_AS_A_FRACTION,
                   MEMORY_OF_TWO_GB, EVERY_COLUMN_READ, REPLICAS_MIXED, AT_THE_THRESHOLD, GAPS_DROPPED, LIVE_ONLY,
                   BACKEND_ONLY]

# -- other right ways ---------------------------------------------------------------------------------------------
ALTERNATIVES: list = [
    Alternative("events from json.loads line by line", {"m3-events-solution": '''
with open(SENTRY_EVENTS, encoding="utf-8") as fh:
    events = pd.json_normalize([json.loads(line) for line in fh])
events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
events["title"] = events["exception.type"].str.cat(events["exception.value"], sep=": ")
'''}, why="no read_json"),
    Alternative("top_errors with query() and value_counts", {"m3-top-errors-solution": '''
def top_errors(events, since, until, environment="production", n=3):
    chosen = events.query("level in ['error', 'fatal'] and @since <= timestamp < @until")
    if environment is not None:
        chosen = chosen[chosen["environment"] == environment]
    counts = chosen.value_counts(["issueId", "title"]).rename("events").reset_index()
    return counts.sort_values(["events", "issueId"], ascending=[False, True]).head(n).reset_index(drop=True)
'''}, why="query and value_counts instead of masks and groupby"),
    Alternative("the ticket's frames filtered with a comprehension", {"m3-ticket-solution": '''
hit = events.loc[events["tags.request_id"].eq(TICKET_REQUEST_ID)].squeeze()
own = [frame for frame in hit["exception.stacktrace.frames"] if frame.get("in_app")]
context = dict(time=hit["timestamp"], environment=hit["environment"], endpoint=hit["tags.endpoint"],
               status_code=int(hit["tags.status_code"]), user_id=hit["user.id"], release=hit["release"],
               raised_in=own[-1]["function"])
'''}, why="a status code as a number is the same status"),
    Alternative("last_24h with between(inclusive='left')", {"m3-metrics-solution": '''
def load_metrics(path, service=None):
    frame = pd.read_csv(path, usecols=["timestamp", "service", "replica", "cpu_percent", "memory_mb", "memory_limit_mb"])
    if service is not None:
        frame = frame.loc[frame["service"].eq(service)].copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["memory_percent"] = frame["memory_mb"].div(frame["memory_limit_mb"]).mul(100)
    return frame


def last_24h(frame, until):
    until = pd.Timestamp(until)
    return frame[frame["timestamp"].between(until - pd.Timedelta("24h"), until, inclusive="left")]
'''}, why="no pyarrow engine; between with inclusive='left'"),
    Alternative("recent with a boolean mask on createdAt", {"m3-deploys-solution": '''
deployments = pd.json_normalize(history["deployments"])
deployments[["createdAt", "startedAt", "finishedAt"]] = deployments[["createdAt", "startedAt", "finishedAt"]].apply(pd.to_datetime, utc=True)
recent = deployments.query("@LAST_7_DAYS[0] <= createdAt < @LAST_7_DAYS[1]")
'''}, why="query instead of a mask"),
]

# -- more: a filter that forgets None, and the ticket's BRT time read as UTC ------------------------------------
SERVICE_NONE_FILTERS_ALL = Mutation(
    "service=None keeps no row",
    {"m3-metrics-solution": metrics_code().replace("    if service is not None:\n        frame = frame[frame[\"service\"] == service].reset_index(drop=True)\n",
                                                   "    frame = frame[frame[\"service\"] == service].reset_index(drop=True)\n")},
    costs="m3-metrics-test", why="every service when service is None")

TICKET_TIME_AS_UTC = Mutation(
    "the export failure nearest the ticket's time read as UTC",
    {"m3-ticket-solution": '''
said = pd.Timestamp(f"2026-10-23 {STORY['ticket_brt']}", tz="UTC")
exports = events[events["tags.endpoint"].fillna("").str.startswith("GET /api/v1/export/")].reset_index(drop=True)
hit = exports.iloc[(exports["timestamp"] - said).abs().argmin()]
raised_in = [frame["function"] for frame in hit["exception.stacktrace.frames"] if frame["in_app"]][-1]
''' + CONTEXT_KEYS},
    costs="m3-ticket-test", why="the ticket's time is BRT, the events' UTC; the request id finds the event")

MUTATIONS += [SERVICE_NONE_FILTERS_ALL, TICKET_TIME_AS_UTC]
