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
from threadpoolctl import threadpool_limits

from .. import activations, data, features, kernels, robustness, solvers
from ..progress import track

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
    Zt = features.features(model, ds.X_test, W, sigma) if n_test * Z.shape[1] <= 5e7 else None
    C = np.stack([solvers.fit(Z, ds.y, lam, device=device if model == "ntk" else "cpu") for lam in lams], axis=1)
    pred_test = Zt @ C if Zt is not None else _predict_blocks(model, ds.X_test, W, sigma, C)
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
    jobs = [(a, z, n, r) for a in sweep.acts for z in sweep.zetas for n in sweep.ns for r in range(sweep.reps)]
    with threadpool_limits(limits=1, user_api="blas"):
        rows = []
        for act, zeta, n, r in track(jobs, desc=f"{panel} ({sweep.model}, d={sweep.d}, k={sweep.k})"):
            rng = _stream(seed, panel, n * 1000 + int(round(zeta * 100)), r)
            for row in replicate(sweep.model, act, sweep.d, sweep.k, n, zeta, sweep.lams, sweep.n_test, rng,
                                 certificate=sweep.certificate, device=device):
                rows.append({**row, "rep": r})
    return pd.DataFrame(rows)


def scaling_sweep(sweep: ScalingSweep, seed: int, panel: str = "fig2a") -> pd.DataFrame:
    """Rows for every (act, d, replicate) with ``n = d/2``, ``k = 2d``, RF min-norm, with certificate."""
    jobs = [(a, d, r) for a in sweep.acts for d in sweep.ds for r in range(sweep.reps)]
    with threadpool_limits(limits=1, user_api="blas"):
        rows = []
        for act, d, r in track(jobs, desc=f"{panel} (n = d/2, k = 2d)"):
            rng = _stream(seed, panel, d, r)
            for row in replicate("rf", act, d, 2 * d, d // 2, sweep.zeta, (0.0,), sweep.n_test, rng, certificate=True):
                rows.append({**row, "rep": r})
    return pd.DataFrame(rows)


def width_sweep(sweep: WidthSweep, seed: int, panel: str, device: str = "cpu") -> pd.DataFrame:
    """Rows for every (act, k, replicate) of min-norm interpolation at fixed (d, n)."""
    jobs = [(a, k, r) for a in sweep.acts for k in sweep.ks for r in range(sweep.reps)]
    with threadpool_limits(limits=1, user_api="blas"):
        rows = []
        for act, k, r in track(jobs, desc=f"{panel} ({sweep.model}, d={sweep.d}, n={sweep.n})"):
            rng = _stream(seed, panel, k, r)
            for row in replicate(sweep.model, act, sweep.d, k, sweep.n, sweep.zeta, (0.0,), sweep.n_test, rng,
                                 device=device):
                rows.append({**row, "rep": r})
    return pd.DataFrame(rows)


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


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def at(curve: pd.Series, n: float) -> float:
    """Value of a curve indexed by n at the grid point nearest to ``n``."""
    idx = np.asarray(curve.index, dtype=float)
    return float(curve.iloc[int(np.argmin(np.abs(idx - n)))])


__all__ = ["Config", "DescentSweep", "ScalingSweep", "WidthSweep", "config", "replicate", "descent_sweep",
           "scaling_sweep", "width_sweep", "gradient_test", "medians", "loglog_slope", "at", "replace"]
