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


def _np_dtype(dtype) -> np.dtype:
    dt = np.dtype(float if dtype is None else dtype)
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def _row_norms(A: np.ndarray, sw2: float, sb2: float) -> np.ndarray:
    A = np.asarray(A, float)
    return sw2 * np.einsum("ij,ij->i", A, A) / A.shape[1] + sb2


def _blocks(n: int, m: int, block: int | None) -> list[tuple[int, int]]:
    b = block or max(8, min(n, BLOCK_ENTRIES // max(m, 1)))
    return [(s, min(n, s + b)) for s in range(0, n, b)]


def _run_blocks(fn, spans, workers: int) -> None:
    """Apply ``fn(s0, s1, scratch)`` to every row block; ``workers`` > 1 spreads the blocks over threads
    (numpy releases the GIL), each with its own scratch buffers."""
    if workers <= 1 or len(spans) < 2:
        for s0, s1 in spans:
            fn(s0, s1, {})
        return
    from concurrent.futures import ThreadPoolExecutor

    chunks = [spans[i::workers] for i in range(workers)]

    def work(part):
        scratch: dict = {}
        for s0, s1 in part:
            fn(s0, s1, scratch)

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as ex:  # no nested BLAS threads
        list(ex.map(work, chunks))


def _buf(scratch: dict, key: str, shape, dt) -> np.ndarray:
    a = scratch.get(key)
    if a is None or a.shape[0] < shape[0]:
        a = scratch[key] = np.empty(shape, dtype=dt)
    return a[:shape[0]]


def _gram(kind: str, X, Z, sw2: float, sb2: float, dtype, block: int | None, workers: int = 1) -> np.ndarray:
    """Fused, row-blocked two-layer ReLU kernels (``kind`` "ntk" or "rf"): one output array, and per
    block of rows (about 1 MiB, so that it stays in cache) two scratch buffers; every elementwise step
    is an in-place numpy ufunc, arccos evaluated once per entry.

    Per block: ``k12 = σ_w² X_b Zᵀ/d + σ_b²``, ``ρ = clip(k12 /(√k11 √k22), −1, 1)`` (ρ = 0 where a
    norm vanishes, ρ = 1 on the diagonal of a Gram), ``s = √(1 − ρ²)``, ``ϑ = arccos ρ``, then
    ``Θ = σ_b² + (σ_w²/2π)[√(k11k22) s + 2(π − ϑ)k12]`` or ``Θ_RF = σ_b² + (σ_w²/2π)[√(k11k22) s + (π − ϑ)k12]``."""
    same = Z is None
    X, Z = _check(X, Z, sw2, sb2)
    dt = _np_dtype(dtype)
    n, d = X.shape
    m = Z.shape[0]
    out = np.empty((n, m), dtype=dt)
    if n == 0 or m == 0:
        return out
    Xc = np.ascontiguousarray(X, dtype=dt)
    ZT = (Xc if same else np.ascontiguousarray(Z, dtype=dt)).T
    k11 = _row_norms(X, sw2, sb2)
    k22 = k11 if same else _row_norms(Z, sw2, sb2)
    k11c, k22c = k11.astype(dt)[:, None], k22.astype(dt)
    tiny = dt.type(np.finfo(dt).tiny)
    c = dt.type(sw2 / (2 * np.pi))
    two = dt.type(2.0 if kind == "ntk" else 1.0)
    a, b, pi = dt.type(sw2 / d), dt.type(sb2), dt.type(np.pi)

    def block_fn(s0, s1, scratch):
        K = out[s0:s1]
        R = _buf(scratch, "r", (s1 - s0, m), dt)
        S = _buf(scratch, "s", (s1 - s0, m), dt)
        N = _buf(scratch, "n", (s1 - s0, m), dt)
        np.matmul(Xc[s0:s1], ZT, out=K)
        K *= a
        K += b                                                     # k12
        # √(k11 k22) as the root of the product (not a product of roots): for a repeated point it is
        # exactly k11, so ρ is exactly 1 there (arccos has an infinite slope at 1: a last-bit error
        # in ρ would move Θ by ~1e-8).  A zero norm (σ_b² = 0, x = 0) has k12 = 0, hence ρ = 0.
        np.multiply(k11c[s0:s1], k22c, out=N)
        np.sqrt(N, out=N)
        np.maximum(N, tiny, out=S)
        np.divide(K, S, out=R)
        np.clip(R, -1.0, 1.0, out=R)                               # ρ
        if same:
            np.fill_diagonal(R[:, s0:s1], 1.0)
        np.multiply(R, R, out=S)
        np.subtract(1.0, S, out=S)
        np.maximum(S, 0.0, out=S)
        np.sqrt(S, out=S)
        S *= N                                                     # √(k11k22)·√(1 − ρ²)
        np.arccos(R, out=R)
        np.subtract(pi, R, out=R)                                  # π − ϑ
        K *= R
        if two != 1:
            K *= two
        K += S
        K *= c
        K += b

    _run_blocks(block_fn, _blocks(n, m, block), workers)
    return out


def ntk(X: np.ndarray, Z: np.ndarray | None = None, sw2: float = SW2, sb2: float = SB2, *,
        dtype=None, block: int | None = None, workers: int = 1) -> np.ndarray:
    """Infinite-width two-layer ReLU NTK ``Θ(X, Z)``, shape (len X, len Z); ``Z=None`` gives the Gram
    ``Θ(X, X)`` with ϑ = 0 on its diagonal.

    Computed fused and in row blocks (peak memory: the output plus two blocks of about 1 MiB per
    worker); ``dtype`` float64 (default) or float32 sets the precision of the computation and of the
    result; ``block`` overrides the number of rows per block; ``workers`` > 1 computes blocks in that
    many threads (the elementwise work is single-threaded numpy otherwise).  A zero-norm row (possible only with
    ``sb2 = 0``) gets ρ = 0, the continuous limit (Θ = σ_b²·… = 0 there)."""
    return _gram("ntk", X, Z, sw2, sb2, dtype, block, workers)


def rf_kernel(X: np.ndarray, Z: np.ndarray | None = None, sw2: float = SW2, sb2: float = SB2, *,
              dtype=None, block: int | None = None, workers: int = 1) -> np.ndarray:
    """Infinite-width random-features kernel ``Θ_RF = σ_b² + σ_w² κ1`` (only the output layer trained);
    fused and row-blocked like :func:`ntk`."""
    return _gram("rf", X, Z, sw2, sb2, dtype, block, workers)


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
                 dtype=None, block: int | None = None, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(∂₁₂Θ, ∂₁₁Θ)`` as (len X, len Z) matrices (derivatives with respect to k12 and k11):

    ``∂₁₂Θ = (σ_w²/2π)(2(π − ϑ) + k12/D)``, ``∂₁₁Θ = (σ_w²/2π)(k22/2 − k12²/k11)/D``,
    ``D = max(√(k11k22 − k12²), D_FLOOR)``; fused and row-blocked like :func:`ntk` (peak memory: the
    two outputs plus two blocks)."""
    X, Z = _check(X, Z, sw2, sb2)
    dt = _np_dtype(dtype)
    n, d = X.shape
    m = Z.shape[0]
    A12, A11 = np.empty((n, m), dtype=dt), np.empty((n, m), dtype=dt)
    if n == 0 or m == 0:
        return A12, A11
    k11, k22 = _row_norms(X, sw2, sb2), _row_norms(Z, sw2, sb2)
    if np.any(k11 <= 0):
        raise ValueError("∂₁₁Θ needs k11 > 0: a zero row of X with sb2 = 0")
    r2 = np.sqrt(k22)
    i1 = (1.0 / np.sqrt(k11)).astype(dt)[:, None]
    i2 = np.divide(1.0, r2, out=np.zeros_like(r2), where=r2 > 0).astype(dt)
    k11c, k22r = k11.astype(dt)[:, None], k22.astype(dt)
    ik11, half_k22 = (-1.0 / k11).astype(dt)[:, None], (k22 / 2).astype(dt)
    Xc = np.ascontiguousarray(X, dtype=dt)
    ZT = np.ascontiguousarray(Z, dtype=dt).T
    c, a, b, pi = (dt.type(v) for v in (sw2 / (2 * np.pi), sw2 / d, sb2, np.pi))

    def block_fn(s0, s1, scratch):
        K = _buf(scratch, "k", (s1 - s0, m), dt)
        D = _buf(scratch, "d", (s1 - s0, m), dt)
        P, Q = A12[s0:s1], A11[s0:s1]
        np.matmul(Xc[s0:s1], ZT, out=K)
        K *= a
        K += b                                                     # k12
        np.multiply(K, i1[s0:s1], out=P)
        P *= i2
        np.clip(P, -1.0, 1.0, out=P)                               # ρ
        np.arccos(P, out=P)
        np.subtract(pi, P, out=P)
        P *= 2.0                                                   # 2(π − ϑ)
        np.multiply(k11c[s0:s1], k22r, out=D)
        np.multiply(K, K, out=Q)
        D -= Q                                                     # k11k22 − k12²
        np.maximum(D, 0.0, out=D)
        np.sqrt(D, out=D)
        np.maximum(D, D_FLOOR, out=D)                              # D
        np.divide(K, D, out=Q)
        P += Q
        P *= c                                                     # ∂₁₂Θ
        K *= K
        K *= ik11[s0:s1]
        K += half_k22                                              # k22/2 − k12²/k11
        np.divide(K, D, out=Q)
        Q *= c                                                     # ∂₁₁Θ

    _run_blocks(block_fn, _blocks(n, m, block), workers)
    return A12, A11


def ntk_predictor_grad(X_eval: np.ndarray, X: np.ndarray, B: np.ndarray, sw2: float = SW2, sb2: float = SB2,
                       chunk: int = 50) -> np.ndarray:
    """Input gradient of ``g(x) = Σ_j β_j Θ(x, x_j)`` at the rows of ``X_eval``:

    ``∇g = (σ_w²/d)[(A12 ⊙ βᵀ) X + 2 x ⊙ (A11 β)]``.

    ``B`` of shape (n,) gives (len X_eval, d); ``B`` of shape (n, F) gives (len X_eval, F, d), computed
    in chunks of ``chunk`` columns, each chunk as ONE matrix product ``A12 · [β_f ⊙ X]_f`` with the
    (n, chunk·d) right factor ``W[j, (f, k)] = β_jf X_jk`` (numpy's einsum of the same contraction is
    about 10x slower: it loops over a 4-index product without a GEMM)."""
    d = X.shape[1]
    A12, A11 = ntk_partials(X_eval, X, sw2, sb2)
    if B.ndim == 1:
        return (sw2 / d) * ((A12 * B[None, :]) @ X + 2 * X_eval * (A11 @ B)[:, None])
    out = np.empty((len(X_eval), B.shape[1], d))
    for s in range(0, B.shape[1], chunk):
        Bc = B[:, s:s + chunk]
        f = Bc.shape[1]
        W = (Bc[:, :, None] * X[:, None, :]).reshape(len(X), f * d)
        out[:, s:s + f] = (A12 @ W).reshape(len(X_eval), f, d)
        out[:, s:s + f] += 2 * X_eval[:, None, :] * (A11 @ Bc)[:, :, None]
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
    ``h_j(x) = (σ_w/√d) w_jᵀx + σ_b c_j``: four matrix products (torch, float64), the pre-activations
    computed once when ``Z is X``, the elementwise steps in place."""
    import torch

    X, Z = _check(X, Z, sw2, sb2)
    m, d = W.shape
    if X.shape[1] != d or np.shape(c) != (m,) or np.shape(a) != (m,):
        raise ValueError(f"need X, Z of dimension {d} and c, a of length {m}; got {X.shape}, {Z.shape}, "
                         f"{np.shape(c)}, {np.shape(a)}")
    t = lambda v: torch.from_numpy(np.ascontiguousarray(v, dtype=float))  # noqa: E731
    Wt, ct, a2 = t(W), t(c), t(a) ** 2
    sw, sb = np.sqrt(sw2), np.sqrt(sb2)

    def pre(A):
        H = torch.addmm(ct[None, :], A, Wt.T, beta=sb, alpha=sw / np.sqrt(d))
        return torch.relu(H), (H > 0).to(torch.float64)

    Xt = t(X)
    PX, MX = pre(Xt)
    if Z is X:
        Zt, PZ, MZ = Xt, PX, MX
    else:
        Zt = t(Z)
        PZ, MZ = pre(Zt)
    k12 = torch.mm(Xt, Zt.T).mul_(sw2 / d).add_(sb2)
    out = torch.mm(MX.mul_(a2), MZ.T) if Z is not X else torch.mm(MX * a2, MZ.T)
    out.mul_(k12).addmm_(PX, PZ.T).mul_(sw2 / m).add_(sb2)
    return out.numpy()


def empirical_rf_kernel(X: np.ndarray, Z: np.ndarray, W: np.ndarray, c: np.ndarray,
                        sw2: float = SW2, sb2: float = SB2) -> np.ndarray:
    """Finite-width random-features kernel ``σ_b² + (σ_w²/m) Σ_j φ(h_j(x))φ(h_j(z))``."""
    m, d = W.shape
    sw, sb = np.sqrt(sw2), np.sqrt(sb2)
    HX = sw / np.sqrt(d) * X @ W.T + sb * c
    HZ = sw / np.sqrt(d) * Z @ W.T + sb * c
    return sb2 + (sw2 / m) * (np.maximum(HX, 0) @ np.maximum(HZ, 0).T)
