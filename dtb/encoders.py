"""How the FC vector enters a model: the FC encoders.

* ``dense`` (the paper): the hypernetwork's first layer reads all 93,961 (normalised) edges.
  Each of its rows is a free direction in edge space; trained at the paper's small first-layer
  learning rate they stay near their random start, and every gradient with respect to the FC
  lies in their span (:func:`dtb.targets.gradient_span_projection`).
* ``pca``: the (normalised) FC is projected on the leading ``K`` principal components of the
  *training* participants' FC and whitened (unit variance per component over those
  participants). The model's first stage then lives in the span of the data, the first layer
  has ``K`` inputs instead of 93,961, and a gradient with respect to the FC maps back to edges
  exactly through the (linear) projection.

The direct-input ablation (:mod:`dtb.ablation`) compresses the FC with the same
:class:`PCAEncoder`. The components are fitted with scikit-learn's ``PCA`` and kept as buffers,
so they travel in the checkpoint; :attr:`PCAEncoder.fitted_on` is checked against the run's
training participants when a checkpoint is loaded.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

ENCODERS = ("dense", "pca")


class PCAEncoder(nn.Module):
    """Whitened scores on the leading principal components of the training participants' FC.

    ``encode(fc) = ((fc - mean) @ components.T) / scale``, shape (S, K): linear, hence exactly
    differentiable, so gradients with respect to the FC are maps over edges.

    Parameters
    ----------
    n_fc : int
        Length of the FC vector.
    n_components : int
        ``K``, the number of components kept.
    """

    def __init__(self, n_fc: int, n_components: int):
        super().__init__()
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        self.n_fc = n_fc
        self.n_components = n_components
        self.register_buffer("mean", torch.zeros(n_fc))
        self.register_buffer("components", torch.zeros(n_components, n_fc))
        self.register_buffer("scale", torch.ones(n_components))
        self.register_buffer("explained_variance_ratio", torch.zeros(n_components))

    @torch.no_grad()
    def fit(self, fc: torch.Tensor | np.ndarray, *, where: str = "") -> PCAEncoder:
        """Fit the components on the training participants' (normalised) FC.

        Parameters
        ----------
        fc : array, shape (n_participants, n_fc)
            Training participants only: never validation or test participants.
        where : str
            Names the run or fold in errors.

        Raises
        ------
        ValueError
            If there are fewer than ``K + 1`` participants (``K`` components need ``K + 1``
            people to have ``K`` non-zero variances), or on a wrong shape or NaN.
        """
        from sklearn.decomposition import PCA

        x = np.asarray(fc.cpu() if isinstance(fc, torch.Tensor) else fc, dtype=np.float64)
        prefix = f"{where}: " if where else ""
        if x.ndim != 2 or x.shape[1] != self.n_fc:
            raise ValueError(f"{prefix}FC must have shape (n, {self.n_fc}), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{prefix}FC holds NaN/Inf: the PCA encoder cannot be fitted")
        if x.shape[0] < self.n_components + 1:
            raise ValueError(
                f"{prefix}{x.shape[0]} training participants are too few for "
                f"{self.n_components} FC components (need at least {self.n_components + 1}); "
                "lower --fc-components or use more participants per fold"
            )
        pca = PCA(n_components=self.n_components, svd_solver="full").fit(x)
        dtype = self.components.dtype
        self.mean.copy_(torch.from_numpy(pca.mean_).to(dtype))
        self.components.copy_(torch.from_numpy(pca.components_).to(dtype))
        self.scale.copy_(torch.from_numpy(np.sqrt(pca.explained_variance_)).clamp_min(1e-8))
        self.explained_variance_ratio.copy_(torch.from_numpy(pca.explained_variance_ratio_))
        return self

    def forward(self, fc: torch.Tensor) -> torch.Tensor:
        """Whitened component scores.

        Parameters
        ----------
        fc : torch.Tensor, shape (S, n_fc)

        Returns
        -------
        scores : torch.Tensor, shape (S, K)
        """
        return ((fc - self.mean) @ self.components.T) / self.scale

    def edge_rows(self) -> torch.Tensor:
        """The linear map from FC to scores, shape (K, n_fc): every gradient lies in its span."""
        return self.components / self.scale[:, None]
