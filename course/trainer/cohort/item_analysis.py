"""Item analysis of a cohort: how each quiz and each check of a module did, from the gradebook.

Per graded cell (an *item*), over the graded submissions:

- ``n``: submissions where it has a score (a written answer not graded yet has none);
- ``right``: full marks. A quiz is graded on its first committed answer, so for a quiz this is
  "right on the first try";
- ``p`` (difficulty): the mean share of the item's points earned, 0 (nobody) to 1 (everybody);
- ``r`` (discrimination): the item-rest correlation, Pearson's r between the item's points and the
  rest of the module's points (the point-biserial for a right/wrong item); the item itself is left
  out of the total so that it does not correlate with itself;
- ``D`` (discrimination): the upper-lower index, the mean share earned by the 27 % of trainees with
  the highest module totals minus that of the 27 % with the lowest (at least one each);
- for a quiz, the wrong first answers and how many chose each (the distractors), from each
  submission's answer file in ``autograded/``.

A negative ``r`` or ``D`` means the stronger trainees did worse on the item than the weaker ones:
look at its key first. ``python -m course report`` prints the table; ``--html FILE`` writes a page
with the plots (score distribution, difficulty against discrimination).
"""
from __future__ import annotations

import base64
import html
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

UPPER_LOWER = 0.27
NOTE_NEGATIVE = "stronger trainees did worse: check the key"


@dataclass
class ModuleItems:
    """One module's items over its graded submissions."""

    module: str
    points: pd.DataFrame                      # trainee x item: points earned (NaN: no score yet)
    max_points: pd.Series                     # item: its maximum
    kinds: dict[str, str]                     # item: quiz, check or written
    distractors: dict[str, Counter] = field(default_factory=dict)  # quiz item: wrong first answers

    @property
    def totals(self) -> pd.Series:
        return self.points.sum(axis=1, min_count=1).fillna(0.0)

    def statistics(self) -> pd.DataFrame:
        table = item_statistics(self.points, self.max_points)
        table.insert(0, "kind", [self.kinds.get(item, "") for item in table.index])
        table["wrong first answers"] = [_choices(self.distractors.get(item)) for item in table.index]
        return table


# -- the figures ----------------------------------------------------------------------------------
def item_statistics(points: pd.DataFrame, max_points: pd.Series) -> pd.DataFrame:
    """n, right, p, r and D of every column of ``points`` (rows: trainees)."""
    totals = points.sum(axis=1, min_count=1).fillna(0.0)
    rows = {}
    for item in points.columns:
        scored = points[item].dropna()
        share = scored / max_points[item] if max_points[item] else scored * 0
        rows[item] = {
            "n": len(scored),
            "right": int((scored >= max_points[item]).sum()) if len(scored) else 0,
            "p": share.mean() if len(scored) else math.nan,
            "r": _correlation(scored, totals[scored.index] - scored),
            "D": upper_lower_index(share, totals[scored.index]),
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["n", "right", "p", "r", "D"])


def _correlation(a: pd.Series, b: pd.Series) -> float:
    """Pearson's r; NaN when either side does not vary (nothing to discriminate) or n < 3."""
    if len(a) < 3 or a.std(ddof=0) == 0 or b.std(ddof=0) == 0:
        return math.nan
    return float(a.corr(b))


def upper_lower_index(share: pd.Series, totals: pd.Series, fraction: float = UPPER_LOWER) -> float:
    """Mean ``share`` of the top ``fraction`` of trainees by ``totals`` minus that of the bottom;
    ties in the totals are broken by trainee id, so the figure is the same on every run."""
    if len(share) < 2:
        return math.nan
    size = max(1, round(fraction * len(share)))
    order = sorted(share.index, key=lambda who: (-totals[who], str(who)))
    return float(share[order[:size]].mean() - share[order[-size:]].mean())


