"""Asymptotics of adversarially trained random-features regression (Hassani & Javanmard,
arXiv:2201.05149, Theorem 4.2), solved through a reduced three-equation system derived for the book.

Setting [paper]: ``x ~ N(0, I_d)``, ``y = ⟨x, β₀⟩ + ξ``, ``ξ ~ N(0, τ²)``, ``‖β₀‖ = 1``; features
``σ(Wx)`` with unit-norm rows ``w_ℓ`` and the shifted ReLU ``σ(u) = max(u, 0) − 1/√(2π)``;
``N/d → ψ1``, ``n/d → ψ2``; ℓ2 adversarial training at radius ε, test radius ε′.

Spectral functions [paper (4.4)]:

- ``S(z; ψ1) = (1 − ψ1 − z − √((1 − ψ1 − z)² − 4ψ1 z))/(−2ψ1 z)`` for ``z < 0``;
- ``m(ζ) = (1/N) tr(WWᵀ + ζ)⁻¹ = −S(−ζ; ψ1)``, the positive root of ``ψ1ζm² + (1 − ψ1 + ζ)m − 1 = 0``;
- best-in-class risk ``σ² = τ² + 1 − ψ1(1 + (1 − 2/π) S(2/π − 1; ψ1))``.

The theorem's saddle point of the five-variable objective ``R(α, τ_g, β, γ, τ_q)`` (implemented as
printed in :func:`paper_objective_R`) is found from three equations in ``(α, t, κ)`` [derived]:
``t`` is the limit of ``‖Jθ̂‖``, ``κ = β/τ_g``, and the remaining variables follow from the Gaussian
Moreau envelope ``F(s; κ, c) = E min_v [κ/2 (v − X)² + ½(|v| + c)²]``, ``X ~ N(0, s²)``
(:func:`moreau_envelope_parts`).  Outputs: ``SR = α² + σ²``, ``t``, ``ν = εt/(κs)``, the interpolated
fraction ``erf(ν/√2)`` and ``AR_ε′ = SR + 2√(2/π) ε′ t √SR + ε′² t²`` (the paper's eq. (4.6)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

#: ``a = 2/π``; ``κ0 = μ2²/μ1² = 1 − 2/π`` for the shifted ReLU (μ1 = 1/2, μ2² = 1/4 − 1/(2π)).
A = 2.0 / np.pi
KAPPA0 = 1.0 - A
SQRT_2_PI = np.sqrt(A)


class TheoryError(RuntimeError):
    """The reduced system has no acceptable root at a parameter point (never a silent NaN)."""


# ----------------------------------------------------------------------------------------------
# spectral functions
# ----------------------------------------------------------------------------------------------


def stieltjes_S(z, psi1):
    """The paper's ``S(z; ψ1)`` (eq. 4.4) for ``z < 0``, by its closed form."""
    z, psi1 = np.asarray(z, float), np.asarray(psi1, float)
    b = 1.0 - psi1 - z
    return (b - np.sqrt(b * b - 4.0 * psi1 * z)) / (-2.0 * psi1 * z)


def mp_m(zeta, psi1):
    """``m(ζ) = (1/N) tr(WWᵀ + ζI)⁻¹ → −S(−ζ; ψ1)`` for ``ζ > 0``: the positive root of
    ``ψ1ζm² + (1 − ψ1 + ζ)m − 1 = 0``, in the cancellation-free form."""
    zeta, psi1 = np.asarray(zeta, float), np.asarray(psi1, float)
    b = 1.0 - psi1 + zeta
    disc = np.sqrt(b * b + 4.0 * psi1 * zeta)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b >= 0, 2.0 / (b + disc), (disc - b) / (2.0 * psi1 * zeta))


