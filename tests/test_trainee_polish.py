"""A trainee's page without clutter or barriers: quiz cells open with their input collapsed, every
plot has a text alternative, and Module 6's timeline reads without overlaps."""
import base64
import html
import re

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from harness import ASSIGNMENTS, REPO, notebooks
from course.figures import figure_output
from course.trainer.grading.preprocessors import has_quiz_call


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_released_quiz_cell_opens_collapsed(assignment):
    for name, released in notebooks(REPO / "release" / assignment).items():
        quiz_cells = [cell for cell in released.cells if cell.cell_type == "code" and has_quiz_call(cell.source)]
        assert quiz_cells, f"{name}: no quiz cell found"
        for cell in quiz_cells:
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, \
                f"{name}: a quiz cell shows its source: {cell.source[:60]!r}"
        others = [cell for cell in released.cells if cell.cell_type == "code" and cell not in quiz_cells]
        assert not any(cell.metadata.get("jupyter", {}).get("source_hidden") for cell in others
                       if "drill." not in cell.source), f"{name}: an exercise cell is collapsed"


# -- plots: a text alternative, and Module 6's timeline readable -----------------------------------

def plot_cells(module: str) -> list[str]:
    notebook = nbformat.read(next((REPO / "source" / module).glob("*.ipynb")), as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code" and "subplots(" in cell.source]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_plot_is_shown_with_a_text_alternative(assignment):
    cells = plot_cells(assignment)
    assert cells, f"{assignment}: no plot cell found"
    for source in cells:
        assert "show_figure(fig)" in source and "plt.show()" not in source, source[:80]


def test_a_figure_is_an_image_with_alt_text_written_from_the_figure():
    fig, (top, bottom) = plt.subplots(2, 1)
    top.plot([1, 2], [3, 4], label="rolling 24 h")
    top.set_title("5xx error rate")
    top.set_ylabel("% of API requests")
    top.legend()
    bottom.annotate("first failure", (1, 1))
    bottom.set_xlabel("UTC")
    output = figure_output(fig)
    plt.close(fig)
    alt = output["text/plain"]
    assert alt == ("Plot. Panel 1 of 2: 5xx error rate, y axis: % of API requests, legend: rolling 24 h. "
                   "Panel 2 of 2: x axis: UTC, marked: first failure.")
    image = re.fullmatch(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', output["text/html"])
    assert image and html.unescape(image.group(2)) == alt
    assert base64.b64decode(image.group(1)).startswith(b"\x89PNG")


def timeline_figure():
    """Module 6's timeline plot cell, run on the reference timeline of the night: the figure."""
    from course.checks import show
    from course.data import scenario, traffic
    from course.trainer.reference import incident as ref

    night = scenario.redis_night()
    window = (pd.Timestamp(night["window_from_utc"], tz="UTC"), pd.Timestamp(night["window_to_utc"], tz="UTC"))
    shown = []
    namespace = dict(pd=pd, plt=plt, mdates=mdates, show=show, NIGHT=night, timeline=ref.night_timeline(),
                     alerts=ref.outage_alerts(ref.parse_probes(traffic.health_probe_log(), *window)),
                     show_figure=shown.append)
    [source] = [cell for cell in plot_cells("m6_incident_response") if "timeline" in cell]
    exec(source, namespace)
    assert len(shown) == 1, "the timeline cell did not draw its figure"
    return shown[0]


def text_boxes(fig) -> list:
    """(text, window extent) of every piece of text drawn in ``fig``."""
    texts = [fig.get_suptitle() and fig._suptitle] if fig.get_suptitle() else []
    for ax in fig.get_axes():
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts,
                  *ax.get_xticklabels(), *ax.get_yticklabels()]
        if ax.get_legend():
            texts += ax.get_legend().get_texts()
    renderer = fig.canvas.get_renderer()
    return [(text.get_text(), text.get_window_extent(renderer)) for text in texts
            if text.get_visible() and text.get_text().strip()]


def test_module6_timeline_labels_do_not_overlap_and_the_legend_covers_no_event(data_cache):
    fig = timeline_figure()
    FigureCanvasAgg(fig).draw()
    boxes = text_boxes(fig)
    assert len(boxes) > 10
    for i, (text, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1:]:
            assert not box.overlaps(other_box), f"{text!r} overlaps {other!r}"
    [ax] = fig.get_axes()
    legend = ax.get_legend().get_window_extent()
    events = [point for points in ax.collections if hasattr(points, "get_offsets") and len(points.get_offsets())
              for point in ax.transData.transform(points.get_offsets())]
    assert len(events) >= 9
    for x, y in events:
        assert not legend.contains(x, y), f"the legend covers the event at {x:.0f}, {y:.0f}"
    assert "resolved" in " ".join(text for text, _ in boxes)
    plt.close(fig)
