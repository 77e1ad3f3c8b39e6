"""Time one redraw of the twin explorer (dtb.explore_widgets) per kind of edit.

A redraw is what one change of a control costs: the edited twin generated and simulated on both
tasks, its summary (RT per condition, accuracy, the region's GLM t) and the plot. Run after
``make reproduce`` (it opens the quick profile's paper-protocol twin and its interventions):

    python benchmarks/explorer_redraw.py [--run DIR] [--intervene DIR] [--repeats 5]

Prints the median and the maximum ms per redraw of each edit; the target is under 1000 ms for a
quick-profile twin on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from dtb.explore import Explorer  # noqa: E402
from dtb.explore_widgets import ExplorerApp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=ROOT / "results/quick/suite/paper/run")
    p.add_argument("--intervene", type=Path, default=ROOT / "results/quick/intervene")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    app = ExplorerApp(Explorer(args.run, args.intervene))
    print(f"cores: {os.cpu_count()}; participant {app.participant.value}")
    print("| edit | median ms | max ms |")
    print("|---|---|---|")
    for kind, amounts in {
        "direction": [0.5, 1.0, 1.5, 2.0, -1.0],
        "targets": [0.02, 0.04, 0.06, 0.08, -0.02],
        "block": [0.02, 0.04, 0.06, 0.08, -0.02],
        "none": [0.0] * 5,
    }.items():
        app.kind.value = kind
        times = []
        for k in range(args.repeats):
            if kind == "none":
                app.redraw()
            else:  # consecutive values differ, so each one is a change and a redraw
                app.amount.value = amounts[k % len(amounts)]
            times.append(app.last_ms)
        print(f"| {kind} | {statistics.median(times):.0f} | {max(times):.0f} |")
    app.participant.value = app.participant.options[-1][1]  # another person: a cold cache
    print(f"| new participant (observed and unedited twin computed) | {app.last_ms:.0f} | |")


if __name__ == "__main__":
    main()