def mp_m_prime(zeta, psi1, m=None):
    """``m′(ζ) = −(ψ1m² + m)/(2ψ1ζm + 1 − ψ1 + ζ)`` (implicit differentiation of the quadratic)."""
    zeta, psi1 = np.asarray(zeta, float), np.asarray(psi1, float)
    m = mp_m(zeta, psi1) if m is None else m
    return -(psi1 * m * m + m) / (2.0 * psi1 * zeta * m + 1.0 - psi1 + zeta)


def best_in_class_risk(tau2, psi1):
    """``σ² = τ² + 1 − ψ1(1 + (1 − 2/π) S(2/π − 1; ψ1)) = τ² + 1 − ψ1(1 − κ0 m(κ0))`` [paper],
    the smallest standard risk of the Gaussian-equivalent RF model [derived]."""
    return np.asarray(tau2, float) + 1.0 - np.asarray(psi1, float) * (1.0 + KAPPA0 * stieltjes_S(-KAPPA0, psi1))


# ----------------------------------------------------------------------------------------------
# the Gaussian Moreau envelope and the reduced system
# ----------------------------------------------------------------------------------------------


def moreau_envelope_parts(s, kappa, c):
    """``(F, F_s, F_κ, F_c)`` of ``F(s; κ, c) = E min_v[κ/2 (v − X)² + ½(|v| + c)²]``, ``X ~ N(0, s²)``.

    With ``u = c/(κs)``, ``M0 = 2Q(u)``, ``M1 = 2φ(u)``, ``M2 = 2(uφ(u) + Q(u))``:
    ``F = κs²(1 − M2)/2 + c²(1 − M0)/2 + κ(s²M2 + 2csM1 + c²M0)/(2(κ + 1))`` (soft thresholding:
    ``v = 0`` for ``|X| ≤ c/κ``, else ``v = sign(X)(κ|X| − c)/(κ + 1)``)."""
    s, kappa, c = (np.asarray(v, float) for v in (s, kappa, c))
    u = c / (kappa * s)
    Q = 0.5 * special.erfc(u / np.sqrt(2.0))
    phi = np.exp(-0.5 * u * u) / np.sqrt(2.0 * np.pi)
    M0, M1, M2 = 2.0 * Q, 2.0 * phi, 2.0 * (u * phi + Q)
    k1 = kappa + 1.0
    quad = s * s * M2 + 2.0 * c * s * M1 + c * c * M0
    F = 0.5 * kappa * s * s * (1.0 - M2) + 0.5 * c * c * (1.0 - M0) + kappa * quad / (2.0 * k1)
    Fs = kappa * s * (1.0 - M2) + kappa / k1 * (s * M2 + c * M1)
    Fk = 0.5 * (s * s * (1.0 - M2) + quad / k1**2)
    Fc = c * (1.0 - M0) + kappa / k1 * (s * M1 + c * M0)
    return F, Fs, Fk, Fc


@dataclass(frozen=True)
class Params:
    """One theory setting: training radius ε, noise τ², ratios ψ1 = N/d and ψ2 = n/d (arrays broadcast)."""

    eps: np.ndarray
    tau2: np.ndarray
    psi1: np.ndarray
    psi2: np.ndarray


def _derived(x, eps, tau2, psi1, psi2):
    """All quantities of the reduced system at ``x = log(α, t, κ)`` (arrays over the last axis)."""
    alpha, t, kappa = np.exp(x[0]), np.exp(x[1]), np.exp(x[2])
    sig2 = best_in_class_risk(tau2, psi1)
    s = np.sqrt(alpha**2 + sig2)
    c = eps * t
    F, Fs, Fk, Fc = moreau_envelope_parts(s, kappa, c)
    P = Fs / s
    gamma = eps * Fc
    lam = P * t / (P * t + gamma)
    tau_g = np.sqrt(2.0 * Fk / psi2)
    beta = kappa * tau_g
    D = tau2 + 1.0 - sig2
    zeta = 1.0 - A * lam
    m = mp_m(zeta, psi1)
    mp = mp_m_prime(zeta, psi1, m)
    a1, a2 = 1.0 - zeta * m, 1.0 - A * (1.0 - lam) * m
    a1p, a2p = A * (m + zeta * mp), A * m + A * A * (1.0 - lam) * mp
    return dict(alpha=alpha, t=t, kappa=kappa, sig2=sig2, s=s, c=c, F=F, P=P, gamma=gamma, lam=lam,
                tau_g=tau_g, beta=beta, D=D, a1=a1, a2=a2, a1p=a1p, a2p=a2p)


