"""Training protocols and controls: who is trained on what FC.

Protocols (who is trained on):

* ``paper``: within-participant temporal split; everyone's training part is trained on and
  everyone's test part is predicted.
* ``zero-shot``: k-fold over participants; the held-out fold is never trained on and is seen
  only through its FC when its twins are generated for evaluation.

Controls (combine with either protocol):

* ``none``: the participant's own FC.
* ``shuffle``: participant i receives the FC of participant (i + shift) mod n, a cyclic shift
  as in the authors' public reduced code (shifts 1, n/3, n/2). Under ``paper`` the shuffled FC
  still identifies each participant, so this asks whether the FC's *content* matters; under
  ``zero-shot`` the FC-to-behaviour mapping learnt is scrambled, and prediction for unseen
  participants should fall to chance.
* ``direct-input``: no hypernetwork; one shared RNN receives a compressed FC (principal
  components fitted on the training participants) as extra constant inputs.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("paper", "zero-shot")
CONTROLS = ("none", "shuffle", "direct-input")


def fold_assignment(n: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold index of each of ``n`` participants (balanced sizes, order shuffled by ``seed``).

    Returns
    -------
    folds : ndarray of int, shape (n,)
    """
    if not 2 <= n_folds <= n:
        raise ValueError(f"n_folds must be in 2..{n} (number of participants), got {n_folds}")
    rng = np.random.default_rng([seed, 7919])
    folds = np.empty(n, dtype=int)
    folds[rng.permutation(n)] = np.arange(n) % n_folds
    return folds


def training_participants(
    protocol: str, n: int, *, fold: int, n_folds: int, seed: int
) -> np.ndarray:
    """Row indices of the participants whose training part is trained on.

    Returns
    -------
    rows : ndarray of int, shape (n_train,)
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if protocol != "zero-shot":
        return np.arange(n)
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in 0..{n_folds - 1}, got {fold}")
    return np.flatnonzero(fold_assignment(n, n_folds, seed) != fold)


def held_out_participants(n: int, *, fold: int, n_folds: int, seed: int) -> np.ndarray:
    """Row indices of the zero-shot fold's held-out participants."""
    return np.flatnonzero(fold_assignment(n, n_folds, seed) == fold)


def fc_source(control: str, n: int, shift: int) -> np.ndarray:
    """Which participant's FC each participant receives.

    Returns
    -------
    source : ndarray of int, shape (n,)
        ``source[i]`` is the FC row given to participant ``i``; the identity except for the
        ``shuffle`` control, where it is ``(i + shift) mod n``.
    """
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; choose from {', '.join(CONTROLS)}")
    if control != "shuffle":
        return np.arange(n)
    if shift % n == 0:
        raise ValueError(
            f"shuffle shift {shift} is a multiple of n = {n}: nothing would be shuffled"
        )
    return (np.arange(n) + shift) % n


def standard_shifts(n: int) -> tuple[int, ...]:
    """The cyclic shifts of the FC-shuffle control: 1, n/3 and n/2 (rounded down)."""
    return tuple(dict.fromkeys(s for s in (1, n // 3, n // 2) if s % n))


def training_split(
    protocol: str,
    n: int,
    *,
    fold: int,
    n_folds: int,
    seed: int,
    val_fraction: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The participants a run trains on, and those held out whole for early stopping.

    Under ``zero-shot`` a fraction ``val_fraction`` of the training participants (drawn with
    ``seed`` and ``fold``) is held out whole for validation; everything fitted on data (the FC
    normalisation, the FC encoder, the weights) sees only the rest. Under ``paper`` every
    participant trains and validation uses each one's last window (``val_rows`` is None).

    Returns
    -------
    train_rows : ndarray of int, shape (n_fit,)
    val_rows : ndarray of int or None
    """
    rows = training_participants(protocol, n, fold=fold, n_folds=n_folds, seed=seed)
    if protocol != "zero-shot" or val_fraction <= 0:
        return rows, None
    rng = np.random.default_rng([seed, fold, 2])
    n_val = max(1, int(round(val_fraction * len(rows))))
    val_rows = np.sort(rng.choice(rows, size=n_val, replace=False))
    return np.setdiff1d(rows, val_rows), val_rows
