"""Attacks along a fixed direction and ℓ2 PGD for two-layer ReLU networks.

Critical size along a fixed direction.  For a perturbation ``x − c·u(x)`` (``u`` fixed per point, e.g.
the universal ``y z_1`` with ``z_1 = s/k``) the critical size is
``c*(x) = inf{c ≥ 0 : y N(x − c u(x)) ≤ 0}`` (ties count as errors).  It is found on a grid of ``c``
(first grid value with ``y N ≤ 0``) and refined by bisection between that value and the previous one.
Points wrong at ``c = 0`` get ``c* = 0``; points never flipped on the grid get ``c* = +∞``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def critical_size(margin: Callable[[np.ndarray], np.ndarray], n: int, c_grid: np.ndarray,
                  n_bisect: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """``c*`` for ``n`` points and the margins on the grid.

    ``margin(c)`` takes a vector ``c`` of length ``n`` (one size per point) and returns
    ``y_i N(x_i − c_i u_i)`` for every point.  Returns ``(cstar, M)`` with ``M[g, i]`` the margin of
    point ``i`` at ``c_grid[g]`` (so the accuracy curve is ``(M > 0).mean(axis=1)``).
    """
    c_grid = np.asarray(c_grid, float)
    if c_grid[0] != 0 or np.any(np.diff(c_grid) <= 0):
        raise ValueError("c_grid must start at 0 and increase")
    M = np.stack([margin(np.full(n, c)) for c in c_grid])
    bad = M <= 0
    first = np.where(bad.any(axis=0), bad.argmax(axis=0), -1)
    cstar = np.full(n, np.inf)
    cstar[first == 0] = 0.0
    ref = first > 0
    lo = np.where(ref, c_grid[np.maximum(first - 1, 0)], 0.0)
    hi = np.where(ref, c_grid[np.maximum(first, 0)], 0.0)
    if ref.any():
        lo_r, hi_r = lo[ref].copy(), hi[ref].copy()
        idx = np.flatnonzero(ref)

        def sub_margin(c_sub: np.ndarray) -> np.ndarray:
            c = np.zeros(n)
            c[idx] = c_sub
            return margin(c)[idx]

        for _ in range(n_bisect):
            mid = (lo_r + hi_r) / 2
            flipped = sub_margin(mid) <= 0
            hi_r = np.where(flipped, mid, hi_r)
            lo_r = np.where(flipped, lo_r, mid)
        cstar[idx] = hi_r
    return cstar, M


def two_layer_margin(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, v: np.ndarray,
                     U: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``c ↦ y_i N(x_i − c_i u_i)`` for ``N(x) = Σ_j v_j φ(⟨w_j, x⟩ + b_j)``; since the first layer
    is linear the pre-activations are ``H_0 − c_i (U Wᵀ)_i``, so each call costs ``O(n m)``."""
    H0 = X @ W.T + b
    D = U @ W.T

    def margin(c: np.ndarray) -> np.ndarray:
        return y * (np.maximum(H0 - c[:, None] * D, 0.0) @ v)

    return margin


def pgd_l2(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, v: np.ndarray, eps: float,
           steps: int = 50, step_frac: float = 0.1) -> np.ndarray:
    """ℓ2 PGD on ``y N(x + δ)`` (minimised), step ``step_frac·ε`` along the normalised gradient,
    projection onto ``‖δ‖ ≤ ε``; returns the final margins ``y N(x + δ)`` (ties count as errors)."""
    delta = np.zeros_like(X)
    for _ in range(steps):
        H = (X + delta) @ W.T + b
        g = ((H > 0) * v) @ W * y[:, None]  # ∇_x of y N
        norm = np.linalg.norm(g, axis=1, keepdims=True)
        delta = delta - step_frac * eps * g / np.where(norm > 0, norm, 1.0)
        dn = np.linalg.norm(delta, axis=1, keepdims=True)
        delta = delta * np.minimum(1.0, eps / np.where(dn > 0, dn, 1.0))
    return y * (np.maximum((X + delta) @ W.T + b, 0.0) @ v)


def pgd_l2_regression(f: Callable[[np.ndarray], np.ndarray], grad_f: Callable[[np.ndarray], np.ndarray],
                      X: np.ndarray, y: np.ndarray, eps: float, steps: int = 40, step_size: float | None = None,
                      chunk: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided ℓ2 PGD on a regression model: ``max_{‖δ‖≤ε} (y − f(x + δ))²``.

    For each direction ``s = ±1``: start at ``δ = 0`` and take ``steps`` normalised-gradient steps
    ``δ ← Π_ε(δ + η s∇f(x + δ)/‖∇f(x + δ)‖)`` (step ``η = ε/8`` by default), keeping the largest
    ``s·f`` seen along the path; the attacked loss is ``max((y − f_max)², (y − f_min)²)``.  Points are
    processed in chunks of ``chunk`` rows.  Returns ``(loss, f_max, f_min)`` per point."""
    eta = eps / 8 if step_size is None else step_size
    n = len(X)
    fmax, fmin = np.empty(n), np.empty(n)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        Xc = X[sl]
        for s, out in ((1.0, fmax), (-1.0, fmin)):
            delta = np.zeros_like(Xc)
            best = s * f(Xc)
            for _ in range(steps):
                g = s * grad_f(Xc + delta)
                norm = np.linalg.norm(g, axis=1, keepdims=True)
                delta = delta + eta * g / np.where(norm > 0, norm, 1.0)
                dn = np.linalg.norm(delta, axis=1, keepdims=True)
                delta = delta * np.minimum(1.0, eps / np.where(dn > 0, dn, 1.0))
                best = np.maximum(best, s * f(Xc + delta))
            out[sl] = s * best
    loss = np.maximum((y - fmax) ** 2, (y - fmin) ** 2)
    return loss, fmax, fmin
