"""Atomic output files and the guard that keeps input folders read-only."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(dest: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` only on success.

    A crash or exception leaves ``dest`` untouched (the old file, or none) and removes the
    partial file, so a reader never sees a half-written output.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(dest: Path | str, text: str) -> Path:
    """Write ``text`` to ``dest`` atomically and return ``dest``."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(dest)


def write_json(dest: Path | str, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``dest`` atomically and return ``dest``."""
    return write_text(dest, json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars and arrays and for paths."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def ensure_outside(out: Path | str, *inputs: Path | str) -> Path:
    """Refuse an output location inside any input folder.

    Raises
    ------
    ValueError
        If ``out`` is one of ``inputs`` or lies below one of them.
    """
    out_r = Path(out).resolve()
    for inp in inputs:
        in_r = Path(inp).resolve()
        if out_r == in_r or in_r in out_r.parents:
            raise ValueError(
                f"output {out} lies inside the input folder {inp}: dtb never writes into input data"
            )
    return Path(out)


def nan_to_none(obj: Any) -> Any:
    """Replace non-finite floats in nested dicts/lists by ``None`` (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [nan_to_none(v) for v in obj]
    return obj
