"""Ask a twin a question: edit one person's connectome or weights, see behaviour and BOLD move.

The API behind the interactive explorer (``notebooks/explore_twin.py``), usable from any script:

* :func:`edit_fc`: strengthen or weaken a set of edges, or a whole network-by-network block, of
  one FC vector (correlation units);
* :func:`edit_weights`: move a twin's generated weights along a direction (the direction, PLS
  or ridge, of an indicator, in SD of its latent);
* :func:`twin_summary`: a twin's RT per condition, accuracy and GLM t of a region on a task, as
  a tidy table, beside the BOLD time course of that region;
* :class:`Explorer`: a trained run opened once, with the interventions' directions and targets;
  :meth:`Explorer.compare` gives the unedited twin, the edited twin and the observed data side
  by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dtb.data.encoding import TRIAL_FIELDS
from dtb.data.prepare import PreparedCohort, load_prepared
from dtb.data.regions import target_names
from dtb.intervene import generated_weights
from dtb.layout import STEP
from dtb.pls import Direction
from dtb.responses import model_responses
from dtb.targets import edit_fc as edit_edges
from dtb.tasks import TASK_NAMES, get_task
from dtb.twin import DigitalTwin

_F = {name: k for k, name in enumerate(TRIAL_FIELDS)}
EDITS = ("none", "direction", "targets", "block")

__all__ = [
    "EDITS",
    "Edit",
    "Explorer",
    "block_edges",
    "edit_fc",
    "edit_weights",
    "reproduction_runs",
    "twin_summary",
]


def block_edges(networks: pd.Series | np.ndarray, a: str, b: str) -> np.ndarray:
    """Positions in the FC vector of every edge between network ``a`` and network ``b``.

    Parameters
    ----------
    networks : array of str, shape (n_regions,)
        The network of each region.
    a, b : str
        Two networks (the same one for its within-network edges).

    Raises
    ------
    ValueError
        If a network is not in ``networks`` or the block has no edge.
    """
    nets = np.asarray(networks, dtype=str)
    for name in (a, b):
        if name not in set(nets):
            raise ValueError(f"unknown network {name!r}; known: {', '.join(sorted(set(nets)))}")
    i, j = np.triu_indices(len(nets), k=1)
    ni, nj = nets[i], nets[j]
    pos = np.flatnonzero(((ni == a) & (nj == b)) | ((ni == b) & (nj == a)))
    if pos.size == 0:
        raise ValueError(f"no edge between {a} and {b}")
    return pos


def edit_fc(
    fc: np.ndarray,
    amount: float,
    *,
    edges: np.ndarray | None = None,
    signs: np.ndarray | None = None,
    block: tuple[str, str] | None = None,
    networks: np.ndarray | None = None,
) -> np.ndarray:
    """Edit one FC vector: listed edges, or a network block, by ``amount`` in correlation units.

    Parameters
    ----------
    fc : ndarray, shape (n_fc,)
        Fisher-z FC vector.
    amount : float
        Change of the correlations; with ``signs`` its magnitude, alone its sign says strengthen
        (+) or weaken (-). 0 returns a copy.
    edges, signs : ndarray, shape (n_edges,), optional
        Positions and +1/-1 directions (for example the connectome targets).
    block : (str, str), optional
        Two networks: every edge between them is moved by ``amount``.
    networks : array of str, shape (n_regions,)
        Region networks, needed with ``block``.

    Returns
    -------
    fc : ndarray of float64, shape (n_fc,)
    """
    fc = np.asarray(fc, dtype=np.float64)
    if (edges is None) == (block is None):
        raise ValueError("give either edges (with signs) or a network block")
    if amount == 0:
        return fc.copy()
    if block is not None:
        if networks is None:
            raise ValueError("a network block needs the region networks")
        edges = block_edges(networks, *block)
        signs = np.full(len(edges), np.sign(amount))
    elif signs is None:
        signs = np.full(len(edges), np.sign(amount))
    return edit_edges(fc, edges, signs, abs(amount))


def edit_weights(weights: torch.Tensor, direction: Direction, dose: float) -> torch.Tensor:
    """``W + dose SD(z) v``: a twin's weights moved along an indicator's direction.

    Parameters
    ----------
    weights : torch.Tensor, shape (P,) or (S, P)
    direction : Direction
        From ``dtb intervene`` (``direction.npz``); ``+v`` lowers the indicator.
    dose : float
        In SD of the latent over participants.
    """
    flat = weights[None] if weights.ndim == 1 else weights
    out = direction.shift(flat, dose)
    return out[0] if weights.ndim == 1 else out


def _condition_label(task: str, code: float) -> str:
    first, second = get_task(task).conditions
    return first if code == 1.0 else second


def twin_summary(
    twin: DigitalTwin, cohort: PreparedCohort, row: int, region: str, task: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """A twin's behaviour on both tasks and its GLM t of one region on one task.

    Parameters
    ----------
    twin : DigitalTwin
    cohort : PreparedCohort
        Gives the participant's task inputs and trials (the whole run).
    row : int
        The participant's row in ``cohort``.
    region : str
        A BOLD target (:func:`dtb.data.regions.target_names`).
    task : str
        The task of the BOLD time course and the t statistic.

    Returns
    -------
    table : pandas.DataFrame
        Tidy rows ``measure, task, condition, value``: ``rt`` (mean s) per condition,
        ``accuracy`` per task, ``glm_t`` of ``region`` for ``task``'s contrast.
    bold : ndarray, shape (n_volumes,)
        The twin's BOLD of ``region`` on ``task`` at TR.
    """

    def simulated(name: str, trials: np.ndarray):
        sim = twin.simulate(cohort[f"{name}_inputs"][row])
        choice, rt = model_responses(sim.action_prob, trials)
        return choice, rt, sim.bold

    return _summary(cohort, row, region, task, simulated)


def observed_summary(
    cohort: PreparedCohort, row: int, region: str, task: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The participant's own data in the form of :func:`twin_summary`: observed RT per
    condition, accuracy, the GLM t of the observed BOLD, and the observed BOLD at TR."""

    def observed(name: str, trials: np.ndarray):
        return trials[:, _F["pressed"]], trials[:, _F["rt"]], cohort[f"{name}_bold"][row]

    return _summary(cohort, row, region, task, observed)


