"""Two-layer networks with a smooth activation and a fixed ±1 output layer, in torch (float64).

    f(W; x) = (1/√m) Σ_{s=1}^m a_s σ(⟨w_s, x⟩),   W = [w_1, …, w_m]ᵀ ∈ ℝ^{m×d},  a_s ∈ {±1} fixed,

trained in ``W`` only (the parametrization of the stability chapter).  Every function takes a
leading *replica* dimension: ``W`` of shape ``(R, m, d)`` (or ``(m, d)``) and ``X`` of shape
``(R, n, d)`` (or ``(n, d)``), so that R independent full-batch runs advance in one batched matmul.

Loss: the logistic loss of the margin ``ℓ(u) = log(1 + e^{−u})``, ``u = y f(W; x)``, averaged over
the ``n`` examples; ``ℓ'(u) = −sigmoid(−u)``.  Gradients (``P = X Wᵀ``):

- ``∇_x f = Wᵀ(a ⊙ σ'(Wx))/√m`` (rows: ``(σ'(P) ⊙ a) W/√m``);
- ``∇_W L̂ = (1/n) Cᵀ X`` with ``C = ℓ'(u) y ⊙ σ'(P) ⊙ a/√m``;
- per example ``‖∇_W ℓ(y f(W; x_i))‖_F = |ℓ'(u_i)| ‖σ'(P_i)‖₂ ‖x_i‖₂/√m``.

Speed: a training step of :mod:`rob.adv_train` is bound by elementwise passes over the ``(R, n, m)``
array ``P`` (the matrix products have inner size ``d``), so these functions fold the scalings into the
small factors (``a/√m`` into ``W``, ``ℓ'(u) y/n`` into ``X``), apply σ' in place, and, for softplus,
get ``σ(P)`` and ``σ'(P)`` from one ``e^P`` (:func:`softplus_and_sigmoid`).

The activation registry :data:`SMOOTH` carries the constants ``L_σ = sup|σ'|`` and
``H_σ = sup|σ''|`` that enter the Lipschitz and weak-convexity constants of :mod:`rob.stability`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class SmoothActivation:
    """σ, σ' and σ'' on torch tensors with ``L = sup|σ'|`` and ``H = sup|σ''|``."""

    name: str
    f: Callable[[Tensor], Tensor]
    df: Callable[[Tensor], Tensor]
    d2f: Callable[[Tensor], Tensor]
    L: float
    H: float
    df_: Callable[[Tensor], Tensor] | None = None      # σ' written into its argument (in place)
    f_df: Callable[[Tensor, float | None], tuple[Tensor, Tensor]] | None = None  # (σ, σ') in one go

    def df_inplace(self, t: Tensor) -> Tensor:
        """``σ'(t)``, overwriting ``t`` when an in-place form is known."""
        return self.df_(t) if self.df_ is not None else self.df(t)

    def f_and_df(self, t: Tensor, bound: float | None = None) -> tuple[Tensor, Tensor]:
        """``(σ(t), σ'(t))``; may overwrite ``t``.  ``bound``: an upper bound of ``max t`` if known."""
        return self.f_df(t, bound) if self.f_df is not None else (self.f(t), self.df(t))


def _tanh_d2(t: Tensor) -> Tensor:
    th = torch.tanh(t)
    return -2.0 * th * (1.0 - th * th)


def _sigmoid_d1(t: Tensor) -> Tensor:
    s = torch.sigmoid(t)
    return s * (1.0 - s)


def _tanh_d1_(t: Tensor) -> Tensor:
    return t.tanh_().square_().neg_().add_(1.0)


#: ``e^t`` is finite for ``t`` below this (float64 overflows at about 709.78).
_EXP_SAFE = 700.0


def softplus_and_sigmoid(P: Tensor, bound: float | None = None) -> tuple[Tensor, Tensor]:
    """``(log(1 + e^P), sigmoid(P))`` from one exponential: with ``E = e^P`` and ``B = 1 + E``,
    ``softplus(P) = log B`` and ``sigmoid(P) = E/B``.  Overwrites ``P`` (it becomes the sigmoid).

    Equal to ``torch.nn.functional.softplus`` and ``torch.sigmoid`` up to rounding: the sigmoid to a
    few ulps relative, the softplus to about 1e-16 absolute (``log B`` rounds ``1 + E`` first; the
    softplus values enter ``f`` in a sum of O(1) terms, where that is rounding).  About twice as fast
    as the two separate kernels.  ``bound`` (an upper bound of ``max P``, e.g. from
    :func:`preactivation_bound`), when it does not show ``e^P`` finite, makes it use those kernels."""
    if bound is None or bound >= _EXP_SAFE:
        if bound is None and P.numel():
            bound = float(P.max())
        if bound is None or bound >= _EXP_SAFE:
            return torch.nn.functional.softplus(P), P.sigmoid_()
    E = P.exp_()
    B = E + 1.0
    S = E.div_(B)          # before B is overwritten by its log
    return B.log_(), S


