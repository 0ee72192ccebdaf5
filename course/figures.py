"""Plots a screen reader can read: a matplotlib figure shown as an image with a text alternative.

    with show("plot"):
        fig, ax = plt.subplots()
        ...
        show_figure(fig)            # instead of plt.show()

JupyterLab draws a plain ``image/png`` output as an <img> without any alt text; an HTML <img> keeps
the alt it is given. The text alternative is written from the figure itself (its titles, axis
labels, named rows, legend entries and annotations), so it follows the plot when the plot changes.
"""
from __future__ import annotations

import base64
import html
import io

from matplotlib.ticker import FixedLocator


def _panel_text(ax) -> list[str]:
    parts = [" ".join(t for t in (ax.get_title(loc="left"), ax.get_title(), ax.get_title(loc="right")) if t)]
    parts += [f"{name} axis: {label}" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
    if isinstance(ax.yaxis.get_major_locator(), FixedLocator):  # rows named by set_yticks
        rows = sorted(zip(ax.get_yticks(), (label.get_text() for label in ax.get_yticklabels())), reverse=True)
        parts.append("rows from the top: " + "; ".join(name for _, name in rows if name))
    legend = ax.get_legend()
    if legend is not None:
        parts.append("legend: " + "; ".join(text.get_text() for text in legend.get_texts()))
    marked = [text.get_text().replace("\n", " ") for text in ax.texts if text.get_text().strip()]
    if marked:
        parts.append("marked: " + "; ".join(marked))
    return [part for part in parts if part]


def describe(fig) -> str:
    """A one-paragraph text alternative of ``fig``: what each panel shows, in reading order."""
    panels = [ax for ax in fig.get_axes() if ax.get_visible() and not hasattr(ax, "_colorbar")]
    title = fig.get_suptitle()
    lines = [f"Plot: {title}." if title else "Plot."]
    for number, ax in enumerate(panels, 1):
        text = ", ".join(_panel_text(ax)) or "no title"
        lines.append(f"Panel {number} of {len(panels)}: {text}." if len(panels) > 1 else f"{text[0].upper()}{text[1:]}.")
    return " ".join(lines)


def figure_output(fig, alt: str | None = None) -> dict:
    """The display data of ``fig``: an HTML <img> with its text alternative, and that text alone."""
    alt = alt or describe(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")  # as the inline backend draws it
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    image = f'<img src="data:image/png;base64,{png}" alt="{html.escape(alt)}">'
    return {"text/html": image, "text/plain": alt}


def show_figure(fig, alt: str | None = None) -> None:
    """Show ``fig`` in the notebook with a text alternative (``alt``, or one written from the
    figure), then close it so that the inline backend does not draw it a second time."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(figure_output(fig, alt), raw=True)
    plt.close(fig)