def _summary(cohort, row: int, region: str, task: str, source) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of :func:`twin_summary` from ``source(task, trials) -> (choice, rt, bold)``, the
    BOLD at 80 ms steps (n_steps, n_targets)."""
    from dtb.glm import contrast_vector, design_matrix, first_level_t

    k = _region(region)
    rows, bold_out = [], None
    for name in TASK_NAMES:
        if not cohort[f"{name}_present"][row]:
            continue
        trials = _trials(cohort, name, row)
        choice, rt, bold = source(name, trials)
        rows += _behaviour_rows(name, trials, choice, rt)
        if name == task:
            steps = cohort.volume_steps("all")
            bold_out = np.asarray(bold)[steps, k]
            design = design_matrix(trials, steps * STEP, name)
            t = first_level_t(bold_out[:, None], design, contrast_vector(design, name))[0]
            rows.append({"measure": "glm_t", "task": name, "condition": region, "value": t})
    if bold_out is None:
        raise ValueError(f"participant row {row} has no {task} run")
    return pd.DataFrame(rows), bold_out


def _behaviour_rows(task: str, trials: np.ndarray, choice: np.ndarray, rt: np.ndarray):
    cond = trials[:, _F["condition"]]
    out = []
    for code in (1.0, 0.0):
        sel = (cond == code) & np.isfinite(rt)
        value = float(rt[sel].mean()) if sel.any() else float("nan")
        label = _condition_label(task, code)
        out.append({"measure": "rt", "task": task, "condition": label, "value": value})
    correct = trials[:, _F["correct"]]
    ok = np.isfinite(correct)
    acc = float(np.mean(choice[ok] == correct[ok])) if ok.any() else float("nan")
    out.append({"measure": "accuracy", "task": task, "condition": "all", "value": acc})
    return out


def _trials(cohort: PreparedCohort, task: str, row: int) -> np.ndarray:
    trials = cohort[f"{task}_trials"][row]
    return trials[np.isfinite(trials[:, _F["onset"]])]


def _region(region: str) -> int:
    names = target_names()
    if region not in names:
        raise ValueError(f"unknown target region {region!r}; choose from {', '.join(names)}")
    return names.index(region)


# ---------------------------------------------------------------------------------------------
# The explorer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One edit of a twin.

    ``kind``: ``none``; ``direction`` (the direction of ``indicator``, ``amount`` in SD of
    its latent); ``targets`` (the indicator's connectome targets, ``amount`` in correlation
    units, each edge in its target's direction); ``block`` (every edge between ``networks``,
    ``amount`` in correlation units, + strengthens).
    """

    kind: str = "none"
    amount: float = 0.0
    indicator: str = "speed"
    networks: tuple[str, str] = ("SomMotA", "SomMotB")

    def __post_init__(self) -> None:
        if self.kind not in EDITS:
            raise ValueError(f"unknown edit {self.kind!r}; choose from {', '.join(EDITS)}")


