import hashlib

import h5py
import numpy as np
import pandas as pd

from dtb.cli import main
from dtb.data.check import check_dataset
from dtb.data.cohort import read_participants
from dtb.layout import FACES, REST, STROOP, events_path, timeseries_path


def tree_digest(root):
    """Hash of every file's path and content: proves a command wrote nothing."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_synthetic_cohort_passes_and_nothing_is_written(synth_root, capsys):
    before = tree_digest(synth_root)
    report = check_dataset(synth_root)
    assert not report.problems and report.table["usable"].all()
    assert main(["data", "check", str(synth_root)]) == 0
    assert "6 of 6 participants usable" in capsys.readouterr().out
    assert tree_digest(synth_root) == before


def test_every_problem_is_listed_with_its_file(synth_copy, capsys):
    ids = read_participants(synth_copy)
    # corrupted h5: bytes overwritten
    bad_h5 = timeseries_path(synth_copy, ids[0], FACES)
    bad_h5.write_bytes(b"not an hdf5 file" * 100)
    # truncated events
    ev = events_path(synth_copy, ids[1], STROOP)
    text = ev.read_text()
    ev.write_text(text[: len(text) // 3])
    # NaN in a time series and a wrong region count
    with h5py.File(timeseries_path(synth_copy, ids[2], REST), "r+") as f:
        data = f["dataset"][()]
        data[5, 7] = np.nan
        f["dataset"][...] = data
    p = timeseries_path(synth_copy, ids[3], STROOP)
    p.unlink()
    with h5py.File(p, "w") as f:
        f["dataset"] = np.zeros((400, 510))
    # missing run
    events_path(synth_copy, ids[4], FACES).unlink()

    report = check_dataset(synth_copy)
    text = "\n".join(map(str, report.problems))
    assert str(bad_h5) in text and "cannot read HDF5" in text
    assert str(ev) in text and "truncated" in text
    assert "NaN/Inf" in text and "(400, 510)" in text
    assert "[missing]" in text and ids[4] in text
    assert len(report.problems) == 5
    usable = dict(zip(report.table["participant"], report.table["usable"], strict=True))
    assert usable[ids[2]] is False or not usable[ids[2]]  # no rest FC -> not usable
    assert usable[ids[0]] and usable[ids[4]]  # one good task is enough
    assert main(["data", "check", str(synth_copy)]) == 1
    out = capsys.readouterr().out
    assert "5 problem(s)" in out


def test_events_past_the_run_end_and_duplicate_participants(synth_copy):
    ids = read_participants(synth_copy)
    ev_path = events_path(synth_copy, ids[0], STROOP)
    ev = pd.read_csv(ev_path, sep="\t", keep_default_na=False)
    ev.loc[len(ev) - 1, "onset"] = 600.0
    ev.to_csv(ev_path, sep="\t", index=False)
    report = check_dataset(synth_copy)
    assert any(
        "after the run's end" in p.message and str(ev_path) in p.message for p in report.problems
    )

    tsv = synth_copy / "participants.tsv"
    df = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    pd.concat([df, df.iloc[[1]]]).to_csv(tsv, sep="\t", index=False)
    report = check_dataset(synth_copy)
    assert report.failed() and f"duplicate participant(s) {ids[1]}" in str(report.problems[0])


def test_missing_runs_can_be_allowed(synth_copy):
    ids = read_participants(synth_copy)
    timeseries_path(synth_copy, ids[0], FACES).unlink()
    assert main(["data", "check", str(synth_copy)]) == 1
    assert main(["data", "check", str(synth_copy), "--allow-missing"]) == 0


def test_events_only_check_of_the_real_events(tcp_root):
    report = check_dataset(tcp_root, events_only=True)
    assert report.table["usable"].sum() > 150
    assert all(p.kind == "missing" for p in report.problems)  # the real events are all valid
