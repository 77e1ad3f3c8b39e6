"""SmoothGrad of a weight-space direction with respect to the FC (Smilkov et al. 2017).

The twin's weights are a function of the FC, ``W = h(FC)``. For a direction ``v`` in the
standardised weight space (:mod:`dtb.pls`) the latent ``z(FC) = ((h(FC) - mean) / sd) . v`` says
how far along ``v`` the FC puts a twin. Its gradient with respect to the FC, averaged over noisy
copies of each participant's FC and over participants, scores every edge: a positive score means
strengthening the edge moves the twin along ``+v``.
"""

from __future__ import annotations

import numpy as np
import torch

from dtb.progress import tqdm


def smoothgrad(
    network,
    fc: np.ndarray,
    projection: torch.Tensor,
    *,
    copies: int = 100,
    noise: float = 0.1,
    chunk: int = 25,
    rng: np.random.Generator,
    progress: bool = False,
) -> np.ndarray:
    """Mean gradient of ``h(FC) . projection`` with respect to the FC, SmoothGrad-averaged.

    Parameters
    ----------
    network : dtb.network.Network
        Trained hypernetwork model (its FC normalisation is applied inside).
    fc : ndarray, shape (n_participants, n_fc)
        Raw Fisher-z FC vectors.
    projection : torch.Tensor, shape (P,)
        Weight-space direction divided by the weights' SD (zero where the SD is 0), so that
        ``h(FC) . projection`` is the latent up to a constant.
    copies : int
        Noisy copies per participant.
    noise : float
        Noise SD as a fraction of the SD of the participant's FC values.
    chunk : int
        Copies per gradient pass: memory grows with ``chunk``, not with the cohort
        (``chunk x (n_fc + P)`` floats plus the hypernetwork's activations).
    rng : numpy.random.Generator
        Source of the noise: it draws one seed per participant and copy, and each copy's
        noise comes from torch's generator with that seed (about twice as fast as numpy's
        normal draws, and the same whatever ``chunk`` is).

    Returns
    -------
    scores : ndarray of float64, shape (n_fc,)
        Gradient averaged over copies and participants.
    """
    fc = np.asarray(fc, dtype=np.float32)
    if fc.ndim != 2:
        raise ValueError(f"fc must have shape (n_participants, n_fc), got {fc.shape}")
    if copies < 1 or chunk < 1:
        raise ValueError(f"copies and chunk must be >= 1, got {copies} and {chunk}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    hyper = network.core.hyper
    device = network.fc_mean.device
    u = projection.to(device=device, dtype=torch.float32)
    total = torch.zeros(fc.shape[1], dtype=torch.float64, device=device)
    seeds = rng.integers(0, 2**63 - 1, size=(len(fc), copies))
    gen = torch.Generator()
    network.eval()
    for row, row_seeds in zip(
        tqdm(fc, desc="SmoothGrad", disable=not progress), seeds, strict=True
    ):
        base = torch.from_numpy(row).to(device)
        sd = float(row.std())
        done = 0
        while done < copies:
            k = min(chunk, copies - done)
            eps = torch.empty(k, fc.shape[1])
            for j, s in enumerate(row_seeds[done : done + k]):
                eps[j].normal_(generator=gen.manual_seed(int(s)))
            x = (base + noise * sd * eps.to(device)).requires_grad_(True)
            z = hyper(network.normalise(x)) @ u
            (grad,) = torch.autograd.grad(z.sum(), x)
            total += grad.sum(0, dtype=torch.float64)
            done += k
    return (total / (copies * len(fc))).cpu().numpy()
