"""Infinite-width random-features (RF) and first-layer NTK kernels on the sphere, the min-norm kernel
interpolant, and its closed-form input gradient (claim (i) of the memorization chapter).

With ``W`` rows ``w_j ~ N(0, I_d/d)`` and the feature maps of :mod:`rob.features`, the law of large
numbers in the width ``k`` gives, for unit ``x, x'`` with ``ρ = x·x'`` and a positively 1-homogeneous σ
(relu or abs),

- RF:  ``φ(x)·φ(x') → κ_σ(ρ)/d``,            so ``k_RF(ρ) = κ_σ(ρ)``;
- NTK: ``φ(x)·φ(x') → ρ κ_{σ'}(ρ)``,          so ``k_NTK(ρ) = ρ κ_{σ'}(ρ)``,

with ``κ_σ`` the arc-cosine kernel of :func:`rob.kernels.arccos_kernel` and ``κ_{σ'} = κ'_σ``
(:func:`rob.kernels.arccos_kernel_deriv`; ``arccos(−ρ)/(2π)`` for ReLU, ``(2/π) arcsin ρ`` for abs).
Both limits are positively 1-homogeneous in each argument: ``‖x‖‖x'‖ s·k(x̂·x̂')`` with ``s = 1/d``
(RF) or ``1`` (NTK).

The min-norm interpolant of ``(X, y)`` in the RKHS of ``k`` is
``f(x) = Σ_i α_i k(x·x_i)``, ``α = k(XXᵀ)⁻¹ y`` (the scale ``s`` cancels); it is the ``k → ∞`` limit of the
min-norm finite-width interpolator ``f_ĉ``.  Like the finite-width models, it is extended to ``R^d``
1-homogeneously, ``f(x) = ‖x‖ Σ_i α_i k(x̂·x_i)``, and its ambient input gradient at a unit ``x`` is

    ∇f(x) = Σ_i α_i k'(ρ_i) (x_i − ρ_i x)  +  f(x) x,      ρ_i = x·x_i,

a tangential part plus the radial part ``f(x) x`` (Euler's identity), so that
``‖∇f‖² = ‖∇_S f‖² + f²`` on the sphere.  Here ``k'_RF = κ'_σ`` and
``k'_NTK(ρ) = κ_{σ'}(ρ) + ρ κ'_{σ'}(ρ)`` with ``κ'_{σ'}(ρ) = c_σ/√(1 − ρ²)``, ``c = 1/(2π)`` (ReLU) or
``2/π`` (abs).  ρ is clipped to ``±(1 − 1e-12)`` inside derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .kernels import arccos_kernel, arccos_kernel_deriv, constants

MODELS = ("rf", "ntk")
#: ``κ'_{σ'}(ρ)√(1 − ρ²)``: the derivative of the derivative kernel, up to the arcsine factor.
_DERIV2 = {"relu": 1 / (2 * np.pi), "abs": 2 / np.pi}
_CLIP = 1 - 1e-12


def _check(model: str, act: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use 'rf' or 'ntk'")
    constants(act)  # raises for activations without a closed-form kernel


def dot_kernel(rho: np.ndarray, model: str, act: str) -> np.ndarray:
    """``k(ρ)``: ``κ_σ(ρ)`` (RF) or ``ρ κ_{σ'}(ρ)`` (NTK) for σ ∈ {relu, abs}."""
    _check(model, act)
    if model == "rf":
        return arccos_kernel(rho, act)
    rho = np.clip(rho, -1.0, 1.0)
    return rho * arccos_kernel_deriv(rho, act)


def dot_kernel_deriv(rho: np.ndarray, model: str, act: str) -> np.ndarray:
    """``k'(ρ)``: ``κ'_σ(ρ)`` (RF) or ``κ_{σ'}(ρ) + ρ c_σ/√(1 − ρ²)`` (NTK); ρ clipped to ``±(1 − 1e-12)``."""
    _check(model, act)
    if model == "rf":
        return arccos_kernel_deriv(rho, act)
    rho = np.clip(rho, -_CLIP, _CLIP)
    return arccos_kernel_deriv(rho, act) + rho * _DERIV2[act] / np.sqrt(1.0 - rho * rho)


def limit_gram(X: np.ndarray, X2: np.ndarray, model: str, act: str) -> np.ndarray:
    """``lim_{k→∞} φ(X)φ(X2)ᵀ = ‖x‖‖x'‖ s k(x̂·x̂')`` with ``s = 1/d`` (RF) or 1 (NTK), for any nonzero rows."""
    r1, r2 = np.linalg.norm(X, axis=1), np.linalg.norm(X2, axis=1)
    K = dot_kernel((X @ X2.T) / np.outer(r1, r2), model, act) * np.outer(r1, r2)
    return K / X.shape[1] if model == "rf" else K


@dataclass(frozen=True)
class KernelInterpolant:
    """``f(x) = ‖x‖ Σ_i α_i k(x̂·x_i)`` with ``α = k(XXᵀ)⁻¹ y`` (``X`` unit rows)."""

    model: str
    act: str
    X: np.ndarray       # (n, d) unit training inputs
    alpha: np.ndarray   # (n,) coefficients

    @property
    def norm2(self) -> float:
        """Squared RKHS norm ``αᵀ k(XXᵀ) α = yᵀ k(XXᵀ)⁻¹ y`` (for the kernel ``k``, not ``s·k``)."""
        K = dot_kernel(self.X @ self.X.T, self.model, self.act)
        return float(self.alpha @ K @ self.alpha)


def fit_interpolant(X: np.ndarray, y: np.ndarray, model: str, act: str) -> KernelInterpolant:
    """Min-norm interpolant of ``(X, y)`` in the RKHS of ``k`` by a Cholesky solve of ``k(XXᵀ) α = y``.

    ``k(XXᵀ)`` is positive definite for distinct points on the sphere (both kernels have infinitely
    many positive Gegenbauer coefficients); float64 throughout (torch's MKL Cholesky)."""
    _check(model, act)
    X = np.asarray(X, float)
    K = dot_kernel(X @ X.T, model, act)
    np.fill_diagonal(K, float(dot_kernel(np.array(1.0), model, act)))
    L = torch.linalg.cholesky(torch.from_numpy(K))
    alpha = torch.cholesky_solve(torch.from_numpy(np.asarray(y, float))[:, None], L)[:, 0].numpy()
    return KernelInterpolant(model, act, X, alpha)


@dataclass(frozen=True)
class Cosines:
    """Evaluation points against training points: unit rows ``U = x/‖x‖``, norms ``r`` and the
    cosines ``P = U X_trainᵀ`` (``ρ_i = x̂·x_i``).  They depend on the points only, not on the kernel,
    so interpolants of several kernels on the same data share one :func:`cosines`."""

    U: np.ndarray   # (m, d)
    r: np.ndarray   # (m,)
    P: np.ndarray   # (m, n)


def cosines(X: np.ndarray, X_train: np.ndarray) -> Cosines:
    """:class:`Cosines` of the rows of ``X`` against the (unit) rows of ``X_train``."""
    X = np.asarray(X, float)
    r = np.linalg.norm(X, axis=1)
    U = X / r[:, None]
    return Cosines(U, r, U @ np.asarray(X_train, float).T)


def _cos(f: KernelInterpolant, X: np.ndarray, cos: Cosines | None) -> Cosines:
    return cosines(X, f.X) if cos is None else cos


def predict(f: KernelInterpolant, X: np.ndarray, cos: Cosines | None = None) -> np.ndarray:
    """``f(x) = ‖x‖ Σ_i α_i k(x̂·x_i)`` at the rows of ``X``, shape (m,) (``cos``: precomputed
    ``cosines(X, f.X)``)."""
    c = _cos(f, X, cos)
    return c.r * (dot_kernel(c.P, f.model, f.act) @ f.alpha)


def value_and_grad(f: KernelInterpolant, X: np.ndarray, cos: Cosines | None = None,
                   radial: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(f(x̂), ∇f(x))`` at the rows of ``X``: the value on the sphere, shape (m,), and the ambient
    input gradient of the 1-homogeneous interpolant, shape (m, d),

    ``∇f(x) = Σ_i α_i k'(ρ_i)(x_i − ρ_i x̂) + f(x̂) x̂`` with ``ρ_i = x̂·x_i`` (0-homogeneous in x).
    ``radial=False`` drops ``f(x̂) x̂`` and returns the tangential gradient ``∇_S f``."""
    c = _cos(f, X, cos)
    D = dot_kernel_deriv(c.P, f.model, f.act) * f.alpha        # (m, n): α_i k'(ρ_i)
    coef = -np.einsum("mn,mn->m", D, c.P)                        # −Σ_i α_i k'(ρ_i) ρ_i
    value = dot_kernel(c.P, f.model, f.act) @ f.alpha            # f(x̂)
    if radial:
        coef += value
    return value, D @ f.X + coef[:, None] * c.U


def input_grad(f: KernelInterpolant, X: np.ndarray, radial: bool = True, cos: Cosines | None = None) -> np.ndarray:
    """Ambient input gradient of the 1-homogeneous interpolant at the rows of ``X``, shape (m, d)
    (:func:`value_and_grad`)."""
    return value_and_grad(f, X, cos, radial)[1]


__all__ = ["MODELS", "dot_kernel", "dot_kernel_deriv", "limit_gram", "KernelInterpolant", "fit_interpolant",
           "Cosines", "cosines", "predict", "value_and_grad", "input_grad"]
