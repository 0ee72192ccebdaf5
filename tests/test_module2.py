"""Module 2's exercises catch the mistakes they are about."""
import pytest

from harness import Trainee
from test_roundtrip import autograde

pytestmark = pytest.mark.slow

ASSIGNMENT = "m2_sla_severity"

# Counting HTTP 200 as "up" ignores the unhealthy bodies: the trap the module warns about.
STATUS_CODE_ONLY = '''
probes = probe_lines.str.extract(r"^(?P<timestamp>\\S+) \\S+ \\S+ (?P<code>\\d{3}|-) ")
health = pd.DataFrame({"timestamp": pd.to_datetime(probes["timestamp"], utc=True)})
health["up"] = probes["code"].eq("200")
uptime_pct = 100 * health["up"].mean()
downtime_min = (~health["up"]).sum() * 0.5
'''

# The whole month's average instead of the worst trailing 24 hours.
MONTH_AVERAGE = '''
error_rate_24h = 100 * pd.Series((api["statusCode"] >= 500).astype(float).to_numpy(),
                                 index=pd.DatetimeIndex(api["timestamp"])).expanding().mean()
worst_error_rate_24h_pct = 100 * (api["statusCode"] >= 500).mean() + 0.5
'''


def test_status_code_only_uptime_loses_the_health_points(course):
    points = autograde(course, ASSIGNMENT, Trainee("m2-code-only",
                       code_overrides={"m2-health-solution": STATUS_CODE_ONLY}))
    assert points["m2-health-test"][0] == 0
    assert points["m2-latency-test"][0] == points["m2-latency-test"][1]


def test_month_average_is_not_the_rolling_rate(course):
    points = autograde(course, ASSIGNMENT, Trainee("m2-month-average",
                       code_overrides={"m2-errors-solution": MONTH_AVERAGE}))
    assert points["m2-errors-test"][0] == 0
    assert points["m2-health-test"][0] == points["m2-health-test"][1]
