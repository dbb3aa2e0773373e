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


def kernel_floor(model: str, act: str, d: float) -> float:
    """Infinite width (claim (i)), ``n ≪ d``: energy of the min-norm kernel interpolant,
    ``𝔖²/‖y − ȳ1‖²`` (RF) or ``𝔖²/‖y‖²`` (NTK) ``≈ (k'(0)² + k''(0)²/d)/(k(1) − k(0))²``.

    - RF, ``k = κ_σ``: this is ``A_σ`` (0.5380 + 0.218/d for ReLU, 3.069/d for abs);
    - NTK, ``k(ρ) = ρ κ_{σ'}(ρ)``: ``k(0) = 0``, ``k(1) = E σ'(g)²``, ``k'(0) = κ'_σ(0)``,
      ``k''(0) = 2κ''_σ(0)``, i.e. ``1/4 + 4/(π² d)`` for ReLU and ``16/(π² d)`` for abs.
    """
    if model == "rf":
        return A(act, d)
    if model == "ntk":
        c = constants(act)
        return (c.dk0**2 + 4 * c.d2k0**2 / d) / c.dsig2**2
    raise ValueError(f"unknown model {model!r}; use 'rf' or 'ntk'")


def marchenko_pastur_mean(fun, gamma: float, points: int = 4001) -> float:
    """``∫ fun(g) dμ_γ(g)`` over the Marchenko–Pastur law of ratio ``γ`` and scale 1 (the eigenvalues
    of ``XXᵀ`` for ``n/d → γ`` unit rows); for ``γ > 1`` the atom ``1 − 1/γ`` at 0 is left out (``fun``
    must vanish there).  Density ``√((λ₊ − g)(g − λ₋))/(2πγg)``, ``λ± = (1 ± √γ)²``, integrated with
    the substitution ``g = (λ₊ + λ₋)/2 + (λ₊ − λ₋)/2 · cos t`` (smooth integrand, trapezoid rule)."""
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    lo, hi = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    t = np.linspace(0.0, np.pi, points)
    g = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(t)
    w = ((hi - lo) / 2 * np.sin(t)) ** 2 / (2 * np.pi * gamma * np.maximum(g, 1e-300))
    return float(np.trapezoid(w * fun(g), t))


def kernel_energy(model: str, act: str, d: float, gamma: float) -> float:
    """Infinite width, proportional regime ``n/d → γ``: energy of the min-norm kernel interpolant for
    noise-dominated labels, ``𝔖²/‖y − ȳ1‖²`` (RF) or ``𝔖²/‖y‖²`` (NTK)

        ≈ a² ∫ g/(a g + c)² dμ_γ(g) + k''(0)²/(d Δ_k²),

    with ``a = k'(0)``, ``Δ_k = k(1) − k(0)``, ``c = Δ_k − a`` and ``μ_γ`` the Marchenko–Pastur law:
    the kernel matrix linearises to ``k(0)11ᵀ + a XXᵀ + c I`` and the gradient to ``a Xᵀα``.  As
    ``γ → 0``, ``μ_γ → δ₁`` and this tends to :func:`kernel_floor`."""
    c = constants(act)
    if model == "rf":
        a, delta, k2 = c.dk0, c.delta, c.d2k0
    elif model == "ntk":
        a, delta, k2 = c.dk0, c.dsig2, 2 * c.d2k0
    else:
        raise ValueError(f"unknown model {model!r}; use 'rf' or 'ntk'")
    cc = delta - a
    linear = a * a * marchenko_pastur_mean(lambda g: g / (a * g + cc) ** 2, gamma) if a else 0.0
    return linear + k2**2 / (d * delta**2)
