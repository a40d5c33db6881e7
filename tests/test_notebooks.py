"""Notebooks are executed on a generated lake, so they never rot.

Each notebook runs cell by cell in an IPython shell inside the test's own process, as its kernel would
run it, so its `spark_session(...)` is the worker's session: a kernel of its own would start a second
JVM and Spark (about a minute per notebook on the two-core CI machine). The cells' printed text and
rich outputs (the plots) are collected as a kernel would send them."""
from pathlib import Path

import nbformat

from tests.builders import DROPPED_PART

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def executed(name: str, lake, monkeypatch) -> tuple[str, list[dict]]:
    """Every code cell of notebooks/name run in order (the first error fails the test): the printed text
    and the MIME bundles of the displayed objects."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    monkeypatch.setenv("BOMFLOW_LAKE", str(lake))
    monkeypatch.chdir(NOTEBOOKS)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    shell = InteractiveShell.instance()
    text, rich = [], []
    try:
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            with capture_output() as out:
                result = shell.run_cell(cell.source, store_history=False)
            assert result.success, f"{name}: a cell failed:\n{cell.source}\n{out.stdout}{out.stderr}\n{result.error_in_exec!r}"
            text.append(out.stdout)
            rich += [shown.data for shown in out.outputs]
    finally:
        InteractiveShell.clear_instance()
    return "".join(text), rich


def test_explore_run_notebook_executes_on_a_lake_with_quarantine(spark, bad_lake, monkeypatch):
    text, rich = executed("explore_run.ipynb", bad_lake, monkeypatch)
    assert "last succeeded run:" in text and "model_blocked" in text
    assert any("image/png" in data for data in rich), "the weekly demand plot is missing"


def test_explain_change_notebook_finds_the_removed_part(spark, history, monkeypatch):
    text, rich = executed("explain_change.ipynb", history.lake, monkeypatch)
    assert "removed  " in text and DROPPED_PART in text
    assert f"{DROPPED_PART} is used by" in text, "where-used of the changed part is missing"
    assert any("image/png" in data for data in rich), "the change plot is missing"