class Explorer:
    """A trained run opened once for interactive questions.

    Parameters
    ----------
    run_dir : path-like
        A ``dtb train`` run (hypernetwork, control none).
    intervene_dir : path-like, optional
        ``dtb intervene`` results of that run, one folder per indicator (``speed/``,
        ``affect/``): their directions and connectome targets enable those edits.
    device : str
    """

    def __init__(self, run_dir, intervene_dir=None, device: str = "cpu"):
        from dtb.network import load_checkpoint, open_run

        self.run_dir = Path(run_dir)
        record = json.loads((self.run_dir / "run.json").read_text())
        self.cohort = load_prepared(record["cache"])
        blob = load_checkpoint(self.run_dir / "best.pt", map_location=device)
        self.network, self.train_config, _ = open_run(blob, self.cohort, self.run_dir, device)
        self.seen = set(blob.get("fitted_on") or [])
        self.networks = self.cohort.atlas.parcel_table()["summary"].to_numpy()
        self.directions, self.targets = {}, {}
        for folder in sorted(Path(intervene_dir).iterdir()) if intervene_dir else []:
            self._load_intervention(folder)
        self._cache: dict = {}

    def _load_intervention(self, folder: Path) -> None:
        summary = folder / "intervention.json"
        if not summary.is_file():
            return
        indicator = json.loads(summary.read_text())["indicator"]
        with np.load(folder / "direction.npz") as d:
            self.directions[indicator] = Direction(d["v"], d["mean"], d["sd"], d["latent"], 0.0)
        edges = pd.read_csv(folder / "edges.tsv", sep="\t", keep_default_na=False)
        tgt = edges[edges["target"].isin(["strengthen", "weaken"])]
        signs = np.where(tgt["target"] == "strengthen", 1.0, -1.0)
        self.targets[indicator] = (tgt["edge"].to_numpy(int), signs)

    @property
    def participants(self) -> list[str]:
        """Participants with both tasks, seen (trained on) ones first."""
        ok = [
            p
            for i, p in enumerate(self.cohort.participants)
            if all(self.cohort[f"{t}_present"][i] for t in TASK_NAMES)
        ]
        return sorted(ok, key=lambda p: (p not in self.seen, p))

    def twin(self, participant: str, edit: Edit = Edit()) -> DigitalTwin:
        """The participant's twin, unedited or edited."""
        row = self.cohort.participants.index(participant)
        fc = self.cohort["fc"][row]
        if edit.kind in ("none", "direction"):
            twin = DigitalTwin.from_fc(fc, self.network)
            if edit.kind == "direction" and edit.amount != 0:
                flat = generated_weights(self.network, fc[None])[0]
                direction = self._need(self.directions, edit.indicator, "direction")
                twin = DigitalTwin.from_weights(
                    edit_weights(flat, direction, edit.amount), self.network
                )
            return twin
        if edit.kind == "targets":
            pos, signs = self._need(self.targets, edit.indicator, "targets")
            edited = edit_fc(fc, abs(edit.amount), edges=pos, signs=signs * np.sign(edit.amount))
        else:
            edited = edit_fc(fc, edit.amount, block=edit.networks, networks=self.networks)
        return DigitalTwin.from_fc(edited.astype(np.float32), self.network)

    def _need(self, table: dict, indicator: str, what: str):
        if indicator not in table:
            raise ValueError(
                f"no {what} of the {indicator} indicator: open the explorer with the "
                "intervention folder of this run (dtb intervene)"
            )
        return table[indicator]

    def compare(self, participant: str, edit: Edit, region: str = "AMY_R", task: str = "faces"):
        """Observed, unedited twin and edited twin, side by side.

        Returns
        -------
        table : pandas.DataFrame
            ``measure, task, condition`` and one column per source (``observed``, ``twin``,
            ``edited``).
        bold : pandas.DataFrame
            ``time`` (s) and the three BOLD time courses of ``region`` on ``task``.
        """
        row = self.cohort.participants.index(participant)
        key = (participant, region, task)
        if key not in self._cache:  # the observed data and the unedited twin, once each
            self._cache[key] = (
                observed_summary(self.cohort, row, region, task),
                twin_summary(self.twin(participant), self.cohort, row, region, task),
            )
        (obs, obs_bold), (base, base_bold) = self._cache[key]
        edited, edited_bold = twin_summary(
            self.twin(participant, edit), self.cohort, row, region, task
        )
        cols = ["measure", "task", "condition"]
        table = (
            obs.rename(columns={"value": "observed"})
            .merge(base.rename(columns={"value": "twin"}), on=cols)
            .merge(edited.rename(columns={"value": "edited"}), on=cols)
        )
        n = min(len(obs_bold), len(base_bold), len(edited_bold))
        bold = pd.DataFrame(
            {
                "time": self.cohort.volume_steps("all")[:n] * STEP,
                "observed": obs_bold[:n],
                "twin": base_bold[:n],
                "edited": edited_bold[:n],
            }
        )
        return table, bold


def reproduction_runs(results: Path | str) -> dict[str, tuple[Path, Path | None]]:
    """The runs of a ``dtb reproduce`` folder worth exploring, by label.

    The paper-protocol twin with its interventions (every participant seen), and each zero-shot
    fold (its held-out participants unseen; FC edits only, since directions belong to the run
    they were computed on).

    Returns
    -------
    runs : dict of str to (run folder, intervention folder or None)
    """
    results = Path(results)
    suite = results / "suite"
    runs: dict[str, tuple[Path, Path | None]] = {}
    if (suite / "paper" / "run" / "best.pt").is_file():
        iv = results / "intervene"
        runs["paper protocol (all seen)"] = (suite / "paper" / "run", iv if iv.is_dir() else None)
    for fold in sorted((suite / "zero-shot").glob("fold-*")):
        if (fold / "best.pt").is_file():
            runs[f"zero-shot {fold.name} (held-out fold unseen)"] = (fold, None)
    if not runs:
        raise ValueError(f"{results}: no trained run found; run dtb reproduce first")
    return runs
