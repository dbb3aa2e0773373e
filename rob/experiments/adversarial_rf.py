"""Runs of the adversarial-rf chapter (Hassani & Javanmard, arXiv:2201.05149): the curse of
overparametrization in adversarial training of random-features regression.

* **Theory**: the limits of Theorem 4.2 on a ψ1 grid for every (ε, ψ2) of the scale, by the reduced
  system of :mod:`rob.theory.adversarial_rf`, plus the literal-objective cross-check and the σ²
  spectrum check.
* **Simulation**: ``trials`` independent instances (nested design: one ``W_max``, β₀ and training
  set per trial; the first ``N = ψ1·d`` rows of ``W_max`` and the first ``n = ψ2·d`` samples for each
  grid point, both ε on the same instance).  Each fit minimises the concentrated robust objective
  (:func:`rob.adv_train_rf.fit_concentrated_surrogate`); its SR is exact, ``t = ‖Jθ̂‖`` and AR follows
  from (AR-cf).  The first ``pgd_instances`` trials also attack the model trained at ε = ``pgd_eps``
  with two-sided ℓ2 PGD on fresh test points (:func:`rob.attacks.pgd_l2_regression`).

Each trial has its own stream ``np.random.default_rng([seed, 1, d, trial])``.  The runs pin BLAS to
one thread.  Per trial one Cholesky factorisation of ``J²`` at the largest ``N`` whitens every grid point
(nested leading blocks); the eigenvalues of each ``J²`` (without eigenvectors) give ``λ_min``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import adv_train_rf as F
from .. import attacks, data, solvers
from ..book.executor import Task, run_tasks
from ..book.progress import track
from ..theory import adversarial_rf as T

# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------

#: The simulated ψ1 grid at ci scale; the paper grid contains it.
CI_PSI1 = (0.5, 1.0, 1.5, 2.5, 4.0, 6.0, 10.0, 20.0)


@dataclass(frozen=True)
class Config:
    """Sizes of one scale (spec §7): dimension, noise, ψ2 and ε values, simulated ψ1 grid, trials,
    theory grid, PGD check (instances, test points, ψ1 values, radius) and the finite-d bias allowance
    of the simulation checks (``bias·th + 4·SE``)."""

    scale: str
    d: int
    tau2: float
    psi2s: tuple[float, ...]
    eps: tuple[float, ...]
    psi1_sim: tuple[float, ...]
    trials: int
    theory_psi1: tuple[float, ...]
    pgd_instances: int
    pgd_n_test: int
    pgd_psi1: tuple[float, ...]
    pgd_eps: float = 0.1
    pgd_steps: int = 40
    bias: float = 0.04
    head_psi2: float = 2.0
    head_eps: tuple[float, float] = (0.1, 0.3)
    limit_psi1: float = 1000.0


def _geom(lo: float, hi: float, k: int) -> tuple[float, ...]:
    return tuple(float(x) for x in np.geomspace(lo, hi, k))


def config(scale: str) -> Config:
    """The sizes of ``scale`` ("ci" or "paper")."""
    if scale == "ci":
        return Config("ci", d=100, tau2=0.1, psi2s=(2.0,), eps=(0.1, 0.3), psi1_sim=CI_PSI1, trials=8,
                      theory_psi1=_geom(0.1, 100, 60), pgd_instances=1, pgd_n_test=500, pgd_psi1=(1.0, 10.0))
    if scale == "paper":
        grid = (0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 10.0, 14.0, 20.0)
        return Config("paper", d=200, tau2=0.1, psi2s=(0.5, 1.0, 2.0), eps=(0.05, 0.1, 0.2, 0.3, 0.5),
                      psi1_sim=grid, trials=16, theory_psi1=_geom(0.05, 1000, 120), pgd_instances=5,
                      pgd_n_test=2000, pgd_psi1=grid, bias=0.03)
    raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")


# ----------------------------------------------------------------------------------------------
# theory
# ----------------------------------------------------------------------------------------------


def theory(cfg: Config) -> pd.DataFrame:
    """Limits on the union of the theory grid, the simulated grid, ψ1 = 100 and ψ1 = ``limit_psi1``, for every
    (ε, ψ2): one row per point with AR (ε′ = ε), SR, σ², t, ν, the interpolated fraction, λ, R⋆ and the
    residual ``max|E|`` of the reduced system."""
    psi1 = np.unique(np.r_[cfg.theory_psi1, cfg.psi1_sim, 100.0, cfg.limit_psi1])
    e, p2, p1 = np.meshgrid(np.asarray(cfg.eps), np.asarray(cfg.psi2s), psi1, indexing="ij")
    L = T.solve_grid(e, cfg.tau2, p1, p2)
    x = np.log(np.stack([L.alpha, np.where(L.trivial, 1.0, L.t), np.where(L.trivial, 1.0, L.kappa)]))
    res = np.where(L.trivial, 0.0, np.max(np.abs(T.reduced_residuals(x, e, cfg.tau2, p1, p2)), axis=0))
    return pd.DataFrame(dict(eps=e.ravel(), psi2=p2.ravel(), psi1=p1.ravel(), AR=L.AR().ravel(),
                             SR=L.SR.ravel(), sigma2=L.sigma2.ravel(), t=L.t.ravel(), nu=L.nu.ravel(),
                             interp=L.interp_frac.ravel(), lam=L.lam.ravel(), R=L.R.ravel(),
                             trivial=L.trivial.ravel(), residual=res.ravel(),
                             on_curve=np.isin(p1, cfg.theory_psi1).ravel(),
                             simulated=np.isin(p1, cfg.psi1_sim).ravel()))


def cross_check(cfg: Config, psi1s: tuple[float, ...] = (0.5, 1.0, 4.0, 10.0)) -> pd.DataFrame:
    """Literal Theorem 4.2 at the reduced solution (spec §5.6), headline ψ2, both headline ε: largest
    |∂R/∂log v|, |ν (paper's equation) − εt/(κs)|, smallest eigenvalue of the (α, τ_g) Hessian block and
    largest of the (β, γ, τ_q) block (log coordinates)."""
    rows = []
    for eps in cfg.head_eps:
        L = T.solve_curve(psi1s, eps, cfg.tau2, cfg.head_psi2)
        for i, p1 in enumerate(psi1s):
            v = L.paper_vars[:, i]
            dg = T.saddle_diagnostics(v, eps, cfg.tau2, p1, cfg.head_psi2)
            nu = T.paper_nu(v, eps, cfg.tau2, p1)
            rows.append(dict(eps=eps, psi1=p1, grad=float(np.max(np.abs(dg["grad"]))),
                             nu_diff=abs(nu - float(L.nu[i])), eig_convex=float(dg["eig_min"].min()),
                             eig_concave=float(dg["eig_max"].max()), R_paper=dg["R"], R_reduced=float(L.R[i])))
    return pd.DataFrame(rows)


def spectrum_check(seed: int, d: int = 400, psi1s: tuple[float, ...] = (0.5, 2.0)) -> pd.DataFrame:
    """σ² at τ² = 0 from the spectrum of one draw, ``κ0·mean(1/(eig(WᵀW) + κ0))``, against the
    closed form (one W with unit rows at dimension d per ψ1)."""
    rows = []
    for p1 in psi1s:
        rng = np.random.default_rng([seed, 3, d, int(round(p1 * d))])
        W = data.sphere(int(round(p1 * d)), d, rng)
        ev = np.linalg.eigvalsh(W.T @ W)
        rows.append(dict(psi1=p1, spectrum=float(T.KAPPA0 * np.mean(1.0 / (ev + T.KAPPA0))),
                         theory=float(T.best_in_class_risk(0.0, p1))))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# simulation
# ----------------------------------------------------------------------------------------------


def trial(cfg: Config, seed: int, rep: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One instance (nested design); returns the fits (one row per (ψ2, ε, ψ1)) and, for
    ``rep < pgd_instances``, the PGD check (one row per ψ1 of ``pgd_psi1``)."""
    d = cfg.d
    rng = np.random.default_rng([seed, 1, d, rep])
    Ns = [int(round(p * d)) for p in cfg.psi1_sim]
    ns = {p2: int(round(p2 * d)) for p2 in cfg.psi2s}
    n_max = max(ns.values())
    with threadpool_limits(limits=1, user_api="blas"):
        W_max = data.sphere(max(Ns), d, rng)
        beta0 = data.sphere(1, d, rng)[0]
        X = rng.standard_normal((n_max, d))
        y = X @ beta0 + np.sqrt(cfg.tau2) * rng.standard_normal(n_max)
        attack = rep < cfg.pgd_instances
        if attack:
            X_test = rng.standard_normal((cfg.pgd_n_test, d))
            y_test = X_test @ beta0 + np.sqrt(cfg.tau2) * rng.standard_normal(cfg.pgd_n_test)
        K_max, J2_max = F.rf_kernels(W_max)
        Z_max = F.rf_features(X, W_max)
        # one Cholesky J²_max = LLᵀ and one whitened design Z̃ = Z L⁻ᵀ serve every (ψ1, ψ2): their
        # leading blocks are those of J²[:N, :N] and Z[:n, :N] (see F.CholeskyWhitening)
        L_max = F.cholesky_factor(J2_max)
        Zt_max = F.cholesky_design(Z_max, L_max)
        rows, pgd_rows = [], []
        for p1, N in zip(cfg.psi1_sim, Ns):
            W, K, J2 = W_max[:N], K_max[:N, :N], J2_max[:N, :N]
            wh = F.whiten_cholesky(J2, L=np.ascontiguousarray(L_max[:N, :N]))
            for p2, n in ns.items():
                Z, yy, Zt = Z_max[:n, :N], y[:n], Zt_max[:n, :N]
                th_mn = solvers.min_norm_lstsq(Z, yy)  # ridgeless (minimum-‖θ‖) contrast
                sr_mn = F.standard_risk(th_mn, W, beta0, K, cfg.tau2)
                t_mn = float(np.sqrt(th_mn @ J2 @ th_mn))
                phi_mn = F.min_J_norm_interpolator_whitened(Zt, yy, wh) if N > n else None
                red, c0 = F.reduce_whitened(Zt), None
                for eps in cfg.eps:  # warm start from the fit at the previous ε
                    fit = F.fit_concentrated_surrogate(Z, yy, wh, eps, reduced=red, c0=c0)
                    c0 = fit.c
                    th = fit.theta
                    SR = F.standard_risk(th, W, beta0, K, cfg.tau2)
                    t = float(np.sqrt(th @ J2 @ th))
                    rel = (float(np.linalg.norm(th - phi_mn) / np.linalg.norm(phi_mn)) if phi_mn is not None
                           else np.nan)
                    rows.append(dict(
                        rep=rep, psi2=p2, eps=eps, psi1=p1, N=N, n=n, SR=SR, t=t,
                        AR=float(F.robust_risk_closed_form(SR, t, eps)),
                        L=F.surrogate_objective(th, Z, yy, J2, eps),
                        interp=float(np.mean(np.abs(yy - Z @ th) <= 1e-3)), rel_mn=rel,
                        grad_norm=fit.grad_norm, iterations=fit.iterations, smoothing_gap=fit.smoothing_gap,
                        lam_min=float(wh.evals[0]), SR_ridgeless=sr_mn, t_ridgeless=t_mn,
                        AR01_ridgeless=float(F.robust_risk_closed_form(sr_mn, t_mn, 0.1))))
                    if attack and eps == cfg.pgd_eps and p2 == cfg.head_psi2 and p1 in cfg.pgd_psi1:
                        pgd_rows.append(dict(rep=rep, psi1=p1, t=t, **pgd_check(W, th, X_test, y_test, beta0, K,
                                                                               cfg.tau2, eps, cfg.pgd_steps)))
    return pd.DataFrame(rows), pd.DataFrame(pgd_rows)


def pgd_check(W, theta, X_test, y_test, beta0, K, tau2, eps_test, steps=40) -> dict:
    """Attack ``f(x) = θᵀσ(Wx)`` with two-sided ℓ2 PGD (``steps`` steps of ε′/8) and compare, on the
    same test points, with the linearised loss ``(|r| + ε′‖∇ₓf(x)‖)²`` and with (AR-cf)."""
    f, g = F.model_and_gradient(W, theta)
    loss, _, _ = attacks.pgd_l2_regression_rf(W, theta, X_test, y_test, eps_test, steps=steps, shift=F.SHIFT)
    gn = np.concatenate([np.linalg.norm(g(X_test[s:s + 500]), axis=1) for s in range(0, len(X_test), 500)])
    r = np.abs(y_test - f(X_test))
    SR = F.standard_risk(theta, W, beta0, K, tau2)
    return dict(AR_pgd=float(np.mean(loss)), AR_lin=float(np.mean((r + eps_test * gn) ** 2)),
                SR_test=float(np.mean(r * r)), SR_exact=SR, grad_mean=float(np.mean(gn)),
                grad_sd=float(np.std(gn)))


def simulate(cfg: Config, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All trials: (fits, PGD rows)."""
    out = run_tasks(simulate_tasks(cfg, seed), f"adversarial training (d={cfg.d})")
    return (pd.concat([o[0] for o in out], ignore_index=True),
            pd.concat([o[1] for o in out], ignore_index=True))


def simulate_tasks(cfg: Config, seed: int) -> list[Task]:
    """One :func:`trial` per replicate (stream ``(seed, 1, d, trial)``)."""
    return [Task(trial, dict(cfg=cfg, seed=seed, rep=r), ("trial", r)) for r in range(cfg.trials)]


def tasks(cfg: Config, seed: int) -> list[Task]:
    """Every task of the chapter's sweeps (for ``rob plan``)."""
    return simulate_tasks(cfg, seed)


@dataclass(frozen=True)
class Results:
    """Theory table, cross-check table, spectrum check, simulated fits and PGD rows."""

    theory: pd.DataFrame
    cross: pd.DataFrame
    spectrum: pd.DataFrame
    sim: pd.DataFrame
    pgd: pd.DataFrame


def summarise(sim: pd.DataFrame, cols=("AR", "SR", "t", "L", "interp")) -> pd.DataFrame:
    """Mean and standard error (sample s.d./√trials) over trials for each (ψ2, ε, ψ1)."""
    g = sim.groupby(["psi2", "eps", "psi1"])
    out = g[list(cols)].mean()
    se = g[list(cols)].std(ddof=1) / np.sqrt(g.size().to_numpy()[:, None])
    return out.join(se.add_suffix("_se")).reset_index()


def matched(res: Results) -> pd.DataFrame:
    """The simulation summary joined with the theory at the same (ψ2, ε, ψ1)."""
    th = res.theory[res.theory.simulated][["psi2", "eps", "psi1", "AR", "SR", "t", "R", "interp"]]
    return summarise(res.sim).merge(th, on=["psi2", "eps", "psi1"], suffixes=("", "_th"), validate="1:1")


# ----------------------------------------------------------------------------------------------
# acceptance checks (spec §8)
# ----------------------------------------------------------------------------------------------


def _curve(th: pd.DataFrame, eps: float, psi2: float, col: str = "AR", which: str = "on_curve") -> pd.Series:
    sub = th[(th.eps == eps) & (th.psi2 == psi2) & th[which]]
    return pd.Series(sub[col].to_numpy(), index=sub.psi1.to_numpy())


def _at(th: pd.DataFrame, eps: float, psi2: float, psi1: float, col: str = "AR") -> float:
    sub = th[(th.eps == eps) & (th.psi2 == psi2) & np.isclose(th.psi1, psi1)]
    return float(sub[col].iloc[0])


def landmarks(th: pd.DataFrame, eps: float, psi2: float) -> dict[str, float]:
    """Peak (ψ1 < 4) and minimum (ψ1 ≥ 3) of the theory AR curve on its grid."""
    c = _curve(th, eps, psi2)
    low, high = c[c.index < 4], c[c.index >= 3]
    return dict(peak_psi1=float(low.idxmax()), peak=float(low.max()),
                min_psi1=float(high.idxmin()), min=float(high.min()))


def fine_landmarks(cfg: Config, points: int = 1500) -> dict[str, float]:
    """Peak (ψ1 < 4) and minimum (3 ≤ ψ1 ≤ 100) of the theory AR at ψ2 = ``head_psi2`` for both
    headline ε on a fine log grid of ``points`` in [0.5, 100] (for the text; the checks use the
    figure's grid)."""
    grid = np.geomspace(0.5, 100, points)
    out = {}
    for e, tag in zip(cfg.head_eps, ("", "3")):
        ar = T.solve_curve(grid, e, cfg.tau2, cfg.head_psi2).AR()
        low, high = grid < 4, grid >= 3
        i, j = np.argmax(np.where(low, ar, -np.inf)), np.argmin(np.where(high, ar, np.inf))
        out.update({f"arf-fine-peak{tag}-psi1": float(grid[i]), f"arf-fine-peak{tag}": float(ar[i]),
                    f"arf-fine-min{tag}-psi1": float(grid[j]), f"arf-fine-min{tag}": float(ar[j])})
    return out


def record_checks(report, cfg: Config, res: Results) -> dict[str, float]:
    """Record checks A0-A10 in ``report``; return the numbers the prose quotes."""
    th, ps2, (e1, e3) = res.theory, cfg.head_psi2, cfg.head_eps
    quote: dict[str, float] = {}

    report.below("A0", "reduced system: largest residual max|E| over the theory grid (every ε, ψ2, ψ1)",
                 th.residual.max(), T.RESIDUAL_TOL)
    sp = res.spectrum
    report.below("A1", "σ² at τ² = 0: |κ0·mean 1/(eig(WᵀW)+κ0) − formula| (d = 400, ψ1 = 0.5, 2)",
                 np.abs(sp.spectrum - sp.theory), 0.003)
    cc = res.cross
    report.below("A2 grad", "literal R of Thm 4.2 at the reduced solution: max |∂R/∂log vᵢ| (ψ1 = 0.5, 1, 4, 10; both ε)",
                 cc.grad, 1e-6)
    report.below("A2 nu", "ν⋆ from the paper's equation vs εt/(κs)", cc.nu_diff, 1e-8)
    report.above("A2 convex", "saddle signature: smallest eigenvalue of the (α, τ_g) Hessian block (> 0)",
                 cc.eig_convex.min(), 1e-12)
    report.below("A2 concave", "saddle signature: largest eigenvalue of the (β, γ, τ_q) Hessian block (< 0)",
                 cc.eig_concave.max(), -1e-12)

    lm1, lm3 = landmarks(th, e1, ps2), landmarks(th, e3, ps2)
    c1 = _curve(th, e1, ps2)
    rising = c1[(c1.index >= 6) & (c1.index <= 100)]
    ar6, ar20 = _at(th, e1, ps2, 6.0), _at(th, e1, ps2, 20.0)
    ar_lim = _at(th, e1, ps2, cfg.limit_psi1)
    report.between("A3 min", f"theory ε = {e1}: argmin of AR over ψ1 ≥ 3", lm1["min_psi1"], 5.0, 7.0)
    report.above("A3 rise", f"theory ε = {e1}: smallest increment of AR on the grid points in [6, 100]",
                 float(np.min(np.diff(rising.to_numpy()))), 1e-12)
    report.above("A3 curse", f"theory ε = {e1}: AR(20)/AR(6)", ar20 / ar6, 1.2)
    report.between("A3 peak", f"theory ε = {e1}: location of the interpolation peak", lm1["peak_psi1"], 2.0, 2.6)
    report.within("A3 limit", f"theory ε = {e1}: AR(ψ1 = {cfg.limit_psi1:g}) → 1 + τ²", ar_lim, 1 + cfg.tau2, 0.01)
    same = [abs(_at(th, e1, ps2, p, col) - _at(th, e3, ps2, p, col)) for p in (10.0, 20.0) for col in ("SR", "t")]
    report.below("A4", f"theory ψ1 = 10, 20: |SR, t at ε = {e1} − at ε = {e3}| (same interpolator)", same, 1e-5)

    M = matched(res)
    b = cfg.bias
    r_ar = np.abs(M.AR - M.AR_th) / (b * M.AR_th + 4 * M.AR_se)
    r_sr = np.abs(M.SR - M.SR_th) / (b * M.SR_th + 4 * M.SR_se)
    r_t = np.abs(M.t - M.t_th) / (b * M.t_th + 4 * M.t_se + 0.02)
    report.below("A5 AR", f"simulation vs theory, every (ψ2, ε, ψ1): |AR_sim − AR_th|/({b:g}·AR_th + 4·SE)", r_ar, 1.0)
    report.below("A5 SR", f"same for SR: |SR_sim − SR_th|/({b:g}·SR_th + 4·SE)", r_sr, 1.0)
    report.below("A5 t", f"same for t = ‖Jθ̂‖: |t_sim − t_th|/({b:g}·t_th + 4·SE + 0.02)", r_t, 1.0)

    H = M[M.psi2 == ps2].set_index(["eps", "psi1"])
    curse = [(H.AR[(e, 20.0)] - H.AR[(e, 6.0)]) / (_at(th, e, ps2, 20.0) - _at(th, e, ps2, 6.0)) for e in (e1, e3)]
    report.above("A6 curse", "simulated curse: (AR_sim(20) − AR_sim(6))/(AR_th(20) − AR_th(6)), both ε", curse, 0.4)
    low = H.AR[e1][[p for p in CI_PSI1 if p < 4]]
    high = H.AR[e1][[p for p in CI_PSI1 if p >= 4]]
    report.equal("A6 peak", f"simulation ε = {e1}: argmax of AR over ψ1 ∈ {{0.5, 1, 1.5, 2.5}}", float(low.idxmax()), 2.5)
    report.equal("A6 min", f"simulation ε = {e1}: argmin of AR over ψ1 ∈ {{4, 6, 10, 20}}", float(high.idxmin()), 6.0)

    S = res.sim
    interp = S[(S.psi2 == ps2) & S.eps.isin(cfg.head_eps) & S.psi1.isin([10.0, 20.0])]
    report.below("A7", "ψ1 = 10, 20: ‖θ̂ − θ_mn‖/‖θ_mn‖, θ_mn the min-‖Jθ‖ interpolator (every trial, both ε)",
                 interp.rel_mn, 1e-3)
    sub = M[(M.psi2 == ps2) & M.eps.isin(cfg.head_eps) & M.psi1.isin([0.5, 1.0, 1.5, 4.0])]
    r_L = np.abs(sub.L - sub.R) / (b * sub.R + 4 * sub.L_se)
    report.below("A8 objective", f"min training objective vs R⋆ (ψ1 = 0.5, 1, 1.5, 4; both ε): |L − R⋆|/({b:g}·R⋆ + 4·SE)",
                 r_L, 1.0)
    report.below("A8 interp", "interpolated fraction vs erf(ν⋆/√2): |sim − th|/(0.02 + 4·SE)",
                 np.abs(sub.interp - sub.interp_th) / (0.02 + 4 * sub.interp_se), 1.0)

    P = res.pgd
    report.below("A9 PGD", f"PGD (ε′ = {cfg.pgd_eps}) vs linearised loss on the same test points: |AR_PGD − AR_lin|/AR_lin",
                 np.abs(P.AR_pgd - P.AR_lin) / P.AR_lin, 0.01)
    report.below("A9 grad", "mean ‖∇ₓf‖ over test points vs t = ‖Jθ̂‖: relative difference",
                 np.abs(P.grad_mean - P.t) / P.t, 0.02)
    report.below("A10", "solver tolerance: gradient norm of the smoothed objective at exit (every fit)",
                 S.grad_norm.max(), 1e-4)

    quote.update({
        "arf-peak-psi1": lm1["peak_psi1"], "arf-peak": lm1["peak"], "arf-min-psi1": lm1["min_psi1"],
        "arf-min": lm1["min"], "arf-peak3-psi1": lm3["peak_psi1"], "arf-peak3": lm3["peak"],
        "arf-min3-psi1": lm3["min_psi1"], "arf-min3": lm3["min"],
        "arf-ar6": ar6, "arf-ar20": ar20, "arf-ar100": _at(th, e1, ps2, 100.0), "arf-ar-lim": ar_lim,
        "arf-sim-ar6": float(H.AR[(e1, 6.0)]), "arf-sim-ar20": float(H.AR[(e1, 20.0)]),
        "arf-sim-ar6-3": float(H.AR[(e3, 6.0)]), "arf-sim-ar20-3": float(H.AR[(e3, 20.0)]),
        "arf-sim-sr6": float(H.SR[(e1, 6.0)]), "arf-sim-sr20": float(H.SR[(e1, 20.0)]),
        "arf-sim-t6": float(H.t[(e1, 6.0)]), "arf-sim-t20": float(H.t[(e1, 20.0)]),
        "arf-ratio-max": float(max(r_ar.max(), r_sr.max(), r_t.max())),
        "arf-rel-mn": float(interp.rel_mn.max()),
        "arf-pgd-rel": float((np.abs(P.AR_pgd - P.AR_lin) / P.AR_lin).max()),
        "arf-pgd-models": float(len(P)), "arf-pgd-instances": float(P.rep.nunique()),
        "arf-pgd-psi1": float(P.psi1.nunique()), "arf-pgd-points": float(cfg.pgd_n_test),
        "arf-grad-rel": float((np.abs(P.grad_mean - P.t) / P.t).max()),
        "arf-grad-spread": float((P.grad_sd / P.grad_mean).mean()),
        "arf-cross-grad": float(cc.grad.max()), "arf-trials": float(cfg.trials), "arf-d": float(cfg.d),
        "arf-ridgeless20": float(S[(S.psi2 == ps2) & (S.eps == e1) & (S.psi1 == 20.0)].AR01_ridgeless.mean()),
        "arf-ridgeless6": float(S[(S.psi2 == ps2) & (S.eps == e1) & (S.psi1 == 6.0)].AR01_ridgeless.mean()),
        "arf-grad-norm": float(S.grad_norm.max()),
        "arf-n-fits": float(len(S)),
    })
    return {k: float(v) for k, v in quote.items()}


__all__ = ["Config", "Results", "config", "theory", "fine_landmarks", "cross_check", "spectrum_check", "trial", "pgd_check",
           "simulate", "summarise", "matched", "landmarks", "record_checks", "replace", "CI_PSI1"]
