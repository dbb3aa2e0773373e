"""Closed forms of the regimes chapter (derived for the book in the setting of Dohmatob & Bietti 2022;
not claims of the paper, whose text was not available).

Target ``f⋆(x) = xᵀBx − tr B`` with ``tr B = 0``, ``x ~ N(0, I_d)``, ``V = Var f⋆``, ``S⋆² = E‖∇f⋆‖²``.

- NT (first-layer linearisation of a quadratic-activation network, zero-output init), hidden rows
  uniform on the sphere, ``r = (d − m)₊``:
  ``E[ε_NT/V] = r(rd + d − 2)/(d(d − 1)(d + 2)) → (1 − ψ)₊²`` for ``m = ψd``.
- NN (fully trained, Eckart–Young) for GOE ``B``: ``ε_NN/V → F_sc(ψ)``, the semicircle second
  moment on ``|x| < τ`` with ``(2/π)[arcsin τ + τ√(1−τ²)] = 1 − ψ``.
- RF: ``E[S²_RF/S⋆²] ∈ [(m − 1)/(D − 1), m/(D − 1)]``, ``D = d(d + 1)/2``.
- Initialisation point (Proposition 4): ``E_z ε(f₀) = V + α² E σ(g)²``, ``E_z S(f₀)² = α² E σ'(g)²``.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, optimize
from scipy.stats import norm


def nt_exact_mean(d: int, m: int) -> float:
    """``E_W[ε_NT/V] = r(rd + d − 2)/(d(d − 1)(d + 2))`` with ``r = (d − m)₊`` (exact at every d)."""
    r = max(d - m, 0)
    return r * (r * d + d - 2) / (d * (d - 1) * (d + 2))


def nt_limit(psi: float) -> float:
    """``(1 − ψ)₊²``, the ``d → ∞`` limit of :func:`nt_exact_mean` at ``m = ψd``."""
    return max(1.0 - psi, 0.0) ** 2


def _tau(psi: float) -> float:
    """Solve ``(2/π)[arcsin τ + τ√(1 − τ²)] = 1 − ψ`` for ``τ ∈ (0, 1)``."""
    g = lambda t: 2 / np.pi * (np.arcsin(t) + t * np.sqrt(1 - t * t)) - (1 - psi)
    return optimize.brentq(g, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)


def f_sc(psi: float) -> float:
    """``F_sc(ψ) = (2/π)[arcsin τ − τ√(1 − τ²)(1 − 2τ²)]`` (0 for ψ ≥ 1, 1 at ψ = 0)."""
    if psi >= 1:
        return 0.0
    if psi <= 0:
        return 1.0
    t = _tau(psi)
    return float(2 / np.pi * (np.arcsin(t) - t * np.sqrt(1 - t * t) * (1 - 2 * t * t)))


def f_sc_quadrature(psi: float) -> float:
    """``F_sc(ψ)`` by direct quadrature of the semicircle density ``(2/π)√(1 − x²)`` on ``[−1, 1]``:
    the level ``τ`` leaves mass ``ψ`` outside ``(−τ, τ)``; the result is the second moment inside
    divided by the total second moment ``1/4`` (an independent route to :func:`f_sc`)."""
    if psi >= 1:
        return 0.0
    rho = lambda x: 2 / np.pi * np.sqrt(max(1 - x * x, 0.0))
    opts = dict(epsabs=1e-14, epsrel=1e-13, limit=200)
    mass = lambda t: 2 * integrate.quad(rho, 0, t, **opts)[0]
    t = optimize.brentq(lambda t: mass(t) - (1 - psi), 0.0, 1.0, xtol=1e-15)
    return 4 * 2 * integrate.quad(lambda x: x * x * rho(x), 0, t, **opts)[0]


def rf_bracket(m: int, d: int) -> tuple[float, float]:
    """``[(m − 1)/(D − 1), m/(D − 1)]`` bracketing ``E[S²_RF/S⋆²]`` for ``m ≤ D − 1`` (1 beyond)."""
    D = d * (d + 1) // 2
    if m >= D:
        return 1.0, 1.0
    return (m - 1) / (D - 1), m / (D - 1)


def init_point(alpha: float, e_sigma2: float, e_dsigma2: float, V: float = 1.0, S2_star: float = 2.0
               ) -> tuple[float, float]:
    """Normalised position ``(ε/V, S²/S⋆²) = (1 + α² Eσ²/V, α² Eσ'²/S⋆²)`` of the untrained
    network ``f₀ = Σ_j z_j σ(w_j·x)``, ``z_j ~ (0, α²/m)``, ``‖w_j‖ = 1`` (Proposition 4)."""
    return (V + alpha**2 * e_sigma2) / V, alpha**2 * e_dsigma2 / S2_star


def elu_moments() -> tuple[float, float]:
    """Closed forms for ELU: ``E σ(g)² = 1 + e²Φ(−2) − 2e^{1/2}Φ(−1)`` and
    ``E σ'(g)² = 1/2 + e²Φ(−2)`` (from ``E[e^{ag}1{g<0}] = e^{a²/2}Φ(−a)``)."""
    a = np.e**2 * norm.cdf(-2.0)
    return float(1.0 + a - 2.0 * np.exp(0.5) * norm.cdf(-1.0)), float(0.5 + a)


def lower_bound(eps_over_V):
    """Proposition 2: ``S²/S⋆² ≥ (1 − ε/V)²`` for any L² projection onto a space with constants."""
    return (1.0 - np.asarray(eps_over_V, dtype=float)) ** 2


# -- the equivalent ridge of the lazy regime with a smooth activation (an approximation) -----------


def mp_nodes(psi: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature ``(λ_k, w_k)`` (weights summing to 1) for the law of the non-zero eigenvalues of
    ``WWᵀ`` with ``m = ψd`` unit rows, ``d → ∞``: the Marchenko–Pastur density
    ``√((λ₊ − λ)(λ − λ₋))/(2π min(ψ, 1) λ)`` on ``λ± = (1 ± √ψ)²`` (for ``ψ > 1`` the ``d`` non-zero
    eigenvalues are ``ψ`` times an MP(1/ψ) variable).  Gauss–Legendre in ``t`` with
    ``λ = λ₋ + (λ₊ − λ₋) sin²t``, which removes the square-root edges (and the ``λ^{-1/2}`` edge at
    ``ψ = 1``)."""
    if psi <= 0:
        raise ValueError("psi must be positive")
    lo, hi = (1 - np.sqrt(psi)) ** 2, (1 + np.sqrt(psi)) ** 2
    x, w = np.polynomial.legendre.leggauss(n)
    t = (x + 1) * np.pi / 4
    lam = lo + (hi - lo) * np.sin(t) ** 2
    dens = (hi - lo) ** 2 * 2 * np.sin(t) ** 2 * np.cos(t) ** 2 / (2 * np.pi * min(psi, 1.0) * lam)
    wk = w * np.pi / 4 * dens
    return lam, wk / wk.sum()


def equivalent_ridge_limit(psi: float, kappa: float, theta: float, n: int = 96) -> tuple[float, float]:
    """``d → ∞`` limit (``m = ψd``, GOE target) of :func:`rob.regimes.equivalent_ridge`, with
    ``φ = min(ψ, 1)``, ``ρ = λ/(λ + κ)``, ``ρ₂ = (λ + λ')/(λ + λ' + κ)`` and ``λ, λ'`` independent
    Marchenko–Pastur variables (:func:`mp_nodes`):

        ε/V = (1 − φ)² + 2φ(1 − φ)⟨1 − ρ⟩ + φ²⟨1 − ρ₂⟩,
        S²/S⋆² = 2φ(1 − φ)⟨ρ² + (θ/2)ρ(1 − ρ)⟩ + φ²⟨ρ₂² + (θ/2)ρ₂(1 − ρ₂)⟩.

    ``κ = 0`` gives the quadratic NT limit ``((1 − ψ)₊², 1 − (1 − ψ)₊²)``."""
    phi = min(psi, 1.0)
    lam, w = mp_nodes(psi, n)
    rho = lam / (lam + kappa)
    L = lam[:, None] + lam[None, :]
    R = L / (L + kappa)
    W2 = w[:, None] * w[None, :]
    avg1 = lambda f: float(np.sum(w * f))
    avg2 = lambda f: float(np.sum(W2 * f))
    eps = (1 - phi) ** 2 + 2 * phi * (1 - phi) * avg1(1 - rho) + phi**2 * avg2(1 - R)
    S2 = (2 * phi * (1 - phi) * avg1(rho**2 + theta / 2 * rho * (1 - rho))
          + phi**2 * avg2(R**2 + theta / 2 * R * (1 - R)))
    return eps, S2


# -- the adversarial link: worst-case ℓ2 change of the quadratic predictor -------------------------


def worst_change_equivalent(a: np.ndarray, radius: float) -> float:
    """Deterministic equivalent of ``Δ(x, r) = max_{‖δ‖≤r}|f(x + δ) − f(x)|`` for ``f(x) = xᵀÂx + c``,
    ``x ~ N(0, I_d)``, from the eigenvalues ``a`` of ``Â`` (a heuristic for large ``d``, not a theorem).

    In the eigenbasis the exact largest increase is ``Σ_i a_i²x̃_i²(2μ − a_i)/(μ − a_i)²`` with ``μ``
    solving the secular equation ``Σ_i a_i²x̃_i²/(μ − a_i)² = r²`` (``μ > max a``); replacing every
    ``x̃_i²`` by its mean 1 gives a deterministic equation, solved by ``brentq``; the decrease is the
    same with ``−a``.  For ``r → 0``, ``μ ≈ ‖a‖/r`` and the value is ``2r‖Â‖_F = r S(f)``: the energy
    prediction; the correction is ``r²|tr Â³|/tr Â² + O(r³)``."""
    a = np.asarray(a, dtype=float)
    out = []
    for b in (a, -a):
        sec = lambda mu: float(np.sum(b * b / (mu - b) ** 2)) - radius**2
        top = float(b.max())
        hi = max(top, 0.0) + np.sqrt(np.sum(b * b)) / radius          # sec(hi) ≤ 0
        if top > 0:
            lo = top + 1e-8 * top / radius                                # sec(lo) > 0: the top term alone exceeds r²
        elif sec(0.0) > 0:
            lo = 0.0
        else:                                                             # b ⪯ 0 and the unconstrained maximum is inside
            lo = hi = 0.0
        mu = optimize.brentq(sec, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps) if hi > lo else 0.0
        out.append(float(np.sum(b * b * (2 * mu - b) / (mu - b) ** 2)))
    return max(out)
