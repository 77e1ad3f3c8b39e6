"""The main network's recurrence and readout, with a hand-written backward through time.

Windows come in ``G`` groups of ``K``; the windows of a group share one weight set (the one the
hypernetwork generated for their participant)::

    h[g, t, k] = tanh(W_ih[g] x[g, t, k] + b[g] + W_hh[g] h[g, t-1, k]),    h[g, -1, k] = 0
    y[g, t, k] = W_ho[g] h[g, t, k] + b_ho[g]

with ``b = b_ih + b_hh``. Tensors are **time-major inside a group**, shape ``(G, T, K, ...)``: the
``K`` states of one step are ``K`` consecutive rows, so a step is one batched matrix product over
the ``G`` groups on contiguous ``(K, H)`` blocks, and all steps of a group form one ``(T*K, H)``
matrix.

Why a hand-written backward: plain autograd through a Python loop over 262 steps records one
small product per step and weight and, in the backward, forms ``T`` separate ``(H, H)`` weight
gradients and adds them, which dominates the cost of a training step on CPU. Here

* the forward keeps only the hidden states (one ``(G, T+1, K, H)`` buffer whose first step is the
  zero initial state, so ``hs[:, t]`` is the previous state of step ``t``);
* the backward propagates the error back through time with one small batched product per step,
  and forms the weight gradients as large batched products over many steps at once: ``W_ho`` over
  all ``T*K`` rows in one product, ``W_hh``, ``W_ih`` and ``b`` over chunks of ``CHUNK`` steps
  (``CHUNK*K`` rows). Chunking keeps the error buffer small: a fresh full-length buffer costs
  about as much in page faults on CPU as the products themselves.

The result is exact (a float64 ``gradcheck`` in the tests checks it) and 3-5x cheaper than
autograd on CPU. It is once differentiable; :func:`main_network_autograd` computes the same
function with plain autograd where second derivatives are needed.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from dtb.precision import float32_recurrence

__all__ = ["CHUNK", "MainNetworkFunction", "main_network", "main_network_autograd"]

CHUNK = 64
"""Steps per weight-gradient product in the backward (64 steps x K windows rows each)."""


class MainNetworkFunction(torch.autograd.Function):
    """``y = MainNetworkFunction.apply(x, w_ih, b, w_hh, w_ho, b_ho)``; see :func:`main_network`."""

    @staticmethod
    def forward(ctx, x, w_ih, b, w_hh, w_ho, b_ho):
        g, t_steps, k, _ = x.shape
        h = w_hh.shape[-1]
        hs = x.new_empty(g, t_steps + 1, k, h)
        hs[:, 0].zero_()
        # Input drive of every step in one product, written where the states will go.
        drive = hs[:, 1:].view(g, t_steps * k, h)
        x_rows = x.reshape(g, t_steps * k, -1)
        torch.baddbmm(b.unsqueeze(1), x_rows, w_ih.transpose(1, 2), out=drive)
        pre = x.new_empty(g, k, h)
        for t in range(t_steps):  # a_t = drive_t + h_{t-1} W_hh^T; h_t = tanh(a_t)
            _recurrent_product(hs[:, t + 1], hs[:, t], w_hh, pre)
            torch.tanh(pre, out=hs[:, t + 1])
        # Readout as y^T = W_ho h^T + b_ho: with only 23 outputs MKL runs this orientation
        # about 1.7x faster than h W_ho^T; the transposed copy of y is small.
        y = torch.baddbmm(b_ho.unsqueeze(2), w_ho, drive.mT).mT.contiguous()
        ctx.save_for_backward(x, w_ih, w_hh, w_ho, hs)
        return y.view(g, t_steps, k, -1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        x, w_ih, w_hh, w_ho, hs = ctx.saved_tensors
        need_x, need_w_ih, need_b, need_w_hh, need_w_ho, need_b_ho = ctx.needs_input_grad
        g, t_steps, k, n_in = x.shape
        h = w_hh.shape[-1]
        grad_y = grad_y.contiguous()
        rows = t_steps * k
        states = hs[:, 1:].view(g, rows, h)
        gy_rows = grad_y.view(g, rows, -1)

        grad_w_ho = torch.bmm(gy_rows.transpose(1, 2), states) if need_w_ho else None
        grad_b_ho = gy_rows.sum(1) if need_b_ho else None
        grad_x = x.new_empty(x.shape) if need_x else None
        # accumulated transposed, (G, I, H): with I = 9 MKL runs x^T delta several times faster
        # than delta^T x
        grad_w_ih_t = x.new_zeros(g, n_in, h) if need_w_ih else None
        grad_b = x.new_zeros(g, h) if need_b else None
        grad_w_hh = x.new_zeros(w_hh.shape) if need_w_hh else None

        # chunk[:, t - start] = delta_t = dL/da_t (a_t: pre-activation) for the steps of the
        # current chunk; the buffer is reused from chunk to chunk, so delta of the chunk's first
        # step is kept in `carry` for the last step of the next (earlier) chunk.
        chunk = x.new_empty(g, min(CHUNK, t_steps), k, h)
        carry = x.new_empty(g, k, h)
        # delta_{t+1} W_hh = delta_{t+1} (W_hh^T)^T; the column form wants it row-major.
        w_back = w_hh.transpose(1, 2)
        if k == 1:
            w_back = w_back.contiguous()
        acc = x.new_empty(g, k, h)  # contiguous: a product into a strided view is much slower
        sq = x.new_empty(g, k, h)
        for start in reversed(range(0, t_steps, CHUNK)):
            stop = min(start + CHUNK, t_steps)
            n = stop - start
            d = chunk[:, :n].view(g, n * k, h)
            # The readout's part of dL/dh_t, W_ho^T dL/dy_t, for the whole chunk in one product.
            torch.bmm(grad_y[:, start:stop].reshape(g, n * k, -1), w_ho, out=d)
            for t in range(stop - 1, start - 1, -1):
                cur = chunk[:, t - start]
                if t + 1 < t_steps:  # plus the part through the next step, W_hh^T delta_{t+1}
                    nxt = chunk[:, t + 1 - start] if t + 1 < stop else carry
                    _recurrent_product(cur, nxt, w_back, acc)
                else:
                    acc.copy_(cur)
                # delta_t = dL/dh_t * (1 - h_t^2)
                torch.mul(hs[:, t + 1], hs[:, t + 1], out=sq)
                torch.addcmul(acc, acc, sq, value=-1.0, out=cur)
            if need_w_hh:  # sum over the chunk's steps and windows of delta_t h_{t-1}^T
                grad_w_hh.baddbmm_(d.transpose(1, 2), hs[:, start:stop].reshape(g, n * k, h))
            if need_w_ih:
                grad_w_ih_t.baddbmm_(x[:, start:stop].reshape(g, n * k, n_in).mT, d)
            if need_b:
                grad_b += d.sum(1)
            if need_x:
                torch.bmm(d, w_ih, out=grad_x[:, start:stop].view(g, n * k, n_in))
            carry.copy_(chunk[:, 0])
        grad_w_ih = grad_w_ih_t.mT.contiguous() if need_w_ih else None
        return grad_x, grad_w_ih, grad_b, grad_w_hh, grad_w_ho, grad_b_ho


def _recurrent_product(
    add: torch.Tensor, state: torch.Tensor, m: torch.Tensor, out: torch.Tensor
) -> None:
    """``out = add + state @ m^T`` for ``(G, K, H)`` blocks and ``(G, H, H)`` matrices ``m``.

    With ``K > 1`` windows per group MKL's batched product is fastest as written. With ``K = 1``
    (matrix-vector products, bound by reading ``m`` from memory) the transposed equation
    ``out^T = add^T + m @ state^T`` on row-major ``m`` runs about 3x faster on CPU.
    """
    if state.shape[1] == 1:
        torch.baddbmm(add.mT, m, state.mT, out=out.mT)
    else:
        torch.baddbmm(add, state, m.mT, out=out)


def main_network(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    b: torch.Tensor,
    w_hh: torch.Tensor,
    w_ho: torch.Tensor,
    b_ho: torch.Tensor,
) -> torch.Tensor:
    """Run the tanh RNN and its linear readout for ``G`` groups of ``K`` windows.

    Exactly differentiable (first order) with respect to every argument, through a hand-written
    backward (see the module docstring).

    Parameters
    ----------
    x : torch.Tensor, shape (G, T, K, I)
        Inputs, time-major inside each group (already shifted for next-step prediction).
    w_ih : torch.Tensor, shape (G, H, I)
    b : torch.Tensor, shape (G, H)
        ``b_ih + b_hh``.
    w_hh : torch.Tensor, shape (G, H, H)
    w_ho : torch.Tensor, shape (G, O, H)
    b_ho : torch.Tensor, shape (G, O)

    Returns
    -------
    y : torch.Tensor, shape (G, T, K, O)
        Readout of every step.
    """
    args = float32_recurrence(x, w_ih, b, w_hh, w_ho, b_ho)
    _check(*args)
    if torch.is_autocast_enabled(x.device.type):
        # the recurrence in float32 under bf16 autocast (dtb.precision): the error of each of
        # the 262 steps would accumulate through the hand-written backward
        with torch.autocast(device_type=x.device.type, enabled=False):
            return MainNetworkFunction.apply(*args)
    return MainNetworkFunction.apply(*args)


def main_network_autograd(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    b: torch.Tensor,
    w_hh: torch.Tensor,
    w_ho: torch.Tensor,
    b_ho: torch.Tensor,
) -> torch.Tensor:
    """The same function as :func:`main_network`, differentiated by plain autograd.

    Slower, but differentiable to any order; also the reference the hand-written backward is
    tested against. Same arguments and result as :func:`main_network`.
    """
    _check(x, w_ih, b, w_hh, w_ho, b_ho)
    g, t_steps, k, n_in = x.shape
    drive = torch.baddbmm(b.unsqueeze(1), x.reshape(g, t_steps * k, n_in), w_ih.transpose(1, 2))
    drive = drive.view(g, t_steps, k, -1)
    state = x.new_zeros(g, k, w_hh.shape[-1])
    states = []
    for t in range(t_steps):
        state = torch.tanh(torch.baddbmm(drive[:, t], state, w_hh.transpose(1, 2)))
        states.append(state)
    hidden = torch.stack(states, dim=1).view(g, t_steps * k, -1)
    return torch.baddbmm(b_ho.unsqueeze(1), hidden, w_ho.transpose(1, 2)).view(g, t_steps, k, -1)


def _check(x, w_ih, b, w_hh, w_ho, b_ho) -> None:
    if x.dim() != 4:
        raise ValueError(f"x must have shape (G, T, K, I); got {tuple(x.shape)}")
    g, _, _, n_in = x.shape
    h, n_out = w_hh.shape[-1], w_ho.shape[-2]
    expected = {
        "w_ih": (w_ih, (g, h, n_in)),
        "b": (b, (g, h)),
        "w_hh": (w_hh, (g, h, h)),
        "w_ho": (w_ho, (g, n_out, h)),
        "b_ho": (b_ho, (g, n_out)),
    }
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} for x of shape {tuple(x.shape)}; "
                f"got {tuple(tensor.shape)}"
            )
        if tensor.dtype != x.dtype or tensor.device != x.device:
            raise ValueError(
                f"{name} must have the dtype and device of x ({x.dtype}, {x.device}); "
                f"got {tensor.dtype}, {tensor.device}"
            )