def reduced_residuals(x, eps, tau2, psi1, psi2):
    """Residuals (E1, E2, E3) of the reduced system at ``x = log(α, t, κ)``, shape (3, ...) [derived]:

    - E1: ``1 − λψ1κ a2/(ψ2 P)``;
    - E2: ``(D − α²) − λψ1(a1 − β²a2/P²) − λγ²/(P²(1 − λ))``;
    - E3: ``γ²/(P(1 − λ)²) − ψ1(P a1 + β²a2/P) − λψ1(P a1′ + β²a2′/P)``,

    with ``P = F_s/s = τ_q/α``, ``γ = εF_c``, ``λ = Pt/(Pt + γ)``, ``τ_g = √(2F_κ/ψ2)``,
    ``β = κτ_g``, ``D = τ² + 1 − σ²``, ``ζ = 1 − aλ``, ``a1 = 1 − ζm(ζ)``, ``a2 = 1 − a(1 − λ)m(ζ)``."""
    q = _derived(np.asarray(x, float), eps, tau2, psi1, psi2)
    lam, P, beta, gamma = q["lam"], q["P"], q["beta"], q["gamma"]
    e1 = 1.0 - lam * psi1 * q["kappa"] * q["a2"] / (psi2 * P)
    e2 = (q["D"] - q["alpha"] ** 2) - lam * psi1 * (q["a1"] - beta**2 / P**2 * q["a2"]) \
        - lam * gamma**2 / (P**2 * (1.0 - lam))
    e3 = gamma**2 / (P * (1.0 - lam) ** 2) - psi1 * (P * q["a1"] + beta**2 / P * q["a2"]) \
        - lam * psi1 * (P * q["a1p"] + beta**2 / P * q["a2p"])
    return np.stack([e1, e2, e3])


def is_trivial(eps, tau2, psi1, psi2):
    """``θ̂ = 0`` in the limit iff ``ψ1(1 − m(1)) + (1 + τ²)(ψ1/ψ2)(1 − a m(1)) ≤ ε²a(1 + τ²)`` [derived]
    (sub-gradient condition ``‖J⁻¹Zᵀy/n‖ ≤ ε·mean|y|`` at ``θ = 0``)."""
    m1 = mp_m(1.0, psi1)
    lhs = psi1 * (1.0 - m1) + (1.0 + tau2) * psi1 / psi2 * (1.0 - A * m1)
    return lhs <= eps**2 * A * (1.0 + tau2)


# ----------------------------------------------------------------------------------------------
# solutions
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvRFLimit:
    """The limit at one or more parameter points (arrays of equal shape).

    ``alpha`` = α⋆ (``α⋆² = SR − σ²``), ``t`` = lim ‖Jθ̂‖, ``kappa`` = β⋆/τ_g⋆, ``SR``, ``sigma2`` = σ²,
    ``nu`` = ν⋆, ``interp_frac`` = erf(ν⋆/√2), ``lam`` = the multiplier λ, ``R`` = the saddle value R⋆
    (limit of ``min_θ L_ε(θ)``), ``paper_vars`` = (α, τ_g, β, γ, τ_q) stacked on the first axis,
    ``trivial`` where θ̂ = 0."""

    eps: np.ndarray
    tau2: np.ndarray
    psi1: np.ndarray
    psi2: np.ndarray
    alpha: np.ndarray
    t: np.ndarray
    kappa: np.ndarray
    SR: np.ndarray
    sigma2: np.ndarray
    nu: np.ndarray
    interp_frac: np.ndarray
    lam: np.ndarray
    R: np.ndarray
    paper_vars: np.ndarray
    trivial: np.ndarray

    def AR(self, eps_test=None):
        """``AR_ε′ = SR + 2√(2/π) ε′ t √SR + ε′² t²`` (= the paper's eq. (4.6)); ε′ = ε by default."""
        e = self.eps if eps_test is None else np.asarray(eps_test, float)
        return robust_risk_closed_form(self.SR, self.t, e)


