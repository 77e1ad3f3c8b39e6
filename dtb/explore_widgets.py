"""The interactive twin explorer: ipywidgets controls over :class:`dtb.explore.Explorer`.

>>> app = ExplorerApp(Explorer(run_dir, intervene_dir))    # doctest: +SKIP
>>> app.widget                                             # doctest: +SKIP

Every change of a control redraws the comparison (observed, unedited twin, edited twin): a table
of RT per condition, accuracy and the region's GLM t, and the region's BOLD on the chosen task.
The time of the last redraw is shown under the controls.
"""

from __future__ import annotations

import time

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import display

from dtb.data.regions import target_names
from dtb.explore import EDITS, Edit, Explorer
from dtb.tasks import TASK_NAMES

#: Slider range and unit of each edit.
_AMOUNT = {
    "none": (0.0, 0.0, 0.1, ""),
    "direction": (-3.0, 3.0, 0.25, "SD of the latent"),
    "targets": (-0.3, 0.3, 0.02, "correlation"),
    "block": (-0.3, 0.3, 0.02, "correlation"),
}


class ExplorerApp:
    """Controls, table and plot of the explorer.

    Parameters
    ----------
    explorer : Explorer
    region, task : str
        The BOLD region and task shown first.
    """

    def __init__(
        self,
        explorer: Explorer,
        region: str = "AMY_R",
        task: str = "faces",
        runs: dict[str, tuple] | None = None,
    ):
        self.explorer = explorer
        self._runs, self._explorers, self._quiet = runs or {}, {}, False
        nets = sorted(set(explorer.networks))
        self.run = w.Dropdown(options=list(self._runs), description="run")
        self.run.layout.display = None if runs else "none"
        if runs:  # the explorer given is the first run's
            self._explorers[self.run.value] = explorer
        self.participant = w.Dropdown(description="participant")
        self.kind = w.ToggleButtons(options=list(EDITS), description="edit")
        self.indicator = w.Dropdown(description="indicator")
        self._fill_choices()
        self.amount = w.FloatSlider(value=0.0, description="amount", continuous_update=False)
        self.net_a = w.Dropdown(options=nets, value="SomMotA", description="block from")
        self.net_b = w.Dropdown(options=nets, value="SomMotB", description="to")
        self.region = w.Dropdown(options=target_names(), value=region, description="region")
        self.task = w.Dropdown(options=list(TASK_NAMES), value=task, description="task")
        self.table = w.HTML()
        self.status = w.HTML()
        self.plot = w.Output()
        self.last_table = None
        self.last_ms = float("nan")
        self._set_amount_range()
        self.run.observe(self._on_run, names="value")
        self.kind.observe(self._on_kind, names="value")
        for control in (
            self.participant,
            self.indicator,
            self.amount,
            self.net_a,
            self.net_b,
            self.region,
            self.task,
        ):
            control.observe(lambda _change: self._quiet or self.redraw(), names="value")
        self.redraw()

    @property
    def widget(self) -> w.Widget:
        """The whole explorer, to display."""
        controls = w.VBox(
            [
                self.run,
                self.participant,
                self.kind,
                w.HBox([self.indicator, self.amount]),
                w.HBox([self.net_a, self.net_b]),
                w.HBox([self.region, self.task]),
                self.status,
            ]
        )
        return w.VBox([controls, w.HBox([self.table, self.plot])])

    def _fill_choices(self) -> None:
        """Participants (unseen first) and indicators of the current run."""
        ex = self.explorer
        label = {p: f"{p} ({'seen' if p in ex.seen else 'unseen'})" for p in ex.participants}
        people = sorted(ex.participants, key=lambda p: (p in ex.seen, p))
        self._quiet = True  # one redraw after the change, not one per control
        self.participant.options = [(label[p], p) for p in people]
        self.participant.value = people[0] if people else None
        self.indicator.options = sorted(ex.directions) or ["speed", "affect"]
        self.indicator.value = self.indicator.options[0]
        self._quiet = False

    def _on_run(self, change) -> None:
        if change["new"] not in self._explorers:
            run_dir, intervene_dir = self._runs[change["new"]]
            self._explorers[change["new"]] = Explorer(run_dir, intervene_dir)
        self.explorer = self._explorers[change["new"]]
        self._fill_choices()
        self.redraw()

    def edit(self) -> Edit:
        """The edit the controls describe."""
        return Edit(
            self.kind.value,
            float(self.amount.value),
            self.indicator.value,
            (self.net_a.value, self.net_b.value),
        )

    def _set_amount_range(self) -> None:
        lo, hi, step, unit = _AMOUNT[self.kind.value]
        with self.amount.hold_trait_notifications():
            self.amount.min, self.amount.max = min(lo, -1e-9), max(hi, 1e-9)
            self.amount.step, self.amount.value = step, 0.0
        self.amount.description = f"amount ({unit})" if unit else "amount"
        self.amount.disabled = self.kind.value == "none"

    def _on_kind(self, _change) -> None:
        self._set_amount_range()
        self.redraw()

    def redraw(self) -> None:
        """Recompute the comparison for the controls' values and show it."""
        t0 = time.perf_counter()
        try:
            table, bold = self.explorer.compare(
                self.participant.value, self.edit(), self.region.value, self.task.value
            )
        except ValueError as exc:  # e.g. an edit that leaves [-1, 1]: say so, keep the last view
            self.status.value = f"<b>cannot apply this edit:</b> {exc}"
            return
        self.last_table = table
        self.table.value = table.round(3).to_html(index=False, na_rep="-")
        fig, ax = plt.subplots(figsize=(6, 2.6))
        for column, style in (("observed", "k-"), ("twin", "C0-"), ("edited", "C3--")):
            ax.plot(bold["time"], bold[column], style, lw=1, label=column)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"{self.region.value} BOLD (z)")
        ax.legend(fontsize=8, ncol=3, loc="upper right")
        fig.tight_layout()
        if get_ipython() is not None:  # in a kernel: the figure into the Output widget
            with self.plot:
                self.plot.clear_output(wait=True)
                display(fig)
        else:  # a script: drawn all the same, so that timings include the drawing
            fig.canvas.draw()
        plt.close(fig)
        self.last_ms = 1e3 * (time.perf_counter() - t0)
        self.status.value = f"redrawn in {self.last_ms:.0f} ms"


def shown_values(app: ExplorerApp) -> np.ndarray:
    """The numbers of the displayed table, row by row (observed, twin, edited), parsed back
    from its HTML (for checks against the API); ``-`` (no value) reads as NaN."""
    import re

    cells = re.findall(r"<td>(.*?)</td>", app.table.value)
    n_cols = len(re.findall(r"<th>", app.table.value))
    rows = [cells[k : k + n_cols] for k in range(0, len(cells), n_cols)]
    return np.array([[float("nan") if v == "-" else float(v) for v in r[-3:]] for r in rows])