def _choices(counter: Counter | None, shown: int = 3, width: int = 40) -> str:
    if not counter:
        return ""
    text = [f"{_short(answer, width)!r} x{count}" for answer, count in counter.most_common(shown)]
    rest = sum(counter.values()) - sum(count for _, count in counter.most_common(shown))
    return ", ".join(text) + (f", {rest} other" if rest else "")


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- from the gradebook ----------------------------------------------------------------------------
def module_items(gradebook, module: str, students: list[str], answer_files: dict[str, Path] | None = None
                 ) -> ModuleItems:
    """The items of ``module`` over the submissions of ``students`` (graded ones), in notebook and
    cell order; ``answer_files``: each trainee's graded answer file, for the quizzes' choices."""
    from course.trainer.grading.sealing import questions_in

    assignment = gradebook.find_assignment(module)
    order, kinds, quizzes = [], {}, {}
    for notebook in sorted(assignment.notebooks, key=lambda nb: nb.name):
        sources = {cell.name: cell.source for cell in notebook.source_cells}
        solutions = {cell.name for cell in notebook.solution_cells}
        ids = list(sources)  # the gradebook keeps source cells in notebook order
        for cell in sorted(notebook.grade_cells, key=lambda c: (ids.index(c.name) if c.name in ids else len(ids))):
            order.append(cell.name)
            qids = _quiz_ids(questions_in, sources.get(cell.name, "")) if cell.cell_type == "code" else []
            if cell.name in solutions:
                kinds[cell.name] = "written"
            elif qids:
                kinds[cell.name], quizzes[cell.name] = "quiz", qids
            else:
                kinds[cell.name] = "check"
    maxima = {cell.name: cell.max_score for nb in assignment.notebooks for cell in nb.grade_cells}
    table = {}
    for student in students:
        submission = gradebook.find_submission(module, student)
        grades = {g.name: g for nb in submission.notebooks for g in nb.grades}
        table[student] = {name: _points(grades.get(name)) for name in order}
    points = pd.DataFrame.from_dict(table, orient="index", columns=order, dtype=float)
    items = ModuleItems(module, points, pd.Series(maxima, dtype=float)[order], kinds)
    items.distractors = wrong_first_answers(items, quizzes, answer_files or {})
    return items


def _quiz_ids(questions_in, source: str) -> list[str]:
    try:
        return [q.qid for q in questions_in(source)]
    except Exception:  # noqa: BLE001 - not a quiz call: a check
        return []


def _points(grade) -> float:
    if grade is None or (grade.manual_score is None and grade.auto_score is None):
        return math.nan  # a written answer not graded yet
    return float(grade.score)


def wrong_first_answers(items: ModuleItems, quizzes: dict[str, list[str]], answer_files: dict[str, Path]
                        ) -> dict[str, Counter]:
    """Per quiz cell, the first answers of the trainees who did not get it right first, counted.
    A cell that asks one question is wrong when it lost points (the grader's verdict, which
    holds for keys from a trainee's own data too); one that asks several counts each question's
    first answer the trainee's Lab marked wrong."""
    from course.quiz.store import AnswerFileError, AnswerStore

    found: dict[str, Counter] = {cell: Counter() for cell in quizzes}
    for student, path in answer_files.items():
        if student not in items.points.index:
            continue
        try:
            answers = AnswerStore(path).load()
        except AnswerFileError:
            continue  # flagged by the grader; nothing to count
        for cell, qids in quizzes.items():
            earned = items.points.at[student, cell]
            for qid in qids:
                first = (answers.get(qid) or [None])[0]
                if first is None:
                    continue
                wrong = earned < items.max_points[cell] if len(qids) == 1 else not first["correct"]
                if wrong:
                    found[cell][first["canonical"]] += 1
    return found


def cohort_items(api, root: Path, modules: list[str]) -> list[ModuleItems]:
    """Every module's items over its graded submissions (nbgrader's autograded test)."""
    coursedir = api.coursedir
    result = []
    with api.gradebook as gb:
        known = {a.name for a in gb.assignments}
        for module in modules:
            if module not in known:
                continue
            students = sorted(api.get_autograded_students(module))
            if not students:
                continue
            files = {s: Path(coursedir.format_path(coursedir.autograded_directory, s, module)) / "answers.json"
                     for s in students}
            result.append(module_items(gb, module, students, files))
    return result


# -- shown to the trainer --------------------------------------------------------------------------
def text_table(items: ModuleItems) -> list[str]:
    stats = items.statistics()
    header = ["item", "kind", "n", "right", "p", "r", "D", "wrong first answers / note"]
    rows = []
    for item, row in stats.iterrows():
        note = row["wrong first answers"]
        if _negative(row):
            note = f"{NOTE_NEGATIVE}; {note}" if note else NOTE_NEGATIVE
        rows.append([item, row["kind"], f"{row['n']:d}", f"{row['right']:d}", _fmt(row["p"]),
                     _fmt(row["r"]), _fmt(row["D"]), note])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
            for row in [header, *rows]]


def _negative(row) -> bool:
    return any(row[figure] < 0 for figure in ("r", "D") if not math.isnan(row[figure]))


