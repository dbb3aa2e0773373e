"""Sweeps of the memorization chapter (Dohmatob 2021, arXiv:2106.02630), following the author's
public code for the setting: unit-sphere inputs, linear teacher with Gaussian label noise ζ, RF or
first-layer NTK features with ``W_ij ~ N(0, 1/d)``, min-norm least squares or ridge ``λ·n``, and the
Sobolev seminorm estimated on fresh test points.

Each replicate is a handful of small matrix products, for which one BLAS thread is several times
faster than two (thread start-up dominates, and two threads collapse when another process shares
the cores), so the sweeps pin BLAS to one thread.

Every sweep returns a tidy :class:`pandas.DataFrame` with one row per (grid point, replicate, λ).
Each replicate draws fresh ``(w⋆, X, y, X_test, W)`` from its own stream
``np.random.default_rng([seed, panel, grid value, replicate])``, so results do not depend on loop
order, and all activations of a panel see the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .. import activations, data, features, kernels, robustness, solvers
from ..book.executor import Task, run_tasks
from ..stats import loglog_slope

# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DescentSweep:
    """𝔖, train and test error against n at fixed (d, k): the multiple-descent figures."""

    model: str
    acts: tuple[str, ...]
    d: int
    k: int
    ns: tuple[int, ...]
    lams: tuple[float, ...]
    zetas: tuple[float, ...]
    reps: int
    n_test: int
    certificate: bool = False


@dataclass(frozen=True)
class ScalingSweep:
    """Proportional scaling ``n = d/2``, ``k = 2d`` (the √n law)."""

    acts: tuple[str, ...]
    ds: tuple[int, ...]
    zeta: float
    reps: int
    n_test: int


@dataclass(frozen=True)
class WidthSweep:
    """𝔖² of the min-norm interpolator against width k at fixed small n."""

    model: str
    acts: tuple[str, ...]
    d: int
    n: int
    ks: tuple[int, ...]
    zeta: float
    reps: int
    n_test: int


@dataclass(frozen=True)
class Config:
    scale: str
    fig1: DescentSweep     # RF multiple descent
    fig1b: DescentSweep    # NTK companion
    noise: DescentSweep    # label-noise sweep (hue ζ, λ = 0)
    fig2a: ScalingSweep
    fig2b: WidthSweep      # RF, Proposition 3
    fig2c: WidthSweep      # NTK-abs, Proposition 5


_RF_CI_NS = (10, 20, 40, 60, 80, 90, 100, 110, 120, 150, 180, 200, 220, 260, 300, 400)
_NTK_CI_NS = (6, 12, 15, 24, 30, 36, 45, 60, 90, 120, 240, 400, 500, 560, 600, 640, 700, 900, 1200)
# Official grids (author's notebook), plus the points the checks read (0.75k, 0.8d, 1.2d, 2k, ...).
_RF_PAPER_NS = tuple(sorted({10, 30, 50, 70, 90, *range(100, 1001, 100), 240, 360, 450, 1200}))
_NTK_PAPER_NS = tuple(sorted({5, 10, 15, 20, 25, 40, 50, 60, 100, 150, 800, 1333, 4000,
                              *range(120, 2921, 100), 2000}))


def config(scale: str, n_test: int = 0) -> Config:
    """The grids of ``scale`` ("ci" or "paper"); ``n_test > 0`` overrides the number of test points
    (default 1000 at ci, 2000 at paper; at least 100)."""
    if scale == "ci":
        nt = n_test or 1000
        cfg = Config(
            scale,
            fig1=DescentSweep("rf", ("relu", "abs", "erf"), 100, 200, _RF_CI_NS, (0.0, 1e-4, 1e-2), (0.2,), 9, nt, True),
            fig1b=DescentSweep("ntk", ("relu", "abs", "erf"), 30, 20, _NTK_CI_NS, (0.0, 1e-2), (0.2,), 5, nt),
            noise=DescentSweep("rf", ("relu",), 100, 200, _RF_CI_NS, (0.0,), (0.0, 0.2, 1.0), 5, nt),
            fig2a=ScalingSweep(("relu", "abs"), (50, 100, 200, 400), 1.0, 5, nt),
            fig2b=WidthSweep("rf", ("relu", "abs"), 400, 16, (400, 800, 1600, 3200), 1.0, 10, nt),
            fig2c=WidthSweep("ntk", ("abs",), 40, 20, (10, 20, 40, 80), 1.0, 10, nt),
        )
    elif scale == "paper":
        nt = n_test or 2000
        lams = (0.0, 1e-5, 1e-4, 1e-3)
        cfg = Config(
            scale,
            fig1=DescentSweep("rf", ("relu", "abs", "erf", "tanh"), 300, 600, _RF_PAPER_NS, lams, (0.2,), 25, nt, True),
            fig1b=DescentSweep("ntk", ("relu", "abs", "erf", "tanh"), 50, 40, _NTK_PAPER_NS, lams, (0.2,), 10, nt),
            noise=DescentSweep("rf", ("relu", "erf"), 300, 600, _RF_PAPER_NS, (0.0,),
                               (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), 10, nt),
            fig2a=ScalingSweep(("relu", "abs"), (100, 200, 400, 800, 1600), 1.0, 10, nt),
            fig2b=WidthSweep("rf", ("relu", "abs"), 800, 32, (400, 800, 1600, 3200, 6400, 12800), 1.0, 20, nt),
            fig2c=WidthSweep("ntk", ("abs",), 80, 40, (10, 20, 40, 80, 160), 1.0, 20, nt),
        )
    else:
        raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")
    if n_test and n_test < 100:
        raise ValueError(f"n_test must be 0 (scale default) or at least 100, got {n_test}")
    return cfg


# ----------------------------------------------------------------------------------------------
# one replicate
# ----------------------------------------------------------------------------------------------


def replicate(model: str, act: str, d: int, k: int, n: int, zeta: float, lams: tuple[float, ...],
              n_test: int, rng: np.random.Generator, certificate: bool = False,
              device: str = "cpu") -> list[dict]:
    """Draw data and ``W``, fit every λ, and measure train/test MSE and 𝔖 (one row per λ).

    Columns: ``train_mse``, ``test_mse``, ``S`` (𝔖̂), ``S2`` (𝔖̂²), ``S2_se`` (its Monte-Carlo s.e.),
    ``y2c`` = ‖y − ȳ1‖², ``y2`` = ‖y‖², ``coef_norm2`` = ‖ĉ‖², and for ``certificate`` with λ = 0,
    n < p the Poincaré lower bound ``L`` of :func:`rob.kernels.poincare_certificate`.
    """
    sigma = activations.get(act)
    ds = data.sphere_regression(n, n_test, d, zeta, rng)
    W = features.random_weights(k, d, rng)
    Z = features.features(model, ds.X, W, sigma)
    C = solvers.fit_path(Z, ds.y, lams, device=device if model == "ntk" else "cpu")
    if model == "rf":  # one pass over the test pre-activations for values and gradients
        pred_test, grads = features.rf_value_and_grad(ds.X_test, W, C, sigma)
    else:
        pred_test = _predict_blocks(model, ds.X_test, W, sigma, C)
        grads = features.input_grad(model, ds.X_test, W, C, sigma)
    resid_train = Z @ C - ds.y[:, None]
    rows = []
    for i, lam in enumerate(lams):
        c = C[:, i]
        est = robustness.sobolev_seminorm(grads[i])
        row = dict(model=model, act=act, d=d, k=k, n=n, zeta=zeta, lam=lam,
                   train_mse=float(np.mean(resid_train[:, i] ** 2)),
                   test_mse=float(np.mean((pred_test[:, i] - ds.y_test) ** 2)),
                   S=est.value, S2=est.energy, S2_se=est.energy_se,
                   y2c=float(np.sum((ds.y - ds.y.mean()) ** 2)), y2=float(ds.y @ ds.y),
                   coef_norm2=float(c @ c), L=np.nan)
        if certificate and lam == 0 and model == "rf" and n < k and sigma.homogeneous:
            row["L"] = kernels.poincare_certificate(W, act, row["coef_norm2"])
        rows.append(row)
    return rows


def _predict_blocks(model, X, W, sigma, c, block: int = 500) -> np.ndarray:
    return np.concatenate([features.features(model, X[s:s + block], W, sigma) @ c
                           for s in range(0, len(X), block)])


# ----------------------------------------------------------------------------------------------
# sweeps
# ----------------------------------------------------------------------------------------------

PANELS = {"fig1": 1, "fig1b": 2, "noise": 3, "fig2a": 4, "fig2b": 5, "fig2c": 6}


def _stream(seed: int, panel: str, value: int, r: int) -> np.random.Generator:
    return np.random.default_rng([seed, PANELS[panel], value, r])


def descent_sweep(sweep: DescentSweep, seed: int, panel: str, device: str = "cpu") -> pd.DataFrame:
    """Rows for every (act, ζ, n, replicate, λ) of a multiple-descent sweep."""
    parts = run_tasks(descent_tasks(sweep, seed, panel, device), f"{panel} ({sweep.model}, d={sweep.d}, k={sweep.k})")
    return pd.DataFrame([row for rows in parts for row in rows])


def descent_tasks(sweep: DescentSweep, seed: int, panel: str, device: str = "cpu") -> list[Task]:
    jobs = [(a, z, n, r) for a in sweep.acts for z in sweep.zetas for n in sweep.ns for r in range(sweep.reps)]
    return [Task(descent_job, dict(sweep=sweep, seed=seed, panel=panel, act=act, zeta=zeta, n=n, r=r, device=device),
                 (panel, act, zeta, n, r), kind=f"{panel}-{sweep.model}") for act, zeta, n, r in jobs]


def descent_job(sweep: DescentSweep, seed: int, panel: str, act: str, zeta: float, n: int, r: int,
                device: str = "cpu") -> list[dict]:
    """Task of :func:`descent_sweep`: one (act, ζ, n, replicate), stream ``(seed, panel, 1000n + 100ζ, r)``."""
    rng = _stream(seed, panel, n * 1000 + int(round(zeta * 100)), r)  # one BLAS thread: rob.book.executor.execute
    return [{**row, "rep": r} for row in replicate(sweep.model, act, sweep.d, sweep.k, n, zeta, sweep.lams,
                                                   sweep.n_test, rng, certificate=sweep.certificate, device=device)]


def scaling_sweep(sweep: ScalingSweep, seed: int, panel: str = "fig2a") -> pd.DataFrame:
    """Rows for every (act, d, replicate) with ``n = d/2``, ``k = 2d``, RF min-norm, with certificate."""
    parts = run_tasks(scaling_tasks(sweep, seed, panel), f"{panel} (n = d/2, k = 2d)")
    return pd.DataFrame([row for rows in parts for row in rows])


def scaling_tasks(sweep: ScalingSweep, seed: int, panel: str = "fig2a") -> list[Task]:
    jobs = [(a, d, r) for a in sweep.acts for d in sweep.ds for r in range(sweep.reps)]
    return [Task(scaling_job, dict(sweep=sweep, seed=seed, panel=panel, act=act, d=d, r=r), (panel, act, d, r),
                 kind=panel) for act, d, r in jobs]


def scaling_job(sweep: ScalingSweep, seed: int, panel: str, act: str, d: int, r: int) -> list[dict]:
    """Task of :func:`scaling_sweep`: one (act, d, replicate), stream ``(seed, panel, d, r)``."""
    rng = _stream(seed, panel, d, r)  # one BLAS thread: rob.book.executor.execute
    return [{**row, "rep": r} for row in replicate("rf", act, d, 2 * d, d // 2, sweep.zeta, (0.0,), sweep.n_test,
                                                   rng, certificate=True)]


def width_sweep(sweep: WidthSweep, seed: int, panel: str, device: str = "cpu") -> pd.DataFrame:
    """Rows for every (act, k, replicate) of min-norm interpolation at fixed (d, n)."""
    parts = run_tasks(width_tasks(sweep, seed, panel, device), f"{panel} ({sweep.model}, d={sweep.d}, n={sweep.n})")
    return pd.DataFrame([row for rows in parts for row in rows])


def width_tasks(sweep: WidthSweep, seed: int, panel: str, device: str = "cpu") -> list[Task]:
    jobs = [(a, k, r) for a in sweep.acts for k in sweep.ks for r in range(sweep.reps)]
    return [Task(width_job, dict(sweep=sweep, seed=seed, panel=panel, act=act, k=k, r=r, device=device),
                 (panel, act, k, r), kind=f"{panel}-{sweep.model}") for act, k, r in jobs]


def width_job(sweep: WidthSweep, seed: int, panel: str, act: str, k: int, r: int, device: str = "cpu") -> list[dict]:
    """Task of :func:`width_sweep`: one (act, k, replicate), stream ``(seed, panel, k, r)``."""
    rng = _stream(seed, panel, k, r)  # one BLAS thread: rob.book.executor.execute
    return [{**row, "rep": r} for row in replicate(sweep.model, act, sweep.d, k, sweep.n, sweep.zeta, (0.0,),
                                                   sweep.n_test, rng, device=device)]


def tasks(cfg: Config, seed: int, device: str = "cpu", icfg: InfiniteConfig | None = None) -> list[Task]:
    """Every task of the chapter's sweeps, in notebook order (for ``rob plan``); the infinite-width
    sweeps use ``icfg`` (default: :func:`infinite_config` of ``cfg.scale``)."""
    return (descent_tasks(cfg.fig1, seed, "fig1") + descent_tasks(cfg.fig1b, seed, "fig1b", device)
            + descent_tasks(cfg.noise, seed, "noise") + scaling_tasks(cfg.fig2a, seed)
            + width_tasks(cfg.fig2b, seed, "fig2b") + width_tasks(cfg.fig2c, seed, "fig2c", device)
            + kernel_tasks(icfg or infinite_config(cfg.scale), seed))


def gradient_test(seed: int, d: int = 20, k: int = 15, n: int = 30, points: int = 10,
                  h: float = 1e-6) -> pd.DataFrame:
    """Analytic input gradients against central differences (step ``h``) for RF and NTK with erf
    and ReLU at ``points`` random points; for ReLU only points with ``min_j |w_j·x| > 1e-3``.
    Returns per (model, act) the max error relative to the largest gradient component."""
    rows = []
    for model in ("rf", "ntk"):
        for act in ("erf", "relu"):
            rng = np.random.default_rng([seed, 7, len(model), len(act)])
            sigma = activations.get(act)
            ds = data.sphere_regression(n, 4 * points, d, 0.2, rng)
            W = features.random_weights(k, d, rng)
            c = solvers.fit(features.features(model, ds.X, W, sigma), ds.y)
            X = ds.X_test
            if not act == "erf":
                X = X[np.min(np.abs(X @ W.T), axis=1) > 1e-3]
            X = X[:points]
            g = features.input_grad(model, X, W, c, sigma)
            E = np.eye(d) * h
            fd = np.stack([(features.features(model, X + E[l], W, sigma) @ c
                            - features.features(model, X - E[l], W, sigma) @ c) / (2 * h) for l in range(d)], axis=1)
            rel = np.max(np.abs(g - fd), axis=1) / np.max(np.abs(g), axis=1)
            rows.append(dict(model=model, act=act, points=len(X), max_rel_err=float(rel.max())))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# summaries used by the figure and the checks
# ----------------------------------------------------------------------------------------------


def medians(df: pd.DataFrame, by: list[str], col: str = "S") -> pd.DataFrame:
    """Median and interquartile range of ``col`` over replicates for each group of ``by``."""
    g = df.groupby(by)[col]
    return pd.DataFrame({"median": g.median(), "q25": g.quantile(0.25), "q75": g.quantile(0.75)}).reset_index()


def at(curve: pd.Series, n: float) -> float:
    """Value of a curve indexed by n at the grid point nearest to ``n``."""
    idx = np.asarray(curve.index, dtype=float)
    return float(curve.iloc[int(np.argmin(np.abs(idx - n)))])


# ----------------------------------------------------------------------------------------------
# acceptance checks (spec §8): M1-M15
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """The tidy results of every sweep of the chapter."""

    fig1: pd.DataFrame
    fig1b: pd.DataFrame
    noise: pd.DataFrame
    fig2a: pd.DataFrame
    fig2b: pd.DataFrame
    fig2c: pd.DataFrame
    grad: pd.DataFrame


def record_checks(report, cfg: Config, r: Results) -> dict[str, float | str]:
    """Record the acceptance checks M1-M15 in ``report`` (a :class:`rob.book.checks.Report`) and return
    the numbers the chapter's prose quotes (glue name → value).

    Medians over replicates are used wherever a statistic sits near an interpolation threshold,
    where the distribution of 𝔖 over replicates is heavy-tailed.
    """
    from ..theory import memorization as T

    quote: dict[str, float | str] = {}
    d, k = cfg.fig1.d, cfg.fig1.k
    dn, kn = cfg.fig1b.d, cfg.fig1b.k
    lam0, ntk0 = r.fig1[r.fig1.lam == 0], r.fig1b[r.fig1b.lam == 0]
    med_rf = lam0.groupby(["act", "n"]).S.median()
    med_ntk = ntk0.groupby(["act", "n"]).S.median()

    report.below("M1 RF", "interpolation: max train MSE, λ = 0, n < k, all activations (RF)",
                 lam0[lam0.n < k].train_mse.max(), 1e-10)
    report.below("M1 NTK", "interpolation: max train MSE, λ = 0, n < kd, all activations (NTK)",
                 ntk0[ntk0.n < dn * kn].train_mse.max(), 1e-10)
    report.below("M2", "analytic vs finite-difference input gradients, max relative error (RF, NTK × erf, ReLU)",
                 r.grad.max_rel_err, 1e-6)

    # Theorem 1 and the certificate: n = d/2, k = 2d
    g2a = r.fig2a.groupby(["act", "n"])
    for act in cfg.fig2a.acts:
        rms = np.sqrt(g2a.S2.mean()[act])
        slope = loglog_slope(rms.index, rms)
        quote[f"mem-slope-{act}"] = slope
        report.within(f"M3 {act}", f"headline: slope of log RMS 𝔖 vs log n (n = d/2, k = 2d), {act}", slope, 0.5, 0.15)
        ratio = rms / np.sqrt(rms.index)
        report.below(f"M4 {act}", f"max/min over d of RMS 𝔖/√n, {act}", ratio.max() / ratio.min(), 1.4)
    quote["mem-cert-max"] = float((r.fig2a.L / r.fig2a.S2).max())
    report.below("M5", "certificate is a lower bound: max L/𝔖̂² over all runs of Fig. (a)", quote["mem-cert-max"], 1.0)
    for act in cfg.fig2a.acts:
        sub = r.fig2a[r.fig2a.act == act]
        report.above(f"M6 {act}", f"certificate grows like n: mean L/‖y−ȳ‖² at every d, ≥ 0.4 c_σ d/k, {act}",
                     (sub.L / sub.y2c).groupby(sub.d).mean(), 0.4 * T.certificate_constant(act) * 0.5)

    # Propositions 3 and 5: width sweeps
    for act in cfg.fig2b.acts:
        sub = r.fig2b[r.fig2b.act == act]
        measured = (sub.S2 / sub.y2c).groupby(sub.k).mean()
        ratio = measured / np.array([T.rf_min_norm_energy(act, cfg.fig2b.d, kk) for kk in measured.index])
        quote[f"mem-m7-{act}"] = ", ".join(f"{v:.3f}" for v in ratio)
        report.between(f"M7 {act}", f"Prop. 3: measured/(A + B d/k) at every k, {act}", ratio, 0.88, 1.20)
    measured = (r.fig2c.S2 / r.fig2c.y2).groupby(r.fig2c.k).mean()
    ratio = measured / np.array([T.ntk_abs_min_norm_energy(cfg.fig2c.d, kk) for kk in measured.index])
    quote["mem-m8"] = ", ".join(f"{v:.3f}" for v in ratio)
    report.between("M8", "Prop. 5: measured/(1/k + 4/(π²d)) at every k (NTK, abs)", ratio, 0.85, 1.25)

    # Theorem 2: the sqrt(n/k) law between 2d and 0.4kd
    for act in ("relu", "abs"):
        m = med_ntk[act]
        sel = m[(m.index >= 2 * dn) & (m.index <= 0.4 * dn * kn)]
        vals = sel / np.sqrt(sel.index / kn)
        quote[f"mem-ntk-spread-{act}"] = float(vals.max() / vals.min())
        report.between(f"M9 {act}", f"NTK √(n/k) law: median 𝔖/√(n/k) for 2d ≤ n ≤ 0.4kd, {act}", vals, 0.2, 0.8)
        report.below(f"M9 {act} spread", f"NTK √(n/k) law: max/min of those values, {act}", vals.max() / vals.min(), 2.0)

    # multiple descent (RF): peak at n = k, second peak at n = d for erf/tanh, ridge removes them
    for act in cfg.fig1.acts:
        m = med_rf[act]
        report.equal(f"M10 {act}", f"RF peak location: argmax_n of median 𝔖 (λ = 0), {act}", m.idxmax(), k)
        quote[f"mem-peak-height-{act}"] = at(m, k) / at(m, 0.75 * k)
        report.above(f"M11 {act} height", f"RF peak height 𝔖(k)/𝔖(0.75k), {act}", quote[f"mem-peak-height-{act}"], 2.0)
        report.above(f"M11 {act} descent", f"RF descent after the peak 𝔖(k)/𝔖(2k), {act}", at(m, k) / at(m, 2 * k), 3.0)
        bump = at(m, d) / max(at(m, 0.8 * d), at(m, 1.2 * d))
        if act in ("erf", "tanh"):
            quote[f"mem-{act}-bump"] = bump
            report.above(f"M12 {act}", f"second peak at n = d: 𝔖(d)/max(𝔖(0.8d), 𝔖(1.2d)), {act}", bump, 1.2)
        else:
            report.below(f"M12 {act}", f"no peak at n = d: 𝔖(d)/max(𝔖(0.8d), 𝔖(1.2d)), {act}", bump, 1.15)
    ridge_max = r.fig1[r.fig1.lam > 0].groupby(["lam", "act", "n"]).S.median().groupby(["lam", "act"]).max()
    for lam, bound in ((1e-4, 3.0), (1e-2, 0.3)):
        if lam in cfg.fig1.lams:
            report.below(f"M13 λ={lam:g}", f"ridge λ = {lam:g} removes the peaks: max over n of median 𝔖, per activation",
                         ridge_max[lam], bound)
    quote["mem-ridge-max"] = float(ridge_max[max(cfg.fig1.lams)].max())

    # multiple descent (NTK): peak at n = kd, erf bump at n = d
    for act in cfg.fig1b.acts:
        m = med_ntk[act]
        p = dn * kn
        report.equal(f"M14 {act}", f"NTK peak location: argmax_n of median 𝔖 = kd, {act}", m.idxmax(), p)
        report.above(f"M14 {act} height", f"NTK peak height 𝔖(kd)/𝔖(2kd/3), {act}", at(m, p) / at(m, 2 * p / 3), 2.5)
        report.above(f"M14 {act} descent", f"NTK descent 𝔖(kd)/𝔖(2kd), {act}", at(m, p) / at(m, 2 * p), 3.0)
        bump = max(at(m, dn), at(m, 1.2 * dn)) / max(at(m, dn / 2), at(m, 3 * dn))
        if act in ("erf", "tanh"):
            report.above(f"M15 {act}", f"NTK bump at n ≈ d: max 𝔖(d, 1.2d)/max 𝔖(d/2, 3d), {act}", bump, 1.2)
        else:
            report.below(f"M15 {act}", f"NTK no bump at n ≈ d: max 𝔖(d, 1.2d)/max 𝔖(d/2, 3d), {act}", bump, 1.0)

    noise_med = r.noise[r.noise.act == "relu"].groupby(["zeta", "n"]).S.median()
    quote["mem-noise-0"] = at(noise_med[0.0], d)
    quote["mem-noise-02"] = at(noise_med[0.2], d)
    return {name: (float(v) if not isinstance(v, str) else v) for name, v in quote.items()}


__all__ = ["Results", "record_checks", "Config", "DescentSweep", "ScalingSweep", "WidthSweep", "config", "replicate", "descent_sweep",
           "scaling_sweep", "width_sweep", "gradient_test", "medians", "loglog_slope", "at", "replace"]


# ----------------------------------------------------------------------------------------------
# infinite width (claim (i)): the min-norm kernel interpolant, and finite-width RF converging to it
# ----------------------------------------------------------------------------------------------

from .. import kernel_interp  # noqa: E402  (kept with the code that uses it)


@dataclass(frozen=True)
class KernelScaling:
    """Infinite-width min-norm interpolants at ``n = ratio·d`` for growing d (the √n law of claim (i)).
    ``cases`` are (model, act) pairs; all of them see the same draws of ``(w⋆, X, y, X_test)``."""

    cases: tuple[tuple[str, str], ...]
    ds: tuple[int, ...]
    ratio: float
    zeta: float
    reps: int
    n_test: int


@dataclass(frozen=True)
class KernelConvergence:
    """Finite-width RF min-norm interpolators of width ``ks`` against their ``k → ∞`` limit, on the
    same data sets (the chapter's descent setting: d = 100, ζ = 0.2 at ci)."""

    act: str
    d: int
    ns: tuple[int, ...]
    ks: tuple[int, ...]
    zeta: float
    reps: int
    n_test: int


@dataclass(frozen=True)
class InfiniteConfig:
    scaling: KernelScaling
    convergence: KernelConvergence


#: Stream ids of the two infinite-width panels (after the ids 1-6 of ``PANELS``).
KERNEL_PANELS = {"kscaling": 7, "kconvergence": 8}


def infinite_config(scale: str, n_test: int = 0) -> InfiniteConfig:
    """The infinite-width grids of ``scale`` ("ci" or "paper"); ``n_test`` as in :func:`config`."""
    cases = (("rf", "relu"), ("ntk", "relu"), ("rf", "abs"), ("ntk", "abs"))
    if scale == "ci":
        nt = n_test or 1000
        return InfiniteConfig(KernelScaling(cases, (50, 100, 200, 400, 800), 0.5, 1.0, 5, nt),
                              KernelConvergence("relu", 100, (10, 20, 40, 60, 80, 100, 120, 150),
                                                (200, 800, 3200), 0.2, 6, nt))
    if scale == "paper":
        nt = n_test or 2000
        return InfiniteConfig(KernelScaling(cases, (100, 200, 400, 800, 1600, 3200), 0.5, 1.0, 20, nt),
                              KernelConvergence("relu", 300, (10, 30, 50, 70, 90, 100, 150, 200, 250, 300, 400),
                                                (600, 2400, 9600), 0.2, 20, nt))
    raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")


def _kstream(seed: int, panel: str, value: int, r: int) -> np.random.Generator:
    return np.random.default_rng([seed, KERNEL_PANELS[panel], value, r])


def kernel_replicate(ds: data.SphereRegression, model: str, act: str,
                     cos: tuple[kernel_interp.Cosines, kernel_interp.Cosines] | None = None) -> dict:
    """Fit the min-norm kernel interpolant of :mod:`rob.kernel_interp` to ``ds`` and measure it.

    Columns: ``S``, ``S2`` (ambient 𝔖̂, 𝔖̂²), ``S2_tan`` (tangential part), ``interp_err``
    (max |f(x_i) − y_i|/max |y_i|), ``y2c`` = ‖y − ȳ1‖², ``y2`` = ‖y‖², ``rkhs_norm2`` = yᵀk(XXᵀ)⁻¹y.
    ``cos``: the test and training points' :func:`rob.kernel_interp.cosines` against ``ds.X``, shared
    by every kernel fitted to the same data."""
    f = kernel_interp.fit_interpolant(ds.X, ds.y, model, act)
    cos_test, cos_train = cos or (kernel_interp.cosines(ds.X_test, ds.X), kernel_interp.cosines(ds.X, ds.X))
    f_test, grad = kernel_interp.value_and_grad(f, ds.X_test, cos_test)
    est = robustness.sobolev_seminorm(grad)  # ‖∇f‖² = ‖∇_S f‖² + f² on the sphere
    err = np.max(np.abs(kernel_interp.predict(f, ds.X, cos_train) - ds.y)) / np.max(np.abs(ds.y))
    return dict(model=model, act=act, d=ds.X.shape[1], n=len(ds.y), zeta=ds.zeta, S=est.value, S2=est.energy,
                S2_se=est.energy_se, S2_tan=est.energy - float(np.mean(f_test**2)), interp_err=float(err),
                y2c=float(np.sum((ds.y - ds.y.mean()) ** 2)), y2=float(ds.y @ ds.y),
                rkhs_norm2=float(f.alpha @ ds.y))


def kernel_scaling_sweep(sweep: KernelScaling, seed: int) -> pd.DataFrame:
    """Rows for every (d, replicate, case) with ``n = round(ratio·d)`` and the min-norm kernel interpolant."""
    parts = run_tasks(kernel_scaling_tasks(sweep, seed), f"infinite width (n = {sweep.ratio:g}d)")
    return pd.DataFrame([row for rows in parts for row in rows])


def kernel_scaling_tasks(sweep: KernelScaling, seed: int) -> list[Task]:
    """Tasks of :func:`kernel_scaling_sweep`: one per (d, replicate), every case on the same data."""
    return [Task(kernel_scaling_job, dict(sweep=sweep, seed=seed, d=d, r=r), ("kscaling", d, r), kind="kscaling")
            for d in sweep.ds for r in range(sweep.reps)]


def kernel_scaling_job(sweep: KernelScaling, seed: int, d: int, r: int) -> list[dict]:
    """Task of :func:`kernel_scaling_sweep`: one (d, replicate), stream ``(seed, kscaling, d, r)``."""
    ds = data.sphere_regression(max(2, round(sweep.ratio * d)), sweep.n_test, d, sweep.zeta,
                                _kstream(seed, "kscaling", d, r))  # one BLAS thread: rob.book.executor.execute
    cos = kernel_interp.cosines(ds.X_test, ds.X), kernel_interp.cosines(ds.X, ds.X)
    return [{**kernel_replicate(ds, model, act, cos), "rep": r} for model, act in sweep.cases]


def kernel_convergence_sweep(sweep: KernelConvergence, seed: int) -> pd.DataFrame:
    """Rows for every (n, replicate, k) with k ∈ ``ks`` and ``k = inf`` (the kernel interpolant), all
    widths on the same data set; ``W`` of width k comes from its own stream.

    Extra columns: ``grad_dist2`` = mean_t ‖∇f_k(x_t) − ∇f_∞(x_t)‖² / mean_t ‖∇f_∞(x_t)‖² and
    ``f_dist2`` the same for the values (0 for ``k = inf``), ``train_mse``."""
    parts = run_tasks(kernel_convergence_tasks(sweep, seed), f"finite width → kernel (RF {sweep.act}, d={sweep.d})")
    return pd.DataFrame([row for rows in parts for row in rows])


def kernel_convergence_tasks(sweep: KernelConvergence, seed: int) -> list[Task]:
    """Tasks of :func:`kernel_convergence_sweep`: one per (n, replicate), every width on the same data."""
    return [Task(kernel_convergence_job, dict(sweep=sweep, seed=seed, n=n, r=r), ("kconvergence", n, r),
                 kind="kconvergence") for n in sweep.ns for r in range(sweep.reps)]


def kernel_convergence_job(sweep: KernelConvergence, seed: int, n: int, r: int) -> list[dict]:
    """Task of :func:`kernel_convergence_sweep`: one (n, replicate); data from the stream
    ``(seed, kconvergence, n, r)``, the weights of width k from ``(seed, kconvergence, 100000n + k, r)``."""
    sigma = activations.get(sweep.act)
    ds = data.sphere_regression(n, sweep.n_test, sweep.d, sweep.zeta, _kstream(seed, "kconvergence", n, r))
    f = kernel_interp.fit_interpolant(ds.X, ds.y, "rf", sweep.act)  # one BLAS thread: rob.book.executor.execute
    v_inf, g_inf = kernel_interp.value_and_grad(f, ds.X_test)
    e_inf = float(np.mean(np.sum(g_inf**2, axis=1)))
    base = dict(model="rf", act=sweep.act, d=sweep.d, n=n, zeta=sweep.zeta, rep=r,
                y2c=float(np.sum((ds.y - ds.y.mean()) ** 2)), y2=float(ds.y @ ds.y))
    rows = [{**base, "k": np.inf, "S": np.sqrt(e_inf), "S2": e_inf, "grad_dist2": 0.0, "f_dist2": 0.0,
             "train_mse": float(np.mean((kernel_interp.predict(f, ds.X) - ds.y) ** 2))}]
    for k in sweep.ks:
        W = features.random_weights(k, sweep.d, _kstream(seed, "kconvergence", n * 100_000 + k, r))
        Z = features.rf_features(ds.X, W, sigma)
        c = solvers.fit(Z, ds.y)
        v, g = features.rf_value_and_grad(ds.X_test, W, c[:, None], sigma)
        v, g = v[:, 0], g[0]
        e = float(np.mean(np.sum(g**2, axis=1)))
        rows.append({**base, "k": float(k), "S": np.sqrt(e), "S2": e,
                     "grad_dist2": float(np.mean(np.sum((g - g_inf) ** 2, axis=1))) / e_inf,
                     "f_dist2": float(np.mean((v - v_inf) ** 2) / np.mean(v_inf**2)),
                     "train_mse": float(np.mean((Z @ c - ds.y) ** 2))})
    return rows


def kernel_tasks(icfg: InfiniteConfig, seed: int) -> list[Task]:
    """The tasks of the two infinite-width sweeps, in notebook order."""
    return kernel_scaling_tasks(icfg.scaling, seed) + kernel_convergence_tasks(icfg.convergence, seed)


def record_kernel_checks(report, icfg: InfiniteConfig, scaling: pd.DataFrame, conv: pd.DataFrame) -> dict[str, float | str]:
    """Record the infinite-width checks M16-M21 in ``report`` and return the numbers the prose quotes.

    ``scaling`` comes from :func:`kernel_scaling_sweep`, ``conv`` from :func:`kernel_convergence_sweep`.
    Energies are normalised per replicate by ‖y − ȳ1‖² (RF) or ‖y‖² (NTK), then averaged.

    Tolerances, from the ``ci`` pipeline over the base seeds 0-13 (mean, s.d. over seeds): slopes
    M17 0.49 (0.02), M19 −0.01 (0.02), M21 −1.02 (0.03); M18 ratios 0.94-1.13 over all d, s.d. ≤ 0.03
    (at d = 50); M20 ratios 0.98-1.29 at k = 200 (s.d. 0.08), 0.93-1.14 at larger k; M22 1.03-1.10.
    Every bound sits at least about 4 s.d. from the mean."""
    from ..theory import memorization as T

    quote: dict[str, float | str] = {}
    sc, cv = icfg.scaling, icfg.convergence
    report.below("M16 kernel", "kernel interpolant interpolates: max |f(x_i) − y_i|/max|y| over all runs",
                 max(scaling.interp_err.max(), float(np.sqrt(conv[conv.k == np.inf].train_mse.max()))), 1e-8)
    report.below("M16 finite", "finite-width RF interpolates: max train MSE (n < k) in the convergence sweep",
                 conv[(conv.k < np.inf) & (conv.n < conv.k)].train_mse.max(), 1e-10)
    for (model, act), sub in scaling.groupby(["model", "act"], sort=False):
        rms = np.sqrt(sub.groupby("n").S2.mean())
        slope = loglog_slope(rms.index, rms)
        quote[f"mem-inf-slope-{model}-{act}"] = slope
        if act == "relu":
            report.within(f"M17 {model}-{act}", f"claim (i): slope of log RMS 𝔖 vs log n at n = {sc.ratio:g}d, "
                          f"infinite-width {model.upper()} {act}", slope, 0.5, 0.1)
        else:
            report.within(f"M19 {model}-{act}", f"even σ, κ'(0) = 0: no √n law, slope of log RMS 𝔖 vs log n, "
                          f"infinite-width {model.upper()} {act}", slope, 0.0, 0.1)
        norm = sub.y2c if model == "rf" else sub.y2
        measured = (sub.S2 / norm).groupby(sub.d).mean()
        ratio = measured / np.array([T.kernel_energy(model, act, d, sc.ratio) for d in measured.index])
        quote[f"mem-inf-ratio-{model}-{act}"] = ", ".join(f"{v:.3f}" for v in ratio)
        report.between(f"M18 {model}-{act}", f"measured/predicted 𝔖² (Marchenko–Pastur formula) at every d, "
                       f"{model.upper()} {act}", ratio, 0.85, 1.25)
        quote[f"mem-inf-const-{model}-{act}"] = float(np.sqrt((sub.S2 / ((sub.n - (model == 'rf')) * (sc.zeta**2 + 1 / sub.d))).mean()))

    inf = conv[conv.k == np.inf].set_index(["n", "rep"])
    fin = conv[conv.k < np.inf]
    n0 = min(cv.ns)
    gd = fin[fin.n == n0].groupby("k").grad_dist2.mean()
    pred = T.B(cv.act) * cv.d / gd.index.to_numpy(float) / T.kernel_energy("rf", cv.act, cv.d, n0 / cv.d)
    quote["mem-inf-gd-ratio"] = ", ".join(f"{v:.3f}" for v in gd / pred)
    report.between("M20", f"finite-width fluctuation: mean ‖∇f_k − ∇f_∞‖²/𝔖_∞² ÷ (B d/k)/E at n = {n0}, every k",
                   gd / pred, 0.7, 1.5)
    quote["mem-inf-gd-slope"] = loglog_slope(gd.index, gd)
    report.within("M21", f"finite-width gradients converge at rate 1/k: slope of log of that distance vs log k at n = {n0}",
                  quote["mem-inf-gd-slope"], -1.0, 0.2)
    kmax = max(cv.ks)
    top = fin[fin.k == kmax].set_index(["n", "rep"])
    ratio = (top.S / inf.S).groupby("n").median()
    quote["mem-inf-kmax-ratio"] = f"{ratio.min():.3f}–{ratio.max():.3f}"
    report.between("M22", f"𝔖 of the width-{kmax} RF interpolator / 𝔖 of its kernel limit, median at every n",
                   ratio, 0.98, 1.2)
    return {name: (float(v) if not isinstance(v, str) else v) for name, v in quote.items()}


__all__ += ["KernelScaling", "KernelConvergence", "InfiniteConfig", "infinite_config", "kernel_replicate",
            "kernel_scaling_sweep", "kernel_convergence_sweep", "record_kernel_checks", "kernel_scaling_tasks",
            "kernel_convergence_tasks", "kernel_tasks"]
