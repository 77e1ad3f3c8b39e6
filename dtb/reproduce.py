"""``dtb reproduce``: every stage from data to book, each skipped when its inputs are unchanged.

Stages: synthesise (unless ``--data``), check, prepare, events-only baselines; the suite of
protocols, controls, both designs and the ridge peer (its ``paper`` entry is the main twin);
the virtual interventions of both indicators on that twin (``OUT/<profile>/intervene``); more
training seeds of both designs (``seeds/``), their connectome targets (``targets/``) and the
seed agreement of the edge maps (``stability/<design>-<indicator>``); the notebooks, executed
with papermill into ``book/generated`` (figures and their numbers go to
``OUT/<profile>/figures``); and a strict Jupyter Book build that never re-executes them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from dtb.fileio import write_json
from dtb.notebooks import NOTEBOOK_DIR, execute_notebook
from dtb.provenance import config_dict, hash_config, hash_files, sha256_file

BOOK_GENERATED = NOTEBOOK_DIR.parent / "book" / "generated"


@dataclass(frozen=True)
class Profile:
    """Sizes of one reproduction profile.

    ``quick`` keeps the CPU run under 10 minutes yet large enough for zero-shot prediction from
    FC to mean something: 64 synthetic participants, 5 zero-shot folds, 3 training seeds per
    design, runs trained 2 at a time. ``paper`` runs 228 participants.
    """

    name: str
    n_participants: int
    n_folds: int
    n_seeds: int
    jobs: int


PROFILES = {
    "quick": Profile("quick", 64, 5, 3, 2),
    "paper": Profile("paper", 228, 5, 3, 1),
}
#: Notebooks executed by ``dtb reproduce``, in order.
NOTEBOOKS = (
    "data_overview",
    "training_curves",
    "fig2_rt",
    "fig3_bold",
    "fig4_targets",
    "fig5_intervention",
    "targets_truth",
    "controls",
    "explorer_snapshot",
)
BOOK_DIR = NOTEBOOK_DIR.parent / "book"


def _stamp_ok(stamp: Path, key: str) -> bool:
    return stamp.is_file() and json.loads(stamp.read_text()).get("key") == key


def _output_ok(stamp: Path, key: str, dest: Path) -> bool:
    """Whether ``dest`` is still the output this stamp recorded (``book/generated`` is shared
    by every results folder: another reproduction may have replaced it)."""
    return (
        _stamp_ok(stamp, key)
        and dest.is_file()
        and json.loads(stamp.read_text()).get("output") == sha256_file(dest)
    )


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


#: What reproduce derives from a cohort under ``out/<profile>``: removed when the cohort changes.
_DERIVED = ("suite", "seeds", "targets", "intervene", "stability", "figures")


def _forget_other_cohort(run_dir: Path, stamps: Path, cache: Path) -> None:
    """Remove this folder's results of a previous cohort (never reused for another one)."""
    import shutil

    from dtb.data.prepare import read_meta

    key = read_meta(cache)["key"]
    stamp = stamps / "cohort.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("key") != key:
        _log(f"the cohort changed: removing the previous cohort's results from {run_dir}")
        for name in _DERIVED:
            shutil.rmtree(run_dir / name, ignore_errors=True)
        for old in stamps.glob("*.json"):
            if old.name.startswith(("intervene-", "targets-", "nb-")):
                old.unlink()
    write_json(stamp, {"key": key})


def _forget_stale_runs(cache: Path, suite_dir: Path, profile: str, prof, extra) -> None:
    """Remove this folder's runs whose saved configuration is not the one planned now (after
    a change of the code's defaults): they are retrained, never reused."""
    import shutil

    from dtb.data.prepare import read_meta
    from dtb.parallel import finished
    from dtb.suite import entry_runs, suite_entries

    n = len(read_meta(cache)["participants"])
    key = read_meta(cache)["key"]
    plans = [
        plan
        for e in suite_entries(n, profile)
        for plan in entry_runs(e, suite_dir, profile=profile, n_folds=prof.n_folds, seed=0)
    ]
    for run, cfg in [*plans, *extra]:
        try:
            finished(Path(run), key, cfg)
        except ValueError:
            _log(f"{run}: trained with another configuration; removed, to be trained again")
            shutil.rmtree(run)


