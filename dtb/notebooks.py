"""Executing the figure notebooks (jupytext ``.py`` sources) with papermill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dtb.errors import DtbError

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


class NotebookError(DtbError):
    """A notebook failed; the message names the notebook and the cell."""


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
    return dest
