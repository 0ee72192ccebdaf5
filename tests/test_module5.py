"""Module 5's exercises catch the mistakes they are about, and its parsers fail the way the
reference parsers do."""
import json

import nbformat
import pytest
from nbclient import NotebookClient

from harness import REPO, Trainee, nbgrader_meta, solution_sources
from test_roundtrip import autograde
from course.data import backend_logs
from course.reference import logparse
from course.reference.logparse import LogFormatError

pytestmark = pytest.mark.slow

ASSIGNMENT = "m5_troubleshooting"
SOURCE = REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

# Keeps the latin-1 line as an event and reports no malformed line at all: a parser that "works"
# because it hides the damage.
SILENT_DROP = '''
def parse_production(path):
    check_format(path, "production")
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    lines = pd.Series(text.split("\\n"), dtype="str")
    record = (lines.str.startswith('{"level":') & lines.str.endswith("}")
              & (lines.str.count(r'\\{"level":') == 1))
    events = pd.read_json(io.BytesIO("\\n".join(lines[record].tolist()).encode("utf-8")), lines=True, engine="pyarrow")
    events["timestamp"] = pd.to_datetime(events["timestamp"], format="ISO8601", utc=True)
    events["level"] = events["level"].astype(LEVELS)
    events[["statusCode", "durationMs"]] = events[["statusCode", "durationMs"]].astype("Int64")
    return events, pd.DataFrame({"line": pd.Series([], dtype="int64"), "raw": pd.Series([], dtype="str")})
'''

# Ignores the match text: the day's first error line is a 403 shortly after midnight.
FIRST_ERROR_OF_THE_DAY = '''
def first_failure(events, match, min_level="error"):
    errors = events[events["level"] >= min_level]
    if errors.empty:
        return None
    return errors.sort_values("timestamp", kind="stable").iloc[0]
'''

# Cuts events before "[" only: the npm warning is glued to the event above it instead of being
# set aside. Every visible check passes; only the comparison with the reference notices.
GLUED_NPM_WARNING = '''
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
'''


def assert_only_cell_lost(points, cell):
    assert points[cell][0] == 0, points[cell]
    short = {name: score for name, score in points.items() if name != cell and score[0] != score[1]}
    assert not short, f"other cells lost points too: {short}"


def test_parser_that_hides_malformed_lines_loses_the_parse_points(course):
    points = autograde(course, ASSIGNMENT, Trainee("m5-silent-drop",
                       code_overrides={"m5-parse-production-solution": SILENT_DROP}))
    assert_only_cell_lost(points, "m5-parse-production-test")
    assert points["m5-first-failure-test"][0] == points["m5-first-failure-test"][1]


def test_first_error_of_the_day_is_not_the_incident(course):
    points = autograde(course, ASSIGNMENT, Trainee("m5-first-4xx",
                       code_overrides={"m5-first-failure-solution": FIRST_ERROR_OF_THE_DAY}))
    assert_only_cell_lost(points, "m5-first-failure-test")
    assert points["m5-parse-production-test"][0] == points["m5-parse-production-test"][1]


def test_hidden_checks_catch_a_glued_continuation_line(course):
    points = autograde(course, ASSIGNMENT, Trainee("m5-glued-npm",
                       code_overrides={"m5-parse-bracketed-solution": GLUED_NPM_WARNING}))
    assert_only_cell_lost(points, "m5-parse-bracketed-test")
    assert points["m5-latency-test"][0] == points["m5-latency-test"][1]


# --------------------------------------------------------------------------- bad input
PROBE = '''
import json
cases = {cases!r}
messages = {{}}
for name, (parser, path) in cases.items():
    try:
        globals()[parser](Path(path))
    except LogFormatError as err:
        messages[name] = str(err)
    else:
        messages[name] = None
print(json.dumps(messages))
'''


def test_trainee_parsers_fail_with_the_reference_message(tmp_path):
    """The model parsers, run in a trainee's kernel, raise the reference's one-line LogFormatError."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    prose = tmp_path / "notes.log"
    prose.write_text("the database looked fine\nto me\n")
    cases = {
        "missing": ("parse_production", str(tmp_path / "missing.log")),
        "empty": ("parse_production", str(empty)),
        "bracketed as production": ("parse_production", str(backend_logs.bracketed_log())),
        "dev as production": ("parse_production", str(backend_logs.dev_log())),
        "production as bracketed": ("parse_bracketed", str(backend_logs.production_log("sample"))),
        "prose as bracketed": ("parse_bracketed", str(prose)),
        "empty dev": ("parse_dev", str(empty)),
        "bracketed as dev": ("parse_dev", str(backend_logs.bracketed_log())),
    }
    source = nbformat.read(SOURCE, as_version=4)
    setup = next(c.source for c in source.cells if nbgrader_meta(c).get("grade_id") == "m5-setup")
    code = solution_sources(source)
    parsers = [code[f"m5-parse-{kind}-solution"] for kind in ("production", "bracketed", "dev")]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s)
                                         for s in [setup, *parsers, PROBE.format(cases=cases)]])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    got = json.loads(nb.cells[-1].outputs[-1].text)

    reference = {"parse_production": logparse.parse_production, "parse_bracketed": logparse.parse_bracketed,
                 "parse_dev": logparse.parse_dev}
    for name, (parser, path) in cases.items():
        with pytest.raises(LogFormatError) as caught:
            reference[parser](path)
        expected = str(caught.value)
        assert got[name] == expected, name
        assert "\n" not in got[name] and got[name].startswith(path)
