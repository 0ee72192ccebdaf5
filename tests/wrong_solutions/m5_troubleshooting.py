"""m5_troubleshooting: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation  # noqa: F401

FIRST_ERROR_OF_THE_DAY = Mutation(
    "the first error of the day, not the first failure",
    {"m5-first-failure-solution": '''
def first_failure(events, match, min_level="error"):
    errors = events[events["level"] >= min_level]
    if errors.empty:
        return None
    return errors.sort_values("timestamp", kind="stable").iloc[0]
'''},
    costs="m5-first-failure-test", why="the text: the first error of the day is some user refused around midnight")

MESSAGE_ONLY = Mutation(
    "the match looked for in message only",
    {"m5-first-failure-solution": '''
def first_failure(events, match, min_level="error"):
    hits = events[(events["level"] >= min_level) & events["message"].str.contains(match, regex=True).fillna(False).astype(bool)]
    if hits.empty:
        return None
    return hits.sort_values("timestamp", kind="stable").iloc[0]
'''},
    costs="m5-first-failure-test", why="the text: message, error or stack")

GLUED_NPM_WARNING = Mutation(
    "the npm warning glued to the event above it",
    {"m5-parse-bracketed-solution": '''
def parse_bracketed(path):
    check_format(path, "bracketed")
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    chunks = pd.Series(re.split(r"\\n(?=\\[)", text.rstrip("\\n")), dtype="str")
    fields = chunks.str.extract(r"^\\[(?P<level>[A-Z]+)\\] (?P<timestamp>\\S+ \\S+) (?P<message>[^\\n]*)(?:\\n(?P<stack>[\\s\\S]+))?$")
    matched = fields["level"].notna()
    events = fields[matched].reset_index(drop=True)
    events["timestamp"] = pd.to_datetime(events["timestamp"], format="%Y-%m-%d %H:%M:%S")
    events["level"] = events["level"].str.lower().astype(LEVELS)
    return events, chunks[~matched].reset_index(drop=True).to_frame("raw")
'''},
    costs="m5-parse-bracketed-test", why="the text: a line at the left margin that is not [LEVEL] is malformed")

QUIET_MINUTES_MISSING = Mutation(
    "errors per minute without the quiet minutes",
    {"m5-per-minute-solution": '''
def errors_per_minute(events):
    errors = events[events["level"] >= "error"]
    return errors.groupby(errors["timestamp"].dt.floor("min")).size().rename("errors")
'''},
    costs="m5-per-minute-test", why="the text: every minute, 0 for quiet ones")

FROM_FIRST_ERROR_ONLY = Mutation(
    "errors per minute from the first error to the last",
    {"m5-per-minute-solution": '''
def errors_per_minute(events):
    errors = events[events["level"] >= "error"]
    return errors.set_index("timestamp").resample("min").size().rename("errors")
'''},
    costs="m5-per-minute-test", why="the text: from the log's first minute to its last")

HTTP_ERRORS_ONLY = Mutation(
    "errors per minute counting http_error lines only",
    {"m5-per-minute-solution": '''
def errors_per_minute(events):
    is_error = pd.Series(events["eventType"].eq("http_error").to_numpy(dtype="int64"), index=events["timestamp"])
    return is_error.resample("min").sum().rename("errors")
'''},
    costs="m5-per-minute-test", why="lines at level error, whatever their eventType")

_CLASSES = '''
def top_error_classes(events, n=5):
    errors = events[{rows}]
    found = pd.Series(pd.NA, index=errors.index, dtype="str")
    for column in ["stack", "error", "message"]:
        if column in errors:
            text = errors[column]{first_line}
            found = found.fillna(text.str.extract(ERROR_CLASS, expand=False))
    return found.value_counts({dropna}).head(n)
'''
_FIRST = '.str.split("\\n", n=1).str[0]'
CLASS_ANYWHERE_IN_STACK = Mutation(
    "the class taken from anywhere in the stack",
    {"m5-top-classes-solution": _CLASSES.format(rows='events["level"] >= "error"', first_line="", dropna="")},
    costs="m5-top-classes-test", why="the text: the first line of the stack")

EVERY_LEVEL = Mutation(
    "warnings counted as errors",
    {"m5-top-classes-solution": _CLASSES.format(rows='events["level"] >= "info"', first_line=_FIRST, dropna="")},
    costs="m5-top-classes-test", why="the text: lines at level error or above")

NO_CLASS_COUNTED = Mutation(
    "lines without a class counted as one",
    {"m5-top-classes-solution": _CLASSES.format(rows='events["level"] >= "error"', first_line=_FIRST, dropna="dropna=False")},
    costs="m5-top-classes-test", why='the text: lines without any class ("Health check failed...") do not count')

ONE_REQUEST_ONLY = Mutation(
    "the pasted request only, not the user's retries",
    {"m5-trail-solution": '''
def user_trail(events, request_id, window="30min"):
    return events[events["requestId"] == request_id].sort_values("timestamp", kind="stable")
'''},
    costs="m5-trail-test", why="the text: each retry has its own id; follow the userId")

_TRAIL = '''
def user_trail(events, request_id, window="30min"):
    hit = events[events["requestId"] == request_id]
    users = hit["userId"].dropna()
    if users.empty:
        return events.iloc[0:0]
    start = {start}
    inside = {inside}
    return events[(events["userId"] == users.iloc[0]) & inside].sort_values("timestamp", kind="stable")
'''
WHOLE_DAY_OF_THE_USER = Mutation(
    "every line of the user, all day",
    {"m5-trail-solution": _TRAIL.format(start='hit["timestamp"].min()', inside='events["timestamp"].notna()')},
    costs="m5-trail-test", why="the text: from the request's first line to window later")

WINDOW_IGNORED = Mutation(
    "the window argument ignored",
    {"m5-trail-solution": _TRAIL.format(start='hit["timestamp"].min()',
                                         inside='events["timestamp"].between(start, start + pd.Timedelta("30min"))')},
    costs="m5-trail-test", why="user_trail(events, request_id, window)")

FROM_THE_USERS_FIRST_LINE = Mutation(
    "the window starts at the user's first line of the day",
    {"m5-trail-solution": _TRAIL.format(start='events.loc[events["userId"] == users.iloc[0], "timestamp"].min()',
                                         inside='events["timestamp"].between(start, start + pd.Timedelta(window))')},
    costs="m5-trail-test", why="the text: from the request's first line")

_LATENCY = '''
def latency_before_after(events, at, window="15min"):
    at, span = pd.Timestamp(at), pd.Timedelta(window)
    timed = events{timed}
    before = timed.loc[(timed["timestamp"] >= at - span) & (timed["timestamp"] < at), "durationMs"]
    after = timed.loc[(timed["timestamp"] >= at) & (timed["timestamp"] < at + span), "durationMs"]
    return pd.DataFrame({{"requests": [len(before), len(after)],
                         "p50_ms": [before.quantile(0.5{method}), after.quantile(0.5{method})],
                         "p95_ms": [before.quantile(0.95{method}), after.quantile(0.95{method})]}},
                        index=["before", "after"])
'''
NEAREST_PERCENTILE = Mutation(
    "percentiles by the nearest rank",
    {"m5-latency-solution": _LATENCY.format(timed='[events["durationMs"].notna()]', method=', interpolation="lower"')},
    costs="m5-latency-test", why="the text: pandas' default .quantile")

EVERY_LINE_COUNTED = Mutation(
    "lines without a durationMs counted as requests",
    {"m5-latency-solution": _LATENCY.format(timed='', method='')},
    costs="m5-latency-test", why="the text: the lines that carry a durationMs")

# Not listed, because on this data they are right: the class from anywhere in the stack (the
# first line always holds it when a later one does), warnings counted too (no warning carries a
# class), the window from the user's first line (it is the pasted request's).
MUTATIONS: list = [FIRST_ERROR_OF_THE_DAY, MESSAGE_ONLY, GLUED_NPM_WARNING, QUIET_MINUTES_MISSING,
                   FROM_FIRST_ERROR_ONLY, HTTP_ERRORS_ONLY, NO_CLASS_COUNTED, ONE_REQUEST_ONLY,
                   WHOLE_DAY_OF_THE_USER, WINDOW_IGNORED, NEAREST_PERCENTILE, EVERY_LINE_COUNTED]

ALTERNATIVES: list = [
    Alternative("first failure with idxmin", {"m5-first-failure-solution": '''
def first_failure(events, match, min_level="error"):
    said = pd.Series("", index=events.index)
    for column in ("message", "error", "stack"):
        if column in events:
            said = said + "\\n" + events[column].fillna("").astype(str)
    hits = events[(events["level"] >= min_level) & said.str.contains(match, regex=True)]
    return None if hits.empty else hits.loc[hits["timestamp"].idxmin()]
'''}),
    Alternative("errors per minute from a full minute range", {"m5-per-minute-solution": '''
def errors_per_minute(events):
    minutes = pd.date_range(events["timestamp"].min().floor("min"), events["timestamp"].max().floor("min"), freq="min")
    errors = events.loc[events["level"] >= "error", "timestamp"].dt.floor("min").value_counts()
    return errors.reindex(minutes, fill_value=0).rename("errors")
'''}),
    Alternative("latency with describe-free numpy", {"m5-latency-solution": '''
import numpy as np
def latency_before_after(events, at, window="15min"):
    at, span = pd.Timestamp(at), pd.Timedelta(window)
    rows = {}
    for name, lo, hi in [("before", at - span, at), ("after", at, at + span)]:
        d = events.loc[events["durationMs"].notna() & (events["timestamp"] >= lo) & (events["timestamp"] < hi), "durationMs"].astype(float).to_numpy()
        rows[name] = {"requests": len(d), "p50_ms": np.percentile(d, 50), "p95_ms": np.percentile(d, 95)}
    return pd.DataFrame.from_dict(rows, orient="index")
'''}),
]
