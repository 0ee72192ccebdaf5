"""The trainee Lab's pre-save hook: a notebook saved before its quiz cells ran keeps its quizzes.

It runs in the trainee's Jupyter server (not a kernel), so it lives on the trainee side.
"""
from __future__ import annotations

import json
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REFERENCE = "IPY_MODEL_"


def keep_saved_widget_state(model: dict, path: str, contents_manager, **_) -> None:
    """Trainee Lab's pre-save hook: keep the saved state of widgets the notebook still shows.

    JupyterLab saves the state of live widgets only. A notebook reopened without its kernel shows
    its quizzes from the saved state; saved again before their cells run, it would lose that state
    and the next reopen would say "model not found". The entries come back from the file on disk.
    """
    notebook = model.get("content")
    if model.get("type") != "notebook" or not isinstance(notebook, dict):
        return
    metadata = notebook.setdefault("metadata", {})
    saved = metadata.get("widgets", {}).get(WIDGET_STATE, {})
    state = dict(saved.get("state", {}))
    missing = shown_widgets(notebook) - set(state)
    on_disk = _widget_state_on_disk(Path(contents_manager.root_dir) / path) if missing else {}
    for model_id in missing:
        _copy_with_references(model_id, on_disk, state)
    if len(state) > len(saved.get("state", {})):
        metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0,
                                              **saved, "state": state}}


def shown_widgets(notebook: dict) -> set[str]:
    """Model ids of the widgets the notebook's outputs display."""
    views = [output["data"][WIDGET_VIEW] for cell in notebook.get("cells", [])
             for output in cell.get("outputs", [])
             if isinstance(output.get("data"), dict) and isinstance(output["data"].get(WIDGET_VIEW), dict)]
    return {view["model_id"] for view in views if view.get("model_id")}


def _widget_state_on_disk(file: Path) -> dict:
    try:
        saved = json.loads(file.read_text(encoding="utf-8"))["metadata"]["widgets"][WIDGET_STATE]
        return saved["state"] if isinstance(saved.get("state"), dict) else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _copy_with_references(model_id: str, source: dict, target: dict) -> None:
    """Copy one widget's saved entry and those it refers to (its layout, for example)."""
    pending = [model_id]
    while pending:
        current = pending.pop()
        if current in target or current not in source:
            continue
        target[current] = source[current]
        text = json.dumps(source[current])
        pending += [part.split('"', 1)[0] for part in text.split(MODEL_REFERENCE)[1:]]
