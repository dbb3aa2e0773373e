"""Kernel predictors through the eigendecomposition of the training Gram matrix, and eigen-features.

``K = Θ(X, X) = Σ_i λ_i v_i v_iᵀ`` with ``λ_0 ≥ λ_1 ≥ … > 0`` (index 0 = top).  With training
labels ``Y`` and gradient descent on ``L = (1/2n)‖u − Y‖²`` in the linearised (kernel) model with step
``η`` for ``T`` steps, the predictor is ``μ_T(x) = Θ(x, X) α_T`` with

    α_T = V diag(h_T(λ)/λ) VᵀY,   h_T(λ) = 1 − (1 − ηλ/n)^T   (T = ∞: h = 1, kernel regression).

Eigen-feature ``i``: ``f^(i)(x) = (v_iᵀY/λ_i) Θ(x, X) v_i``, i.e. the column ``i`` of the coefficient
matrix ``B = V diag(VᵀY/λ)``; ``μ_T = Σ_i h_T(λ_i) f^(i)``.  Ridge ``γ``: filter ``λ/(λ + nγ)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues (descending), eigenvectors (columns) and the label projections ``VᵀY``."""

    lam: np.ndarray
    V: np.ndarray
    proj: np.ndarray

    @property
    def n(self) -> int:
        return len(self.lam)

    @property
    def feature_coefs(self) -> np.ndarray:
        """``B = V diag(VᵀY/λ)``: ``f^(i)(x) = Θ(x, X) B[:, i]``."""
        return self.V * (self.proj / self.lam)[None, :]


def eigh(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric eigendecomposition ``K = V diag(λ) Vᵀ``, ascending, in float64.

    LAPACK's divide-and-conquer ``syevd`` through scipy (``driver="evd"``, OpenBLAS).  Measured on
    the book's 2-core machines at n = 1198 (``benchmarks/run.py``, three quiet runs): on one thread
    scipy, numpy and torch (MKL) are within 10 % of each other (torch 0.93-1.07x scipy); on two
    threads the OpenBLAS ``syevd`` of scipy and numpy took 0.14-0.20 s and torch 0.18-0.21 s, with
    run-to-run spread as large as the differences."""
    from scipy.linalg import eigh as _eigh

    K = np.asarray(K, dtype=float)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be a square matrix, got shape {K.shape}")
    if not np.isfinite(K).all():
        raise ValueError("K has non-finite entries")
    return _eigh(K, driver="evd", check_finite=False)


def kernel_solve(K: np.ndarray, Y: np.ndarray, gamma: float = 0.0) -> np.ndarray:
    """``α = (K + nγ I)⁻¹ Y`` by one Cholesky factorisation (no eigenvectors): the kernel-regression
    coefficients of μ_∞ (``γ = 0``) or of ridge ``γ > 0`` — the same as :func:`coefficients` with
    the filter 1 or :func:`ridge_filter`, about 15x cheaper than :func:`spectrum` (torch
    ``cholesky`` + ``cholesky_solve``, float64).  ``Y`` may be (n,) or (n, F); raises
    ``ValueError`` if ``K + nγI`` is not positive definite."""
    import torch

    K = np.asarray(K, dtype=float)
    Y = np.asarray(Y, dtype=float)
    n = K.shape[0] if K.ndim == 2 else -1
    if K.ndim != 2 or K.shape[1] != n:
        raise ValueError(f"K must be a square matrix, got shape {K.shape}")
    if Y.shape[:1] != (n,) or Y.ndim > 2:
        raise ValueError(f"Y must have shape ({n},) or ({n}, F), got {Y.shape}")
    if not (np.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be finite and >= 0, got {gamma}")
    if not np.isfinite(Y).all():
        raise ValueError("Y has non-finite entries")
    if not np.isfinite(np.sum(K)) and not np.isfinite(K).all():   # one read pass, no n×n mask
        raise ValueError("K has non-finite entries")
    Kt = torch.from_numpy(K)
    if gamma > 0:  # one copy with the ridge on its diagonal (no n×n identity)
        Kt = Kt.clone()
        Kt.diagonal().add_(n * gamma)
    L, info = torch.linalg.cholesky_ex(Kt)
    if int(info) != 0:
        raise ValueError("the Gram matrix is not positive definite (Cholesky failed)")
    Yt = torch.from_numpy(Y.reshape(n, -1))
    return torch.cholesky_solve(Yt, L).numpy().reshape(Y.shape)


def spectrum(K: np.ndarray, Y: np.ndarray) -> Spectrum:
    """Eigendecomposition of the Gram ``K`` in descending order; raises if ``K`` is not positive definite."""
    lam, V = eigh(K)
    lam, V = lam[::-1].copy(), V[:, ::-1].copy()
    if lam[-1] <= 0:
        raise ValueError(f"the Gram matrix is not positive definite (smallest eigenvalue {lam[-1]:.3g})")
    return Spectrum(lam, V, V.T @ np.asarray(Y, float))


def gd_filter(lam: np.ndarray, n: int, eta: float, T: int | float) -> np.ndarray:
    """``h_T(λ) = 1 − (1 − ηλ/n)^T`` for integer ``T`` (``T = inf`` gives 1); the base may be negative."""
    lam = np.asarray(lam, float)
    if np.isinf(T):
        return np.ones_like(lam)
    if int(T) != T or T < 0:
        raise ValueError(f"T must be a non-negative integer or inf, got {T}")
    return 1.0 - np.power(1.0 - eta * lam / n, int(T))


def ridge_filter(lam: np.ndarray, n: int, gamma: float) -> np.ndarray:
    """``λ/(λ + nγ)``."""
    return np.asarray(lam, float) / (np.asarray(lam, float) + n * gamma)


def topk_filter(lam: np.ndarray, k: int) -> np.ndarray:
    """1 on the ``k`` largest eigenvalues, 0 elsewhere (the top-k predictor ``μ^{<k}``)."""
    h = np.zeros(len(lam))
    h[:k] = 1.0
    return h


def coefficients(spec: Spectrum, h: np.ndarray) -> np.ndarray:
    """``α = V diag(h/λ) VᵀY``, so that the filtered predictor is ``Θ(x, X) α``."""
    return spec.V @ (h * spec.proj / spec.lam)


def check_step(lam0: float, n: int, eta: float, margin: float = 1.8) -> None:
    """Refuse ``η ≥ margin·n/λ_0`` (GD on the kernel model is unstable from ``ηλ_0/n = 2``)."""
    if eta * lam0 / n >= margin:
        raise ValueError(f"step too large: eta*lambda_0/n = {eta * lam0 / n:.3f} >= {margin}; "
                         f"use eta < {margin * n / lam0:.3g}")


def half_time(lam: np.ndarray, n: int, eta: float) -> np.ndarray:
    """``T_½(i) = n ln 2/(ηλ_i)``: steps until feature ``i`` has about half its final weight."""
    return n * np.log(2) / (eta * np.asarray(lam, float))


def effective_dimension(h: np.ndarray) -> float:
    """``Σ_i h(λ_i)``: the number of features a filter lets through."""
    return float(np.sum(h))
