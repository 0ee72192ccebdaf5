"""The debrief of a simulated incident: decisions on one timeline, beside the platform's minutes.

``decisions(sim)`` is the drill's record without its looks: one row per move, call and message,
with what the platform showed when it was made. ``debrief_figure(sim, best=None)`` draws it: the
minutes the platform failed as a band, then one lane per drill (yours, and the best path when the
grader gives it), each decision a marker with a short label, labels staggered so none overlap.
"""
from __future__ import annotations

import pandas as pd

LABELS = {"acknowledge": "ack", "restart_backend": "restart backend", "restart_redis": "restart Redis",
          "rollback": "roll back", "escalate": "escalate", "page_ic": "page IC", "wait": "wait"}


def decisions(sim) -> pd.DataFrame:
    """The drill's moves, calls and messages: when, what, and what the platform showed then."""
    record = sim.record
    kept = record[record["kind"] != "look"].copy()
    kept["label"] = [_label(row) for _, row in kept.iterrows()]
    return kept[["time", "minute", "kind", "label", "seen_failing", "seen_error_rate", "looked"]].reset_index(drop=True)


def _label(row) -> str:
    if row["kind"] == "message":
        return row["name"]
    if row["name"] == "raise_pool":
        return "pool " + row["detail"].split()[-1]
    if row["name"] == "wait":
        return f"wait {row['detail']}"
    return LABELS.get(row["name"], row["name"])


def _failing_spans(sim) -> list[tuple[float, float]]:
    """(from, to) minutes since the page when the platform failed, up to the drill's end."""
    spans, opened = [], None
    first = -int(sim.scenario.lead_minutes()) - 1
    for m in range(first, int(sim.minutes) + 1):
        failing = not sim.scenario.minute(m, sim.moves).healthy
        if failing and opened is None:
            opened = max(m, -sim.scenario.lead_minutes())
        elif not failing and opened is not None:
            spans.append((opened, m))
            opened = None
    if opened is not None:
        spans.append((opened, sim.minutes))
    return spans


def debrief_figure(sim, best=None):
    """One timeline: the platform's failing minutes, your decisions and, if given, the best path's."""
    import matplotlib.pyplot as plt

    lanes = [("Your drill", sim)] + ([("Best path", best)] if best is not None else [])
    fig, ax = plt.subplots(figsize=(11, 2.4 + 1.9 * len(lanes)))
    span = max(d.minutes for _, d in lanes) + max(d.scenario.lead_minutes() for _, d in lanes) + 2
    char = 0.07 * span / 9.5  # minutes one 8-point character covers on a 9.5-inch axis
    for number, (name, drill) in enumerate(reversed(lanes)):
        y = number + 1
        for start, end in _failing_spans(drill):
            ax.axvspan(start, end, ymin=(y - 0.45) / (len(lanes) + 1), ymax=(y + 0.45) / (len(lanes) + 1),
                       color="#f4b6b6", lw=0)
        rows = decisions(drill)
        ax.plot(rows["minute"], [y] * len(rows), "o", color="#1f4e79")
        ends: list[float] = []  # where each row of labels is free again
        for _, row in rows.iterrows():  # each label on the lowest row where it overlaps none
            start = row["minute"]
            level = next((k for k, end in enumerate(ends) if end < start), len(ends))
            width = char * (len(row["label"]) + 2)
            ends[level:level + 1] = [start + width]
            ax.annotate(row["label"], (start, y), xytext=(0, 8 + 11 * level), textcoords="offset points",
                        ha="left", fontsize=8, arrowprops={"arrowstyle": "-", "color": "#9aa9b8", "lw": 0.6})
    ax.axvline(0, color="gray", ls="--", lw=1)
    ax.text(0, 0.3, " page", color="gray", fontsize=8)
    ax.set_yticks(range(1, len(lanes) + 1), [name for name, _ in reversed(lanes)])
    ax.set_ylim(0, len(lanes) + 1)
    ax.set_xlabel("minutes since the page (red: the platform failing)")
    ax.set_title(f"{sim.scenario.title}: decisions on the drill's clock")
    fig.tight_layout()
    return fig