#: Smooth activations with their constants: softplus ``log(1 + e^t)`` (L = 1, H = 1/4) and tanh
#: (L = 1, H = 4/(3√3), attained at ``tanh t = ±1/√3``).
SMOOTH: dict[str, SmoothActivation] = {
    "softplus": SmoothActivation("softplus", torch.nn.functional.softplus, torch.sigmoid, _sigmoid_d1, 1.0, 0.25,
                                 df_=torch.Tensor.sigmoid_, f_df=softplus_and_sigmoid),
    "tanh": SmoothActivation("tanh", torch.tanh, lambda t: 1.0 - torch.tanh(t) ** 2, _tanh_d2, 1.0,
                             4.0 / (3.0 * math.sqrt(3.0)), df_=_tanh_d1_),
}


def activation(name: str) -> SmoothActivation:
    """The smooth activation called ``name`` (softplus, tanh)."""
    try:
        return SMOOTH[name]
    except KeyError:
        raise ValueError(f"unknown smooth activation {name!r}; known: {', '.join(SMOOTH)}") from None


def init_two_layer(m: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``W₀`` with i.i.d. N(0, 1) entries (m×d) and ``a`` uniform on {±1}ᵐ, drawn from ``rng`` in
    that order (float64 numpy)."""
    W0 = rng.standard_normal((m, d))
    a = rng.choice(np.array([-1.0, 1.0]), size=m)
    return W0, a


def as_tensor(x, device: str | torch.device = "cpu") -> Tensor:
    """``x`` as a float64 tensor on ``device``."""
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x, dtype=torch.float64, device=device)


def preactivations(W: Tensor, X: Tensor) -> Tensor:
    """``P = X Wᵀ``: ``P[..., i, s] = ⟨w_s, x_i⟩``."""
    return X @ W.transpose(-1, -2)


def preactivation_bound(W: Tensor, X: Tensor) -> float:
    """``max_s ‖w_s‖ · max_i ‖x_i‖ ≥ max |P|`` (Cauchy-Schwarz), from the small factors only."""
    if not W.numel() or not X.numel():
        return 0.0
    return float(torch.linalg.vector_norm(W, dim=-1).max() * torch.linalg.vector_norm(X, dim=-1).max())


def output_weighted(W: Tensor, a: Tensor) -> Tensor:
    """Rows ``a_s w_s/√m``: ``σ'(P) @ output_weighted(W, a) = (σ'(P) ⊙ a) W/√m``."""
    return W * (a / math.sqrt(W.shape[-2])).unsqueeze(-1)


def forward(W: Tensor, a: Tensor, X: Tensor, act: str = "softplus") -> Tensor:
    """``f(W; x_i) = Σ_s a_s σ(⟨w_s, x_i⟩)/√m`` for every row of ``X``."""
    sig = activation(act)
    return sig.f(preactivations(W, X)) @ a / math.sqrt(W.shape[-2])


def margins(W: Tensor, a: Tensor, X: Tensor, y: Tensor, act: str = "softplus") -> Tensor:
    """``u_i = y_i f(W; x_i)``."""
    return y * forward(W, a, X, act)


#: The (R, n, m) arrays are processed in blocks of rows of about this many bytes (and at least
#: MIN_BLOCK_ROWS rows): a block stays in cache between the matrix product and the elementwise passes.
#: On the 2-core CI machine (2 MiB L2 per core) a stability AT step with n = 3200 (P: 29 MB) ran
#: about 1.4x faster in 1-2 MiB blocks than unblocked; with n = 800 (7 MB) it made no difference.
BLOCK_BYTES = 2 << 20
MIN_BLOCK_ROWS = 32


def row_blocks(W: Tensor, X: Tensor) -> list[slice]:
    """Slices of the rows of ``X`` (examples) such that each block of ``P = X Wᵀ`` (all replicas)
    has about :data:`BLOCK_BYTES` bytes; one slice when ``P`` is that small or not on the CPU (a GPU
    wants few large kernels)."""
    n, m = X.shape[-2], W.shape[-2]
    if X.device.type != "cpu":
        return [slice(0, n)]
    batch = math.prod(torch.broadcast_shapes(W.shape[:-2], X.shape[:-2]))
    rows = max(MIN_BLOCK_ROWS, BLOCK_BYTES // max(1, batch * m * X.element_size()))
    return [slice(i, min(n, i + rows)) for i in range(0, n, rows)] or [slice(0, n)]


def input_gradient(W: Tensor, a: Tensor, X: Tensor, act: str = "softplus") -> Tensor:
    """``∇_x f(W; x_i) = Wᵀ(a ⊙ σ'(W x_i))/√m`` for every row of ``X`` (same shape as ``X``),
    computed as ``σ'(X Wᵀ) @ output_weighted(W, a)`` in blocks of rows (:func:`row_blocks`)."""
    sig = activation(act)
    Wa = output_weighted(W, a)
    blocks = row_blocks(W, X)
    if len(blocks) == 1:
        return sig.df_inplace(preactivations(W, X)) @ Wa
    out = X.new_empty(torch.broadcast_shapes(W.shape[:-2], X.shape[:-2]) + X.shape[-2:])
    for b in blocks:
        out[..., b, :] = sig.df_inplace(preactivations(W, X[..., b, :])) @ Wa
    return out


def logistic(u: Tensor) -> Tensor:
    """``ℓ(u) = log(1 + e^{−u})`` in the stable form ``logaddexp(0, −u)``."""
    return torch.logaddexp(torch.zeros_like(u), -u)


@dataclass(frozen=True)
class LossGrad:
    """Mean loss per replica, ``∇_W`` of the mean loss, margins and the per-example gradient norms."""

    loss: Tensor        # (...,)
    grad: Tensor        # (..., m, d)
    margins: Tensor     # (..., n)
    grad_norms: Tensor  # (..., n): ‖∇_W ℓ(y_i f(W; x_i))‖_F


def loss_and_grad_W(W: Tensor, a: Tensor, X: Tensor, y: Tensor, act: str = "softplus") -> LossGrad:
    """``L̂(W) = (1/n) Σ_i ℓ(y_i f(W; x_i))`` and its gradient in ``W`` with ``X`` held fixed (for
    adversarial training ``X`` holds the attack points x̃_i(W): Danskin's theorem).

    ``∇_W L̂ = (1/n) Cᵀ X`` with ``C = (ℓ'(u) y) ⊙ σ'(P) ⊙ a/√m`` is formed without scaling the
    (n, m) array: ``((X ⊙ ℓ'(u) y/n)ᵀ σ'(P)) ⊙ a/√m``, summed over blocks of rows (:func:`row_blocks`)."""
    sig = activation(act)
    m, n = W.shape[-2], X.shape[-2]
    bound = preactivation_bound(W, X)
    batch = torch.broadcast_shapes(W.shape[:-2], X.shape[:-2], y.shape[:-1])
    u, dnorm = X.new_empty(batch + (n,)), X.new_empty(batch + (n,))
    gT = X.new_zeros(batch + (X.shape[-1], m))                  # (Σ_i c_i x_i σ'(P_i)ᵀ), i.e. ∇ᵀ before a/√m
    for b in row_blocks(W, X):
        Xb, yb = X[..., b, :], y[..., b]
        F, dsig = sig.f_and_df(preactivations(W, Xb), bound)
        ub = yb * (F @ a) / math.sqrt(m)
        u[..., b] = ub
        Xc = Xb * (-torch.sigmoid(-ub) * yb / n).unsqueeze(-1)  # ℓ'(u) = −sigmoid(−u)
        gT += Xc.transpose(-1, -2) @ dsig
        dnorm[..., b] = torch.linalg.vector_norm(dsig, dim=-1)
    grad = (gT * (a / math.sqrt(m))).transpose(-1, -2).contiguous()
    dl = -torch.sigmoid(-u)
    norms = dl.abs() * dnorm * torch.linalg.vector_norm(X, dim=-1) / math.sqrt(m)
    return LossGrad(logistic(u).mean(-1), grad, u, norms)
