"""The ``dtb`` command line (also ``python -m dtb``).

Every command prints one clear message and exits non-zero on bad input; long work shows a
progress bar; results are JSON/TSV files written atomically, never into an input folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dtb import __version__
from dtb.errors import DtbError


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
    from dtb.data.synth import synthesize

    dest = synthesize(args.dest, args.participants, args.seed)
    print(f"synthetic cohort of {args.participants} participant(s), seed {args.seed}: {dest}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from dtb.data.check import check_dataset

    report = check_dataset(args.root, events_only=args.events_only)
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
    result = behavioural_baselines(args.root)
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
    from dtb.train import TrainConfig, train

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
        checkpoint=args.checkpoint,
        seed=args.seed,
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
    col, t = s["indicator_column"], s["treatment"]
    print(
        f"{s['indicator']}: r(latent, indicator) = {s['direction']['r_latent_indicator']:.2f} "
        f"over {s['n_participants']} twins; at {t['alpha']:g} SD {col} "
        f"{t[col]['mean_pre']:.3f} -> {t[col]['mean_post']:.3f}, effect size "
        f"{t['effect_mean']:.2f} (range {t['effect_min']:.2f} to {t['effect_max']:.2f}); "
        f"{s['targets']['n_strengthen']} edges to strengthen, {s['targets']['n_weaken']} to weaken"
    )
    print(f"wrote {args.out}/intervention.json")
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
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dtb``."""
    p = argparse.ArgumentParser(prog="dtb", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"dtb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="get, synthesise and check TCP-layout datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)

    f = dsub.add_parser("fetch", help="download ds005237 files listed in the data manifest")
    f.add_argument("dest", type=Path, help="destination folder (becomes a TCP-layout root)")
    who = f.add_mutually_exclusive_group()
    who.add_argument("--participants", nargs="+", metavar="ID", help="participant ids")
    who.add_argument("--n", type=int, metavar="N", help="the first N participants (sorted)")
    f.add_argument(
        "--kinds",
        nargs="+",
        metavar="KIND",
        help="file kinds: participants events timeseries motion phenotype",
    )
    f.add_argument(
        "--verified-only",
        action="store_true",
        help="skip files whose checksum the manifest does not know",
    )
    f.add_argument("--manifest", type=Path, default=None, help="manifest file (default: shipped)")
    f.add_argument("--base-url", default=None, help="override the manifest's download URL")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_cmd_fetch)

    s = dsub.add_parser("synth", help="write the ground-truth synthetic cohort in TCP layout")
    s.add_argument("dest", type=Path)
    s.add_argument("--participants", type=int, default=40, metavar="N")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_synth)

    c = dsub.add_parser("check", help="validate a TCP-layout dataset (read-only)")
    c.add_argument("root", type=Path)
    c.add_argument("--events-only", action="store_true", help="check only the events files")
    c.add_argument(
        "--allow-missing", action="store_true", help="list missing runs but do not fail on them"
    )
    c.set_defaults(func=_cmd_check)

    pr = sub.add_parser("prepare", help="FC, 80 ms inputs/targets and windows -> one cache file")
    pr.add_argument("root", type=Path)
    pr.add_argument("--out", type=Path, required=True, help="cache folder (outside ROOT)")
    pr.add_argument("--seed", type=int, default=0, help="seed of the face-image codes")
    pr.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=_cmd_prepare)

    b = sub.add_parser("baselines", help="events-only behavioural baselines")
    b.add_argument("root", type=Path)
    b.add_argument("--json", type=Path, required=True, help="output JSON file")
    b.set_defaults(func=_cmd_baselines)

    t = sub.add_parser("train", help="train the hypernetwork twin (or a control) on a cache")
    t.add_argument("cache", type=Path, help="prepared cohort (.npz from dtb prepare)")
    t.add_argument("--out", type=Path, required=True, help="run folder")
    t.add_argument("--profile", choices=["quick", "paper"], default="quick")
    t.add_argument("--protocol", choices=["paper", "zero-shot"], default=None)
    t.add_argument("--control", choices=["none", "shuffle", "direct-input"], default=None)
    t.add_argument("--fold", type=int, default=None, help="zero-shot fold held out")
    t.add_argument("--n-folds", type=int, default=None)
    t.add_argument("--shift", type=int, default=None, help="cyclic shift of the shuffle control")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--max-epochs", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="score trained twins on the test part")
    e.add_argument(
        "runs",
        type=Path,
        nargs="+",
        help="a run folder, or all fold runs of one zero-shot protocol",
    )
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_cmd_evaluate)

    su = sub.add_parser("suite", help="train and evaluate every protocol and control, one table")
    su.add_argument("cache", type=Path)
    su.add_argument("--out", type=Path, required=True)
    su.add_argument("--profile", choices=["quick", "paper"], default="quick")
    su.add_argument("--n-folds", type=int, default=5)
    su.add_argument("--seed", type=int, default=0)
    su.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    su.add_argument("--quiet", action="store_true")
    su.set_defaults(func=_cmd_suite)

    iv = sub.add_parser(
        "intervene", help="virtual intervention: PLS direction, treatment, connectome targets"
    )
    iv.add_argument("run", type=Path, help="a dtb train run folder (hypernetwork, control none)")
    iv.add_argument("--indicator", choices=["speed", "affect"], required=True)
    iv.add_argument("--out", type=Path, required=True, help="results folder")
    iv.add_argument("--alpha", type=float, default=None, help="treatment dose, SD of the latent")
    iv.add_argument(
        "--doses", type=float, nargs="+", default=None, help="dose-response grid (with 0)"
    )
    iv.add_argument("--copies", type=int, default=100, help="SmoothGrad copies per participant")
    iv.add_argument("--noise", type=float, default=0.1, help="SmoothGrad noise, x SD of the FC")
    iv.add_argument("--chunk", type=int, default=25, help="copies per gradient pass (memory)")
    iv.add_argument("--threshold", type=float, default=2.5, help="target edges beyond this SD")
    iv.add_argument("--fc-edit", type=float, default=0.1, help="FC edit, correlation units")
    iv.add_argument(
        "--labels", type=Path, default=None, help="region labels TSV (index,label,network[,x,y,z])"
    )
    iv.add_argument("--phenotype", type=Path, default=None, help="phenotype folder")
    iv.add_argument("--checkpoint", default="best.pt", choices=["best.pt", "checkpoint.pt"])
    iv.add_argument("--seed", type=int, default=0)
    iv.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    iv.add_argument("--quiet", action="store_true")
    iv.set_defaults(func=_cmd_intervene)

    r = sub.add_parser("reproduce", help="run every stage and the notebooks")
    r.add_argument("--profile", choices=["quick", "paper"], default="quick")
    r.add_argument(
        "--data",
        type=Path,
        default=None,
        help="TCP-layout dataset (default: a synthetic cohort made on the fly)",
    )
    r.add_argument("--out", type=Path, default=Path("results"))
    r.add_argument(
        "--participants",
        type=int,
        default=None,
        help="synthetic cohort size (default: the profile's)",
    )
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    r.add_argument("--no-book", action="store_true", help="skip the Jupyter Book build")
    r.set_defaults(func=_cmd_reproduce)
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