def robust_risk_closed_form(SR, t, eps_test):
    """``E(|r| + ε′t)² = SR + 2√(2/π) ε′ t √SR + ε′² t²`` for ``r ~ N(0, SR)`` (AR-cf) [derived]."""
    SR, t, e = (np.asarray(v, float) for v in (SR, t, eps_test))
    return SR + 2.0 * SQRT_2_PI * e * t * np.sqrt(SR) + e * e * t * t


def _outputs(x, eps, tau2, psi1, psi2):
    q = _derived(x, eps, tau2, psi1, psi2)
    P, lam, gamma, beta = q["P"], q["lam"], q["gamma"], q["beta"]
    Lam = lam * psi1 / 2.0 * (P**2 * q["a1"] + beta**2 * q["a2"]) - lam * gamma**2 / (2.0 * (1.0 - lam))
    R = P / 2.0 * (q["D"] - q["alpha"] ** 2) + beta * q["tau_g"] * psi2 / 2.0 + q["F"] - gamma * q["t"] - Lam / P
    nu = eps * q["t"] / (q["kappa"] * q["s"])
    return q, nu, R


# multistart set of spec §5.5, in log coordinates (α, t, κ)
_STARTS = np.log(np.array([(a, t, k) for a in (0.3, 0.8) for t in (0.3, 1.0) for k in (0.01, 0.3, 3.0)]))
RESIDUAL_TOL = 1e-9


def _acceptable(x, eps, tau2, psi1, psi2) -> bool:
    if not np.all(np.isfinite(x)) or np.any(np.abs(x) > 60):
        return False
    with np.errstate(all="ignore"):
        r = reduced_residuals(x, eps, tau2, psi1, psi2)
        lam = _derived(x, eps, tau2, psi1, psi2)["lam"]
    return bool(np.all(np.isfinite(r)) and np.max(np.abs(r)) < RESIDUAL_TOL and 0.0 < lam < 1.0)


def _acceptable_batch(X, eps, tau2, psi1, psi2) -> np.ndarray:
    """:func:`_acceptable` for every column of ``X`` (shape (3, B)) at once; a boolean mask (B,)."""
    ok = np.all(np.isfinite(X), axis=0) & np.all(np.abs(np.nan_to_num(X, nan=np.inf)) <= 60, axis=0)
    if not ok.any():
        return ok
    idx = np.flatnonzero(ok)
    with np.errstate(all="ignore"):
        r = reduced_residuals(X[:, idx], eps[idx], tau2[idx], psi1[idx], psi2[idx])
        lam = _derived(X[:, idx], eps[idx], tau2[idx], psi1[idx], psi2[idx])["lam"]
        good = np.all(np.isfinite(r), axis=0) & (np.max(np.abs(r), axis=0) < RESIDUAL_TOL) & (lam > 0.0) & (lam < 1.0)
    ok[idx] = good
    return ok


def _nearest_solved(idx, done, group, logp1):
    """For each point of ``idx``: the solved point of the same group (same ε, τ², ψ2) with the
    nearest log ψ1 (the first one on ties), or −1; vectorised per group."""
    out = np.full(idx.size, -1)
    cand_all = np.flatnonzero(done)
    if cand_all.size == 0 or idx.size == 0:
        return out
    for g in np.unique(group[idx]):
        q = np.flatnonzero(group[idx] == g)
        cand = cand_all[group[cand_all] == g]
        if cand.size:
            dist = np.abs(logp1[cand][None, :] - logp1[idx[q]][:, None])
            out[q] = cand[np.argmin(dist, axis=1)]
    return out


