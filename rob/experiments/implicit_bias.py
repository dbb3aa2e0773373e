"""Runs of the implicit-bias chapter (Frei, Vardi, Bartlett & Srebro 2023, arXiv:2303.01456).

One *run* draws k orthogonal cluster means of norm √d, a training set of ``n = 20k`` points and a test
set, trains the bias-trained two-layer ReLU network of :mod:`rob.homogeneous` from a small
initialisation by full-batch gradient descent (float64, step ``100/d``), and measures

* the critical size ``c*`` of the universal perturbation ``x − y (c/k) s``, ``s = Σ_j y^(j) μ_j``
  (``‖z_c‖ = c √(d/k)``) by grid + bisection (:mod:`rob.attacks`), and the accuracy curve ``A(c)``;
* the exact radius of the robust network ``N_rob`` and its certificate (:mod:`rob.clusters`);
* the KKT diagnostics of the trained network (:func:`rob.homogeneous.kkt_diagnostics`).

Each run has its own stream ``np.random.default_rng([seed, panel, d, k, replicate])``, so results do
not depend on loop order.  The test set is drawn where the stream puts it (after the training set),
but measured only after training, a block of rows at a time (:func:`rob.clusters.sample_blocks`):
the same numbers, without the n_test×d array (400 MB at paper scale) in memory.  A run is a few
small matrix products per step, for which one BLAS thread is several times faster than two: the
runs pin BLAS to one thread.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import attacks, clusters, homogeneous
from ..book.executor import Task, run_tasks
from ..stats import loglog_slope  # noqa: F401  (also used by the notebook as M.loglog_slope)

# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One trained network: data ``(d, k, σ, n = n_per_cluster·k, n_test)``, width ``m``, init
    scale ``ω``, step ``lr = lr_scale/d``, ``steps`` GD steps."""

    d: int
    k: int
    sigma: float = 1.0
    n_per_cluster: int = 20
    n_test: int = 1000
    m: int = 50
    omega: float = 1e-2
    lr_scale: float = 100.0
    steps: int = 400
    means: str = "orthogonal"
    n_pos: int = 0  # number of +1 clusters; 0 means k // 2


@dataclass(frozen=True)
class Config:
    """The headline run (``reps`` networks), the d-sweep at fixed k and the k-sweep at fixed d,
    the c grid (units of √(d/k)) and the r grid (units of √d)."""

    scale: str
    headline: RunSpec
    reps: int
    sweep_d: tuple[RunSpec, ...]
    sweep_k: tuple[RunSpec, ...]
    c_grid: tuple[float, ...]
    r_grid: tuple[float, ...]
    I6_tol: float   # headline median c* must lie in [1 − tol, 1 + tol]
    I11_tol: float  # relative tolerance of the gap around √k/2


def _grid(stop: float, step: float) -> tuple[float, ...]:
    return tuple(float(x) for x in np.round(np.arange(0, stop + step / 2, step), 10))


def config(scale: str) -> Config:
    """The sizes of ``scale`` ("ci" or "paper"), spec §7."""
    if scale == "ci":
        head = RunSpec(1000, 10)
        sweep = RunSpec(2000, 10, steps=300)
        ds, ks, reps, t6, t11 = (250, 500, 1000, 2000, 4000), (4, 8, 16, 32), 1, 0.10, 0.12
    elif scale == "paper":
        head = RunSpec(10_000, 25, n_test=5000, m=256, omega=1e-3, steps=1000)
        sweep = RunSpec(2000, 10, steps=300)
        ds, ks, reps, t6, t11 = (250, 500, 1000, 2000, 4000, 10_000), (4, 8, 16, 32, 64), 3, 0.05, 0.06
    else:
        raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")
    return Config(scale, head, reps,
                  sweep_d=tuple(replace(sweep, d=d, k=10) for d in ds),
                  sweep_k=tuple(replace(sweep, d=2000, k=k) for k in ks),
                  c_grid=_grid(3.0, 0.05), r_grid=_grid(0.8, 0.05), I6_tol=t6, I11_tol=t11)


