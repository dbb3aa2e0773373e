"""Data models.

Sphere regression (memorization chapter): inputs ``x ~ Unif(S^{d-1})`` (the *unit* sphere, so
``E[x xᵀ] = I_d/d``), a teacher ``w⋆ ~ Unif(S^{d-1})`` and labels ``y = ⟨w⋆, x⟩ + ζ ε`` with
``ε ~ N(0, 1)``, hence ``E[y²] = ζ² + 1/d``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sphere(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. points uniform on the unit sphere ``S^{d-1}`` (normalised Gaussians), shape (n, d)."""
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


@dataclass(frozen=True)
class SphereRegression:
    """A training and a test set of the noisy linear teacher on the sphere."""

    X: np.ndarray        # (n, d) training inputs
    y: np.ndarray        # (n,) noisy training labels
    X_test: np.ndarray   # (n_test, d)
    y_test: np.ndarray   # (n_test,) noisy test labels
    w_star: np.ndarray   # (d,) unit teacher
    zeta: float          # label-noise standard deviation ζ


def sphere_regression(n: int, n_test: int, d: int, zeta: float, rng: np.random.Generator) -> SphereRegression:
    """Draw ``w⋆``, then the training set, then the test set, from ``rng`` (in that order)."""
    if n < 1 or n_test < 1 or d < 2 or zeta < 0:
        raise ValueError(f"need n, n_test >= 1, d >= 2, zeta >= 0; got n={n}, n_test={n_test}, d={d}, zeta={zeta}")
    w_star = sphere(1, d, rng)[0]
    X = sphere(n, d, rng)
    y = X @ w_star + zeta * rng.standard_normal(n)
    X_test = sphere(n_test, d, rng)
    y_test = X_test @ w_star + zeta * rng.standard_normal(n_test)
    return SphereRegression(X, y, X_test, y_test, w_star, float(zeta))


def gaussian(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. points of ``N(0, I_d)`` (the regimes chapter's inputs), shape (n, d)."""
    return rng.standard_normal((n, d))


def sphere_sign_data(n: int, d: int, flip: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``x ~ Unif(S^{d−1})`` (so ``‖x‖₂ = 1``) with labels ``y = sign(Σ_j x_j)``, each
    flipped independently with probability ``flip`` (apply to training *and* test sets alike).
    Draws the inputs, then the flips, from ``rng``; returns ``(X (n, d), y (n,) in {±1})``."""
    if n < 1 or d < 1 or not 0 <= flip < 0.5:
        raise ValueError(f"need n, d >= 1 and 0 <= flip < 0.5; got n={n}, d={d}, flip={flip}")
    X = sphere(n, d, rng)
    y = np.where(X.sum(axis=1) >= 0, 1.0, -1.0)
    y = np.where(rng.random(n) < flip, -y, y)
    return X, y