def _newton_batch(X0, eps, tau2, psi1, psi2, iters=40, h=1e-7):
    """Damped Newton with a forward-difference Jacobian and backtracking on ``‖E‖²``, run at once for
    every column of ``X0`` (shape (3, B)); parameters broadcast over B.  Columns leave the batch when
    ``‖E‖ < 1e-13`` or when no step decreases ``‖E‖``.  Returns the final iterates."""
    B = X0.shape[1]
    eps, tau2, psi1, psi2 = (np.broadcast_to(np.asarray(v, float), (B,)) for v in (eps, tau2, psi1, psi2))
    X = X0.copy()
    with np.errstate(all="ignore"):
        Fx = reduced_residuals(X, eps, tau2, psi1, psi2)
        act = np.flatnonzero(np.all(np.isfinite(Fx), axis=0))
        for _ in range(iters):
            f2 = np.sum(Fx[:, act] ** 2, axis=0)
            act = act[f2 > 1e-26]
            if act.size == 0:
                break
            f2 = np.sum(Fx[:, act] ** 2, axis=0)
            pa = (eps[act], tau2[act], psi1[act], psi2[act])
            Xa, Fa = X[:, act], Fx[:, act]
            # the three forward differences in one call: columns [x + h e_0 | x + h e_1 | x + h e_2]
            Xh = np.tile(Xa, 3)
            for j in range(3):
                Xh[j, j * act.size:(j + 1) * act.size] += h
            Fh = reduced_residuals(Xh, *(np.tile(p, 3) for p in pa)).reshape(3, 3, act.size)
            Jac = ((Fh - Fa[:, None, :]) / h).transpose(2, 0, 1)   # Jac[b, i, j] = ∂E_i/∂x_j
            good = np.all(np.isfinite(Jac), axis=(1, 2))
            good[good] = np.abs(np.linalg.det(Jac[good])) > 1e-300
            step = np.zeros_like(Xa)
            if good.any():
                step[:, good] = -np.linalg.solve(Jac[good], Fa[:, good].T[..., None])[..., 0].T
            step = np.clip(step, -2.0, 2.0)
            moved = np.zeros(act.size, bool)
            tt = 1.0
            for _ in range(25):
                todo = good & ~moved
                if not todo.any():
                    break
                cand = Xa[:, todo] + tt * step[:, todo]
                fc = reduced_residuals(cand, *(p[todo] for p in pa))
                better = np.all(np.isfinite(fc), axis=0) & (np.sum(fc * fc, axis=0) < (1 - 1e-4 * tt) * f2[todo])
                idx = np.flatnonzero(todo)[better]
                X[:, act[idx]], Fx[:, act[idx]] = cand[:, better], fc[:, better]
                moved[idx] = True
                tt *= 0.5
            act = act[moved]
    return X


def _sel(p, mask):
    p = np.asarray(p, float)
    return p[mask] if p.ndim else p


def _solve_one(x0, eps, tau2, psi1, psi2):
    """hybr from ``x0`` (continuation guess), then the multistart set; ``None`` if nothing is accepted."""
    guesses = ([x0] if x0 is not None else []) + list(_STARTS)
    for g in guesses:
        with np.errstate(all="ignore"):
            sol = optimize.root(reduced_residuals, g, args=(eps, tau2, psi1, psi2), method="hybr",
                                options=dict(xtol=1e-13))
        if _acceptable(sol.x, eps, tau2, psi1, psi2):
            return sol.x
    return None