# ----------------------------------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------------------------------

PANELS = {"headline": 1, "d": 2, "k": 3}


@dataclass(frozen=True)
class Run:
    """Everything measured on one trained network (arrays per test point, small tables)."""

    spec: RunSpec
    log: pd.DataFrame            # step, loss, train_acc, margin at T/4, T/2, 3T/4, T
    summary: dict                # scalars (see :func:`run`)
    cstar: np.ndarray            # critical size per test point (units of √(d/k))
    curve: pd.DataFrame          # c, acc (trained), acc_rob
    r_rob: np.ndarray            # exact radius of N_rob (ties = errors)
    r_strict: np.ndarray         # strict-flip radius of N_rob
    cert_ok: np.ndarray          # constructive certificate passed
    loadings: np.ndarray         # ⟨w_j, μ_q⟩/d of the dominant neurons
    v_dom: np.ndarray            # their output weights
    labels: np.ndarray           # cluster labels


def run(spec: RunSpec, seed: int, panel: str, rep: int = 0, c_grid: tuple[float, ...] = _grid(3.0, 0.05)) -> Run:
    """Train one network and measure it (see the module docstring)."""
    d, k = spec.d, spec.k
    rng = np.random.default_rng([seed, PANELS[panel], d, k, rep])
    cgrid = np.asarray(c_grid)
    with threadpool_limits(limits=1, user_api="blas"):
        mu = clusters.means(spec.means, d, k, rng)
        labels = clusters.default_labels(k, spec.n_pos or None)
        train = clusters.sample(mu, labels, spec.n_per_cluster * k, spec.sigma, rng)
        # The test set is drawn here, but only measured once the network is trained: keep its stream,
        # move ``rng`` past it, and draw it again block by block in :func:`_measure_test` (so the
        # n_test×d test set, 400 MB at paper scale, is never in memory whole).
        test_rng = copy.deepcopy(rng)
        for _ in clusters.sample_blocks(mu, labels, spec.n_test, spec.sigma, rng):
            pass
        net0 = homogeneous.init(d, spec.m, spec.omega, rng)
        T = spec.steps
        net, log = homogeneous.train(train.X, train.y, net0, spec.lr_scale / d, T,
                                     log_at=(T // 4, T // 2, 3 * T // 4, T))
        test = _measure_test(net, mu, labels, spec, test_rng, cgrid)
        cstar, M = attacks.critical_size(test.margin, spec.n_test, cgrid)
        kkt = homogeneous.kkt_diagnostics(net, mu, labels)
    rad = test.radius
    fin = np.isfinite(cstar)
    summary = dict(
        d=d, k=k, seed=seed, rep=rep, panel=panel,
        train_loss=log[-1]["loss"], train_acc=log[-1]["train_acc"],
        test_acc=float(np.mean(test.y * test.out > 0)),
        rob_test_acc=float(np.mean(test.y * test.rob_out > 0)),
        rob_exceptions=rad.exceptions,
        cstar_median=float(np.median(cstar)), cstar_q05=float(np.quantile(cstar, 0.05)),
        cstar_q95=float(np.quantile(cstar, 0.95)), n_never=int(np.sum(~fin)),
        znorm_median=float(np.median(cstar) * np.sqrt(d / k)),
        r_rob_median=float(np.median(rad.r)), r_rob_min=float(rad.r.min()),
        r_strict_median=float(np.median(rad.r_strict)),
        balancedness=kkt.balancedness, bias_pos=kkt.bias_pos, spread=kkt.spread, crosstalk=kkt.crosstalk,
        n_dominant=len(kkt.dominant), means=spec.means,
    )
    curve = pd.DataFrame(dict(c=cgrid, acc=(M > 0).mean(axis=1), acc_rob=test.rob_acc))
    order = np.lexsort((-np.abs(kkt.v), -np.sign(kkt.v)))
    return Run(spec, pd.DataFrame(log), summary, cstar, curve, rad.r, rad.r_strict, test.cert_ok,
               kkt.loadings[order], kkt.v[order], labels)


@dataclass(frozen=True)
class Measures:
    """What :func:`run` measures on the test set, before the critical sizes: labels ``y``, outputs
    ``out`` of the trained network and ``rob_out`` of ``N_rob``, the margin function along the universal
    direction, the accuracy ``rob_acc`` of ``N_rob`` on the c grid, its radii and certificates."""

    y: np.ndarray
    out: np.ndarray
    rob_out: np.ndarray
    margin: Callable[[np.ndarray], np.ndarray]
    rob_acc: np.ndarray
    radius: clusters.RobustRadius
    cert_ok: np.ndarray


def _measure_test(net: homogeneous.Net, mu: np.ndarray, labels: np.ndarray, spec: RunSpec,
                  rng: np.random.Generator, cgrid: np.ndarray) -> Measures:
    """Draw the test set from ``rng`` block by block and keep what each block gives: the trained
    network's pre-activations ``H0 = XWᵀ + b`` (n×m), ``N_rob`` along ``x − c y s/k`` on the grid, its
    exact radius and the certificate.  The margin ``c ↦ y N(x − c y s/k)`` then needs only ``H0`` and
    the rank-one ``D = (y/k)(Ws)ᵀ``."""
    n, k = spec.n_test, spec.k
    s = clusters.universal_direction(mu, labels)
    y, rob_out, H0 = np.empty(n), np.empty(n), np.empty((n, spec.m))
    rob_along, cert_ok, radii = np.empty((len(cgrid), n)), np.empty(n, bool), []
    for rows, blk in clusters.sample_blocks(mu, labels, n, spec.sigma, rng):
        y[rows] = blk.y
        H0[rows] = blk.X @ net.W.T + net.b
        rob_out[rows] = clusters.robust_output(blk.X, mu, labels)
        rob_along[:, rows] = clusters.robust_output_along(blk.X, (blk.y / k, s), mu, labels, cgrid)
        radii.append(clusters.robust_radius(blk.X, blk.y, mu, labels))
        cert_ok[rows] = clusters.certificate_passes(blk.X, blk.y, mu, labels, radii[-1])

    def joined(field: str) -> np.ndarray:
        return np.concatenate([getattr(r, field) for r in radii])

    radius = clusters.RobustRadius(joined("r"), joined("r_strict"), sum(r.exceptions for r in radii),
                                   joined("kill_wins"), joined("a_own"), joined("own"))
    margin = attacks.preact_margin(H0, y, attacks.directions_times((y / k, s), net.W), net.v)
    return Measures(y, np.maximum(H0, 0.0) @ net.v, rob_out, margin, np.mean(y * rob_along > 0, axis=1),
                    radius, cert_ok)


# ----------------------------------------------------------------------------------------------
# the chapter's computations
# ----------------------------------------------------------------------------------------------


def headline_tasks(cfg: Config, seed: int) -> list[Task]:
    """``cfg.reps`` networks at the headline ``(d, k)``."""
    return [Task(run, dict(spec=cfg.headline, seed=seed, panel="headline", rep=r, c_grid=cfg.c_grid), ("headline", r),
                 kind="headline") for r in range(cfg.reps)]


def sweep_tasks(specs: tuple[RunSpec, ...], seed: int, panel: str, reps: int = 1) -> list[Task]:
    """One :func:`run` per (sweep point, replicate), stream ``(seed, panel, d, k, replicate)``."""
    return [Task(run, dict(spec=s, seed=seed, panel=panel, rep=r), (panel, f"d={s.d}", f"k={s.k}", r), kind=f"{panel}-sweep")
            for s in specs for r in range(reps)]


def tasks(cfg: Config, seed: int) -> list[Task]:
    """Every task of the chapter (for ``rob plan``)."""
    every = (headline_tasks(cfg, seed) + sweep_tasks(cfg.sweep_d, seed, "d", cfg.reps)
             + sweep_tasks(cfg.sweep_k, seed, "k", cfg.reps))
    return [replace(t, batch="networks") for t in every]  # :func:`compute` submits them together


@dataclass(frozen=True)
class Results:
    """The headline runs and the two sweeps (one row per network)."""

    headline: list[Run]
    sweep_d: pd.DataFrame
    sweep_k: pd.DataFrame


def compute(cfg: Config, seed: int) -> Results:
    """The headline runs and both sweeps, submitted as one list of tasks (:func:`tasks`) so that
    N workers share out all of them at once, then split back in task order."""
    out = run_tasks(tasks(cfg, seed), f"networks (headline d={cfg.headline.d}, k={cfg.headline.k}; sweeps)")
    nh, nd = cfg.reps, len(cfg.sweep_d) * cfg.reps
    return Results(out[:nh], pd.DataFrame([r.summary for r in out[nh:nh + nd]]),
                   pd.DataFrame([r.summary for r in out[nh + nd:]]))


def acc_at(curve: pd.DataFrame, c: float) -> float:
    """``A(c)`` at the grid point nearest to ``c``."""
    return float(curve.acc.iloc[int(np.argmin(np.abs(curve.c.to_numpy() - c)))])


# ----------------------------------------------------------------------------------------------
# acceptance checks (spec §8): I1-I13
# ----------------------------------------------------------------------------------------------


def record_checks(report, cfg: Config, res: Results) -> dict[str, float | str]:
    """Record the acceptance checks I1-I13 in ``report`` and return the numbers the prose quotes."""
    H = res.headline
    S = pd.DataFrame([h.summary for h in H])
    d, k, sigma = cfg.headline.d, cfg.headline.k, cfg.headline.sigma
    quote: dict[str, float | str] = {}

    report.equal("I1 acc", "training accuracy at step T (every headline network)", S.train_acc, 1.0)
    report.below("I1 loss", "final training loss", S.train_loss, 1e-3)
    steps_ok = [float(np.min(np.diff(h.log.margin.to_numpy()))) for h in H]
    report.above("I2", "normalised margin γ non-decreasing over T/4, T/2, 3T/4, T: min increment",
                 steps_ok, -1e-9)
    report.above("I3", "clean test accuracy of the trained network (Theorem 1)", S.test_acc, 0.99)
    a05 = [acc_at(h.curve, 0.5) for h in H]
    a15 = [acc_at(h.curve, 1.5) for h in H]
    report.above("I4", "A(0.5): accuracy under the universal perturbation of size 0.5√(d/k)", a05, 0.98)
    report.below("I5", "A(1.5): accuracy under the universal perturbation of size 1.5√(d/k) (Theorem 3)", a15, 0.05)
    t6 = cfg.I6_tol
    report.between("I6 headline", "median c* at the headline (Proposition 4: c* = 1)", S.cstar_median, 1 - t6, 1 + t6)
    sweeps = pd.concat([res.sweep_d, res.sweep_k], ignore_index=True)
    report.between("I6 sweeps", "median c* at every sweep point (d- and k-sweeps)", sweeps.cstar_median, 0.90, 1.10)
    md = res.sweep_d.groupby("d").znorm_median.mean()
    mk = res.sweep_k.groupby("k").znorm_median.mean()
    slope_d, slope_k = loglog_slope(md.index, md), loglog_slope(mk.index, mk)
    report.within("I7 d", "log-log slope of median ‖z*‖ in d (k = 10)", slope_d, 0.5, 0.05)
    report.within("I7 k", "log-log slope of median ‖z*‖ in k (d = 2000)", slope_k, -0.5, 0.05)
    report.equal("I8 acc", "N_rob: clean test accuracy", S.rob_test_acc, 1.0)
    report.equal("I8 A(3)", "N_rob: accuracy under the universal perturbation at c = 3",
                 [float(h.curve.acc_rob.iloc[-1]) for h in H], 1.0)
    report.equal("I8 units", "N_rob: test points with ≠ 1 active own-label unit", S.rob_exceptions, 0)
    r_grid = np.asarray(cfg.r_grid) * np.sqrt(d)
    theory = clusters.theory_certified_accuracy(r_grid, d, sigma)
    sup = [float(np.max(np.abs(clusters.certified_accuracy(h.r_rob, r_grid) - theory))) for h in H]
    band = clusters.dkw_bound(cfg.headline.n_test)
    report.below("I9", "sup_r |CA_emp(r) − Φ((√d/2 − r)/σ)| (Theorem 2, exact version; DKW band α = 1e-4)", sup, band)
    report.equal("I10", "constructive certificate δ* fails at this many test points", [int(np.sum(~h.cert_ok)) for h in H], 0)
    gap = S.r_rob_median / S.znorm_median
    report.within("I11", "gap: median radius of N_rob / median ‖z*‖ (target √k/2)", gap, np.sqrt(k) / 2,
                  cfg.I11_tol * np.sqrt(k) / 2)
    report.below("I12 spread", "feature averaging: loading spread max/min over same-label clusters", S.spread, 1.35)
    report.below("I12 cross", "feature averaging: cross-talk to the other label", S.crosstalk, 0.25)
    report.below("I13 balance", "balancedness max |v² − ‖w‖² − b²|/v² (dominant neurons)", S.balancedness, 0.02)
    report.equal("I13 bias", "fraction of dominant neurons with a positive bias", S.bias_pos, 1.0)

    h0 = H[0]
    quote.update({
        "ib-train-loss": float(S.train_loss.iloc[0]), "ib-test-acc": float(S.test_acc.iloc[0]),
        "ib-margin-first": float(h0.log.margin.iloc[0]), "ib-margin-last": float(h0.log.margin.iloc[-1]),
        "ib-cstar": float(S.cstar_median.iloc[0]), "ib-cstar-q05": float(S.cstar_q05.iloc[0]),
        "ib-cstar-q95": float(S.cstar_q95.iloc[0]), "ib-znorm": float(S.znorm_median.iloc[0]),
        "ib-sqrt-dk": float(np.sqrt(d / k)), "ib-r-rob": float(S.r_rob_median.iloc[0] / np.sqrt(d)),
        "ib-r-rob-min": float(S.r_rob_min.iloc[0] / np.sqrt(d)),
        "ib-r-strict": float(S.r_strict_median.iloc[0] / np.sqrt(d)),
        "ib-gap": float(gap.iloc[0]), "ib-gap-theory": float(np.sqrt(k) / 2),
        "ib-a09": acc_at(h0.curve, 0.9), "ib-a10": acc_at(h0.curve, 1.0), "ib-a11": acc_at(h0.curve, 1.1),
        "ib-sup-ca": sup[0], "ib-dkw": band,
        "ib-slope-d": slope_d, "ib-slope-k": slope_k,
        "ib-cstar-sweeps-min": float(sweeps.cstar_median.min()), "ib-cstar-sweeps-max": float(sweeps.cstar_median.max()),
        "ib-spread": float(S.spread.iloc[0]), "ib-cross": float(S.crosstalk.iloc[0]),
        "ib-balance": float(S.balancedness.iloc[0]), "ib-ndom": float(S.n_dominant.iloc[0]),
        "ib-m": float(cfg.headline.m),
    })
    return {name: (float(v) if not isinstance(v, str) else v) for name, v in quote.items()}


__all__ = ["Config", "RunSpec", "Run", "Results", "config", "run", "headline", "sweep", "compute", "record_checks",
           "loglog_slope", "acc_at", "replace"]
