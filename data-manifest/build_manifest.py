"""Build the dtb data manifest of OpenNeuro ds005237 from a folder of the dataset's small files.

Usage (from the project root)::

    .venv/bin/python data-manifest/build_manifest.py --tcp ../shared/tcp \\
        --out data-manifest/ds005237.json

Inputs, all under ``--tcp``:

- ``annexed_files.tsv``: path, size and SHA-256 of every large file of the dataset (parcellated h5
  time series, motion FD tables, phenotype tables);
- ``participants.tsv`` and the ``sub-*/func/*_events.tsv`` files, hashed from the files themselves;
- ``dataset_description.json``, for the dataset version.

The dataset has a task's events file wherever it has that task's BOLD image
(``sub-X/func/sub-X_task-<task>_run-01_bold.nii.gz``, listed in the index). An events file of such
a run that is absent from ``--tcp`` is listed by its path alone, with ``size`` and ``sha256`` null
and ``"checksum": "unknown"`` (a fetch downloads it without verification); every other entry has
``"checksum": "sha256"``.

Outputs: the manifest (``--out``), its JSON Schema beside it (``schema.json``, written from
``dtb.data.manifest.SCHEMA``) and the copy packaged with dtb (``--package-copy``, default
``dtb/resources/ds005237.json``). The output depends only on the inputs: no dates, sorted entries,
so re-running on the same inputs rewrites identical bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

from dtb.data.manifest import (
    KINDS,
    SCHEMA,
    SCHEMA_VERSION,
    manifest_totals,
    validate_manifest,
)
from dtb.fileio import write_text
from dtb.layout import (
    FACES,
    PARCELLATED_DIR,
    REST,
    REST2,
    STROOP,
    Run,
    bids_id,
    events_relpath,
    timeseries_relpath,
)
from dtb.provenance import sha256_file

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE_COPY = REPO / "dtb" / "resources" / "ds005237.json"

DATASET_ID = "ds005237"
BASE_URL = f"https://s3.amazonaws.com/openneuro.org/{DATASET_ID}/"
DATASET = {
    "id": DATASET_ID,
    "name": "Transdiagnostic Connectome Project",
    "doi": "10.18112/openneuro.ds005237",
    "licence": "CC0",
    "landing_page": f"https://openneuro.org/datasets/{DATASET_ID}",
}
CITATIONS = [
    {
        "key": "tcp_dataset",
        "role": "dataset",
        "text": (
            "Chopra S, Cocuzza CV, Lawhead C, et al. Transdiagnostic Connectome Project. "
            "OpenNeuro, dataset ds005237."
        ),
        "doi": "10.18112/openneuro.ds005237",
    },
    {
        "key": "tcp_descriptor",
        "role": "data descriptor",
        "text": (
            "Chopra S, Cocuzza CV, et al. The Transdiagnostic Connectome Project: a richly "
            "phenotyped open dataset for advancing the study of brain-behavior relationships in "
            "psychiatry. medRxiv 2024."
        ),
        "doi": "10.1101/2024.06.18.24309054",
    },
    {
        "key": "dtb_paper",
        "role": "paper",
        "text": (
            "Takahashi Y, Soda T, Tomita H, Yamashita Y. Digital Twin Brain: Generating Multitask "
            "Behavior from Connectomes for Personalized Therapy. BME Frontiers 2026;7:0231."
        ),
        "doi": "10.34133/bmef.0231",
    },
]

#: Runs whose parcellated time series the companion uses, with their manifest labels.
TIMESERIES_RUNS: tuple[Run, ...] = (REST, REST2, FACES, STROOP)
#: Runs with an events file (the two tasks).
EVENTS_RUNS: tuple[Run, ...] = (FACES, STROOP)
#: Motion FD tables of those runs (``motion_FD/TCP_FD_<key>.csv``; rows are participants).
MOTION_FILES: dict[str, Run] = {
    "rest_AP_1": REST,
    "rest_AP_2": REST2,
    "hammer_AP": FACES,
    "stroop_AP": STROOP,
}
_H5_RE = re.compile(
    rf"^{re.escape(PARCELLATED_DIR)}/(NDAR_INV[A-Z0-9]+)/task-([A-Za-z]+)_run-(\d\d)_bold_"
    r"Atlas_hp2000_clean_GSR_parcellated\.h5$"
)
_PHENOTYPE_RE = re.compile(r"^phenotype/[^/]+\.tsv$")
#: A task run's BOLD image in the index: the dataset has that run's events file beside it.
_BOLD_RE = re.compile(r"^(sub-NDARINV[A-Z0-9]+)/func/\1_task-([A-Za-z]+)_run-(\d\d)_bold\.nii\.gz$")


def run_label(run: Run) -> str:
    """Manifest label of a run, e.g. ``"restAP_run-01"``."""
    return f"{run.bids_task}_run-{run.run:02d}"


def read_index(path: Path) -> dict[str, tuple[int, str]]:
    """Read ``annexed_files.tsv`` into ``{path: (size, sha256)}``.

    Raises
    ------
    ValueError
        If the header is not ``path size sha256`` or a row is malformed (row number named).
    """
    out: dict[str, tuple[int, str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header != ["path", "size", "sha256"]:
            raise ValueError(f"{path}: expected the header 'path size sha256', got {header}")
        for i, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 3 or not row[1].isdigit() or not re.fullmatch(r"[0-9a-f]{64}", row[2]):
                raise ValueError(f"{path}: malformed row {i}: {row}")
            if row[0] in out:
                raise ValueError(f"{path}: duplicate path on row {i}: {row[0]}")
            out[row[0]] = (int(row[1]), row[2])
    return out


def dataset_version(tcp: Path) -> str:
    """The dataset version from ``dataset_description.json`` (``DatasetDOI`` ...``.v1.1.3``)."""
    desc = tcp / "dataset_description.json"
    doi = json.loads(desc.read_text(encoding="utf-8")).get("DatasetDOI", "")
    m = re.search(r"\.v(\d+\.\d+\.\d+)$", doi)
    if not m:
        raise ValueError(f"{desc}: no version in DatasetDOI {doi!r}")
    return m.group(1)


def entry(
    path: str,
    size: int | None,
    sha256: str | None,
    kind: str,
    participant: str | None,
    run: Run | None,
) -> dict:
    """One manifest entry; ``size`` and ``sha256`` both ``None`` make it unverified."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} for {path}")
    if (size is None) != (sha256 is None):
        raise ValueError(f"{path}: give both size and sha256, or neither")
    return {
        "path": path,
        "size": None if size is None else int(size),
        "sha256": sha256,
        "checksum": "unknown" if sha256 is None else "sha256",
        "kind": kind,
        "participant": participant,
        "run": None if run is None else run_label(run),
        "url": BASE_URL + path,
    }


