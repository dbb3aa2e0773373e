"""Two-layer networks in the RF, lazy (NT) and fully trained (NN) regimes at infinite sample size.

Network ``f(x) = Σ_j z_j σ(w_j·x) + c`` with unit rows ``w_j`` of ``W ∈ R^{m×d}``; inputs
``x ~ N(0, I_d)``; quadratic target ``f⋆(x) = xᵀBx − tr B`` (``tr B = 0``, see :mod:`rob.quadratic`).
With infinite data, training is least squares in ``L²(γ_d)``:

- RF: projection onto ``span{1, σ(w_j·x)}``; for ``σ = t²`` this is the Frobenius projection of
  ``B`` onto ``S = span{w_j w_jᵀ}`` (:func:`rf_projection`, :func:`rf_projection_qr`).
- NT: projection onto the tangent space ``T = span{1, x_k σ'(w_j·x)}`` of the first layer; for
  ``σ = t²``, ``T`` holds exactly the quadratic forms with ``QMQ = 0`` (``Q = I − P``, ``P`` the
  projector on the row space of ``W``), so ``B̂ = B − QBQ`` (:func:`nt_projection`).  For a general
  ``σ`` the projection is approximated by least squares on ``N ≫ p`` Gaussian samples
  (:func:`lazy_projection`).
- NN: ``f = xᵀWᵀdiag(a)Wx + c``; the optimum over rank-``m`` matrices is Eckart–Young
  (:func:`nn_truncation`); :func:`nn_gradient_descent` trains ``W`` with fixed signs ``a``.

All normalised measures are ``(ε/V, S²/S⋆²)`` computed from the matrices
(:func:`rob.quadratic.normalised_measures`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial, sqrt

import numpy as np
import scipy.linalg as sla
from scipy import special

from . import features, hermite
from .activations import Activation
from .quadratic import normalised_measures
from .solvers import min_norm_lstsq

# ----------------------------------------------------------------------------------------------
# NT (first-layer linearisation), quadratic activation: exact projection
# ----------------------------------------------------------------------------------------------


def row_space_basis(W: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis ``V_r`` (d × r) of the row space of ``W`` from the thin SVD, keeping the
    singular vectors with ``s > rtol·s_max``."""
    _, s, Vt = np.linalg.svd(W, full_matrices=False)
    return Vt[s > rtol * s[0]].T


