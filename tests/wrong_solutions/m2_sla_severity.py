"""m2_sla_severity: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation  # noqa: F401

FOUR_XX_COUNTED = Mutation(
    "4xx counted as errors",
    {"m2-errors-solution": '''
is_error = pd.Series((api["statusCode"] >= 400).astype(float).to_numpy(), index=pd.DatetimeIndex(api["timestamp"]))
error_rate_24h = 100 * is_error.rolling("24h").mean()
worst_error_rate_24h_pct = error_rate_24h.max()
'''},
    costs="m2-errors-test", why="the text says the SLO counts 5xx only")

MUTATIONS: list = [FOUR_XX_COUNTED]
ALTERNATIVES: list = []
