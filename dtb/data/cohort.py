"""The participant list of a TCP-layout dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dtb.layout import bids_id


def read_participants(root: Path | str) -> list[str]:
    """Participant ids (``sub-NDARINV...``) listed in ``root/participants.tsv``, in file order.

    Raises
    ------
    ValueError
        If the file is missing, has no ``participant_id`` column, has an id that is not a TCP id,
        or lists a participant twice (the duplicates are named).
    """
    path = Path(root) / "participants.tsv"
    if not path.is_file():
        raise ValueError(f"{path}: participants.tsv not found (is {root} a TCP-layout dataset?)")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot parse ({exc})") from exc
    if "participant_id" not in df.columns:
        raise ValueError(f"{path}: no participant_id column")
    try:
        ids = [bids_id(p) for p in df["participant_id"]]
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    dup = sorted({p for p in ids if ids.count(p) > 1})
    if dup:
        raise ValueError(f"{path}: duplicate participant(s) {', '.join(dup)}")
    return ids