def remove_block(B: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``QBQ`` with ``Q = I − UUᵀ`` (``U`` orthonormal columns), without forming ``Q``:
    ``QBQ = B − U Yᵀ − Y Uᵀ + U C Uᵀ``, ``Y = BU``, ``C = UᵀBU``."""
    Y = B @ U
    C = U.T @ Y
    UYt = U @ Y.T
    return B - UYt - UYt.T + (U @ C) @ U.T


def nt_projection(W: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``B̂_NT = B − QBQ``: the NT (lazy, zero-output init) predictor ``xᵀB̂x + tr(QBQ)``."""
    return B - remove_block(B, row_space_basis(W))


def nt_projection_nested(W: np.ndarray, B: np.ndarray, ms) -> list[tuple[float, float]]:
    """``(ε/V, S²/S⋆²)`` of the NT predictor built on the first ``m`` rows of ``W``, for each ``m``
    in ``ms``.  One QR of ``Wᵀ`` serves all widths: its first ``k`` columns ``U_k`` span the first
    ``k`` rows (rows in general position); for ``m ≥ d`` all ``d`` columns are used and ``QBQ = 0``.
    Since ``B = PBP + PBQ + QBP + QBQ`` is a Frobenius-orthogonal sum (``P = U_kU_kᵀ``),

        ‖QBQ‖² = ‖B‖² − 2‖BU_k‖² + ‖U_kᵀBU_k‖²,    ‖B − QBQ‖² = ‖B‖² − ‖QBQ‖²,

    and both norms on the right are prefix sums over the columns of ``Y = BU`` and the leading
    blocks of ``UᵀY``: two products for the whole sweep instead of :func:`remove_block` per width."""
    d = W.shape[1]
    U, _ = np.linalg.qr(W[: min(max(ms), d)].T)
    Y = B @ U
    C = U.T @ Y
    BU2 = np.cumsum(np.sum(Y * Y, axis=0))                       # ‖BU_k‖², k = 1..r
    UBU2 = np.diagonal(np.cumsum(np.cumsum(C * C, axis=0), axis=1))  # ‖U_kᵀBU_k‖²
    nb = float(np.sum(B * B))
    out = []
    for m in ms:
        k = min(m, d)
        qq = 0.0 if k == d else max(nb - 2 * BU2[k - 1] + UBU2[k - 1], 0.0)
        out.append((qq / nb, (nb - qq) / nb))
    return out


def realise_nt_network(W: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, float]:
    """Second-layer-free NT network ``f(x) = Σ_j 2(a_j·x)(w_j·x) + c`` equal to the NT projection
    (``m ≤ d``, ``W`` of full row rank): with ``B̂ = B − QBQ`` and ``N = ½PB̂P + QB̂P``,
    ``A = (WWᵀ)⁻¹WNᵀ`` (rows ``a_j``) and ``c = tr(QBQ)``.  Returns ``(A, c)``."""
    U = row_space_basis(W)
    if U.shape[1] < W.shape[0]:
        raise ValueError("realise_nt_network needs W of full row rank (m <= d)")
    QBQ = remove_block(B, U)
    Bh = B - QBQ
    P = U @ U.T
    N = 0.5 * P @ Bh @ P + (Bh - P @ Bh) @ P
    A = np.linalg.solve(W @ W.T, W @ N.T)
    return A, float(np.trace(QBQ))


def nt_network_output(X: np.ndarray, W: np.ndarray, A: np.ndarray, c: float, act: Activation) -> np.ndarray:
    """``f(x) = Σ_j σ'(w_j·x)(a_j·x) + c`` at the rows of ``X`` (the linearised network; its input
    gradient is :func:`rob.features.ntk_input_grad` with coefficients ``√m·vec(A)``)."""
    return np.einsum("ij,ij->i", act.df(X @ W.T), X @ A.T) + c


# ----------------------------------------------------------------------------------------------
# RF, quadratic activation
# ----------------------------------------------------------------------------------------------


def rf_projection(W: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kernel route (``m`` small against ``D``): solve ``Kc = v`` with ``K = (WWᵀ)^∘2`` and
    ``v_j = w_jᵀBw_j`` by least squares; ``B̂_RF = Wᵀ diag(c) W``.  Returns ``(B̂, c)``."""
    K = (W @ W.T) ** 2
    v = np.sum((W @ B) * W, axis=1)                  # v_j = w_jᵀBw_j
    c = min_norm_lstsq(K, v)
    return (W.T * c) @ W, c


def _psd_solve(K: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``K⁻¹v`` by Cholesky for a well-conditioned Gram matrix (``m ≪ D``), else least squares."""
    try:
        c = sla.cho_solve(sla.cho_factor(K, check_finite=False), v, check_finite=False)
        if np.isfinite(c).all() and np.linalg.norm(K @ c - v) <= 1e-10 * max(np.linalg.norm(v), 1e-300):
            return c
    except np.linalg.LinAlgError:
        pass
    return min_norm_lstsq(K, v)


def rf_projection_nested(W: np.ndarray, B: np.ndarray, ms) -> list[tuple[float, float]]:
    """``(ε/V, S²/S⋆²)`` of the RF projection on the first ``m`` rows, for each ``m`` in ``ms``,
    from the Gram form: ``‖B̂‖² = cᵀK_m c``, ``‖B − B̂‖² = ‖B‖² − 2cᵀv + cᵀK_m c`` (the identity of
    Theorem 1 holds only when ``c`` solves the normal equations).  ``K_m`` is solved by Cholesky
    (positive definite for ``m ≪ D``), falling back to least squares."""
    K = (W @ W.T) ** 2
    v = np.sum((W @ B) * W, axis=1)                  # v_j = w_jᵀBw_j
    nb = float(np.sum(B * B))
    try:  # K_m's Cholesky factor is the leading m×m block of K's: one factorisation for all m
        L = sla.cholesky(K[:max(ms), :max(ms)], lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        L = None
    out = []
    for m in ms:
        c = (_psd_solve(K[:m, :m], v[:m]) if L is None
             else sla.cho_solve((L[:m, :m], True), v[:m], check_finite=False))
        q = float(c @ K[:m, :m] @ c)
        out.append(((nb - 2 * c @ v[:m] + q) / nb, q / nb))
    return out


def sym_coordinates(M: np.ndarray) -> np.ndarray:
    """Orthonormal coordinates of symmetric matrices (``⟨M, N⟩_F`` becomes the dot product): the
    diagonal, then ``√2`` times the upper off-diagonal entries.  ``M`` may be (d, d) or (..., d, d)."""
    d = M.shape[-1]
    iu = np.triu_indices(d, 1)
    diag = np.diagonal(M, axis1=-2, axis2=-1)
    return np.concatenate([diag, np.sqrt(2.0) * M[..., iu[0], iu[1]]], axis=-1)


def rank_one_coordinates(W: np.ndarray) -> np.ndarray:
    """The ``D × m`` design whose column ``j`` is ``sym_coordinates(w_j w_jᵀ)``, ``D = d(d+1)/2``."""
    d = W.shape[1]
    iu = np.triu_indices(d, 1)
    return np.concatenate([W**2, np.sqrt(2.0) * W[:, iu[0]] * W[:, iu[1]]], axis=1).T


@dataclass(frozen=True)
class RFSubspace:
    """RF projection onto ``S = span{w_j w_jᵀ}`` by pivoted QR: normalised error and energy,
    ``dim S``, ``‖P_S e‖²`` for ``e = I/√d``, and the exact conditional mean
    ``(dim S − ‖P_S e‖²)/(D − 1)`` of ``S²_RF/S⋆²`` over traceless GOE targets."""

    eps: float
    S2: float
    dim: int
    pe2: float
    cond_mean: float


def rf_projection_qr(W: np.ndarray, B: np.ndarray, rtol: float = 1e-10) -> RFSubspace:
    """QR route for ``m`` comparable to ``D``: economic pivoted QR of the design, columns with
    ``|R_ii| > rtol·|R_11|`` kept, then project ``B`` and ``e`` (see :class:`RFSubspace`)."""
    d = W.shape[1]
    D = d * (d + 1) // 2
    Qf, R, _ = sla.qr(rank_one_coordinates(W), mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    r = int(np.sum(diag > rtol * diag[0]))
    Qr = Qf[:, :r]
    b = sym_coordinates(B)
    pb = Qr @ (Qr.T @ b)
    e = sym_coordinates(np.eye(d) / np.sqrt(d))
    nb = float(b @ b)
    pe2 = float(np.sum((Qr.T @ e) ** 2))
    return RFSubspace(float(np.sum((b - pb) ** 2) / nb), float(pb @ pb / nb), r, pe2, (r - pe2) / (D - 1))


# ----------------------------------------------------------------------------------------------
# NN (fully trained), quadratic activation
# ----------------------------------------------------------------------------------------------


def _truncation_keep(lam: np.ndarray, m: int, balanced: bool) -> np.ndarray:
    """Indices of the eigenvalues kept by :func:`nn_truncation`."""
    if balanced:
        pos = [i for i in np.argsort(-lam) if lam[i] > 0][: (m + 1) // 2]
        neg = [i for i in np.argsort(lam) if lam[i] < 0][: m // 2]
        return np.array(pos + neg, dtype=int)
    return np.argsort(-np.abs(lam))[:m]


def nn_truncation(B: np.ndarray, m: int, balanced: bool = False,
                  eig: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Best ``B̂`` of rank ≤ ``m`` (Eckart–Young: the ``m`` eigenvalues largest in ``|λ|``); with
    ``balanced``, the sign-constrained optimum for ``⌈m/2⌉`` positive and ``⌊m/2⌋`` negative output
    weights: the ``⌈m/2⌉`` largest positive and the ``⌊m/2⌋`` most negative eigenvalues.
    ``eig = numpy.linalg.eigh(B)`` may be passed to reuse one decomposition across widths."""
    lam, V = np.linalg.eigh(B) if eig is None else eig
    keep = _truncation_keep(lam, m, balanced)
    Vk = V[:, keep]
    return (Vk * lam[keep]) @ Vk.T


def nn_truncation_measures(lam: np.ndarray, m: int, balanced: bool = False) -> tuple[float, float]:
    """``(ε/V, S²/S⋆²)`` of :func:`nn_truncation` from the eigenvalues ``λ`` of ``B`` alone:
    ``B̂ = Σ_{i kept} λ_i v_i v_iᵀ``, so ``‖B̂‖² = Σ_kept λ_i²`` and ``‖B − B̂‖² = Σ_dropped λ_i²``
    (same values as ``quadratic.normalised_measures(nn_truncation(B, m), B)`` up to rounding)."""
    lam = np.asarray(lam, float)
    kept = np.zeros(len(lam), dtype=bool)
    kept[_truncation_keep(lam, m, balanced)] = True
    l2 = lam * lam
    nb = float(l2.sum())
    return float(l2[~kept].sum() / nb), float(l2[kept].sum() / nb)


def alternating_signs(m: int) -> np.ndarray:
    """Output weights ``a = (+1, −1, +1, …)`` of length ``m``."""
    return np.where(np.arange(m) % 2 == 0, 1.0, -1.0)


def nn_gradient_descent(B: np.ndarray, m: int, steps: int, lr: float, init_scale: float,
                        rng: np.random.Generator, device: str = "cpu") -> np.ndarray:
    """Gradient descent on the population loss ``L(W) = 2‖Wᵀdiag(a)W − B‖_F²`` (bias fitted, so the
    trace mismatch costs nothing) with fixed alternating signs ``a``, gradient
    ``8 diag(a) W (M − B)``, ``M = Wᵀdiag(a)W``, from ``W₀ = init_scale·N(0, 1)``.  float64 torch on
    ``device``; returns the final ``M`` as a numpy array."""
    import torch

    d = B.shape[0]
    W0 = init_scale * rng.standard_normal((m, d))
    dev = torch.device(device)
    W = torch.tensor(W0, dtype=torch.float64, device=dev)
    Bt = torch.tensor(B, dtype=torch.float64, device=dev)
    a = torch.tensor(alternating_signs(m), dtype=torch.float64, device=dev)[:, None]
    for _ in range(steps):
        aW = a * W
        M = W.T @ aW
        W = W - (8.0 * lr) * (aW @ (M - Bt))
    return (W.T @ (a * W)).cpu().numpy()


# ----------------------------------------------------------------------------------------------
# lazy regime with a general activation: population least squares by Monte Carlo
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LazyFit:
    """The NT projection ``Π_T`` for activation σ, estimated by least squares on ``n_train``
    Gaussian points and evaluated on ``n_test`` fresh ones.

    ``eps_nt = E(Π_T f⋆ − f⋆)²``, ``S2_nt = E‖∇Π_T f⋆‖²``; Proposition 3's slopes
    ``e1 = (1/m)Σ_j ‖(I − Π_T)σ_j‖²`` and ``s1 = (1/m)Σ_j ‖∇(I − Π_T)σ_j‖²`` (``σ_j = σ(w_j·x)``).
    Test-set Gram matrices (index 0, then neurons 1..m):

    - ``err_gram`` of ``[−(I − Π_T)f⋆, (I − Π_T)σ_1, …]``: ``ε(f_α) = z̃ᵀ err_gram z̃`` with
      ``z̃ = (1, z)``, since ``f_α − f⋆ = −(I − Π_T)f⋆ + Σ_j z_j (I − Π_T)σ_j``;
    - ``grad_gram`` of ``[∇Π_T f⋆, ∇(I − Π_T)σ_1, …]``: ``S(f_α)² = z̃ᵀ grad_gram z̃``;
    - ``init_err_gram`` of ``[−f⋆, σ_1, …]`` and ``init_grad_gram`` of ``[σ'(w_j·x) w_j]`` (m × m):
      the untrained network ``f₀ = Σ_j z_j σ_j`` (Proposition 4).
    """

    eps_nt: float
    S2_nt: float
    e1: float
    s1: float
    V: float
    S2_star: float
    err_gram: np.ndarray
    grad_gram: np.ndarray
    init_err_gram: np.ndarray
    init_grad_gram: np.ndarray


def _design(X: np.ndarray, W: np.ndarray, act: Activation, block: int = 4096) -> np.ndarray:
    """``[1, vec(σ'(XWᵀ) ⊗ X)]`` (columns of :func:`rob.features.ntk_features`), filled in blocks."""
    n, d = X.shape
    Phi = np.empty((n, 1 + W.shape[0] * d))
    Phi[:, 0] = 1.0
    for s in range(0, n, block):
        Phi[s:s + block, 1:] = features.ntk_features(X[s:s + block], W, act)
    return Phi


def lazy_projection(act: Activation, W: np.ndarray, B: np.ndarray, n_train: int, n_test: int,
                    rng: np.random.Generator) -> LazyFit:
    """Least-squares estimate of ``Π_T`` (one multi-right-hand-side solve by
    :func:`rob.solvers.min_norm_lstsq`, which copes with the singular Gram matrix of ``σ = t²``) for the targets ``f⋆`` and the ``m``
    functions ``σ(w_j·x)``, evaluated on an independent test set (see :class:`LazyFit`)."""
    m, d = W.shape
    X = rng.standard_normal((n_train, d))
    Y = np.column_stack([np.einsum("ij,ij->i", X @ B, X) - np.trace(B), act.f(X @ W.T)])
    C = min_norm_lstsq(_design(X, W, act), Y)
    del X, Y
    Xt = rng.standard_normal((n_test, d))
    P = Xt @ W.T
    S = act.f(P)
    fstar = np.einsum("ij,ij->i", Xt @ B, Xt) - np.trace(B)
    F = _design(Xt, W, act) @ C
    res = np.column_stack([fstar, S]) - F                                # (n, 1+m): (I − Π_T) targets
    G = features.ntk_input_grad(Xt, W, C[1:], act)                       # (1+m, n, d): ∇ of the fits
    G[1:] = (act.df(P).T[:, :, None] * W[:, None, :]) - G[1:]            # ∇(I − Π_T)σ_j
    n = n_test
    vals = np.column_stack([-res[:, 0], res[:, 1:]])
    err_gram = vals.T @ vals / n
    Gf = G.reshape(1 + m, -1)
    grad_gram = Gf @ Gf.T / n
    iv = np.column_stack([-fstar, S])
    Dp = act.df(P)
    init_grad_gram = (Dp.T @ Dp / n) * (W @ W.T)
    return LazyFit(eps_nt=float(err_gram[0, 0]), S2_nt=float(grad_gram[0, 0]),
                   e1=float(np.trace(err_gram[1:, 1:]) / m), s1=float(np.trace(grad_gram[1:, 1:]) / m),
                   V=float(2 * np.sum(B * B)), S2_star=float(4 * np.sum(B * B)),
                   err_gram=err_gram, grad_gram=grad_gram, init_err_gram=iv.T @ iv / n,
                   init_grad_gram=init_grad_gram)


def quadratic_draws(gram: np.ndarray, Z: np.ndarray, lead: bool = True) -> np.ndarray:
    """``z̃ᵀ G z̃`` for each row ``z`` of ``Z`` with ``z̃ = (1, z)`` (``lead``) or ``z̃ = z``: the
    test-set mean of ``(Σ_k z̃_k u_k)²`` (or of ``‖Σ_k z̃_k ∇u_k‖²``) for the fields whose Gram
    matrix is ``G``."""
    Zt = np.column_stack([np.ones(len(Z)), Z]) if lead else Z
    return np.einsum("ji,ik,jk->j", Zt, gram, Zt)


# ----------------------------------------------------------------------------------------------
# lazy regime with a smooth activation: the "equivalent ridge" approximation
# ----------------------------------------------------------------------------------------------
#
# Hermite expansion of one tangent feature, ``a = α w + a⊥`` (``a⊥ ⊥ w``, ``t = w·x``):
#
#     (a·x) σ'(t) = Σ_k √k μ_k (a⊥·x) h_{k−1}(t) + α Σ_k c_k h_k(t),   c_k = E[t σ'(t) h_k(t)],
#
# so ``(a⊥·x)h_{k−1}(t)`` lies in chaos ``k`` with squared norm ``k μ_k² ‖a⊥‖²`` and gradient energy
# ``k² μ_k² ‖a⊥‖²``.  The chaos-2 part of the network is ``μ₂/√2`` times the quadratic NT model
# ``xᵀ(AᵀW + WᵀA)x`` (up to the radial coefficient ``c₂`` instead of ``2μ₂``); the chaos ≥ 3 parts only
# add error and energy.  Treating the chaos ≥ 3 parts of different neurons as orthogonal (their
# overlaps carry powers of ``w_j·w_l = O(d^{-1/2})``) makes lazy training a ridge regression.


@dataclass(frozen=True)
class RidgeConstants:
    """Hermite content of σ used by the equivalent ridge (orthonormal convention, ``g ~ N(0, 1)``):

    - ``mu1``, ``mu2``: ``μ₁``, ``μ₂``;
    - ``err3 = Σ_{ℓ≥3} ℓ μ_ℓ² = E σ'(g)² − μ₁² − 2μ₂²`` (L² energy of the chaos ≥ 3 parts per ``‖a⊥‖²``);
    - ``grad3 = Σ_{ℓ≥3} ℓ² μ_ℓ² = E σ''(g)² + E σ'(g)² − μ₁² − 4μ₂²`` (their gradient energy);
    - ``kappa = err3/(2μ₂²)`` (the ridge) and ``theta = grad3/err3`` (gradient energy per unit L² energy
      of what the ridge penalises; a chaos-2 function has 2);
    - the radial coefficients ``c1``, ``c2`` of ``tσ'(t)`` and ``rad_err3 = Σ_{k≥3} c_k²``,
      ``rad_grad3 = Σ_{k≥3} k c_k²`` (used by :func:`lazy_chaos_model` only).
    """

    mu1: float
    mu2: float
    err3: float
    grad3: float
    kappa: float
    theta: float
    c1: float
    c2: float
    rad_err3: float
    rad_grad3: float


def ridge_constants(act: Activation) -> RidgeConstants:
    """:class:`RidgeConstants` of ``act`` by quadrature (:mod:`rob.hermite`); ``act.d2f`` must be the
    (a.e.) second derivative, square integrable."""
    E = hermite.gaussian_expectation
    mu1, mu2 = hermite.coefficient(act, 1), hermite.coefficient(act, 2)
    ed2 = E(lambda t: act.df(t) ** 2)
    edd2 = E(lambda t: act.d2f(t) ** 2)
    err3 = ed2 - mu1**2 - 2 * mu2**2
    grad3 = edd2 + ed2 - mu1**2 - 4 * mu2**2
    c = [E(lambda t, k=k: t * act.df(t) * special.eval_hermitenorm(k, t)) / sqrt(factorial(k)) for k in range(3)]
    tds2 = E(lambda t: (t * act.df(t)) ** 2)
    dtds2 = E(lambda t: (act.df(t) + t * act.d2f(t)) ** 2)
    return RidgeConstants(mu1=mu1, mu2=mu2, err3=err3, grad3=grad3, kappa=err3 / (2 * mu2**2), theta=grad3 / err3,
                          c1=c[1], c2=c[2], rad_err3=tds2 - c[0] ** 2 - c[1] ** 2 - c[2] ** 2,
                          rad_grad3=dtds2 - c[1] ** 2 - 2 * c[2] ** 2)


def equivalent_ridge(W: np.ndarray, B: np.ndarray, kappa: float, theta: float) -> tuple[float, float]:
    """``(ε/V, S²/S⋆²)`` of the equivalent-ridge model of lazy training (closed form).

    The model minimises ``2‖(μ₂/√2)(AᵀW + WᵀA) − B‖_F² + Σ_{ℓ≥3}ℓμ_ℓ² ‖A‖_F²`` over ``A``.  With the
    SVD ``W = U diag(s) V₀ᵀ`` (``λ_i = s_i²``, ``i ≤ min(m, d)``), ``V = [V₀, V⊥]`` and ``VᵀBV`` in blocks
    ``C = V₀ᵀBV₀``, ``E = V⊥ᵀBV₀``, it decouples into scalar ridges with shrinkage factors

        ρ_i = λ_i/(λ_i + κ)  on the columns ``E_i`` (QP block),
        R_ik = (λ_i + λ_k)/(λ_i + λ_k + κ)  on ``C_ik`` (PP block),   nothing on the QQ block,

    and, with ``Π = 2Σ_i ρ_i(1 − ρ_i)‖E_i‖² + Σ_ik R_ik(1 − R_ik)C_ik²`` (the penalised chaos ≥ 3 part),

        ε/V = [‖V⊥ᵀBV⊥‖² + 2Σ_i(1 − ρ_i)‖E_i‖² + Σ_ik(1 − R_ik)C_ik²]/‖B‖²,
        S²/S⋆² = [2Σ_i ρ_i²‖E_i‖² + Σ_ik R_ik²C_ik² + (θ/2)Π]/‖B‖²,

    so ``ε/V + S²/S⋆² − 1 = (θ/2 − 1)Π/‖B‖²``: above the line iff ``θ > 2``.  ``κ = 0`` gives the exact
    quadratic NT projection (:func:`nt_projection`)."""
    m, d = W.shape
    _, s, Vt = np.linalg.svd(W, full_matrices=True)
    r = int(np.sum(s > 1e-10 * s[0]))
    lam = s[:r] ** 2
    Bp = Vt @ B @ Vt.T
    C, E = Bp[:r, :r], Bp[r:, :r]
    e2 = np.sum(E * E, axis=0)
    rho = lam / (lam + kappa)
    L = lam[:, None] + lam[None, :]
    R = L / (L + kappa)
    QQ = float(np.sum(Bp[r:, r:] ** 2))
    pen = 2 * np.sum(rho * (1 - rho) * e2) + np.sum(R * (1 - R) * C * C)
    nb = float(np.sum(B * B))
    eps = (QQ + 2 * np.sum((1 - rho) * e2) + np.sum((1 - R) * C * C)) / nb
    S2 = (2 * np.sum(rho**2 * e2) + np.sum(R**2 * C * C) + theta / 2 * pen) / nb
    return float(eps), float(S2)


def lazy_chaos_model(W: np.ndarray, B: np.ndarray, rc: RidgeConstants, chaos1: bool = True,
                     radial: bool = True) -> tuple[float, float]:
    """``(ε/V, S²/S⋆²)`` of a refined equivalent model, by least squares over ``A ∈ R^{m×d}``: with
    ``α_j = a_j·w_j`` and ``a⊥_j = a_j − α_j w_j`` it minimises

        2‖M(A) − B‖² + ‖v(A)‖² [chaos1] + Σ_{ℓ≥3}ℓμ_ℓ² ‖A⊥‖² + Σ_{k≥3}c_k² ‖α‖² [radial],
        M(A) = (μ₂/√2)(A⊥ᵀW + WᵀA⊥) + (c₂/√2) Wᵀdiag(α)W,    v(A) = μ₁ Σ_j a⊥_j + c₁ Wᵀα,

    i.e. it keeps the linear (chaos-1) part of the network, which the fit must cancel, and the
    exact radial coefficients; the chaos ≥ 3 parts of different neurons are still taken orthogonal.
    Without ``chaos1`` and ``radial`` it is the equivalent ridge (:func:`equivalent_ridge`).  Dense:
    ``O(m d³)`` memory, for small ``m d``."""
    m, d = W.shape
    n = m * d
    E = np.eye(n).reshape(n, m, d)
    al = np.einsum("njl,jl->nj", E, W)               # α_j of each basis matrix
    ap = E - al[:, :, None] * W[None]
    c2 = rc.c2 if radial else 2 * rc.mu2
    c1 = rc.c1 if radial else rc.mu1
    re3, rg3 = (rc.rad_err3, rc.rad_grad3) if radial else (rc.err3, rc.grad3)
    Mm = rc.mu2 / np.sqrt(2) * (np.einsum("njl,jk->nlk", ap, W) + np.einsum("njk,jl->nlk", ap, W)) \
        + c2 / np.sqrt(2) * np.einsum("nj,jl,jk->nlk", al, W, W)
    V = rc.mu1 * ap.sum(axis=1) + c1 * al @ W
    rows = [np.sqrt(2) * Mm.reshape(n, d * d).T, np.sqrt(rc.err3) * ap.reshape(n, n).T, np.sqrt(re3) * al.T]
    rhs = [np.sqrt(2) * B.ravel(), np.zeros(n), np.zeros(m)]
    if chaos1:
        rows.append(V.T)
        rhs.append(np.zeros(d))
    coef = min_norm_lstsq(np.vstack(rows), np.concatenate(rhs))
    M = np.tensordot(coef, Mm, 1)
    v = coef @ V if chaos1 else np.zeros(d)
    apn = float(np.sum(np.tensordot(coef, ap, 1) ** 2))
    aln = float(np.sum((coef @ al) ** 2))
    nb = float(np.sum(B * B))
    eps = (2 * np.sum((M - B) ** 2) + v @ v + rc.err3 * apn + re3 * aln) / (2 * nb)
    S2 = (4 * np.sum(M * M) + v @ v + rc.grad3 * apn + rg3 * aln) / (4 * nb)
    return float(eps), float(S2)


def lazy_nt_measures(act: Activation, W: np.ndarray, B: np.ndarray, n_train: int, n_test: int,
                     rng: np.random.Generator, block: int = 8192) -> tuple[float, float]:
    """``(ε_NT/V, S²_NT/S⋆²)`` of the lazy (zero-output) predictor ``Π_T f⋆`` for activation σ, by least
    squares on ``n_train`` Gaussian points through the normal equations: ``G = ΦᵀΦ`` and ``ΦᵀY``
    accumulated over blocks of points (``Φ = [1, σ'(XWᵀ) ⊗ X]``, never stored whole), one Cholesky
    solve (least squares on ``G`` if it is singular, as for ``σ = t²``), then the error and the
    Dirichlet energy on ``n_test`` fresh points.  The target alone: about 10× faster than
    :func:`lazy_projection`, which also fits the ``m`` neurons; same estimator up to round-off."""
    m, d = W.shape
    p = 1 + m * d
    G = np.zeros((p, p))
    b = np.zeros(p)
    trB = float(np.trace(B))
    for s in range(0, n_train, block):
        X = rng.standard_normal((min(block, n_train - s), d))
        Phi = _design(X, W, act)
        G += Phi.T @ Phi
        b += Phi.T @ (np.einsum("ij,ij->i", X @ B, X) - trB)
    try:
        coef = sla.cho_solve(sla.cho_factor(G, check_finite=False), b, check_finite=False)
    except np.linalg.LinAlgError:
        coef = min_norm_lstsq(G, b)
    err, gsq = 0.0, 0.0
    for s in range(0, n_test, block):
        X = rng.standard_normal((min(block, n_test - s), d))
        f = _design(X, W, act) @ coef
        err += float(np.sum((f - np.einsum("ij,ij->i", X @ B, X) + trB) ** 2))
        g = features.ntk_input_grad(X, W, coef[1:], act)
        gsq += float(np.sum(g * g))
    nb = float(np.sum(B * B))
    return err / n_test / (2 * nb), gsq / n_test / (4 * nb)