def solve_grid(eps, tau2, psi1, psi2) -> AdvRFLimit:
    """The limit at every point of the broadcast grid ``(ε, τ², ψ1, ψ2)``, vectorised.

    1. Points in the trivial regime (:func:`is_trivial`) get θ̂ = 0.
    2. All other points are solved together by batched damped Newton (:func:`_newton_batch`) from
       the first start of a fixed multistart set (12 starts in log(α, t, κ); no per-point tuning);
       unsolved points are then seeded from the root at the nearest solved ψ1 of the same
       (ε, τ², ψ2) (continuation, repeated while it makes progress), then from the next start.
    3. Points still without an accepted root get MINPACK hybr from the nearest solved neighbour and
       from every start.
    4. A root is accepted only if ``max|E| < 1e-9``, it is finite and ``0 < λ < 1``; otherwise
       :class:`TheoryError` names the failing points.
    """
    e, tq, p1, p2 = np.broadcast_arrays(*(np.asarray(v, float) for v in (eps, tau2, psi1, psi2)))
    shape = e.shape
    e, tq, p1, p2 = (v.ravel() for v in (e, tq, p1, p2))
    if np.any(e <= 0) or np.any(tq < 0) or np.any(p1 <= 0) or np.any(p2 <= 0):
        raise ValueError("need eps > 0, tau2 >= 0, psi1 > 0, psi2 > 0")
    B = e.size
    triv = is_trivial(e, tq, p1, p2)
    X = np.full((3, B), np.nan)
    done = triv.copy()

    group = np.unique(np.stack([e, tq, p2]), axis=1, return_inverse=True)[1].reshape(-1)
    logp1 = np.log(p1)

    def attempt(idx, X0):
        Xs = _newton_batch(X0, e[idx], tq[idx], p1[idx], p2[idx])
        ok = _acceptable_batch(Xs, e[idx], tq[idx], p1[idx], p2[idx])
        X[:, idx[ok]], done[idx[ok]] = Xs[:, ok], True

    def neighbour_guesses(idx):
        """The root at the nearest solved ψ1 of the same (ε, τ², ψ2), for the points ``idx`` that have one."""
        j = _nearest_solved(idx, done & ~triv, group, logp1)
        has = j >= 0
        return idx[has], (X[:, j[has]] if has.any() else None)

    def continuation():
        """Seed unsolved points from their nearest solved neighbour, as long as that makes progress."""
        while not done.all():
            before = int(np.sum(~done))
            idx, G = neighbour_guesses(np.flatnonzero(~done))
            if idx.size == 0:
                return
            attempt(idx, G)
            if int(np.sum(~done)) == before:
                return

    for x0 in _STARTS:
        if done.all():
            break
        todo = np.flatnonzero(~done)
        attempt(todo, np.repeat(x0[:, None], todo.size, axis=1))
        continuation()
    for i in np.flatnonzero(~done):  # continuation from the nearest solved neighbour
        same = done & ~triv & (e == e[i]) & (tq == tq[i]) & (p2 == p2[i])
        x0 = None
        if same.any():
            j = np.flatnonzero(same)[np.argmin(np.abs(np.log(p1[same] / p1[i])))]
            x0 = X[:, j]
        x = _solve_one(x0, e[i], tq[i], p1[i], p2[i])
        if x is not None:
            X[:, i], done[i] = x, True
    if not done.all():
        bad = ", ".join(f"(eps={e[i]:g}, tau2={tq[i]:g}, psi1={p1[i]:g}, psi2={p2[i]:g})" for i in np.flatnonzero(~done)[:5])
        raise TheoryError(f"no root of the reduced system with |E| < {RESIDUAL_TOL:g} and 0 < lambda < 1 at "
                          f"{np.sum(~done)} point(s): {bad}")
    return _assemble(X, triv, e, tq, p1, p2, shape)


