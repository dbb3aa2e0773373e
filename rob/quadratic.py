"""Quadratic targets and the Gaussian closed forms of quadratic forms.

Inputs ``x ~ N(0, I_d)``.  A quadratic form ``q(x) = xᵀMx + bᵀx + c`` (``M`` symmetric) has

    E q = tr M + c,   Var q = 2‖M‖_F² + ‖b‖²,   E‖∇q‖² = 4‖M‖_F² + ‖b‖²,

so for a pure quadratic (chaos 2, ``b = 0``) the Dirichlet energy is exactly twice the variance.

The regimes chapter's target ("parent") is ``f⋆(x) = xᵀBx − tr B`` with ``B`` symmetric and
traceless, normalised so that ``‖B‖_F² = 1/2``: ``V = Var f⋆ = 1`` and ``S⋆² = E‖∇f⋆‖² = 2``.  For a
predictor ``f̂(x) = xᵀB̂x + ĉ`` with the constant fitted (``ĉ = tr B − tr B̂``) the test error is
``ε = 2‖B̂ − B‖_F²`` and the Dirichlet energy ``S² = 4‖B̂‖_F²``.
"""

from __future__ import annotations

import numpy as np


def _normalise(B1: np.ndarray) -> np.ndarray:
    B = B1 / np.sqrt(2.0 * np.sum(B1 * B1))
    assert abs(np.trace(B)) < 1e-12 and abs(2.0 * np.sum(B * B) - 1.0) < 1e-12
    return B


def goe_traceless(d: int, rng: np.random.Generator) -> np.ndarray:
    """Traceless GOE target: ``B₀ = (G + Gᵀ)/2``, ``B₁ = B₀ − (tr B₀/d) I``, ``B = B₁/√(2‖B₁‖_F²)``."""
    G = rng.standard_normal((d, d))
    B0 = (G + G.T) / 2
    return _normalise(B0 - np.trace(B0) / d * np.eye(d))


def planted(d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Planted ("parent") teacher of rank ``k``: ``B ∝ Σ_{i≤k} s_i v_i v_iᵀ`` with orthonormal ``v_i``
    (QR of a Gaussian matrix) and alternating signs ``s = (+c, −1, +c, −1, …)``, where
    ``c = #negative/#positive`` makes ``B`` exactly traceless (``c = 1`` for even ``k``)."""
    if not 2 <= k <= d:
        raise ValueError(f"need 2 <= k <= d, got k={k}, d={d}")
    V, _ = np.linalg.qr(rng.standard_normal((d, k)))
    pos = np.arange(k) % 2 == 0
    s = np.where(pos, (k - pos.sum()) / pos.sum(), -1.0)
    return _normalise((V * s) @ V.T)


def value(X: np.ndarray, M: np.ndarray, c: float = 0.0) -> np.ndarray:
    """``q(x_t) = x_tᵀ M x_t + c`` for every row of ``X``."""
    return np.einsum("ij,ij->i", X @ M, X) + c


def grad(X: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``∇q(x_t) = 2 M x_t`` (``M`` symmetric), shape (n, d)."""
    return 2.0 * X @ M


def variance(M: np.ndarray, b: np.ndarray | None = None) -> float:
    """``Var q = 2‖M‖_F² + ‖b‖²``."""
    return float(2.0 * np.sum(M * M) + (0.0 if b is None else b @ b))


def dirichlet_energy(M: np.ndarray, b: np.ndarray | None = None) -> float:
    """``E‖∇q‖² = 4‖M‖_F² + ‖b‖²``."""
    return float(4.0 * np.sum(M * M) + (0.0 if b is None else b @ b))


def normalised_measures(Bhat: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """``(ε/V, S²/S⋆²)`` of ``f̂ = xᵀB̂x + ĉ`` (constant fitted) for the target ``xᵀBx − tr B``:
    ``ε/V = ‖B̂ − B‖_F²/‖B‖_F²`` and ``S²/S⋆² = ‖B̂‖_F²/‖B‖_F²``, both computed directly."""
    nb = np.sum(B * B)
    R = Bhat - B
    return float(np.sum(R * R) / nb), float(np.sum(Bhat * Bhat) / nb)
