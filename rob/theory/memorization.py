"""Closed forms of the memorization chapter (derived for the book, not claims of the paper).

With the kernel constants of :mod:`rob.kernels` and ``Δ_σ = κ(1) − κ(0)``:

- certificate constant ``c_σ = (κ(1) − κ(0) − κ'(0))/Δ_σ``, with
  ``L/‖y − ȳ1‖² → c_σ d/k`` (Proposition 2);
- min-norm RF interpolator, ``n ≪ min(d, k)`` (Proposition 3):
  ``𝔖²/‖y − ȳ1‖² ≈ A_σ + B_σ d/k``, ``A_σ = (κ'(0)² + κ''(0)²/d)/Δ_σ²``, ``B_σ = E σ'(g)²/Δ_σ``;
- min-norm first-layer NTK interpolator with σ = |·|, ``n ≪ kd`` (Proposition 5):
  ``𝔖²/‖y‖² ≈ 1/k + 4/(π² d)``.
"""

from __future__ import annotations

import numpy as np

from ..kernels import constants


def A(act: str, d: float) -> float:
    """Infinite-width floor ``A_σ = (κ'(0)² + κ''(0)²/d)/Δ_σ²`` (0.5380 + 0.218/d for ReLU)."""
    c = constants(act)
    return (c.dk0**2 + c.d2k0**2 / d) / c.delta**2


def B(act: str) -> float:
    """Finite-width coefficient ``B_σ = E σ'(g)²/Δ_σ`` (1.4669 for ReLU, 2.7519 for abs)."""
    c = constants(act)
    return c.dsig2 / c.delta


def certificate_constant(act: str) -> float:
    """``c_σ = (κ(1) − κ(0) − κ'(0))/Δ_σ`` (0.2665 for ReLU, 1 for abs)."""
    c = constants(act)
    return (c.k1 - c.k0 - c.dk0) / c.delta


def rf_min_norm_energy(act: str, d: float, k: float) -> float:
    """Proposition 3: ``𝔖(f_ĉ)²/‖y − ȳ1‖² ≈ A_σ + B_σ d/k``."""
    return A(act, d) + B(act) * d / k


def ntk_abs_min_norm_energy(d: float, k: float) -> float:
    """Proposition 5: ``𝔖(f_ĉ)²/‖y‖² ≈ 1/k + 4/(π² d)`` for the first-layer NTK with σ = |·|."""
    return 1.0 / k + 4.0 / (np.pi**2 * d)
