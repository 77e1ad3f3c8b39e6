"""The ground-truth synthetic cohort in BIDS-derivative layout, in another atlas and timing.

``dtb data synth DEST --layout bids-derivatives`` proves that the companion runs on data that is
not TCP: the cohort of :mod:`dtb.data.synth` is made in the TCP layout in a temporary folder and
rewritten as a BIDS raw dataset with XCP-D-style derivatives:

* **another atlas**, 216 regions: 200 cortical (neighbouring pairs of the Schaefer-400 parcels,
  averaged) and 16 subcortical (pairs of the 32 Tian S2 parcels); the cerebellum is left out.
  Each region's network is that of its first parcel. The regions have no MNI coordinates, so
  the BOLD targets come from a target table beside the label file
  (``atlas-Synth216_targets.tsv``: every region holding one of a target's TCP parcels);
* **another timing**: TR 1.6 s (every second volume of the 0.8 s series) and task runs cut to
  85 % of their length, so that the trials after the cut are gone (fewer trials per run);
* **other task labels**: ``hariri`` (Faces), ``stroop`` and ``rest``, so that the tasks are
  mapped by ``--task faces=hariri``.

The planted edges of ``truth/truth.json`` are re-indexed to the 216 regions (an edge between two
merged regions is planted when any of its parcel pairs was; its sign is the majority's), so the
recovery of the truth can be scored on this cohort as on the TCP one.

Layout written under ``dest``::

    dataset_description.json, participants.tsv, phenotype/, truth/truth.json
    sub-<id>/func/sub-<id>_task-<label>_run-1_events.tsv       (hariri, stroop)
    sub-<id>/func/sub-<id>_task-<label>_run-1_bold.json        RepetitionTime 1.6
    derivatives/xcp_d/dataset_description.json
    derivatives/xcp_d/atlases/atlas-Synth216/atlas-Synth216_dseg.tsv     region labels
    derivatives/xcp_d/atlases/atlas-Synth216/atlas-Synth216_targets.tsv  BOLD target table
    derivatives/xcp_d/sub-<id>/func/sub-<id>_task-<label>_run-1_space-MNI152NLin6Asym_
        atlas-Synth216_stat-mean_timeseries.tsv                 volumes x 216 regions
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dtb.data.parcellation import parcel_table
from dtb.data.regions import target_regions
from dtb.data.synth import GENERATOR, SynthConfig, read_truth, synthesize
from dtb.data.timeseries import read_timeseries
from dtb.fileio import write_text
from dtb.layout import REST, events_path, timeseries_path
from dtb.tasks import TASKS

ATLAS = "Synth216"
#: BIDS task label of each run in this layout.
TASK_LABELS = {"rest": "rest", "faces": "hariri", "stroop": "stroop"}
#: Every ``TR_FACTOR``-th volume is kept (TR 0.8 s -> 1.6 s).
TR_FACTOR = 2
#: Fraction of each task run kept.
KEEP = 0.85
PIPELINE = Path("derivatives") / "xcp_d"


def region_map() -> np.ndarray:
    """The 216-region index of each of the 434 TCP parcels (-1: left out), shape (434,)."""
    out = np.full(434, -1, dtype=int)
    out[:400] = np.arange(400) // 2  # neighbouring Schaefer-400 parcels, within a hemisphere
    out[400:432] = 200 + np.arange(32) // 2  # Tian S2 pairs
    return out


def atlas_table() -> pd.DataFrame:
    """The label file of the 216-region atlas (``index, label, network_label, summary``)."""
    mapping = region_map()
    tcp = parcel_table()
    first = [int(np.flatnonzero(mapping == k)[0]) for k in range(mapping.max() + 1)]
    return pd.DataFrame(
        {
            "index": np.arange(1, len(first) + 1),
            "label": [f"Synth216_{k + 1:03d}_{tcp.loc[p, 'label']}" for k, p in enumerate(first)],
            "network_label": [tcp.loc[p, "network"] for p in first],
            "summary": [tcp.loc[p, "summary"] for p in first],
        }
    )


def target_table() -> pd.DataFrame:
    """The BOLD targets' regions: every region holding one of the target's TCP parcels."""
    mapping, labels = region_map(), atlas_table()["label"].tolist()
    rows = []
    for row in target_regions().itertuples():
        regions = sorted({int(mapping[p]) for p in row.parcels if mapping[p] >= 0})
        rows.append({"target": row.target, "parcels": ",".join(labels[k] for k in regions)})
    return pd.DataFrame(rows)


def _merge(ts: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """(434, T) parcel series -> (216, T) region series (means of each region's parcels)."""
    n = mapping.max() + 1
    out = np.zeros((n, ts.shape[1]))
    np.add.at(out, mapping[mapping >= 0], ts[mapping >= 0])
    return out / np.bincount(mapping[mapping >= 0])[:, None]


def remap_truth(truth: dict, mapping: np.ndarray) -> list[dict]:
    """The planted blocks with edges re-indexed to the merged regions."""
    blocks = []
    for block in truth["planted_edges"]:
        votes: dict[tuple[int, int], int] = {}
        for i, j in block["edges"]:
            a, b = sorted((int(mapping[i]), int(mapping[j])))
            if a < 0 or a == b:
                continue
            votes[(a, b)] = votes.get((a, b), 0) + int(block["sign"])
        edges = sorted(votes)
        blocks.append({**block, "edges": [list(e) for e in edges]})
    return blocks


def synthesize_derivatives(
    dest: Path | str, n_participants: int, seed: int, config: SynthConfig | None = None
) -> Path:
    """Write the synthetic cohort in BIDS-derivative layout (see the module docstring).

    Parameters
    ----------
    dest : path-like
        New or empty folder, or an earlier output of this function (replaced).
    n_participants, seed, config
        As :func:`dtb.data.synth.synthesize`: the same seed gives the same people.

    Returns
    -------
    dest : Path
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        if not is_derivative_synth(dest):
            raise ValueError(
                f"{dest} is not empty and is not a synthetic cohort written by dtb: refusing to "
                "write into it (choose a new or empty folder)"
            )
        shutil.rmtree(dest)
    mapping = region_map()
    with tempfile.TemporaryDirectory(prefix="dtb-synth-") as tmp:
        tcp = synthesize(Path(tmp) / "tcp", n_participants, seed, config or SynthConfig())
        truth = read_truth(tcp)
        part = dest.with_name(f".{dest.name}.part")
        if part.exists():
            shutil.rmtree(part)
        part.mkdir(parents=True)
        _write_top(tcp, part, truth, mapping, seed)
        for pid in pd.read_csv(tcp / "participants.tsv", sep="\t")["participant_id"]:
            _write_participant(tcp, part, str(pid), mapping)
    part.rename(dest)
    return dest


def is_derivative_synth(path: Path | str) -> bool:
    """Whether ``path`` holds a cohort written by :func:`synthesize_derivatives`."""
    path = Path(path)
    try:
        desc = json.loads((path / "dataset_description.json").read_text())
    except (OSError, ValueError):
        return False
    return desc.get("SynthLayout") == "bids-derivatives" and any(
        isinstance(g, dict) and g.get("Name") == GENERATOR for g in desc.get("GeneratedBy", [])
    )


def _write_top(tcp: Path, dest: Path, truth: dict, mapping: np.ndarray, seed: int) -> None:
    desc = json.loads((tcp / "dataset_description.json").read_text())
    desc.update(
        {
            "Name": "dtb synthetic cohort in BIDS-derivative layout (216-region atlas, TR 1.6 s)",
            "SynthLayout": "bids-derivatives",
            "SynthSeed": seed,
        }
    )
    write_text(dest / "dataset_description.json", json.dumps(desc, indent=2))
    shutil.copy2(tcp / "participants.tsv", dest / "participants.tsv")
    shutil.copytree(tcp / "phenotype", dest / "phenotype")
    raw = json.loads((tcp / "truth" / "truth.json").read_text())
    raw["planted_edges"] = remap_truth(truth, mapping)
    raw["atlas"] = {"name": ATLAS, "tcp_parcel_to_region": mapping.tolist()}
    raw["layout"] = {"tr": REST.tr * TR_FACTOR, "keep": KEEP, "task_labels": TASK_LABELS}
    write_text(dest / "truth" / "truth.json", json.dumps(raw))
    pipeline = dest / PIPELINE
    write_text(
        pipeline / "dataset_description.json",
        json.dumps(
            {
                "Name": "parcellated time series",
                "BIDSVersion": "1.9.0",
                "DatasetType": "derivative",
                "GeneratedBy": [{"Name": GENERATOR}],
            },
            indent=2,
        ),
    )
    folder = pipeline / "atlases" / f"atlas-{ATLAS}"
    write_text(folder / f"atlas-{ATLAS}_dseg.tsv", atlas_table().to_csv(sep="\t", index=False))
    write_text(folder / f"atlas-{ATLAS}_targets.tsv", target_table().to_csv(sep="\t", index=False))


def _write_participant(tcp: Path, dest: Path, pid: str, mapping: np.ndarray) -> None:
    sub = pid if pid.startswith("sub-") else f"sub-{pid}"
    columns = atlas_table()["label"].tolist()
    runs = [(REST, None)] + [(t.run, t) for t in TASKS]
    for run, task in runs:
        label = TASK_LABELS[run.name]
        stem = f"{sub}_task-{label}_run-1"
        ts = _merge(read_timeseries(timeseries_path(tcp, pid, run), run), mapping)[:, ::TR_FACTOR]
        if task is not None:
            n_keep = int(ts.shape[1] * KEEP)
            ts = ts[:, :n_keep]
            end = n_keep * REST.tr * TR_FACTOR
            events = pd.read_csv(
                events_path(tcp, pid, run), sep="\t", dtype=str, keep_default_na=False
            )
            onset = events["onset"].astype(float) + events["duration"].astype(float)
            events = events[onset + 2.0 < end]
            write_text(
                dest / sub / "func" / f"{stem}_events.tsv", events.to_csv(sep="\t", index=False)
            )
        write_text(
            dest / sub / "func" / f"{stem}_bold.json",
            json.dumps({"RepetitionTime": REST.tr * TR_FACTOR, "TaskName": label}),
        )
        name = f"{stem}_space-MNI152NLin6Asym_atlas-{ATLAS}_stat-mean_timeseries.tsv"
        table = pd.DataFrame(ts.T, columns=columns)
        write_text(
            dest / PIPELINE / sub / "func" / name,
            table.to_csv(sep="\t", index=False, float_format="%.6g"),
        )
