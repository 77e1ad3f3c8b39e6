"""``dtb reproduce``: every stage from data to figures, each skipped when its inputs are unchanged.

Stages now: synthesise (unless ``--data``), check, prepare, events-only baselines, and the
notebooks, executed with papermill into ``book/generated``; figures and their numbers go to
``OUT/<profile>/figures``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from dtb.fileio import write_json
from dtb.notebooks import NOTEBOOK_DIR, execute_notebook
from dtb.provenance import config_dict, hash_config, sha256_file

BOOK_GENERATED = NOTEBOOK_DIR.parent / "book" / "generated"


@dataclass(frozen=True)
class Profile:
    """Sizes of one reproduction profile."""

    name: str
    n_participants: int


PROFILES = {"quick": Profile("quick", 40), "paper": Profile("paper", 228)}
#: Notebooks executed by ``dtb reproduce``, in order.
NOTEBOOKS = ("data_overview",)


def _stamp_ok(stamp: Path, key: str) -> bool:
    return stamp.is_file() and json.loads(stamp.read_text()).get("key") == key


def _log(msg: str) -> None:
    print(f"[dtb reproduce] {msg}", flush=True)


def reproduce(
    profile: str = "quick",
    data: Path | str | None = None,
    out: Path | str = "results",
    participants: int | None = None,
    seed: int = 0,
) -> Path:
    """Run the reproduction; return the profile's output folder.

    Parameters
    ----------
    profile : {"quick", "paper"}
    data : path-like, optional
        A TCP-layout dataset. Default: a synthetic cohort written under ``out``.
    out : path-like
        Results root; the profile writes to ``out/<profile>``.
    participants : int, optional
        Synthetic cohort size (default: the profile's).
    seed : int
        Seed of the synthetic cohort.
    """
    from dtb.baselines import behavioural_baselines
    from dtb.data.check import check_dataset
    from dtb.data.prepare import PrepareConfig, prepare

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    prof = PROFILES[profile]
    run_dir = Path(out).resolve() / profile
    stamps = run_dir / ".stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    if data is None:
        from dtb.data.synth import synthesize

        n = participants or prof.n_participants
        root = run_dir / "data"
        key = hash_config({"n": n, "seed": seed, "synth": "v1"})
        if _stamp_ok(stamps / "synth.json", key) and (root / "participants.tsv").is_file():
            _log(f"synthetic cohort unchanged: {root}")
        else:
            _log(f"synthesising {n} participants (seed {seed}) into {root}")
            synthesize(root, n, seed)
            write_json(stamps / "synth.json", {"key": key})
    else:
        root = Path(data).resolve()

    report = check_dataset(root)
    _log(
        f"check: {int(report.table['usable'].sum())} of {len(report.table)} usable, "
        f"{len(report.problems)} problem(s)"
    )
    if not report.table["usable"].any():
        raise ValueError(f"{root}: no usable participant\n{report.format()}")

    cache = prepare(root, run_dir / "cache", PrepareConfig(), progress=True)
    _log(f"prepared cohort: {cache}")

    baselines_path = run_dir / "baselines.json"
    key = sha256_file(cache)[:32]
    if not (_stamp_ok(stamps / "baselines.json", key) and baselines_path.is_file()):
        write_json(baselines_path, behavioural_baselines(root))
        write_json(stamps / "baselines.json", {"key": key})

    fig_dir = run_dir / "figures"
    for name in NOTEBOOKS:
        params = {
            "data_root": str(root),
            "cache": str(cache),
            "baselines": str(baselines_path),
            "fig_dir": str(fig_dir),
            "profile": profile,
        }
        src = NOTEBOOK_DIR / f"{name}.py"
        dest = BOOK_GENERATED / f"{name}.ipynb"
        h = hashlib.sha256()
        h.update(sha256_file(src).encode())
        h.update(json.dumps(params, sort_keys=True).encode())
        h.update(key.encode())
        nb_key = h.hexdigest()
        if _stamp_ok(stamps / f"nb-{name}.json", nb_key) and dest.is_file():
            _log(f"notebook {name} unchanged")
            continue
        _log(f"executing notebook {name}")
        execute_notebook(src, dest, params, cwd=NOTEBOOK_DIR)
        write_json(stamps / f"nb-{name}.json", {"key": nb_key})

    write_json(
        run_dir / "reproduce.json",
        {
            "profile": config_dict(prof),
            "data": str(root),
            "cache": str(cache),
            "notebooks": list(NOTEBOOKS),
            "config_hash": hash_config(prof),
        },
    )
    _log(f"done in {time.perf_counter() - t0:.1f} s: {run_dir}")
    return run_dir
