"""Adversarial training of random-features regression at finite d (Hassani & Javanmard,
arXiv:2201.05149), float64 throughout.

Model [paper (2.2), (4.1)]: ``f(x; θ) = θᵀσ(Wx)`` with unit-norm rows ``w_ℓ`` (``⟨w_ℓ, x⟩ ~ N(0, 1)``
for ``x ~ N(0, I_d)``) and the shifted ReLU ``σ(u) = max(u, 0) − 1/√(2π)``; teacher
``y = ⟨x, β₀⟩ + ξ``, ``ξ ~ N(0, τ²)``.

Exact finite-d kernels [derived], with ``ρ = ⟨w_ℓ, w_k⟩``:

- ``K_ℓk = E σ(w_ℓᵀx)σ(w_kᵀx) = (√(1 − ρ²) + ρ(π − arccos ρ) − 1)/(2π)``;
- ``(J²)_ℓk = E[1{w_ℓᵀx > 0}1{w_kᵀx > 0}] ρ = ρ(π − arccos ρ)/(2π)`` (the paper's J², eq. 6.10),
  so that ``E‖∇ₓf(x)‖² = θᵀJ²θ``;
- ``SR(θ) = τ² + ‖β₀‖² − 2μ1 θᵀWβ₀ + θᵀKθ`` with ``μ1 = 1/2`` (Stein's lemma).

Adversarial training [reconstructed protocol]: the concentrated robust objective (the paper's
Theorem 6.9 object with its auxiliary penalties set to zero)
``L_ε(θ) = (1/2n) Σ_i (|y_i − θᵀz_i| + ε‖Jθ‖)²``, ``z_i = σ(Wx_i)``, which is convex; it is minimised
in whitened coordinates ``φ = Jθ`` (see :func:`fit_concentrated_surrogate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy import optimize

from . import activations, features, kernels

#: ``μ1 = E[Gσ(G)] = 1/2`` and ``E σ(G) = 0`` offset of the shifted ReLU.
MU1 = 0.5
SHIFT = 1.0 / np.sqrt(2.0 * np.pi)
_RELU = activations.get("relu")


def shifted_relu(u: np.ndarray) -> np.ndarray:
    """``σ(u) = max(u, 0) − 1/√(2π)`` (paper eq. 4.1)."""
    return _RELU.f(u) - SHIFT


def rf_features(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``Z = σ(XWᵀ)``, shape (n, N) (no 1/√N factor)."""
    return shifted_relu(X @ W.T)


