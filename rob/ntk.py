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


def _check(X: np.ndarray, Z: np.ndarray | None, sw2: float, sb2: float) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs of the kernels: 2-d, the same input dimension, finite, variances ≥ 0."""
    if not (np.isfinite(sw2) and np.isfinite(sb2)) or sw2 < 0 or sb2 < 0:
        raise ValueError(f"the variances must be finite and non-negative, got sw2={sw2}, sb2={sb2}")
    X = np.asarray(X)
    Z = X if Z is None else np.asarray(Z)
    for name, A in (("X", X), ("Z", Z)):
        if A.ndim != 2:
            raise ValueError(f"{name} must be a 2-d array (points × dimension), got shape {A.shape}")
        if not np.isfinite(A).all():
            raise ValueError(f"{name} has non-finite entries")
    if X.shape[1] != Z.shape[1]:
        raise ValueError(f"X and Z must have the same dimension, got {X.shape} and {Z.shape}")
    return X, Z


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


#: Target number of entries of one row block (about 1 MiB of float64: stays in the L2 cache).
BLOCK_ENTRIES = 1 << 17


def _torch_dtype(dtype):
    import torch

    dt = np.dtype(float if dtype is None else dtype)
    if dt == np.float64:
        return torch.float64, dt
    if dt == np.float32:
        return torch.float32, dt
    raise ValueError(f"dtype must be float64 or float32, got {dt}")


def _gram(kind: str, X, Z, sw2: float, sb2: float, dtype, block: int | None) -> np.ndarray:
    """Fused, row-blocked two-layer ReLU kernels (``kind`` "ntk" or "rf"): one output array, and per
    block of rows two scratch buffers of the block's size; every elementwise step is in place.

    Per block: ``k12 = σ_w² X_b Zᵀ/d + σ_b²``, ``ρ = clip(k12 /(√k11 √k22), −1, 1)`` (ρ = 0 where a
    norm vanishes, ρ = 1 on the diagonal of a Gram), ``s = √(1 − ρ²)``, ``ϑ = arccos ρ``, then
    ``Θ = σ_b² + (σ_w²/2π)[√(k11k22) s + 2(π − ϑ)k12]`` or ``Θ_RF = σ_b² + (σ_w²/2π)[√(k11k22) s + (π − ϑ)k12]``."""
    import torch

    same = Z is None
    X, Z = _check(X, Z, sw2, sb2)
    tdt, ndt = _torch_dtype(dtype)
    n, d = X.shape
    m = Z.shape[0]
    out = np.empty((n, m), dtype=ndt)
    if n == 0 or m == 0:
        return out
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=ndt))
    Zt = Xt if same else torch.from_numpy(np.ascontiguousarray(Z, dtype=ndt))
    # row norms in float64 (n + m numbers), then cast
    X64 = np.asarray(X, float)
    k11 = sw2 * np.einsum("ij,ij->i", X64, X64) / d + sb2
    Z64 = np.asarray(Z, float)
    k22 = k11 if same else sw2 * np.einsum("ij,ij->i", Z64, Z64) / d + sb2
    r1, r2 = np.sqrt(k11), np.sqrt(k22)
    i1 = torch.from_numpy(np.divide(1.0, r1, out=np.zeros_like(r1), where=r1 > 0).astype(ndt))
    i2 = torch.from_numpy(np.divide(1.0, r2, out=np.zeros_like(r2), where=r2 > 0).astype(ndt))
    r1t, r2t = torch.from_numpy(r1.astype(ndt)), torch.from_numpy(r2.astype(ndt))
    ZtT = Zt.T
    c = sw2 / (2 * np.pi)
    two = 2.0 if kind == "ntk" else 1.0
    b = block or max(8, min(n, BLOCK_ENTRIES // max(m, 1)))
    O = torch.from_numpy(out)
    buf_r = torch.empty((b, m), dtype=tdt)
    buf_s = torch.empty((b, m), dtype=tdt)
    for s0 in range(0, n, b):
        s1 = min(n, s0 + b)
        K, R, S = O[s0:s1], buf_r[:s1 - s0], buf_s[:s1 - s0]
        torch.mm(Xt[s0:s1], ZtT, out=K)
        K.mul_(sw2 / d).add_(sb2)                                   # k12
        torch.mul(K, i1[s0:s1, None], out=R).mul_(i2[None, :]).clamp_(-1.0, 1.0)   # ρ
        if same:
            R.diagonal(offset=s0).fill_(1.0)
        torch.mul(R, R, out=S).neg_().add_(1.0).clamp_(min=0.0).sqrt_()          # √(1 − ρ²)
        S.mul_(r1t[s0:s1, None]).mul_(r2t[None, :])                              # D = √(k11 k22)(1 − ρ²)^½
        R.acos_().neg_().add_(np.pi)                                             # π − ϑ
        K.mul_(R)
        if two != 1.0:
            K.mul_(two)
        K.add_(S).mul_(c).add_(sb2)
    return out


def ntk(X: np.ndarray, Z: np.ndarray | None = None, sw2: float = SW2, sb2: float = SB2, *,
        dtype=None, block: int | None = None) -> np.ndarray:
    """Infinite-width two-layer ReLU NTK ``Θ(X, Z)``, shape (len X, len Z); ``Z=None`` gives the Gram
    ``Θ(X, X)`` with ϑ = 0 on its diagonal.

    Computed fused and in row blocks (peak memory: the output plus two blocks of about 1 MiB);
    ``dtype`` float64 (default) or float32 sets the precision of the computation and of the result;
    ``block`` overrides the number of rows per block.  A zero-norm row (possible only with
    ``sb2 = 0``) gets ρ = 0, the continuous limit (Θ = σ_b²·… = 0 there)."""
    return _gram("ntk", X, Z, sw2, sb2, dtype, block)


def rf_kernel(X: np.ndarray, Z: np.ndarray | None = None, sw2: float = SW2, sb2: float = SB2, *,
              dtype=None, block: int | None = None) -> np.ndarray:
    """Infinite-width random-features kernel ``Θ_RF = σ_b² + σ_w² κ1`` (only the output layer trained);
    fused and row-blocked like :func:`ntk`."""
    return _gram("rf", X, Z, sw2, sb2, dtype, block)


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


def ntk_partials(X: np.ndarray, Z: np.ndarray, sw2: float = SW2, sb2: float = SB2, *,
                 dtype=None, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(∂₁₂Θ, ∂₁₁Θ)`` as (len X, len Z) matrices (derivatives with respect to k12 and k11):

    ``∂₁₂Θ = (σ_w²/2π)(2(π − ϑ) + k12/D)``, ``∂₁₁Θ = (σ_w²/2π)(k22/2 − k12²/k11)/D``,
    ``D = max(√(k11k22 − k12²), D_FLOOR)``; fused and row-blocked like :func:`ntk` (peak memory: the
    two outputs plus two blocks)."""
    import torch

    X, Z = _check(X, Z, sw2, sb2)
    tdt, ndt = _torch_dtype(dtype)
    n, d = X.shape
    m = Z.shape[0]
    A12, A11 = np.empty((n, m), dtype=ndt), np.empty((n, m), dtype=ndt)
    if n == 0 or m == 0:
        return A12, A11
    X64, Z64 = np.asarray(X, float), np.asarray(Z, float)
    k11 = sw2 * np.einsum("ij,ij->i", X64, X64) / d + sb2
    k22 = sw2 * np.einsum("ij,ij->i", Z64, Z64) / d + sb2
    if np.any(k11 <= 0):
        raise ValueError("∂₁₁Θ needs k11 > 0: a zero row of X with sb2 = 0")
    r1, r2 = np.sqrt(k11), np.sqrt(k22)
    as_t = lambda v: torch.from_numpy(np.asarray(v, dtype=ndt))  # noqa: E731
    i1 = as_t(1.0 / r1)
    i2 = as_t(np.divide(1.0, r2, out=np.zeros_like(r2), where=r2 > 0))
    k11t, k22t, ik11 = as_t(k11), as_t(k22), as_t(-1.0 / k11)
    half_k22 = as_t(k22 / 2)
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=ndt))
    ZtT = torch.from_numpy(np.ascontiguousarray(Z, dtype=ndt)).T
    c = sw2 / (2 * np.pi)
    b = block or max(8, min(n, BLOCK_ENTRIES // max(m, 1)))
    O12, O11 = torch.from_numpy(A12), torch.from_numpy(A11)
    buf_k = torch.empty((b, m), dtype=tdt)
    buf_d = torch.empty((b, m), dtype=tdt)
    for s0 in range(0, n, b):
        s1 = min(n, s0 + b)
        K, D, P, Q = buf_k[:s1 - s0], buf_d[:s1 - s0], O12[s0:s1], O11[s0:s1]
        torch.mm(Xt[s0:s1], ZtT, out=K)
        K.mul_(sw2 / d).add_(sb2)                                                   # k12
        torch.mul(K, i1[s0:s1, None], out=P).mul_(i2[None, :]).clamp_(-1.0, 1.0)    # ρ
        P.acos_().neg_().add_(np.pi).mul_(2.0)                                       # 2(π − ϑ)
        torch.mul(K, K, out=D).neg_().addcmul_(k11t[s0:s1, None], k22t[None, :])     # k11k22 − k12²
        D.clamp_(min=0.0).sqrt_().clamp_(min=D_FLOOR)                                # D
        P.addcdiv_(K, D).mul_(c)                                                     # ∂₁₂Θ
        K.mul_(K).mul_(ik11[s0:s1, None]).add_(half_k22[None, :])                    # k22/2 − k12²/k11
        torch.div(K, D, out=Q).mul_(c)                                               # ∂₁₁Θ
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
