"""Notebooks are executed on a generated lake, so they never rot."""
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.builders import DROPPED_PART

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_explore_run_notebook_executes_on_a_lake_with_quarantine(bad_lake, monkeypatch):
    monkeypatch.setenv("BOMFLOW_LAKE", str(bad_lake))
    notebook = nbformat.read(NOTEBOOKS / "explore_run.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "last succeeded run:" in text and "model_blocked" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the weekly demand plot is missing"


def test_explain_change_notebook_finds_the_removed_part(history, monkeypatch):
    monkeypatch.setenv("BOMFLOW_LAKE", str(history.lake))
    notebook = nbformat.read(NOTEBOOKS / "explain_change.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "removed  " in text and DROPPED_PART in text
    assert f"{DROPPED_PART} is used by" in text, "where-used of the changed part is missing"
    assert any("image/png" in o.get("data", {}) for o in outputs), "the change plot is missing"