def _assemble(X, triv, e, tq, p1, p2, shape) -> AdvRFLimit:
    sig2 = best_in_class_risk(tq, p1)
    out = {k: np.full(e.size, np.nan) for k in ("alpha", "t", "kappa", "SR", "nu", "interp", "lam", "R")}
    pv = np.full((5, e.size), np.nan)
    nt = ~triv
    if nt.any():
        q, nu, R = _outputs(X[:, nt], e[nt], tq[nt], p1[nt], p2[nt])
        out["alpha"][nt], out["t"][nt], out["kappa"][nt] = q["alpha"], q["t"], q["kappa"]
        out["SR"][nt], out["nu"][nt], out["interp"][nt] = q["s"] ** 2, nu, special.erf(nu / np.sqrt(2.0))
        out["lam"][nt], out["R"][nt] = q["lam"], R
        pv[:, nt] = np.stack([q["alpha"], q["tau_g"], q["beta"], q["gamma"], q["P"] * q["alpha"]])
    # trivial regime: θ̂ = 0, SR = AR = 1 + τ², t = 0, nothing interpolated, L(0) = E y²/2
    out["alpha"][triv] = np.sqrt(1.0 + tq[triv] - sig2[triv])
    out["t"][triv], out["SR"][triv], out["interp"][triv] = 0.0, 1.0 + tq[triv], 0.0
    out["nu"][triv], out["R"][triv] = 0.0, (1.0 + tq[triv]) / 2.0
    r = lambda v: v.reshape(shape)  # noqa: E731
    return AdvRFLimit(r(e), r(tq), r(p1), r(p2), r(out["alpha"]), r(out["t"]), r(out["kappa"]), r(out["SR"]),
                      r(sig2), r(out["nu"]), r(out["interp"]), r(out["lam"]), r(out["R"]),
                      pv.reshape((5,) + shape), r(triv))


def solve_point(eps: float, tau2: float, psi1: float, psi2: float) -> AdvRFLimit:
    """The limit at one point (0-d arrays in the result)."""
    return solve_grid(eps, tau2, psi1, psi2)


def solve_curve(psi1_grid, eps: float, tau2: float, psi2: float) -> AdvRFLimit:
    """The limit along a ψ1 grid at fixed (ε, τ², ψ2)."""
    return solve_grid(eps, tau2, np.asarray(psi1_grid, float), psi2)


# ----------------------------------------------------------------------------------------------
# the literal objective of Theorem 4.2, for the cross-check (spec §5.6)
# ----------------------------------------------------------------------------------------------


def nu_star(c: float, ratio: float) -> float:
    """The positive root ν⋆ of ``c − (β/τ_g)ν − ν erf(ν/√2) − √(2/π) e^{−ν²/2} = 0`` (ratio = β/τ_g),
    for ``c > √(2/π)``; brentq on ``[0, c/ratio + 10]``."""
    f = lambda v: c - ratio * v - v * special.erf(v / np.sqrt(2.0)) - SQRT_2_PI * np.exp(-v * v / 2.0)  # noqa: E731
    return optimize.brentq(f, 0.0, c / ratio + 10.0, xtol=1e-16, rtol=4 * np.finfo(float).eps, maxiter=500)


