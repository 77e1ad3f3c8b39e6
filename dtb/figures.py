"""Saving a figure the same way in every notebook: PNG + PDF + the numbers it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dtb.fileio import atomic_path, write_json


def save_figure(fig, fig_dir: Path | str, name: str, numbers: dict[str, Any]) -> dict[str, Path]:
    """Write ``name.png``, ``name.pdf`` and ``name.json`` (the numbers shown) atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    fig_dir : path-like
    name : str
        File stem, e.g. ``"fig2_rt_scatter"``.
    numbers : dict
        JSON-serialisable values the figure displays.

    Returns
    -------
    paths : dict
        ``{"png": ..., "pdf": ..., "json": ...}``.
    """
    fig_dir = Path(fig_dir)
    paths = {ext: fig_dir / f"{name}.{ext}" for ext in ("png", "pdf", "json")}
    for ext in ("png", "pdf"):
        with atomic_path(paths[ext]) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
    write_json(paths["json"], numbers)
    return paths
