"""``dtb reproduce``: every stage from data to book, each skipped when its inputs are unchanged.

Stages: synthesise (unless ``--data``), check, prepare, events-only baselines, the protocol and
control suite (training and evaluation; its ``paper`` entry is the main twin), the virtual
interventions of both indicators on that twin (``OUT/<profile>/intervene/<indicator>``), the
notebooks,
executed with papermill into ``book/generated`` (figures and their numbers go to
``OUT/<profile>/figures``), and a strict Jupyter Book build that never re-executes them.
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
    """Sizes of one reproduction profile.

    ``quick`` keeps the CPU run in minutes: 40 synthetic participants, 3 zero-shot folds and one
    FC shift. Zero-shot prediction needs more people than that to rise above chance (about 80 on
    the synthetic cohort); ``paper`` runs 228 participants, 5 folds and the shifts 1, n/3, n/2.
    """

    name: str
    n_participants: int
    n_folds: int


PROFILES = {"quick": Profile("quick", 40, 3), "paper": Profile("paper", 228, 5)}
#: Notebooks executed by ``dtb reproduce``, in order.
NOTEBOOKS = (
    "data_overview",
    "training_curves",
    "fig2_rt",
    "fig3_bold",
    "fig4_targets",
    "fig5_intervention",
    "controls",
)
BOOK_DIR = NOTEBOOK_DIR.parent / "book"


def _stamp_ok(stamp: Path, key: str) -> bool:
    return stamp.is_file() and json.loads(stamp.read_text()).get("key") == key


def _log(msg: str) -> None:
    print(f"[dtb reproduce] {msg}", flush=True)


def build_book() -> Path:
    """Build the Jupyter Book strictly (``-W -n --keep-going``) from the executed notebooks.

    Notebooks are not re-executed (``execute_notebooks: off`` in ``book/_config.yml``).

    Raises
    ------
    DtbError
        If the build reports a warning or an error; the message holds the build's last lines.
    """
    import subprocess
    import sys

    from dtb.errors import DtbError

    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        raise DtbError(
            f"{exe} not found: install the book extra (pip install -e '.[book]') to build the book"
        )
    _log("building the book")
    proc = subprocess.run(
        [str(exe), "build", str(BOOK_DIR), "-W", "-n", "--keep-going", "--builder", "html"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise DtbError(f"the book build failed (warnings are errors):\n{tail}")
    html = BOOK_DIR / "_build" / "html"
    _log(f"book: {html / 'index.html'}")
    return html


def reproduce(
    profile: str = "quick",
    data: Path | str | None = None,
    out: Path | str = "results",
    participants: int | None = None,
    seed: int = 0,
    device: str = "auto",
    book: bool = True,
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
    device : {"auto", "cpu", "cuda"}
        Where the suite trains.
    book : bool
        Build the Jupyter Book at the end.
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

    from dtb.suite import run_suite

    suite_dir = run_dir / "suite"
    _log(f"protocols and controls ({prof.n_folds} zero-shot folds) into {suite_dir}")
    run_suite(cache, suite_dir, profile=profile, n_folds=prof.n_folds, device=device, progress=True)
    key = hashlib.sha256((key + sha256_file(suite_dir / "suite.tsv")).encode()).hexdigest()[:32]

    from dtb.intervene import INDICATORS, InterveneConfig, intervene

    iv_dir = run_dir / "intervene"
    for indicator in INDICATORS:
        iv_cfg = InterveneConfig(indicator=indicator)
        iv_key = hashlib.sha256((key + hash_config(iv_cfg)).encode()).hexdigest()[:32]
        dest = iv_dir / indicator
        if (
            _stamp_ok(stamps / f"intervene-{indicator}.json", iv_key)
            and (dest / "intervention.json").is_file()
        ):
            _log(f"intervention ({indicator}) unchanged")
            continue
        _log(f"virtual intervention ({indicator}) into {dest}")
        intervene(suite_dir / "paper" / "run", dest, iv_cfg, device=device, progress=True)
        write_json(stamps / f"intervene-{indicator}.json", {"key": iv_key})
    key = hashlib.sha256(
        (key + "".join(sha256_file(iv_dir / i / "intervention.json") for i in INDICATORS)).encode()
    ).hexdigest()[:32]

    fig_dir = run_dir / "figures"
    common = {"fig_dir": str(fig_dir), "profile": profile}
    parameters = {
        "data_overview": {
            "data_root": str(root),
            "cache": str(cache),
            "baselines": str(baselines_path),
        },
        "training_curves": {"run_dir": str(suite_dir / "paper" / "run")},
        "fig2_rt": {
            "eval_dir": str(suite_dir / "paper" / "eval"),
            "baselines": str(baselines_path),
        },
        "fig3_bold": {"eval_dir": str(suite_dir / "paper" / "eval")},
        "fig4_targets": {"intervene_dir": str(iv_dir)},
        "fig5_intervention": {"intervene_dir": str(iv_dir)},
        "controls": {"suite_dir": str(suite_dir), "baselines": str(baselines_path)},
    }
    for name in NOTEBOOKS:
        params = {**parameters[name], **common}
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

    if book:
        build_book()

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
