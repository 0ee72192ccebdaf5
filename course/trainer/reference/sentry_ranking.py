"""The planted ranking of Sentry issues, read from the generator's own tables (trainer side).

What a trainee's top-3 exercise must find, computed without parsing the exported files: the
tests check the reference (``platform.top_errors``, from the raw files) against it, and the
generator keeps it free of ties. It lives here, out of the trainee's install.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from course.data import platform, sentry, world


def ranking(variant: world.Variant | int | None = None, since=None, until=None, environment: str | None = "production",
            levels=world.SENTRY_ERROR_LEVELS) -> pd.DataFrame:
    """Issues by their number of events with ``since <= timestamp < until`` in ``environment``
    (None: every environment) at one of ``levels``: issue_id, title, events; most events first."""
    frame = sentry.events(variant)
    since = sentry.MONTH_START if since is None else platform._ts(since)
    until = sentry.MONTH_END if until is None else platform._ts(until)
    keep = (frame["timestamp"] >= since) & (frame["timestamp"] < until) & frame["level"].isin(levels)
    if environment is not None:
        keep &= frame["environment"].eq(environment)
    counts = frame[keep].groupby("issue_id").size().rename("events")
    table = sentry.issues(variant).set_index("id").loc[counts.index, ["title"]].assign(events=counts)
    table = table.rename_axis("issue_id").reset_index()
    return table.sort_values(["events", "issue_id"], ascending=[False, True], kind="stable", ignore_index=True)


def top_errors(variant: world.Variant | int | None = None, since=None, until=None, environment: str | None = "production",
               levels=world.SENTRY_ERROR_LEVELS, n: int = 3) -> pd.DataFrame:
    """The ``n`` issues with the most events in the range (see ``ranking``)."""
    return ranking(variant, since, until, environment, levels).head(n)


def is_unambiguous(variant: world.Variant | int | None = None, since=None, until=None,
                   environment: str | None = "production", levels=world.SENTRY_ERROR_LEVELS, n: int = 3) -> bool:
    """True when the first ``n`` places of the ranking hold no tie (nor one with place n + 1)."""
    counts = ranking(variant, since, until, environment, levels)["events"].to_numpy()[: n + 1]
    return len(counts) >= n and bool(np.all(np.diff(counts) < 0))