def _book_stage(stamps: Path) -> None:
    """Build the book unless its sources (pages, executed notebooks, docstrings) are unchanged."""
    import dtb

    package = Path(dtb.__file__).parent
    sources = [p for p in BOOK_DIR.rglob("*") if p.is_file() and "_build" not in p.parts]
    key = hash_files(sources + sorted(package.rglob("*.py")))
    stamp = stamps / "book.json"
    if _stamp_ok(stamp, key) and (BOOK_DIR / "_build" / "html" / "index.html").is_file():
        _log("book unchanged: not rebuilt")
        return
    build_book()
    write_json(stamp, {"key": key})


def _data_stage(run_dir: Path, stamps: Path, prof: Profile, data, participants, seed, options):
    """Synthesise (unless ``data``), check, prepare and compute the events-only baselines."""
    from dtb.baselines import behavioural_baselines, split_of
    from dtb.data.check import check_dataset, check_source
    from dtb.data.prepare import PrepareConfig, prepare
    from dtb.data.sources import open_source

    if data is None:
        from dtb.data.synth import synthesize

        n = participants or prof.n_participants
        root = run_dir / "data"
        key = hash_config({"n": n, "seed": seed, "synth": "v2"})
        if _stamp_ok(stamps / "synth.json", key) and (root / "participants.tsv").is_file():
            _log(f"synthetic cohort unchanged: {root}")
        else:
            _log(f"synthesising {n} participants (seed {seed}) into {root}")
            synthesize(root, n, seed)
            write_json(stamps / "synth.json", {"key": key})
    else:
        root = Path(data).resolve()

    source = open_source(root, **{"layout": "auto", **options})
    report = check_dataset(root) if source.layout == "tcp" else check_source(source)
    _log(
        f"check: {int(report.table['usable'].sum())} of {len(report.table)} usable, "
        f"{len(report.problems)} problem(s)"
    )
    if not report.table["usable"].any():
        raise ValueError(f"{root}: no usable participant\n{report.format()}")

    cache = prepare(root, run_dir / "cache", PrepareConfig(), progress=True, source=source)
    _log(f"prepared cohort: {cache}")
    baselines_path = run_dir / "baselines.json"
    key = sha256_file(cache)[:32]
    if not (_stamp_ok(stamps / "baselines.json", key) and baselines_path.is_file()):
        write_json(baselines_path, behavioural_baselines(root, split_of(cache), source=source))
        write_json(stamps / "baselines.json", {"key": key})
    return root, cache, baselines_path, key


def _chain(key: str, *parts: str) -> str:
    return hashlib.sha256((key + "".join(parts)).encode()).hexdigest()[:32]


def _intervention(todo: list, stamp: Path, key: str, run: Path, dest: Path, cfg, device) -> None:
    """Add one intervention to ``todo`` unless its stamp says it is current."""
    if _stamp_ok(stamp, key) and (dest / "intervention.json").is_file():
        return
    call = {"run_dir": str(run), "out": str(dest), "cfg": cfg, "device": device}
    todo.append(({**call, "progress": False}, stamp, key))


def seed_plans(run_dir: Path, prof: Profile, profile: str, suite_dir: Path):
    """The paper-protocol runs of every design and seed.

    Seed 0 of a design is its suite run (``paper``, or ``<design>-paper`` for the other
    design); seeds 1..n-1 are trained under ``run_dir/seeds/<design>/seed-<s>``.

    Returns
    -------
    runs : dict of str to list of Path
        Per design, its run folders in seed order.
    plans : list of (Path, TrainConfig)
        The runs to train beyond the suite's.
    """
    from dtb.config import TrainConfig
    from dtb.encoders import ENCODERS

    own = TrainConfig.for_profile(profile).fc_encoder
    runs = {own: [suite_dir / "paper" / "run"]}
    runs.update({e: [suite_dir / f"{e}-paper" / "run"] for e in ENCODERS if e != own})
    plans = []
    for design in runs:
        for s in range(1, prof.n_seeds):
            run = run_dir / "seeds" / design / f"seed-{s}"
            cfg = TrainConfig.for_profile(
                profile, fc_encoder=design, protocol="paper", n_folds=prof.n_folds, seed=s
            )
            plans.append((run, cfg))
            runs[design].append(run)
    return runs, plans


