"""Neural tangent kernels of ReLU networks in NTK parametrisation, and their input gradients.

Two-layer network (width ``m``, ``φ = ReLU``, weight variance ``σ_w² = 2``, bias variance ``σ_b² = 0.01``)

    f(x; θ) = (σ_w/√m) Σ_j a_j φ((σ_w/√d) w_jᵀx + σ_b c_j) + σ_b c_0,   all entries of θ ~ N(0, 1).

With ``k12 = σ_w² xᵀz/d + σ_b²``, ``k11``, ``k22`` the same at ``(x, x)``, ``(z, z)``,
``ϑ = arccos(k12/√(k11 k22))`` and ``D = √(k11 k22 − k12²)``:

- ReLU moments ``κ1 = E φ(u)φ(v) = (D + (π − ϑ) k12)/2π`` (:func:`rob.kernels.arccos_kernel` times
  ``√(k11 k22)``) and ``κ0 = E φ'(u)φ'(v) = (π − ϑ)/2π``;
- random-features kernel (only ``a`` and ``c_0`` trained): ``Θ_RF = σ_b² + σ_w² κ1``;
- NTK (all parameters trained): ``Θ = σ_b² + σ_w² κ1 + σ_w² κ0 k12 = σ_b² + (σ_w²/2π)[D + 2(π − ϑ)k12]``.

Input gradient (chain rule through ``k12`` and ``k11``):
``∇_x Θ(x, z) = (σ_w²/d)[∂₁₂Θ · z + 2 ∂₁₁Θ · x]`` with ``∂₁₂Θ = (σ_w²/2π)(2(π − ϑ) + k12/D)`` and
``∂₁₁Θ = (σ_w²/2π)(k22/2 − k12²/k11)/D``.  Everything is float64; on the diagonal ϑ = 0 exactly.
"""

from __future__ import annotations

import numpy as np

from .kernels import arccos_kernel

SW2 = 2.0
SB2 = 0.01
#: Floor on ``D`` (D = 0 only at x = z, where Θ has a cusp and no gradient).
D_FLOOR = 1e-12


def _pre(X: np.ndarray, Z: np.ndarray, sw2: float, sb2: float, same: bool):
    d = X.shape[1]
    k12 = sw2 * (X @ Z.T) / d + sb2
    k11 = sw2 * np.einsum("ij,ij->i", X, X) / d + sb2
    k22 = k11 if same else sw2 * np.einsum("ij,ij->i", Z, Z) / d + sb2
    nn = np.sqrt(k11[:, None] * k22[None, :])
    rho = np.clip(k12 / nn, -1.0, 1.0)
    if same:
        np.fill_diagonal(rho, 1.0)
    return k12, k11, k22, nn, rho