def text_entry(tcp: Path, rel: str, kind: str, participant: str | None, run: Run | None) -> dict:
    """Entry of a small text file present under ``tcp``, hashed from the file."""
    f = tcp / rel
    return entry(rel, f.stat().st_size, sha256_file(f), kind, participant, run)


def indexed_events(index: dict[str, tuple[int, str]]) -> list[tuple[str, Run]]:
    """``(participant, run)`` of every events run whose BOLD image the index lists, sorted."""
    wanted = {(r.bids_task, r.run): r for r in EVENTS_RUNS}
    out = []
    for path in index:
        m = _BOLD_RE.match(path)
        if m:
            run = wanted.get((m.group(2), int(m.group(3))))
            if run is not None:
                out.append((m.group(1), run))
    return sorted(out, key=lambda sr: (sr[0], sr[1].bids_task, sr[1].run))


def participant_ids(tcp: Path) -> list[str]:
    """BIDS ids from ``participants.tsv`` and the ``sub-*`` folders under ``tcp``, sorted."""
    ids: set[str] = set()
    with open(tcp / "participants.tsv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            ids.add(bids_id(row["participant_id"]))
    ids.update(bids_id(d.name) for d in tcp.glob("sub-*") if d.is_dir())
    return sorted(ids)


def build(tcp: Path) -> dict:
    """Build the manifest from the folder ``tcp``.

    Parameters
    ----------
    tcp : Path
        Folder holding ``annexed_files.tsv``, ``participants.tsv``, ``dataset_description.json``
        and the events files in the dataset's layout.

    Returns
    -------
    dict
        The manifest, already validated against the schema.
    """
    tcp = Path(tcp)
    for need in ("annexed_files.tsv", "participants.tsv", "dataset_description.json"):
        if not (tcp / need).is_file():
            raise ValueError(f"{tcp}: {need} not found (is this the TCP small-file folder?)")
    index_path = tcp / "annexed_files.tsv"
    index = read_index(index_path)
    files: list[dict] = [text_entry(tcp, "participants.tsv", "participants", None, None)]

    listed: set[str] = set()
    for sub in participant_ids(tcp):
        for run in EVENTS_RUNS:
            rel = events_relpath(sub, run)
            if (tcp / rel).is_file():
                files.append(text_entry(tcp, rel, "events", sub, run))
                listed.add(rel)
    # events files the dataset has (its BOLD image is indexed) but the folder lacks: path only
    for sub, run in indexed_events(index):
        rel = events_relpath(sub, run)
        if rel not in listed:
            files.append(entry(rel, None, None, "events", sub, run))
            listed.add(rel)

    wanted = {(r.bids_task, r.run): r for r in TIMESERIES_RUNS}
    for path, (size, sha) in index.items():
        m = _H5_RE.match(path)
        if m:
            run = wanted.get((m.group(2), int(m.group(3))))
            if run is None:
                continue
            if timeseries_relpath(m.group(1), run) != path:
                raise ValueError(f"{index_path}: unexpected time-series path {path}")
            files.append(entry(path, size, sha, "timeseries", bids_id(m.group(1)), run))
        elif _PHENOTYPE_RE.match(path):
            files.append(entry(path, size, sha, "phenotype", None, None))

    for key, run in MOTION_FILES.items():
        path = f"motion_FD/TCP_FD_{key}.csv"
        if path not in index:
            raise ValueError(f"{index_path}: {path} not listed")
        size, sha = index[path]
        files.append(entry(path, size, sha, "motion", None, run))

    files.sort(key=lambda e: e["path"])
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset": {**DATASET, "version": dataset_version(tcp)},
        "citations": CITATIONS,
        "base_url": BASE_URL,
        "source": {
            "index": "annexed_files.tsv",
            "index_sha256": sha256_file(index_path),
            "text_files": (
                "participants.tsv and events .tsv files, hashed from the files; the events files "
                "of indexed task BOLD images that were not at hand are listed without size and "
                "hash (checksum 'unknown')"
            ),
        },
        "totals": manifest_totals(files),
        "files": files,
    }
    validate_manifest(manifest, name="built manifest")
    return manifest