def _lambda_sup(P2, b2, g2, psi1):
    """``sup_{0≤λ<1} λψ1/2 {P² + β² + (P²(1 − aλ) + a(1 − λ)β²) S(aλ − 1)} − λγ²/(2(1 − λ))``:
    a 600-point scan (dense near 1), then bounded Brent around the best point."""
    def g(lam):
        return lam * psi1 / 2.0 * (P2 + b2 + (P2 * (1.0 - A * lam) + A * (1.0 - lam) * b2)
                                   * stieltjes_S(A * lam - 1.0, psi1)) - lam * g2 / (2.0 * (1.0 - lam))

    grid = np.concatenate([np.linspace(0.0, 0.99, 400), 1.0 - np.geomspace(1e-2, 1e-12, 200)])
    vals = g(grid)
    k = int(np.argmax(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    if hi <= lo:
        return float(vals[k])
    res = optimize.minimize_scalar(lambda v: -g(v), bounds=(lo, hi), method="bounded",
                                   options=dict(xatol=1e-14, maxiter=500))
    return float(max(-res.fun, vals[k]))


def paper_objective_R(v, eps: float, tau2: float, psi1: float, psi2: float) -> float:
    """``R(α, τ_g, β, γ, τ_q)`` of Theorem 4.2 exactly as printed, at ``v = (α, τ_g, β, γ, τ_q)``:

    ``τ_q(τ² + 1 − σ²)/(2α) − ατ_q/2 + βτ_gψ2/2 + β(σ² + α²)/(2(τ_g + β))
    + 1{c > √(2/π)} β²(α² + σ²)(erf(ν⋆/√2) − cν⋆)/(2τ_g(τ_g + β)) − (α/τ_q) sup_λ[…]``,
    ``c = γ(τ_g + β)/(εβ√(α² + σ²))``."""
    al, tg, b, g, tq = (float(x) for x in v)
    sig2 = float(best_in_class_risk(tau2, psi1))
    s2 = al * al + sig2
    R = tq / (2 * al) * (tau2 + 1 - sig2) - al * tq / 2 + b * tg * psi2 / 2 + b / (2 * (tg + b)) * s2
    c = g * (tg + b) / (eps * b * np.sqrt(s2))
    if c > SQRT_2_PI:
        nu = nu_star(c, b / tg)
        R += b * b * s2 / (2 * tg * (tg + b)) * (special.erf(nu / np.sqrt(2)) - c * nu)
    return float(R - al / tq * _lambda_sup(tq * tq / (al * al), b * b, g * g, psi1))


def paper_nu(v, eps: float, tau2: float, psi1: float) -> float:
    """ν⋆ of Theorem 4.2 at ``v = (α, τ_g, β, γ, τ_q)`` from the paper's equation (0 if ``c ≤ √(2/π)``)."""
    al, tg, b, g, _ = (float(x) for x in v)
    s = np.sqrt(al * al + float(best_in_class_risk(tau2, psi1)))
    c = g * (tg + b) / (eps * b * s)
    return nu_star(c, b / tg) if c > SQRT_2_PI else 0.0


def saddle_diagnostics(v, eps: float, tau2: float, psi1: float, psi2: float, h: float = 1e-6,
                       h2: float = 1e-3) -> dict:
    """Cross-check at ``v = (α, τ_g, β, γ, τ_q)``: the central-difference gradient of R in log
    coordinates (step ``h``), and the eigenvalues of the Hessian blocks in log coordinates (step ``h2``):
    the (α, τ_g) block must be positive definite, the (β, γ, τ_q) block negative definite."""
    lv = np.log(np.asarray(v, float))
    Rl = lambda w: paper_objective_R(np.exp(w), eps, tau2, psi1, psi2)  # noqa: E731
    E = np.eye(5)
    grad = np.array([(Rl(lv + h * E[i]) - Rl(lv - h * E[i])) / (2 * h) for i in range(5)])
    H = np.empty((5, 5))
    R0 = Rl(lv)
    for i in range(5):
        for j in range(i, 5):
            if i == j:
                H[i, i] = (Rl(lv + h2 * E[i]) - 2 * R0 + Rl(lv - h2 * E[i])) / h2**2
            else:
                H[i, j] = H[j, i] = (Rl(lv + h2 * (E[i] + E[j])) - Rl(lv + h2 * (E[i] - E[j]))
                                     - Rl(lv - h2 * (E[i] - E[j])) + Rl(lv - h2 * (E[i] + E[j]))) / (4 * h2**2)
    return dict(grad=grad, R=R0, eig_min=np.linalg.eigvalsh(H[:2, :2]), eig_max=np.linalg.eigvalsh(H[2:, 2:]))