def _fmt(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"


LEGEND = ("n: submissions with a score; right: full marks (a quiz: right on the first try); p: share of "
          "the points earned (difficulty); r: item-rest correlation; D: upper-lower 27 % index")


def report_items(api, root: Path, modules: list[str], say, html: str | None = None) -> int:
    """The item statistics under ``python -m course report``; the page with plots when asked."""
    cohort = cohort_items(api, root, modules)
    for items in cohort:
        say("")
        say(f"Items of {items.module}, {len(items.points)} graded submission(s) ({LEGEND})")
        for line in text_table(items):
            say(line.rstrip())
    if html:
        path = write_page(cohort, Path(html))
        say("")
        say(f"Page with the plots: {path}")
    return 0


# -- the page ------------------------------------------------------------------------------------
def _figure(width: float, height: float):
    """A matplotlib figure drawn by the Agg canvas: no GUI, and pyplot's global backend untouched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def score_plot(items: ModuleItems) -> tuple[str, str]:
    """(PNG as base64, alt text): the distribution of the module's totals, in % of its points."""
    top = float(items.max_points.sum()) or 1.0
    percent = 100 * items.totals / top
    fig = _figure(6, 3)
    ax = fig.add_subplot()
    ax.hist(percent, bins=range(0, 101, 10), color="#1f5fae", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("module points earned, % (before any late penalty)")
    ax.set_ylabel("trainees")
    ax.set_title(f"{items.module}: score distribution")
    alt = (f"Histogram of {items.module}'s totals for {len(percent)} trainees, in steps of 10 %: "
           f"lowest {percent.min():.0f} %, median {percent.median():.0f} %, highest {percent.max():.0f} %.")
    return _png(fig), alt


def item_plot(items: ModuleItems) -> tuple[str, str]:
    """(PNG as base64, alt text): each item's difficulty p against its discrimination D."""
    stats = items.statistics()
    shown = stats.dropna(subset=["p", "D"])  # an item nobody has a score for, or scored once
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    colours = {"quiz": "#1f5fae", "check": "#2e7d32", "written": "#8e44ad"}
    for kind, group in shown.groupby("kind"):
        ax.scatter(group["p"], group["D"], label=kind, color=colours.get(kind, "grey"), zorder=3)
    prefix = items.module.split("_")[0] + "-"
    for (p, d), group in shown.groupby([shown["p"].round(3), shown["D"].round(3)]):
        names = [item.removeprefix(prefix) for item in group.index]  # one label per point
        label = names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1} more"
        ax.annotate(label, (p, d), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0, color="#c0392b", lw=1, ls="--")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("difficulty p (share of the points earned)")
    ax.set_ylabel("discrimination D (upper - lower 27 %)")
    ax.set_title(f"{items.module}: items (below the dashed line: check the key)")
    ax.legend(loc="lower left", fontsize=8)
    negative = [item for item, row in stats.iterrows() if _negative(row)]
    alt = (f"Scatter plot of {len(shown)} items of {items.module}: difficulty p from "
           f"{shown['p'].min():.2f} to {shown['p'].max():.2f}; "
           + (f"negative discrimination: {', '.join(negative)}." if negative else "no item discriminates negatively."))
    return _png(fig), alt


def write_page(cohort: list[ModuleItems], path: Path) -> Path:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>Item analysis of the cohort</title>",
             "<style>body{font-family:sans-serif;max-width:70rem;margin:auto;padding:1rem}"
             "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}"
             ".neg{background:#fde2e0}</style></head><body>",
             "<h1>Item analysis of the cohort</h1>", f"<p>{html.escape(LEGEND)}.</p>"]
    if not cohort:
        parts.append("<p>No graded submission yet.</p>")
    for items in cohort:
        parts.append(f"<h2>{html.escape(items.module)} ({len(items.points)} graded submissions)</h2>")
        for picture, alt in (score_plot(items), item_plot(items)):
            parts.append(f'<img src="data:image/png;base64,{picture}" alt="{html.escape(alt)}">')
        parts.append("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in
                     ["item", "kind", "n", "right", "p", "r", "D", "wrong first answers"]) + "</tr></thead><tbody>")
        for item, row in items.statistics().iterrows():
            cells = [item, row["kind"], row["n"], row["right"], _fmt(row["p"]), _fmt(row["r"]), _fmt(row["D"]),
                     row["wrong first answers"]]
            mark = ' class="neg"' if _negative(row) else ""
            parts.append(f"<tr{mark}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
