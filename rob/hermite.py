"""Hermite coefficients of activations under the standard Gaussian.

Orthonormal convention, ``g ~ N(0, 1)``: ``h_k = He_k/√(k!)`` (``He_k`` the probabilists' Hermite
polynomials) and

    μ_k(σ) = E[σ(g) h_k(g)],   so that   E σ(g)² = Σ_k μ_k²,   E σ'(g)² = Σ_k k μ_k².

A function ``f(x) = σ(w·x)`` of ``x ~ N(0, I_d)`` with ``‖w‖ = 1`` has Wiener chaos components of
squared norm ``μ_ℓ²`` and Dirichlet energy ``E‖∇f‖² = Σ_ℓ ℓ μ_ℓ² = E σ'(g)²``.

Integrals are computed with :func:`scipy.integrate.quad` on ``(−40, 0)`` and ``(0, 40)`` separately,
because the book's activations (ReLU, |·|, ELU) have a kink or a jump in a derivative at 0.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial, sqrt

import numpy as np
from scipy import integrate, special

from .activations import Activation

_PHI0 = 1.0 / np.sqrt(2.0 * np.pi)


def gaussian_expectation(fn: Callable[[np.ndarray], np.ndarray], split: float = 0.0, limit: float = 40.0) -> float:
    """``E[fn(g)]`` for ``g ~ N(0, 1)`` by adaptive quadrature on ``(−limit, split)`` and ``(split, limit)``."""

    def integrand(t: float) -> float:
        return float(fn(np.asarray(t, dtype=float))) * _PHI0 * np.exp(-0.5 * t * t)

    opts = dict(epsabs=1e-13, epsrel=1e-12, limit=200)
    return integrate.quad(integrand, -limit, split, **opts)[0] + integrate.quad(integrand, split, limit, **opts)[0]


def coefficient(act: Activation, k: int) -> float:
    """``μ_k(σ) = E[σ(g) He_k(g)]/√(k!)``."""
    c = 1.0 / sqrt(factorial(k))
    return gaussian_expectation(lambda t: act.f(t) * special.eval_hermitenorm(k, t) * c)


def coefficients(act: Activation, kmax: int) -> np.ndarray:
    """``[μ_0, …, μ_kmax]``."""
    return np.array([coefficient(act, k) for k in range(kmax + 1)])


def moments(act: Activation) -> tuple[float, float]:
    """``(E σ(g)², E σ'(g)²)`` by direct quadrature (no truncation of the Hermite series)."""
    return (gaussian_expectation(lambda t: act.f(t) ** 2), gaussian_expectation(lambda t: act.df(t) ** 2))
