"""Two-layer ReLU networks in NTK parametrisation, centred, trained lazily by full-batch gradient descent.

    f(x; θ) = (σ_w/√m) Σ_j a_j φ((σ_w/√d) w_jᵀx + σ_b c_j) + σ_b c_0,   θ = (W, c, a, c_0) ~ N(0, 1),

centred output ``f̄(x; θ) = f(x; θ) − f(x; θ_0)`` (0 at initialisation; its infinite-width limit
under gradient descent is the kernel predictor μ_T of :mod:`rob.spectral`).  Training: full-batch
GD on ``L = (1/2n) Σ_i (α f̄(x_i) − y_i)²`` with step ``η/α²`` (output scale α, Chizat–Oyallon–Bach;
α = 1 is the plain NTK setting).  Gradients are written out by hand (tested against autograd).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .ntk import SB2, SW2


@dataclass
class TwoLayer:
    """Parameters of one network (torch tensors) and its initial copy ``theta0`` for centring."""

    W: torch.Tensor
    c: torch.Tensor
    a: torch.Tensor
    c0: torch.Tensor
    theta0: tuple[torch.Tensor, ...]
    sw2: float = SW2
    sb2: float = SB2
    alpha: float = 1.0

    @property
    def m(self) -> int:
        return self.W.shape[0]


def init(d: int, m: int, seed_seq: np.random.SeedSequence | int, device: str = "cpu",
         dtype: torch.dtype = torch.float64, alpha: float = 1.0) -> TwoLayer:
    """θ_0 with i.i.d. N(0, 1) entries drawn by numpy from ``seed_seq`` (device-independent draws)."""
    rng = np.random.default_rng(seed_seq)
    arrays = [rng.standard_normal((m, d)), rng.standard_normal(m), rng.standard_normal(m), rng.standard_normal(1)]
    W, c, a, c0 = (torch.tensor(v, dtype=dtype, device=device) for v in arrays)
    return TwoLayer(W, c, a, c0, tuple(t.clone() for t in (W, c, a, c0)), alpha=alpha)


def _forward(x: torch.Tensor, W, c, a, c0, sw2: float, sb2: float):
    m, d = W.shape
    sw, sb = sw2 ** 0.5, sb2 ** 0.5
    h = torch.addmm(c, x, W.T, beta=sb, alpha=sw / d ** 0.5)          # (σ_w/√d) x Wᵀ + σ_b c, one pass
    return (sw / m ** 0.5) * (torch.relu(h) @ a) + sb * c0, h


def raw(net: TwoLayer, x: torch.Tensor) -> torch.Tensor:
    """``f(x; θ)`` (uncentred)."""
    return _forward(x, net.W, net.c, net.a, net.c0, net.sw2, net.sb2)[0]


def centred(net: TwoLayer, x: torch.Tensor) -> torch.Tensor:
    """``α (f(x; θ) − f(x; θ_0))``: differentiable in ``x`` (use with :func:`rob.attacks.torch_grad`)."""
    return net.alpha * (raw(net, x) - _forward(x, *net.theta0, net.sw2, net.sb2)[0])


def _hidden(net: TwoLayer, X: torch.Tensor) -> torch.Tensor:
    """Activations ``φ(h)`` with ``h = (σ_w/√d) X Wᵀ + σ_b c = X̃ W̃ᵀ``, ``X̃ = [X | 1]``,
    ``W̃ = [(σ_w/√d) W | σ_b c]``: one product (the bias inside it, no separate pass over the n × m
    output) and an in-place ReLU."""
    d = net.W.shape[1]
    Wa = torch.cat([net.W * (net.sw2 / d) ** 0.5, (net.sb2 ** 0.5 * net.c)[:, None]], dim=1)
    Xa = torch.cat([X, torch.ones_like(X[:, :1])], dim=1)
    return torch.mm(Xa, Wa.T).relu_()


def param_grads(net: TwoLayer, X: torch.Tensor, act: torch.Tensor, r: torch.Tensor):
    """Gradients ``(dW, dc, da, dc0)`` of ``L`` from ``r_i = ∂L/∂f(x_i)`` and the activations
    ``act = φ(h)`` of the rows of ``X`` (closed form, no autograd).

    With ``D = 1[h > 0]`` (n × m) and ``M = Dᵀ [r ⊙ X | r]`` (m × (d+1), ONE product over the n × m
    mask): ``dW_j = (σ_w²/√(dm)) a_j M_{j,:d}``, ``dc_j = (σ_wσ_b/√m) a_j M_{j,d}``,
    ``dc_0 = σ_b Σ_i r_i`` and, since φ(h) = h·1[h > 0] (positive homogeneity),
    ``da_j = (σ_w/√m) Σ_i r_i φ(h_ij) = (σ_w/√m) ((σ_w/√d) w_jᵀ M_{j,:d} + σ_b c_j M_{j,d})``
    (no second pass over the n × m activations)."""
    m, d = net.W.shape
    sw, sb = net.sw2 ** 0.5, net.sb2 ** 0.5
    rx = torch.cat([r[:, None] * X, r[:, None]], dim=1)           # (n, d+1)
    M = torch.mm(rx.T, torch.sign(act)).T                         # Dᵀ [r X | r]; this order is 2-3x faster
    Mw, Mc = M[:, :d], M[:, d]
    dW = Mw * ((sw * sw / (d * m) ** 0.5) * net.a)[:, None]
    dc = (sw * sb / m ** 0.5) * net.a * Mc
    da = (sw / m ** 0.5) * ((sw / d ** 0.5) * (net.W * Mw).sum(1) + sb * net.c * Mc)
    dc0 = sb * r.sum().reshape(1)
    return dW, dc, da, dc0


def loss_and_grads(net: TwoLayer, X: torch.Tensor, Y: torch.Tensor, f0: torch.Tensor):
    """Loss ``(1/2n)‖α(f − f_0) − Y‖²`` and its gradients ``(dW, dc, da, dc0)`` in closed form
    (:func:`param_grads` with ``∂L/∂f = α(α(f − f_0) − Y)/n``)."""
    n = X.shape[0]
    m = net.W.shape[0]
    act = _hidden(net, X)
    f = torch.mv(act, net.a).mul_((net.sw2 / m) ** 0.5).add_(net.sb2 ** 0.5 * net.c0)
    resid = net.alpha * (f - f0) - Y
    r = net.alpha * resid / n                        # dL/df
    return 0.5 * float(resid @ resid) / n, param_grads(net, X, act, r)


def logistic_loss_and_grads(net: TwoLayer, X: torch.Tensor, Y: torch.Tensor):
    """Loss ``(1/n) Σ_i log(1 + exp(−y_i α f̄(x_i)))`` and its gradients ``(dW, dc, da, dc0)`` in closed
    form (:func:`param_grads` with ``∂L/∂f(x_i) = −α y_i σ(−y_i α f̄(x_i))/n``, σ the logistic function)."""
    n = X.shape[0]
    m = net.W.shape[0]
    act = _hidden(net, X)
    f = torch.mv(act, net.a).mul_((net.sw2 / m) ** 0.5).add_(net.sb2 ** 0.5 * net.c0)
    z = -Y * (net.alpha * (f - _forward(X, *net.theta0, net.sw2, net.sb2)[0]))      # −y α f̄
    r = (-net.alpha / n) * Y * torch.sigmoid(z)
    return float(torch.nn.functional.softplus(z).mean()), param_grads(net, X, act, r)


def input_grad_centred(net: TwoLayer) -> Callable[[torch.Tensor], torch.Tensor]:
    """Oracle ``X ↦ ∇_x α f̄(x)`` row by row, in closed form for the CURRENT parameters (snapshot;
    build a new one after a parameter update):
    ``∇_x α f̄ = α (σ_w²/√(dm)) [Wᵀ(a ⊙ 1[h(x) > 0]) − W_0ᵀ(a_0 ⊙ 1[h_0(x) > 0])]``.
    The two networks are computed by identical separate products and then subtracted, so that the
    gradient is exactly 0 at θ = θ_0 (as with autograd; a PGD step then leaves x where it is)."""
    m, d = net.W.shape
    sw, sb = net.sw2 ** 0.5, net.sb2 ** 0.5
    s = net.alpha * sw * sw / (d * m) ** 0.5
    nets_ = [(p[0].detach(), p[0].detach().T.contiguous(), p[1].detach(), s * p[2].detach())
             for p in ((net.W, net.c, net.a), net.theta0)]

    def grad(X: torch.Tensor) -> torch.Tensor:
        G = []
        for W, WT, c, a in nets_:
            H = torch.addmm(c, X, WT, beta=sb, alpha=sw / d ** 0.5)
            G.append(torch.mm(H.relu_().sign_().mul_(a), W))          # (a ⊙ 1[h > 0]) W, in place
        return G[0].sub_(G[1])

    return grad


def train(net: TwoLayer, X: np.ndarray, Y: np.ndarray, eta: float, steps: int,
          max_growth: float = 100.0) -> list[float]:
    """Full-batch GD with step ``η/α²`` for ``steps`` steps (in place); returns the loss before every
    step and after the last.

    Raises :class:`FloatingPointError` when training fails: a non-finite loss, a loss above
    ``max_growth`` times the initial one, or a final loss not below the initial one.  A transient
    spike that training recovers from is allowed and visible in the returned losses: a narrow
    network's finite-width kernel can have ``ηλ_max/n > 2`` although the limiting kernel has
    ``ηλ_0/n ≈ 1.3``; gradient descent then goes through a "catapult" (the loss rises for a few
    steps, the kernel moves, and training converges), which is outside the lazy regime."""
    Xt = torch.as_tensor(X, dtype=net.W.dtype, device=net.W.device)
    Yt = torch.as_tensor(Y, dtype=net.W.dtype, device=net.W.device)
    with torch.no_grad():
        f0 = _forward(Xt, *net.theta0, net.sw2, net.sb2)[0]
        lr = eta / net.alpha ** 2
        losses = []
        for t in range(steps + 1):
            loss, grads = loss_and_grads(net, Xt, Yt, f0)
            if not np.isfinite(loss) or (losses and loss > max_growth * losses[0]):
                raise FloatingPointError(f"GD diverged at step {t}: loss {losses[0]:.4g} -> {loss:.4g} "
                                         f"(m={net.m}, eta={eta}); lower the step")
            losses.append(loss)
            if t == steps:
                break
            for p, g in zip((net.W, net.c, net.a, net.c0), grads):
                p.sub_(lr * g)
    if steps > 0 and losses[-1] >= losses[0]:
        raise FloatingPointError(f"GD did not converge: loss {losses[0]:.4g} -> {losses[-1]:.4g} after {steps} "
                                 f"steps (m={net.m}, eta={eta}); lower the step")
    return losses


def predict(net: TwoLayer, X: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Centred output ``f̄`` at the rows of ``X`` as float64 numpy."""
    out = []
    with torch.no_grad():
        for s in range(0, len(X), batch):
            xt = torch.as_tensor(X[s:s + batch], dtype=net.W.dtype, device=net.W.device)
            out.append(centred(net, xt).cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def relative_change(net: TwoLayer) -> float:
    """``‖θ − θ_0‖/‖θ_0‖`` over all parameters (small in the lazy regime)."""
    num = sum(float(((p - p0) ** 2).sum()) for p, p0 in zip((net.W, net.c, net.a, net.c0), net.theta0))
    den = sum(float((p0 ** 2).sum()) for p0 in net.theta0)
    return (num / den) ** 0.5
