"""The dtb command line (also python -m dtb).

Every command prints one clear message and exits non-zero on bad input; long work shows a
progress bar; results are JSON/TSV files written atomically, never into an input folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dtb import __version__
from dtb.config import PROFILES
from dtb.encoders import ENCODERS
from dtb.errors import DtbError
from dtb.precision import PRECISIONS


def _cmd_fetch(args: argparse.Namespace) -> int:
    from dtb.data.fetch import fetch
    from dtb.data.manifest import load_manifest, select_entries, summary

    manifest = load_manifest(args.manifest)
    entries = select_entries(
        manifest,
        participants=args.participants,
        n=args.n,
        kinds=args.kinds,
        verified_only=args.verified_only,
    )
    s = summary(entries)
    print(
        f"fetching {s['count']} file(s), {s['bytes'] / 1e6:.1f} MB, into {args.dest}"
        + (f" ({s['unverified']} without a known checksum)" if s["unverified"] else "")
    )
    paths = fetch(args.dest, entries, base_url=args.base_url, progress=not args.quiet)
    print(f"{len(paths.verified)} file(s) present and verified by SHA-256 under {args.dest}")
    if paths.unverified:
        print(f"{len(paths.unverified)} file(s) present whose checksum the manifest does not know")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    if args.layout == "bids-derivatives":
        from dtb.data.synth_derivatives import synthesize_derivatives as synthesize
    else:
        from dtb.data.synth import synthesize

    dest = synthesize(args.dest, args.participants, args.seed)
    print(
        f"synthetic cohort of {args.participants} participant(s), seed {args.seed}, "
        f"{args.layout} layout: {dest}"
    )
    return 0


def _layout_options(p: argparse.ArgumentParser) -> None:
    """Options that say how to read a dataset (``dtb.data.sources``)."""
    g = p.add_argument_group("dataset layout")
    g.add_argument(
        "--layout",
        choices=["auto", "tcp", "bids-derivatives"],
        default="auto",
        help="tcp: ds005237 as published; bids-derivatives: BIDS raw folder plus XCP-D/nilearn "
        "parcellated time series; auto: tcp when ROOT has the TCP time-series folder",
    )
    g.add_argument(
        "--derivatives",
        type=Path,
        default=None,
        help="pipeline folder with sub-*/func/*_timeseries.tsv (default: the one under "
        "ROOT/derivatives)",
    )
    g.add_argument(
        "--atlas", default=None, help="atlas-/seg- label of the time series (default: the only one)"
    )
    g.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="region label file: label, network[, x, y, z] (default: the pipeline's "
        "atlas-*_dseg.tsv; for tcp, names of the 434 regions)",
    )
    g.add_argument(
        "--targets",
        type=Path,
        default=None,
        help="table of the 20 BOLD targets' parcels: target, parcels (default: nearest region "
        "to each target's MNI centre)",
    )
    g.add_argument(
        "--task",
        action="append",
        default=None,
        metavar="NAME=LABEL",
        help="BIDS task label of a dtb task, e.g. faces=hariri (repeatable; default: the names)",
    )
    g.add_argument(
        "--rest", default=None, help="pattern of the rest runs' task label (default: rest*)"
    )


def _source(args: argparse.Namespace, root: Path):
    """The dataset source named by the layout options."""
    from dtb.data.sources import open_source

    return open_source(root, **_source_options(args))


def _source_options(args: argparse.Namespace) -> dict:
    """The layout options as keyword arguments of :func:`dtb.data.sources.open_source`."""
    labels = {}
    for item in args.task or []:
        name, sep, label = item.partition("=")
        if not sep or not name or not label:
            raise ValueError(f"--task {item!r}: expected NAME=LABEL, e.g. faces=hariri")
        labels[name.strip()] = label.strip()
    return dict(
        layout=args.layout,
        labels=args.labels,
        derivatives=args.derivatives,
        atlas=args.atlas,
        targets=args.targets,
        task_labels=labels or None,
        rest=args.rest,
    )


def _cmd_check(args: argparse.Namespace) -> int:
    from dtb.data.check import check_dataset, check_source

    source = _source(args, args.root)
    if source.layout == "tcp":
        report = check_dataset(args.root, events_only=args.events_only)
    else:
        report = check_source(source)
    print(report.format())
    return 1 if report.failed(allow_missing=args.allow_missing) else 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from dtb.data.prepare import PrepareConfig, prepare, read_meta

    path = prepare(
        args.root,
        args.out,
        PrepareConfig(seed=args.seed),
        force=args.force,
        progress=not args.quiet,
        source=_source(args, args.root),
    )
    meta = read_meta(path)
    print(f"prepared {len(meta['participants'])} participant(s): {path}")
    for s in meta["skipped"]:
        print(f"  skipped {s['participant']} {s['run'] or ''}: {s['reason']}")
    return 0


def _cmd_baselines(args: argparse.Namespace) -> int:
    from dtb.baselines import behavioural_baselines
    from dtb.fileio import ensure_outside, write_json

    ensure_outside(args.json, args.root)
    result = behavioural_baselines(args.root, source=_source(args, args.root))
    write_json(args.json, result)
    for task, t in result["tasks"].items():
        own = t["own_mean_rt"]
        r = (
            "n/a"
            if own["r"] is None
            else f"{own['r']:.3f} [{own['ci_low']:.3f}, {own['ci_high']:.3f}]"
        )
        print(
            f"{task}: {t['n_used']} used ({t['n_excluded_chance']} at/below chance); "
            f"own-mean RT r = {r}; always-correct concordance = "
            f"{t['always_correct']['concordance_mean']}"
        )
    for s in result["skipped"]:
        print(f"  skipped {s['participant']} {s['run']}: {s['reason']}")
    print(f"wrote {args.json}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from dtb.config import TrainConfig
    from dtb.train import train

    overrides = {
        k: v
        for k, v in {
            "protocol": args.protocol,
            "control": args.control,
            "fold": args.fold,
            "n_folds": args.n_folds,
            "shuffle_shift": args.shift,
            "seed": args.seed,
            "max_epochs": args.max_epochs,
            "lr": args.lr,
            "weight_decay": args.weight_decay,
            "ema_decay": args.ema_decay,
            "action_weight": args.action_weight,
            "val_participants": args.val_participants,
            "fc_encoder": args.fc_encoder,
            "fc_components": args.fc_components,
            "precision": args.precision,
        }.items()
        if v is not None
    }
    cfg = TrainConfig.for_profile(args.profile, **overrides)
    run = train(
        args.cache,
        args.out,
        cfg,
        device=args.device,
        resume=args.resume,
        max_steps=args.max_steps,
        progress=not args.quiet,
    )
    print(f"run written to {run}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from dtb.evaluate import evaluate

    metrics = evaluate(args.runs, args.out, device=args.device, progress=not args.quiet)
    for task, m in metrics["behaviour"].items():
        r = m["rt"]
        rs = "n/a" if r["r"] is None else f"{r['r']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        print(f"{task}: RT r = {rs} (n = {r['n']}), concordance = {m['concordance_mean']:.3f}")
    print(f"wrote {args.out}/metrics.json and behaviour.tsv")
    return 0


def _cmd_suite(args: argparse.Namespace) -> int:
    from dtb.suite import run_suite

    table = run_suite(
        args.cache,
        args.out,
        profile=args.profile,
        n_folds=args.n_folds,
        seed=args.seed,
        device=args.device,
        jobs=args.jobs,
        progress=not args.quiet,
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {args.out}/suite.tsv")
    return 0


def _cmd_intervene(args: argparse.Namespace) -> int:
    from dtb.intervene import InterveneConfig, intervene

    defaults = InterveneConfig()
    cfg = InterveneConfig(
        indicator=args.indicator,
        alpha=defaults.alpha if args.alpha is None else args.alpha,
        doses=defaults.doses if args.doses is None else tuple(args.doses),
        copies=args.copies,
        noise=args.noise,
        chunk=args.chunk,
        threshold=args.threshold,
        fc_edit=args.fc_edit,
        null_draws=args.null_draws,
        targets_only=args.targets_only,
        checkpoint=args.checkpoint,
        seed=args.seed,
        direction=args.direction,
    )
    s = intervene(
        args.run,
        args.out,
        cfg,
        labels=args.labels,
        phenotype=args.phenotype,
        device=args.device,
        progress=not args.quiet,
    )
    print(
        f"{s['indicator']}: r(latent, indicator) = {s['direction']['r_latent_indicator']:.2f} "
        f"over {s['n_participants']} twins; {s['targets']['n_strengthen']} edges to "
        f"strengthen, {s['targets']['n_weaken']} to weaken"
    )
    if "treatment" in s:
        col, t = s["indicator_column"], s["treatment"]
        print(
            f"at {t['alpha']:g} SD {col} {t[col]['mean_pre']:.3f} -> {t[col]['mean_post']:.3f}, "
            f"effect size {t['effect_mean']:.2f} (range {t['effect_min']:.2f} to "
            f"{t['effect_max']:.2f})"
        )
    if s.get("recovery"):
        rec = s["recovery"]
        print(
            "planted-edge AUC |score|: twin {:.2f}, ridge peer {:.2f}, span ceiling {:.2f}".format(
                rec["twin"]["auc_abs"], rec["ridge"]["auc_abs"], rec["ceiling"]["auc_abs"]
            )
        )
    print(f"wrote {args.out}/intervention.json")
    return 0


def _cmd_stability(args: argparse.Namespace) -> int:
    from dtb.stability import target_stability

    r = target_stability(args.interventions, args.out)
    print(
        f"{r['indicator']} ({r['design']} design), {len(r['runs'])} seeds: Spearman r of the edge "
        f"scores mean {r['spearman_mean']:.3f} (min {r['spearman_min']:.3f}); Jaccard of the "
        f"target sets mean " + ("n/a" if r["jaccard_mean"] is None else f"{r['jaccard_mean']:.3f}")
    )
    print(f"wrote {args.out}/stability.json and pairs.tsv")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from dtb.reproduce import reproduce

    reproduce(
        profile=args.profile,
        data=args.data,
        out=args.out,
        participants=args.participants,
        seed=args.seed,
        device=args.device,
        book=not args.no_book,
        jobs=args.jobs,
        source_options=_source_options(args),
    )
    return 0


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default after its help, unless the help already names one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = "default" in text or not action.option_strings
        if shown or action.default in (None, argparse.SUPPRESS) or action.default is False:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose help shows the defaults (every subcommand uses it)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


_PROFILE_WORDS = {
    "quick": "the recommended design at CPU sizes (what `make reproduce` trains)",
    "twin": "the recommended design at the paper's sizes",
    "paper": "the paper's design exactly",
}


def _train_epilog() -> str:
    """Profiles and protocols for ``dtb train --help``, read from the profile table."""
    from dtb.config import TrainConfig

    lines = ["profiles (sizes and training defaults; --fc-encoder switches the design):"]
    for name, words in _PROFILE_WORDS.items():
        cfg = TrainConfig.for_profile(name)
        model = cfg.model_config(1)
        first = f", first layer {cfg.lr_first_layer:g}" if cfg.lr_first_layer != cfg.lr else ""
        k = f", K = {cfg.fc_components}" if cfg.fc_encoder == "pca" else ""
        lines += [
            f"  {name:6s}  {words}:",
            f"          {cfg.fc_encoder} encoder{k}, hypernetwork {model.hyper_hidden} and RNN "
            f"{model.n_hidden} units, batches of {cfg.participants_per_batch} participants x "
            f"{cfg.windows_per_participant} windows,",
            f"          lr {cfg.lr:g}{first}, weight decay {cfg.weight_decay:g}, "
            f"{f'weights averaged (EMA {cfg.ema_decay:g}), ' if cfg.ema_decay else ''}"
            f"{f'actions x {cfg.action_weight:g} in the loss, ' if cfg.action_weight != 1 else ''}"
            f"at most {cfg.max_epochs} epochs",
        ]
    lines += [
        "",
        "protocols:",
        "  paper      every participant's training part (the first half of each run) is trained on",
        "             and the test part (the second half) is predicted",
        "  zero-shot  k-fold over participants: a held-out fold is seen only through its FC",
    ]
    return "\n".join(lines)


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    """``dtb data fetch|synth|check``."""
    data = sub.add_parser("data", help="get, synthesise and check datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)

    f = dsub.add_parser("fetch", help="download ds005237 files listed in the data manifest")
    f.add_argument("dest", type=Path, help="destination folder (becomes a TCP-layout root)")
    who = f.add_mutually_exclusive_group()
    who.add_argument(
        "--participants", nargs="+", metavar="ID", help="participant ids (default: all)"
    )
    who.add_argument(
        "--n", type=int, metavar="N", help="the first N participants, sorted (default: all)"
    )
    f.add_argument(
        "--kinds",
        nargs="+",
        metavar="KIND",
        help="file kinds: participants events timeseries motion phenotype (default: all)",
    )
    f.add_argument(
        "--verified-only",
        action="store_true",
        help="skip files whose checksum the manifest does not know",
    )
    f.add_argument(
        "--manifest", type=Path, default=None, help="manifest file (default: the shipped one)"
    )
    f.add_argument(
        "--base-url",
        default=None,
        help="override the manifest's download URL (default: the manifest's)",
    )
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_cmd_fetch)

    s = dsub.add_parser("synth", help="write the ground-truth synthetic cohort")
    s.add_argument("dest", type=Path, help="destination folder (becomes the dataset root)")
    s.add_argument(
        "--layout",
        choices=["tcp", "bids-derivatives"],
        default="tcp",
        help="tcp: ds005237's layout, 434 regions, TR 0.8 s; bids-derivatives: BIDS raw plus "
        "XCP-D-style time series in a 216-region atlas, TR 1.6 s, shorter task runs",
    )
    s.add_argument(
        "--participants", type=int, default=40, metavar="N", help="number of participants"
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the whole cohort")
    s.set_defaults(func=_cmd_synth)

    c = dsub.add_parser("check", help="validate a dataset (read-only)")
    c.add_argument("root", type=Path, help="dataset folder (TCP, or BIDS raw with derivatives)")
    c.add_argument(
        "--events-only", action="store_true", help="check only the events files (tcp layout)"
    )
    c.add_argument(
        "--allow-missing", action="store_true", help="list missing runs but do not fail on them"
    )
    _layout_options(c)
    c.set_defaults(func=_cmd_check)


def _add_prepare_commands(sub: argparse._SubParsersAction) -> None:
    """``dtb prepare`` and ``dtb baselines``."""
    pr = sub.add_parser("prepare", help="FC, 80 ms inputs/targets and windows -> one cache file")
    pr.add_argument("root", type=Path, help="dataset folder (TCP, or BIDS raw with derivatives)")
    pr.add_argument("--out", type=Path, required=True, help="cache folder (outside ROOT)")
    pr.add_argument("--seed", type=int, default=0, help="seed of the face-image codes")
    pr.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    _layout_options(pr)
    pr.set_defaults(func=_cmd_prepare)

    b = sub.add_parser("baselines", help="events-only behavioural baselines")
    b.add_argument("root", type=Path, help="dataset folder (for tcp, events are enough)")
    b.add_argument("--json", type=Path, required=True, help="output JSON file")
    _layout_options(b)
    b.set_defaults(func=_cmd_baselines)


def _add_train_command(sub: argparse._SubParsersAction) -> None:
    """``dtb train``."""
    t = sub.add_parser(
        "train",
        help="train the hypernetwork twin (or a control) on a cache",
        description="Train the hypernetwork twin (or a control) on a prepared cohort.",
        epilog=_train_epilog(),
    )
    t.add_argument("cache", type=Path, help="prepared cohort (.npz from dtb prepare)")
    t.add_argument("--out", type=Path, required=True, help="run folder")
    t.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="quick",
        help="sizes and training defaults: quick (CPU sizes, recommended design), twin "
        "(recommended design at the paper's sizes), paper (the paper's design exactly)",
    )
    t.add_argument(
        "--fc-encoder",
        choices=list(ENCODERS),
        default=None,
        help="how the FC enters the model: dense (the paper's first layer over all edges) or "
        "pca (whitened principal components of the training participants' FC); default: "
        "the profile's",
    )
    t.add_argument(
        "--fc-components",
        type=int,
        default=None,
        metavar="K",
        help="principal components of the pca encoder and the direct-input ablation "
        "(default: the profile's)",
    )
    t.add_argument(
        "--protocol",
        choices=["paper", "zero-shot"],
        default=None,
        help="paper: within-participant temporal split; zero-shot: k-fold over participants "
        "(default: paper)",
    )
    t.add_argument(
        "--control",
        choices=["none", "shuffle", "direct-input"],
        default=None,
        help="shuffle: each participant gets another's FC; direct-input: one shared RNN "
        "reading the FC's principal components (default: none)",
    )
    t.add_argument("--fold", type=int, default=None, help="zero-shot fold held out (default: 0)")
    t.add_argument(
        "--n-folds", type=int, default=None, help="number of zero-shot folds (default: 5)"
    )
    t.add_argument(
        "--shift", type=int, default=None, help="cyclic shift of the shuffle control (default: 1)"
    )
    t.add_argument(
        "--seed",
        type=int,
        default=None,
        help="initial weights, batches, dropout and folds (default: 0)",
    )
    t.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="upper bound on epochs (default: the profile's)",
    )
    t.add_argument(
        "--lr", type=float, default=None, help="Adam learning rate (default: the profile's)"
    )
    t.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="decoupled (AdamW) weight decay (default: the profile's)",
    )
    t.add_argument(
        "--ema-decay",
        type=float,
        default=None,
        help="decay per step of the moving average of the weights that are validated and "
        "evaluated; 0 keeps the last step's weights (default: the profile's)",
    )
    t.add_argument(
        "--action-weight",
        type=float,
        default=None,
        help="weight of the button-press term of the loss, the BOLD term's being 1; 1 is the "
        "paper's loss (default: the profile's)",
    )
    t.add_argument(
        "--val-participants",
        type=float,
        default=None,
        help="zero-shot: fraction of the training participants held out whole for early "
        "stopping; 0 validates on each one's last window (default: the profile's)",
    )
    t.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train"
    )
    t.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default=None,
        help="numeric precision of training: fp32; tf32 (CUDA tensor cores); bf16 autocast "
        "(the recurrence stays fp32) (default: fp32)",
    )
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument(
        "--max-steps", type=int, default=None, help="stop after this many steps (default: no limit)"
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)


def _add_evaluation_commands(sub: argparse._SubParsersAction) -> None:
    """``dtb evaluate`` and ``dtb suite``."""
    e = sub.add_parser("evaluate", help="score trained twins on the test part")
    e.add_argument(
        "runs",
        type=Path,
        nargs="+",
        help="a run folder, or all fold runs of one zero-shot protocol",
    )
    e.add_argument("--out", type=Path, required=True, help="results folder")
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where twins run")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=_cmd_evaluate)

    su = sub.add_parser(
        "suite",
        help="train and evaluate every protocol, control and design, with the ridge peer",
    )
    su.add_argument("cache", type=Path, help="prepared cohort (.npz from dtb prepare)")
    su.add_argument("--out", type=Path, required=True, help="results folder")
    su.add_argument(
        "--profile", choices=list(PROFILES), default="quick", help="sizes and training defaults"
    )
    su.add_argument("--n-folds", type=int, default=5, help="zero-shot folds")
    su.add_argument("--seed", type=int, default=0, help="seed of every run and of the folds")
    su.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train"
    )
    su.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once on a CPU (one thread each)"
    )
    su.add_argument("--quiet", action="store_true", help="no progress bars")
    su.set_defaults(func=_cmd_suite)


def _add_intervention_commands(sub: argparse._SubParsersAction) -> None:
    """``dtb intervene`` and ``dtb targets-stability``."""
    iv = sub.add_parser(
        "intervene",
        help="virtual intervention: weight-space direction, treatment, connectome targets",
    )
    iv.add_argument("run", type=Path, help="a dtb train run folder (hypernetwork, control none)")
    iv.add_argument(
        "--indicator",
        choices=["speed", "affect"],
        required=True,
        help="speed: the twin's mean RT; affect: its right-amygdala face > shape t",
    )
    iv.add_argument("--out", type=Path, required=True, help="results folder")
    iv.add_argument(
        "--alpha", type=float, default=None, help="treatment dose, SD of the latent (default: 2.0)"
    )
    iv.add_argument(
        "--doses",
        type=float,
        nargs="+",
        default=None,
        help="dose-response grid (with 0; default: 0 to 2.5 in steps of 0.5)",
    )
    iv.add_argument("--copies", type=int, default=100, help="SmoothGrad copies per participant")
    iv.add_argument("--noise", type=float, default=0.1, help="SmoothGrad noise, x SD of the FC")
    iv.add_argument("--chunk", type=int, default=25, help="copies per gradient pass (memory)")
    iv.add_argument("--threshold", type=float, default=2.5, help="target edges beyond this SD")
    iv.add_argument("--fc-edit", type=float, default=0.1, help="FC edit, correlation units")
    iv.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="region labels TSV (index,label,network[,x,y,z]; default: the built-in map)",
    )
    iv.add_argument(
        "--phenotype", type=Path, default=None, help="phenotype folder (default: the dataset's)"
    )
    iv.add_argument(
        "--null-draws",
        type=int,
        default=3,
        help="random edge sets edited like the targets (the null of the FC edit)",
    )
    iv.add_argument(
        "--targets-only",
        action="store_true",
        help="stop after the edge map and its recovery (no doses, edits or clinical check)",
    )
    iv.add_argument(
        "--checkpoint",
        default="best.pt",
        choices=["best.pt", "checkpoint.pt"],
        help="the run's best (lowest validation loss) or latest weights",
    )
    iv.add_argument("--seed", type=int, default=0, help="seed of the SmoothGrad noise and nulls")
    iv.add_argument(
        "--direction",
        choices=["auto", "pls", "ridge"],
        default="auto",
        help="weight-space direction: pls (the paper's), ridge (ridge regression of the "
        "indicator on the weights, penalty by leave-one-out), auto: the run's design's "
        "(pls for dense, ridge for pca)",
    )
    iv.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="cpu", help="where twins run"
    )
    iv.add_argument("--quiet", action="store_true", help="no progress bars")
    iv.set_defaults(func=_cmd_intervene)

    st = sub.add_parser(
        "targets-stability",
        help="agreement of the edge maps of runs trained from different seeds",
    )
    st.add_argument(
        "interventions",
        type=Path,
        nargs="+",
        help="dtb intervene output folders, one per seed (same cohort, design and indicator)",
    )
    st.add_argument("--out", type=Path, required=True, help="results folder")
    st.set_defaults(func=_cmd_stability)


def _add_reproduce_command(sub: argparse._SubParsersAction) -> None:
    """``dtb reproduce``."""
    r = sub.add_parser("reproduce", help="run every stage and the notebooks")
    r.add_argument(
        "--profile",
        choices=["quick", "paper"],
        default="quick",
        help="quick: 64 synthetic participants at CPU sizes; paper: the paper's sizes",
    )
    r.add_argument(
        "--data",
        type=Path,
        default=None,
        help="dataset folder (default: a synthetic cohort made on the fly)",
    )
    r.add_argument("--out", type=Path, default=Path("results"), help="results root folder")
    r.add_argument(
        "--participants",
        type=int,
        default=None,
        help="synthetic cohort size (default: the profile's)",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the synthetic cohort")
    r.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train"
    )
    r.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs and interventions at once on a CPU (default: the profile's)",
    )
    r.add_argument("--no-book", action="store_true", help="skip the Jupyter Book build")
    _layout_options(r)
    r.set_defaults(func=_cmd_reproduce)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dtb``."""
    p = argparse.ArgumentParser(
        prog="dtb", description=__doc__.splitlines()[0], formatter_class=_HelpFormatter
    )
    p.add_argument("--version", action="version", version=f"dtb {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_data_commands(sub)
    _add_prepare_commands(sub)
    _add_train_command(sub)
    _add_evaluation_commands(sub)
    _add_intervention_commands(sub)
    _add_reproduce_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, OSError, DtbError) as exc:
        print(f"dtb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dtb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