def relu_moments(k12: np.ndarray, nn: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(κ1, κ0)`` from ``k12``, ``√(k11 k22)`` and the cosine ρ (already clipped)."""
    kappa1 = nn * arccos_kernel(rho, "relu")
    kappa0 = (np.pi - np.arccos(rho)) / (2 * np.pi)
    return kappa1, kappa0


def ntk(X: np.ndarray, Z: np.ndarray | None = None, sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """Infinite-width two-layer ReLU NTK ``Θ(X, Z)``, shape (len X, len Z); ``Z=None`` gives the Gram
    ``Θ(X, X)`` with ϑ = 0 on its diagonal."""
    same = Z is None
    Z = X if same else Z
    k12, _, _, nn, rho = _pre(np.asarray(X, float), np.asarray(Z, float), sw2, sb2, same)
    kappa1, kappa0 = relu_moments(k12, nn, rho)
    return sb2 + sw2 * kappa1 + sw2 * kappa0 * k12


def rf_kernel(X: np.ndarray, Z: np.ndarray | None = None, sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """Infinite-width random-features kernel ``Θ_RF = σ_b² + σ_w² κ1`` (only the output layer trained)."""
    same = Z is None
    Z = X if same else Z
    k12, _, _, nn, rho = _pre(np.asarray(X, float), np.asarray(Z, float), sw2, sb2, same)
    return sb2 + sw2 * relu_moments(k12, nn, rho)[0]


def ntk_pairs(X: np.ndarray, Z: np.ndarray, sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """``Θ(x_t, z_t)`` row by row (no full matrix), shape (len X,)."""
    d = X.shape[1]
    k12 = sw2 * np.einsum("ij,ij->i", X, Z) / d + sb2
    k11 = sw2 * np.einsum("ij,ij->i", X, X) / d + sb2
    k22 = sw2 * np.einsum("ij,ij->i", Z, Z) / d + sb2
    nn = np.sqrt(k11 * k22)
    rho = np.clip(k12 / nn, -1.0, 1.0)
    kappa1, kappa0 = relu_moments(k12, nn, rho)
    return sb2 + sw2 * kappa1 + sw2 * kappa0 * k12


def kernel_distance(X: np.ndarray, Z: np.ndarray, sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """``d_Θ(x_t, z_t) = (Θ(x,x) − 2Θ(x,z) + Θ(z,z))^{1/2}`` row by row (clipped at 0)."""
    d2 = ntk_pairs(X, X, sw2, sb2) - 2 * ntk_pairs(X, Z, sw2, sb2) + ntk_pairs(Z, Z, sw2, sb2)
    return np.sqrt(np.maximum(d2, 0.0))


def ntk_partials(X: np.ndarray, Z: np.ndarray, sw2: float = SW2, sb2: float = SB2) -> tuple[np.ndarray, np.ndarray]:
    """``(∂₁₂Θ, ∂₁₁Θ)`` as (len X, len Z) matrices (derivatives with respect to k12 and k11)."""
    k12, k11, k22, nn, rho = _pre(np.asarray(X, float), np.asarray(Z, float), sw2, sb2, False)
    D = np.maximum(np.sqrt(np.maximum(k11[:, None] * k22[None, :] - k12 * k12, 0.0)), D_FLOOR)
    theta = np.arccos(rho)
    c = sw2 / (2 * np.pi)
    A12 = c * (2 * (np.pi - theta) + k12 / D)
    A11 = c * (k22[None, :] / 2 - k12 * k12 / k11[:, None]) / D
    return A12, A11


def ntk_predictor_grad(X_eval: np.ndarray, X: np.ndarray, B: np.ndarray, sw2: float = SW2, sb2: float = SB2,
                       chunk: int = 50) -> np.ndarray:
    """Input gradient of ``g(x) = Σ_j β_j Θ(x, x_j)`` at the rows of ``X_eval``:

    ``∇g = (σ_w²/d)[(A12 ⊙ βᵀ) X + 2 x ⊙ (A11 β)]``.

    ``B`` of shape (n,) gives (len X_eval, d); ``B`` of shape (n, F) gives (len X_eval, F, d), computed
    in chunks of ``chunk`` columns."""
    d = X.shape[1]
    A12, A11 = ntk_partials(X_eval, X, sw2, sb2)
    if B.ndim == 1:
        return (sw2 / d) * ((A12 * B[None, :]) @ X + 2 * X_eval * (A11 @ B)[:, None])
    out = np.empty((len(X_eval), B.shape[1], d))
    for s in range(0, B.shape[1], chunk):
        Bc = B[:, s:s + chunk]
        out[:, s:s + chunk] = np.einsum("tj,jf,jd->tfd", A12, Bc, X, optimize=True)
        out[:, s:s + chunk] += 2 * X_eval[:, None, :] * (A11 @ Bc)[:, :, None]
    out *= sw2 / d
    return out


def deep_ntk(X: np.ndarray, depth: int, sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """Gram NTK of a ReLU network with ``depth`` hidden layers (NTK parametrisation, trained biases):
    ``Σ ← σ_w² XXᵀ/d + σ_b²``, ``Θ ← Σ``; per hidden layer ``Σ' = σ_w² κ1(Σ) + σ_b²`` and
    ``Θ' = Σ' + σ_w² κ0(Σ) ⊙ Θ``.  ``depth = 1`` equals :func:`ntk`."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    X = np.asarray(X, float)
    S = sw2 * (X @ X.T) / X.shape[1] + sb2
    T = S.copy()
    for _ in range(depth):
        diag = np.diag(S).copy()
        nn = np.sqrt(diag[:, None] * diag[None, :])
        rho = np.clip(S / nn, -1.0, 1.0)
        np.fill_diagonal(rho, 1.0)
        kappa1, kappa0 = relu_moments(S, nn, rho)
        S_new = sw2 * kappa1 + sb2
        T = S_new + sw2 * kappa0 * T
        S = S_new
    return T


def empirical_ntk(X: np.ndarray, Z: np.ndarray, W: np.ndarray, c: np.ndarray, a: np.ndarray,
                  sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """Finite-width NTK at the parameters ``(W, c, a)`` in closed form:
    ``Θ_m(x,z) = σ_b² + (σ_w²/m) Σ_j φ(h_j(x))φ(h_j(z)) + (σ_w²/m) Σ_j a_j² 1{h_j(x)>0}1{h_j(z)>0} k12``,
    ``h_j(x) = (σ_w/√d) w_jᵀx + σ_b c_j``."""
    m, d = W.shape
    sw, sb = np.sqrt(sw2), np.sqrt(sb2)
    HX = sw / np.sqrt(d) * X @ W.T + sb * c
    HZ = sw / np.sqrt(d) * Z @ W.T + sb * c
    k12 = sw2 * (X @ Z.T) / d + sb2
    feat = np.maximum(HX, 0) @ np.maximum(HZ, 0).T
    grad = ((HX > 0) * a * a) @ (HZ > 0).T.astype(float)
    return sb2 + (sw2 / m) * (feat + grad * k12)


def empirical_rf_kernel(X: np.ndarray, Z: np.ndarray, W: np.ndarray, c: np.ndarray,
                        sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """Finite-width random-features kernel ``σ_b² + (σ_w²/m) Σ_j φ(h_j(x))φ(h_j(z))``."""
    m, d = W.shape
    sw, sb = np.sqrt(sw2), np.sqrt(sb2)
    HX = sw / np.sqrt(d) * X @ W.T + sb * c
    HZ = sw / np.sqrt(d) * Z @ W.T + sb * c
    return sb2 + (sw2 / m) * (np.maximum(HX, 0) @ np.maximum(HZ, 0).T)
