"""Executing the figure notebooks (jupytext ``.py`` sources) with papermill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dtb.errors import DtbError

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


class NotebookError(DtbError):
    """A notebook failed; the message names the notebook and the cell."""


#: Tags (Jupyter Book) that already say how a cell is shown; other code cells get ``hide-input``.
_SHOWN_AS = {"remove-cell", "remove-input", "hide-input", "hide-cell", "show-input"}
#: Cells a reader never needs: the parameters and the values papermill injected.
_REMOVED = {"parameters", "injected-parameters"}


def tag_for_book(nb) -> None:
    """Keep code out of the reader's way, in place.

    The parameters cell and papermill's injected parameters (machine paths) are removed from the
    page (``remove-cell``); every other code cell without a display tag of its own is collapsed
    (``hide-input``), so a page shows prose, figures and tables, with the code a click away.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if _REMOVED & set(tags):
            tags.append("remove-cell")
        elif not _SHOWN_AS & set(tags):
            tags.append("hide-input")


def execute_notebook(
    source: Path | str, dest: Path | str, parameters: dict[str, Any], cwd: Path | str
) -> Path:
    """Execute a jupytext percent-format notebook with papermill.

    papermill cannot read a jupytext ``.py`` directly, so the source is read with
    ``jupytext.read`` and the resulting notebook node is handed to papermill with the
    ``python3`` kernel.

    Parameters
    ----------
    source : path-like
        ``notebooks/<name>.py`` with a cell tagged ``parameters``.
    dest : path-like
        The executed ``.ipynb`` (written even on failure, for inspection).
    parameters : dict
        Injected after the ``parameters`` cell.
    cwd : path-like
        Working directory of the kernel.

    Raises
    ------
    NotebookError
        If a cell raises; the message names the notebook, the cell and the error.
    """
    import jupytext
    import papermill as pm

    source, dest = Path(source), Path(dest)
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            nb,
            str(dest),
            parameters=parameters,
            kernel_name="python3",
            language="python",
            cwd=str(cwd),
            progress_bar=False,
        )
    except pm.PapermillExecutionError as exc:
        raise NotebookError(
            f"notebook {source.name} failed in cell {exc.cell_index} "
            f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}"
        ) from exc
    import nbformat

    executed = nbformat.read(dest, as_version=4)
    tag_for_book(executed)
    nbformat.write(executed, dest)
    return dest
