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

import numpy as np
import scipy.linalg as sla

from . import features
from .activations import Activation
from .quadratic import normalised_measures

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
    in ``ms``.  One QR of ``Wᵀ`` serves all widths: its first ``k`` columns span the first ``k`` rows
    (rows in general position); for ``m ≥ d`` all ``d`` columns are used."""
    d = W.shape[1]
    U, _ = np.linalg.qr(W[: min(max(ms), d)].T)
    out = []
    for m in ms:
        QBQ = remove_block(B, U[:, : min(m, d)])
        out.append(normalised_measures(B - QBQ, B))
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
    v = np.einsum("ij,jk,ik->i", W, B, W)
    c = sla.lstsq(K, v, lapack_driver="gelsy")[0]
    return (W.T * c) @ W, c


def _psd_solve(K: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``K⁻¹v`` by Cholesky for a well-conditioned Gram matrix (``m ≪ D``), else least squares."""
    try:
        c = sla.cho_solve(sla.cho_factor(K, check_finite=False), v, check_finite=False)
        if np.isfinite(c).all() and np.linalg.norm(K @ c - v) <= 1e-10 * max(np.linalg.norm(v), 1e-300):
            return c
    except np.linalg.LinAlgError:
        pass
    return sla.lstsq(K, v, lapack_driver="gelsy")[0]


def rf_projection_nested(W: np.ndarray, B: np.ndarray, ms) -> list[tuple[float, float]]:
    """``(ε/V, S²/S⋆²)`` of the RF projection on the first ``m`` rows, for each ``m`` in ``ms``,
    from the Gram form: ``‖B̂‖² = cᵀK_m c``, ``‖B − B̂‖² = ‖B‖² − 2cᵀv + cᵀK_m c`` (the identity of
    Theorem 1 holds only when ``c`` solves the normal equations).  ``K_m`` is solved by Cholesky
    (positive definite for ``m ≪ D``), falling back to least squares."""
    K = (W @ W.T) ** 2
    v = np.einsum("ij,jk,ik->i", W, B, W)
    nb = float(np.sum(B * B))
    out = []
    for m in ms:
        c = _psd_solve(K[:m, :m], v[:m])
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


def nn_truncation(B: np.ndarray, m: int, balanced: bool = False,
                  eig: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Best ``B̂`` of rank ≤ ``m`` (Eckart–Young: the ``m`` eigenvalues largest in ``|λ|``); with
    ``balanced``, the sign-constrained optimum for ``⌈m/2⌉`` positive and ``⌊m/2⌋`` negative output
    weights: the ``⌈m/2⌉`` largest positive and the ``⌊m/2⌋`` most negative eigenvalues.
    ``eig = numpy.linalg.eigh(B)`` may be passed to reuse one decomposition across widths."""
    lam, V = np.linalg.eigh(B) if eig is None else eig
    if balanced:
        pos = [i for i in np.argsort(-lam) if lam[i] > 0][: (m + 1) // 2]
        neg = [i for i in np.argsort(lam) if lam[i] < 0][: m // 2]
        keep = np.array(pos + neg, dtype=int)
    else:
        keep = np.argsort(-np.abs(lam))[:m]
    Vk = V[:, keep]
    return (Vk * lam[keep]) @ Vk.T


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
    """Least-squares estimate of ``Π_T`` (one multi-right-hand-side solve with LAPACK ``gelsy``,
    which copes with the singular Gram matrix of ``σ = t²``) for the targets ``f⋆`` and the ``m``
    functions ``σ(w_j·x)``, evaluated on an independent test set (see :class:`LazyFit`)."""
    m, d = W.shape
    X = rng.standard_normal((n_train, d))
    Y = np.column_stack([np.einsum("ij,ij->i", X @ B, X) - np.trace(B), act.f(X @ W.T)])
    C = sla.lstsq(_design(X, W, act), Y, lapack_driver="gelsy", overwrite_a=True, check_finite=False)[0]
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