def rf_kernels(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(K, J²)`` of unit-norm rows ``W`` (formulas in the module docstring; ``ρ`` clipped to
    [−1, 1], diagonals exactly ``1/2 − 1/(2π)`` and ``1/2``)."""
    G = np.clip(W @ W.T, -1.0, 1.0)
    K = kernels.arccos_kernel(G, "relu") - SHIFT**2
    J2 = G * kernels.arccos_kernel_deriv(G, "relu")
    np.fill_diagonal(K, 0.5 - SHIFT**2)
    np.fill_diagonal(J2, 0.5)
    return K, J2


def standard_risk(theta: np.ndarray, W: np.ndarray, beta0: np.ndarray, K: np.ndarray, tau2: float) -> float:
    """Exact ``SR(θ) = E(y − f(x; θ))² = τ² + ‖β₀‖² − 2μ1 θᵀWβ₀ + θᵀKθ``."""
    return float(tau2 + beta0 @ beta0 - 2 * MU1 * theta @ (W @ beta0) + theta @ K @ theta)


def robust_risk_closed_form(SR, t, eps_test):
    """``AR_ε′ ≈ E(|r| + ε′t)² = SR + 2√(2/π)ε′t√SR + ε′²t²`` for ``r ~ N(0, SR)`` and ``t = ‖Jθ‖``
    (AR-cf) [derived]; the same function as the theory's (4.6) at θ̂."""
    from .theory.adversarial_rf import robust_risk_closed_form as cf

    return cf(SR, t, eps_test)


def surrogate_objective(theta: np.ndarray, Z: np.ndarray, y: np.ndarray, J2: np.ndarray, eps: float) -> float:
    """``L_ε(θ) = (1/2n) Σ (|y_i − θᵀz_i| + ε‖Jθ‖)²`` without smoothing."""
    t = np.sqrt(max(float(theta @ J2 @ theta), 0.0))
    return float(np.mean((np.abs(y - Z @ theta) + eps * t) ** 2) / 2)


@dataclass(frozen=True)
class Whitening:
    """``J² = VΛVᵀ``; ``J⁻¹ = VΛ^{-1/2}Vᵀ``."""

    evals: np.ndarray
    V: np.ndarray

    def inv_sqrt_apply(self, M: np.ndarray) -> np.ndarray:
        """``J⁻¹ M`` (M of shape (N, ...))."""
        return self.V @ ((self.V.T @ M) / np.sqrt(self.evals).reshape((-1,) + (1,) * (M.ndim - 1)))

    def design(self, Z: np.ndarray) -> np.ndarray:
        """The whitened design ``Z̃ = ZJ⁻¹`` (so that ``Zθ = Z̃φ`` for ``φ = Jθ``)."""
        return self.inv_sqrt_apply(Z.T).T

    def to_theta(self, phi: np.ndarray) -> np.ndarray:
        """``θ = J⁻¹φ``."""
        return self.inv_sqrt_apply(phi)


def whiten(J2: np.ndarray, min_eig: float = 0.02) -> Whitening:
    """Eigendecomposition of ``J²``; a :class:`ValueError` if ``λ_min(J²) ≤ min_eig`` (asymptotically
    ``λ_min → 1/4`` for ψ1 > 1; finite-d corrections lower it)."""
    ev, V = sla.eigh(J2, check_finite=False, driver="evd")
    if ev[0] <= min_eig:
        raise ValueError(f"J² is nearly singular: smallest eigenvalue {ev[0]:.3g} <= {min_eig}")
    return Whitening(ev, V)


@dataclass(frozen=True)
class CholeskyWhitening:
    """``J² = LLᵀ`` (L lower triangular) and the eigenvalues of ``J²``, ascending.

    The coordinates ``φ = Lᵀθ`` whiten as well as ``φ = Jθ``: ``‖φ‖² = θᵀJ²θ = ‖Jθ‖²`` and
    ``Zθ = Z̃φ`` with ``Z̃ = ZL⁻ᵀ``.  Since ``Lᵀ = QJ`` with ``Q = LᵀJ⁻¹`` orthogonal, ``φ`` is the
    symmetric whitening rotated by ``Q``: ``Z̃ = (ZJ⁻¹)Qᵀ`` has the same singular values and left
    singular vectors, so the reduced problem of :func:`fit_concentrated_surrogate` and its minimiser
    ``θ̂`` are the same; one Cholesky factorisation replaces an eigendecomposition.

    Nesting: the Cholesky factor of a leading block ``J²[:N, :N]`` is ``L[:N, :N]``, and
    ``(Z L⁻ᵀ)[:, :N] = Z[:, :N] L[:N, :N]⁻ᵀ`` (``L⁻ᵀ`` is upper triangular), so one factorisation and
    one whitened design at the largest ``N`` serve every smaller ``N``."""

    evals: np.ndarray
    L: np.ndarray

    def design(self, Z: np.ndarray) -> np.ndarray:
        """``Z̃ = ZL⁻ᵀ`` (:func:`cholesky_design`)."""
        return cholesky_design(Z, self.L)

    def to_theta(self, phi: np.ndarray) -> np.ndarray:
        """``θ = L⁻ᵀφ``."""
        return sla.solve_triangular(self.L, phi, lower=True, trans="T", check_finite=False)


def cholesky_factor(J2: np.ndarray) -> np.ndarray:
    """The lower-triangular ``L`` with ``J² = LLᵀ`` (LAPACK potrf)."""
    return sla.cholesky(J2, lower=True, check_finite=False)


def cholesky_design(Z: np.ndarray, L: np.ndarray) -> np.ndarray:
    """``Z̃ = ZL⁻ᵀ = (L⁻¹Zᵀ)ᵀ`` (one triangular solve with n right-hand sides)."""
    return sla.solve_triangular(L, Z.T, lower=True, check_finite=False).T


def whiten_cholesky(J2: np.ndarray, L: np.ndarray | None = None, min_eig: float = 0.02) -> CholeskyWhitening:
    """:class:`CholeskyWhitening` of ``J²`` (``L`` its Cholesky factor if already known, e.g. the
    leading block of the factor of a larger ``J²``); the eigenvalues (without eigenvectors, torch's
    LAPACK ``syevd``) for ``λ_min`` and the same :class:`ValueError` as :func:`whiten` if
    ``λ_min(J²) ≤ min_eig``."""
    import torch

    ev = torch.linalg.eigvalsh(torch.from_numpy(np.ascontiguousarray(J2))).numpy()
    if ev[0] <= min_eig:
        raise ValueError(f"J² is nearly singular: smallest eigenvalue {ev[0]:.3g} <= {min_eig}")
    return CholeskyWhitening(ev, cholesky_factor(J2) if L is None else np.asarray(L))


@dataclass(frozen=True)
class Fit:
    """A fitted θ (and ``φ = Jθ``, ``c`` its coordinates in the reduced problem), the gradient norm of
    the smoothed objective at exit of the last stage, the number of L-BFGS iterations (all stages) and
    the smoothing gap ``|L_η(θ̂) − L_ε(θ̂)|`` of the last stage."""

    theta: np.ndarray
    phi: np.ndarray
    c: np.ndarray
    grad_norm: float
    iterations: int
    smoothing_gap: float


@dataclass(frozen=True)
class Reduced:
    """The whitened design in the row space of ``Z̃ = ZJ⁻¹ = USVᵀ``: ``A = US`` (n × r), ``Vt = Vᵀ``."""

    A: np.ndarray
    Vt: np.ndarray


def reduce_problem(Z: np.ndarray, wh: Whitening | CholeskyWhitening) -> Reduced:
    """Thin SVD of ``Z̃ = ZJ⁻¹`` (rank ``r = min(n, N)``); shared by the fits at every ε."""
    return reduce_whitened(wh.design(Z))


def reduce_whitened(Zt: np.ndarray) -> Reduced:
    """Thin SVD ``Z̃ = USVᵀ`` of an already whitened design: ``Reduced(US, Vᵀ)``."""
    U, S, Vt = sla.svd(Zt, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    return Reduced(U * S, Vt)


def _smoothed(c, A, y, eps, eta):
    r = y - A @ c
    h = np.sqrt(r * r + eta * eta)
    tn = np.sqrt(c @ c + eta * eta)
    a = h + eps * tn
    n = len(y)
    val = a @ a / (2 * n)
    grad = (-(A.T @ (a * r / h)) + eps * a.sum() * c / tn) / n
    return val, grad


def fit_concentrated_surrogate(Z: np.ndarray, y: np.ndarray, wh: Whitening | CholeskyWhitening, eps: float,
                               etas: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4), gtol: float = 1e-9,
                               reduced: Reduced | None = None, c0: np.ndarray | None = None) -> Fit:
    """``θ̂ = argmin_θ (1/2n) Σ (|y_i − θᵀz_i| + ε‖Jθ‖)²`` (convex).

    1. Whiten: ``φ = Jθ``, ``Z̃ = ZJ⁻¹``, so ``L = (1/2n) Σ (|y_i − z̃_iᵀφ| + ε‖φ‖)²`` (or, with a
       :class:`CholeskyWhitening`, the rotated ``φ = Lᵀθ``, ``Z̃ = ZL⁻ᵀ``: the same reduced problem).
    2. Reduce: with the thin SVD ``Z̃ = USVᵀ`` (rank ``r = min(n, N)``), a component of φ outside the
       row space of Z̃ only increases ``‖φ‖``, so ``φ = Vc`` and ``L = (1/2n) Σ(|y − USc|_i + ε‖c‖)²``
       (pass ``reduced`` to reuse the SVD across ε).
    3. Smooth ``|r| → √(r² + η²)``, ``‖c‖ → √(‖c‖² + η²)`` and minimise by L-BFGS-B (maxcor 50,
       gtol ``gtol``, ftol 1e-14) for η = 1e-1, …, 1e-4, warm-starting each stage (the first from
       ``c0``, default 0).
    4. Map back ``θ = J⁻¹Vc``.
    """
    red = reduce_problem(Z, wh) if reduced is None else reduced
    A = red.A
    c = np.zeros(A.shape[1]) if c0 is None else np.array(c0, float)
    iters, res = 0, None
    for eta in etas:
        res = optimize.minimize(_smoothed, c, args=(A, y, eps, eta), jac=True, method="L-BFGS-B",
                                options=dict(maxcor=50, gtol=gtol, ftol=1e-14, maxiter=50_000, maxfun=100_000))
        c, iters = res.x, iters + res.nit
    phi = red.Vt.T @ c
    theta = wh.to_theta(phi)
    unsmoothed = float(np.mean((np.abs(y - A @ c) + eps * np.linalg.norm(c)) ** 2) / 2)
    return Fit(theta, phi, c, float(np.linalg.norm(res.jac)), iters, abs(float(res.fun) - unsmoothed))


def min_J_norm_interpolator(Z: np.ndarray, y: np.ndarray, J2: np.ndarray) -> np.ndarray:
    """``θ = J⁻²Zᵀ(ZJ⁻²Zᵀ)⁻¹y``: the interpolator of minimal ``‖Jθ‖`` (``n < N``), by Cholesky
    solves with ``J²`` and with the n×n Gram matrix (independent of the eigendecomposition)."""
    cJ = sla.cho_factor(J2, lower=True, check_finite=False)
    B = sla.cho_solve(cJ, Z.T, check_finite=False)
    return B @ sla.cho_solve(sla.cho_factor(Z @ B, lower=True, check_finite=False), y, check_finite=False)


def min_J_norm_interpolator_whitened(Zt: np.ndarray, y: np.ndarray,
                                     wh: Whitening | CholeskyWhitening) -> np.ndarray:
    """The same interpolator from a whitened design ``Z̃`` (``Zθ = Z̃φ``, ``‖φ‖ = ‖Jθ‖``):
    ``φ = Z̃ᵀ(Z̃Z̃ᵀ)⁻¹y`` by a Cholesky solve with the n×n Gram ``Z̃Z̃ᵀ = ZJ⁻²Zᵀ``, then
    ``θ = wh.to_theta(φ)`` (independent of the SVD used by the fits)."""
    G = Zt @ Zt.T
    return wh.to_theta(Zt.T @ sla.cho_solve(sla.cho_factor(G, lower=True, check_finite=False), y,
                                            check_finite=False))


def model_and_gradient(W: np.ndarray, theta: np.ndarray):
    """``(f, ∇ₓf)`` of ``f(x) = θᵀσ(Wx)`` as functions of a batch of points (rows), for attacks:
    ``∇ₓf(x) = Wᵀ(θ ⊙ 1{Wx > 0})``, through :func:`rob.features.rf_input_grad` (which carries a
    1/√N factor, hence the coefficients √N θ)."""
    scaled = theta * np.sqrt(W.shape[0])

    def f(X):
        return rf_features(X, W) @ theta

    def grad(X):
        return features.rf_input_grad(X, W, scaled, _RELU)

    return f, grad