def _interventions_stage(run_dir, stamps, profile, seed_runs, key, device, jobs):
    """Interventions (full, on the profile's design), seeds and their targets, stability.

    Returns the key of everything written.
    """
    from dataclasses import replace

    from dtb.config import TrainConfig
    from dtb.intervene import INDICATORS, InterveneConfig, intervene
    from dtb.parallel import map_jobs
    from dtb.stability import target_stability

    own = TrainConfig.for_profile(profile).fc_encoder
    todo, folders = [], {}
    for indicator in INDICATORS:
        full = InterveneConfig(indicator=indicator)
        dest = run_dir / "intervene" / indicator
        stamp = stamps / f"intervene-{indicator}.json"
        own_run = seed_runs[own][0]
        _intervention(todo, stamp, _chain(key, hash_config(full)), own_run, dest, full, device)
        cfg = replace(full, targets_only=True)
        for design, runs in seed_runs.items():
            folders[(design, indicator)] = [dest] if design == own else []
            for k, run in enumerate(runs):
                if design == own and k == 0:
                    continue  # the full intervention above is this seed's
                target = run_dir / "targets" / design / f"seed-{k}" / indicator
                run_key = _chain(key, hash_config(cfg), sha256_file(run / "run.json"))
                stamp = stamps / f"targets-{design}-{k}-{indicator}.json"
                _intervention(todo, stamp, run_key, run, target, cfg, device)
                folders[(design, indicator)].append(target)
    _log(f"{len(todo)} intervention(s) to run ({len(INDICATORS)} indicators, both designs)")
    map_jobs(intervene, [c for c, _, _ in todo], jobs=jobs, progress=True, desc="interventions")
    for _, stamp, ckey in todo:  # stamped once all are written
        write_json(stamp, {"key": ckey})
    parts = []
    for (design, indicator), dirs in folders.items():
        result = target_stability(dirs, run_dir / "stability" / f"{design}-{indicator}")
        parts.append(json.dumps(result, sort_keys=True))
    return _chain(key, *parts)


def write_build_info(run_dir: Path, profile: str, root: Path, cache: Path) -> Path:
    """``build.json``: what every page is about (:func:`dtb.report.build_info`)."""
    from dtb.config import TrainConfig
    from dtb.data.prepare import read_meta
    from dtb.data.synth import is_synth_output
    from dtb.data.synth_derivatives import is_derivative_synth
    from dtb.provenance import code_version
    from dtb.report import build_info

    synthetic = is_synth_output(root) or is_derivative_synth(root)
    desc = json.loads((root / "dataset_description.json").read_text()) if synthetic else {}
    info = build_info(
        data_root=root,
        cache=cache,
        profile=profile,
        design=TrainConfig.for_profile(profile).fc_encoder,
        participants=len(read_meta(cache)["participants"]),
        synthetic=synthetic,
        seed=desc.get("SynthSeed"),
        code=code_version(),
    )
    path = run_dir / "build.json"
    write_json(path, info)
    return path


def write_settings(run_dir: Path, profile: str, suite_dir: Path) -> Path:
    """``book/generated/settings.md``: the settings this build used, for the methods page."""
    from dtb.config import TrainConfig
    from dtb.encoders import ENCODERS
    from dtb.fileio import write_text
    from dtb.report import page_header, settings_markdown
    from dtb.ridge import RidgeConfig

    own = TrainConfig.for_profile(profile).fc_encoder
    runs = {f"{own} design": suite_dir / "paper" / "run"}
    for other in ENCODERS:
        if other != own and (suite_dir / f"{other}-paper" / "run" / "run.json").is_file():
            runs[f"{other} design"] = suite_dir / f"{other}-paper" / "run"
    text = settings_markdown(
        runs,
        intervention=run_dir / "intervene" / "speed" / "intervention.json",
        ridge=RidgeConfig(n_folds=PROFILES[profile].n_folds),
    )
    path = BOOK_GENERATED / "settings.md"
    write_text(path, page_header(run_dir / "build.json") + "\n\n" + text)
    return path