def dumps(manifest: dict) -> str:
    """Deterministic JSON text of a manifest: indented, one file entry per line, final newline."""
    head = {k: v for k, v in manifest.items() if k != "files"}
    text = json.dumps(head, indent=2, ensure_ascii=False)
    rows = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in manifest["files"])
    return text[: text.rindex("}")].rstrip() + ',\n  "files": [\n' + rows + "\n  ]\n}\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tcp", type=Path, required=True, help="folder of the TCP small files")
    ap.add_argument("--out", type=Path, required=True, help="manifest file to write")
    ap.add_argument(
        "--package-copy",
        type=Path,
        default=DEFAULT_PACKAGE_COPY,
        help=f"copy packaged with dtb (default: {DEFAULT_PACKAGE_COPY})",
    )
    ap.add_argument("--no-package-copy", action="store_true", help="do not write the copy")
    args = ap.parse_args(argv)
    try:
        manifest = build(args.tcp)
    except (ValueError, OSError) as exc:
        print(f"build_manifest: error: {exc}", file=sys.stderr)
        return 1
    text = dumps(manifest)
    outputs = [
        write_text(args.out, text),
        write_text(args.out.parent / "schema.json", json.dumps(SCHEMA, indent=2) + "\n"),
    ]
    if not args.no_package_copy:
        outputs.append(write_text(args.package_copy, text))
    for path in outputs:
        path.chmod(0o644)  # plain readable data files, like the rest of the tree
    t = manifest["totals"]
    print(
        f"{args.out}: {t['files']} files ({t['unverified']} unverified), {t['bytes']} bytes "
        f"(known sizes), {t['participants']} participants"
    )
    for kind, k in t["kinds"].items():
        print(
            f"  {kind:<12} {k['files']:>5} files {k['bytes']:>12} bytes "
            f"{k['unverified']:>5} unverified"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
