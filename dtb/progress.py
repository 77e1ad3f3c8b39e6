"""The progress bar of every long step: tqdm's notebook widget where ipywidgets is installed,
its text bar elsewhere.

``tqdm.auto`` inside a Jupyter kernel without ipywidgets falls back to the text bar with a
``TqdmWarning`` ("IProgress not found") that would land in the book's pages; the choice is made
here instead, without the warning.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("ipywidgets") is not None:
    from tqdm.auto import tqdm
else:
    from tqdm.std import tqdm

__all__ = ["tqdm"]