def _notebooks_stage(run_dir, profile, root, cache, baselines_path, suite_dir, key, jobs) -> None:
    """Execute the figure notebooks whose inputs changed, ``jobs`` at a time."""
    from dtb.parallel import map_jobs

    iv_dir = run_dir / "intervene"
    fig_dir = run_dir / "figures"
    build = write_build_info(run_dir, profile, root, cache)
    write_settings(run_dir, profile, suite_dir)
    common = {"fig_dir": str(fig_dir), "profile": profile, "build": str(build)}
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
            "suite_dir": str(suite_dir),
        },
        "fig3_bold": {"eval_dir": str(suite_dir / "paper" / "eval")},
        "fig4_targets": {"intervene_dir": str(iv_dir)},
        "fig5_intervention": {"intervene_dir": str(iv_dir)},
        "targets_truth": {"results_dir": str(run_dir)},
        "controls": {"suite_dir": str(suite_dir), "baselines": str(baselines_path)},
        "explorer_snapshot": {
            "run_dir": str(suite_dir / "paper" / "run"),
            "intervene_dir": str(iv_dir),
        },
    }
    stamps = run_dir / ".stamps"
    todo = []
    for name in NOTEBOOKS:
        params = {**parameters[name], **common}
        src = NOTEBOOK_DIR / f"{name}.py"
        dest = BOOK_GENERATED / f"{name}.ipynb"
        h = hashlib.sha256()
        h.update(sha256_file(src).encode())
        h.update(json.dumps(params, sort_keys=True).encode())
        h.update(key.encode())
        if _output_ok(stamps / f"nb-{name}.json", h.hexdigest(), dest):
            _log(f"notebook {name} unchanged")
            continue
        todo.append((name, h.hexdigest(), {"source": src, "dest": dest, "parameters": params}))
    _log(f"executing {len(todo)} notebook(s): {', '.join(name for name, _, _ in todo)}")
    calls = [{**call, "cwd": NOTEBOOK_DIR} for _, _, call in todo]
    map_jobs(execute_notebook, calls, jobs=jobs, progress=True, desc="notebooks")
    for name, nb_key, call in todo:
        write_json(stamps / f"nb-{name}.json", {"key": nb_key, "output": sha256_file(call["dest"])})


def reproduce(
    profile: str = "quick",
    data: Path | str | None = None,
    out: Path | str = "results",
    participants: int | None = None,
    seed: int = 0,
    device: str = "auto",
    book: bool = True,
    jobs: int | None = None,
    source_options: dict | None = None,
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
    jobs : int, optional
        Runs and interventions at once on a CPU (default: the profile's, at most the cores).
    source_options : dict, optional
        How to read ``data`` (:func:`dtb.data.sources.open_source`: ``layout`` and its
        options); default: the layout detected.
    """
    import os

    from dtb.suite import run_suite

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    prof = PROFILES[profile]
    jobs = jobs or max(1, min(prof.jobs, os.cpu_count() or 1))
    run_dir = Path(out).resolve() / profile
    stamps = run_dir / ".stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    root, cache, baselines_path, key = _data_stage(
        run_dir, stamps, prof, data, participants, seed, source_options or {}
    )
    _forget_other_cohort(run_dir, stamps, cache)
    suite_dir = run_dir / "suite"
    seed_runs, seed_extra = seed_plans(run_dir, prof, profile, suite_dir)
    _forget_stale_runs(cache, suite_dir, profile, prof, seed_extra)
    _log(f"protocols, controls and designs ({prof.n_folds} zero-shot folds) into {suite_dir}")
    run_suite(
        cache,
        suite_dir,
        profile=profile,
        n_folds=prof.n_folds,
        device=device,
        jobs=jobs,
        extra_runs=tuple(seed_extra),
        progress=True,
    )
    key = _chain(key, sha256_file(suite_dir / "suite.tsv"))
    key = _interventions_stage(run_dir, stamps, profile, seed_runs, key, device, jobs)
    _notebooks_stage(run_dir, profile, root, cache, baselines_path, suite_dir, key, jobs)
    if book:
        _book_stage(stamps)
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
