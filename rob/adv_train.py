"""Full-batch standard, adversarial and Moreau-envelope adversarial training of the two-layer nets of
:mod:`rob.two_layer`, batched over replicas (one run per neighbouring data set).

With ``x̃_i(W)`` the PGD point of :func:`rob.attacks.pgd_classification` (δ = 0 start, so the
algorithm is deterministic) and ``L̂_S(W) = (1/n) Σ_i ℓ(y_i f(W; x̃_i(W)))``:

- ``"std"``: ``W_{t+1} = W_t − η ∇L̂_S(W_t)`` with ε = 0 (clean loss);
- ``"at"``: the same with the attack points (by Danskin a sub-gradient step on the robust loss);
- ``"moreau"``: one warm-started prox step per outer step (``inner_steps`` of them in general),
  ``U ← U − η(∇L̂_S(U) + (U − W_t)/λ)``, then ``W_{t+1} = W_t − (η/λ)(W_t − U)``, from ``U₀ = W₀``.
  With an exact prox ``(W − prox_λ(W))/λ = ∇M_λ(W)``, so this is GD on the Moreau envelope
  ``M_λ(W) = min_U L̂_S(U) + ‖U − W‖²/(2λ)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .attacks import pgd_classification
from .two_layer import as_tensor, loss_and_grad_W

METHODS = ("std", "at", "moreau")


def neighbour_replicas(X: np.ndarray, y: np.ndarray, idx, X_new: np.ndarray,
                       y_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``S`` and its neighbours ``S^{(i)}``: replica 0 is ``(X, y)``, replica ``j + 1`` is
    ``(X, y)`` with example ``idx[j]`` replaced by ``(X_new[j], y_new[j])``.  Returns arrays of
    shapes ``(1 + r, n, d)`` and ``(1 + r, n)``."""
    idx = np.asarray(idx, dtype=int)
    if len(idx) != len(X_new) or len(idx) != len(y_new) or len(set(idx.tolist())) != len(idx):
        raise ValueError("need one distinct index per replacement")
    XR = np.repeat(X[None], 1 + len(idx), axis=0)
    yR = np.repeat(y[None], 1 + len(idx), axis=0)
    for j, i in enumerate(idx):
        XR[j + 1, i] = X_new[j]
        yR[j + 1, i] = y_new[j]
    return XR, yR


@dataclass(frozen=True)
class Trajectory:
    """Snapshots of one batched training run.

    ``W[k]`` (R, m, d) is the iterate after ``record[k]`` steps (``record`` may contain 0 for W₀);
    ``max_grad_norm[t]`` is max over replicas and examples of ``‖∇_W ℓ(y_i f(W; x̃_i))‖_F`` at the
    gradient evaluations of step ``t + 1``; ``flip_frac[t]`` is the fraction of coordinates of
    replica 0's perturbation δ whose sign changed from step ``t`` to ``t + 1`` (NaN for "std" and at
    the first step)."""

    method: str
    record: tuple[int, ...]
    W: np.ndarray
    max_grad_norm: np.ndarray
    flip_frac: np.ndarray


def train_gd(W0: np.ndarray, a: np.ndarray, X: np.ndarray, y: np.ndarray, *, eps: float, eta: float, T: int,
             method: str = "at", lam: float | None = None, inner_steps: int = 1, record=(),
             norm: str = "linf", act: str = "softplus", attack_steps: int = 5,
             device: str = "cpu") -> Trajectory:
    """Run ``T`` steps of ``method`` (see the module docstring) on every replica of ``X`` (R, n, d),
    ``y`` (R, n), all from the same ``W₀`` (m, d) and output layer ``a`` (m,); return the iterates
    at the steps in ``record`` (float64 numpy)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "moreau" and (lam is None or lam <= 0 or inner_steps < 1):
        raise ValueError("the Moreau method needs lam > 0 and inner_steps >= 1")
    record = tuple(int(t) for t in record)
    if any(t < 0 or t > T for t in record):
        raise ValueError(f"record steps must lie in [0, {T}], got {record}")
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ValueError("X must be (R, n, d) and y (R, n)")
    R = X.shape[0]
    Xt, yt, at = as_tensor(X, device), as_tensor(y, device), as_tensor(a, device)
    W = as_tensor(W0, device).expand(R, *W0.shape).clone()
    U = W.clone()
    e = 0.0 if method == "std" else eps
    snaps = {0: W.cpu().numpy().copy()} if 0 in record else {}
    gmax = np.empty(T)
    flips = np.full(T, np.nan)
    prev = None

    def grad(V: torch.Tensor, t: int) -> torch.Tensor:
        nonlocal prev
        Xa = pgd_classification(V, at, Xt, yt, e, attack_steps, norm, act)
        lg = loss_and_grad_W(V, at, Xa, yt, act)
        gmax[t] = max(gmax[t], float(lg.grad_norms.max()))
        if e > 0:
            sgn = torch.sign(Xa[0] - Xt[0])
            if prev is not None:
                flips[t] = float((sgn != prev).double().mean())
            prev = sgn
        return lg.grad

    for t in range(T):
        gmax[t] = -np.inf
        if method == "moreau":
            for _ in range(inner_steps):
                U = U - eta * (grad(U, t) + (U - W) / lam)
            W = W - (eta / lam) * (W - U)
        else:
            W = W - eta * grad(W, t)
        if t + 1 in record:
            snaps[t + 1] = W.cpu().numpy().copy()
    return Trajectory(method, record, np.stack([snaps[t] for t in record]) if record else np.empty((0,)),
                      gmax, flips)
