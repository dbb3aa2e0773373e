"""Sweeps of the regimes chapter (setting of Dohmatob & Bietti 2022, arXiv:2203.11864; the closed
forms are derived for the book, see :mod:`rob.theory.regimes`).

- :func:`closed_forms` (Figure 1): per replicate one traceless GOE target ``B`` and one nested
  ``W`` (unit rows); NT, RF and NN (Eckart–Young) at every width ``m = round(ψd)``.
- :func:`nn_descent` (Figure 1, stars): gradient descent on the fully trained quadratic network
  against its sign-constrained optimum.
- :func:`nt_monte_carlo`: the NT projection realised as a network and measured by Monte Carlo, one
  task per chunk of ``mc_chunk`` test points.
- :func:`rf_wide` (Figure 2a): RF at widths of order ``d²`` by pivoted QR.
- :func:`lazy` (Figure 2b, Propositions 3 and 4): lazy training with ELU (and ``t²``) by
  population least squares; the ``α²`` law and the initialisation point from ``J`` draws of ``z``.

Every replicate has its own stream ``np.random.default_rng(SeedSequence([seed, part, rep]))``.  Each
sweep is a list of tasks (:class:`rob.book.executor.Task`, one per replicate, width or chunk), run by
:func:`rob.book.executor.run_tasks` serially or on a Dask cluster with identical results (one
BLAS/torch thread per task); :func:`tasks` lists them all.  The notebook runs them all in one
submission (:func:`sweeps`, long tasks first), so that two workers stay busy to the end.

The Monte Carlo of :func:`nt_monte_carlo` draws chunk ``k`` of its test points from the stream
``(seed, mc, k)`` (one task per chunk).  Before it was split, all chunks came one after another from
the single stream ``(seed, mc, 0)``: chunk 0 is unchanged, the later chunks are other (equally
distributed) points, so its quoted Monte-Carlo numbers differ from earlier builds within their
standard errors (check R8 re-verified at ci for seeds 0, 1 and 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .. import activations, data, features, hermite, quadratic, regimes
from ..book.executor import Task, run_tasks
from ..robustness import sobolev_seminorm
from ..stats import loglog_slope
from ..theory import regimes as T

# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Sizes of every part (spec §7)."""

    scale: str
    d: int                               # Figure 1 closed forms
    psis: tuple[float, ...]
    reps: int
    gd_d: int                            # Figure 1, gradient descent
    gd_psis: tuple[float, ...]
    gd_steps: int
    mc_psi: float                        # NT Monte-Carlo validation (replicate 0 of Figure 1)
    mc_n_test: int
    rf_d: int                            # Figure 2a
    rf_ratios: tuple[float, ...]
    rf_reps: int
    lazy_d: int                          # Figure 2b, Propositions 3 and 4 (ELU)
    lazy_m: int
    lazy_reps: int
    alphas: tuple[float, ...]
    J: int
    lazy_n_test: int = 20_000
    lazy_n_factor: int = 100             # N = lazy_n_factor · (1 + md)
    gd_lr: float = 0.05
    gd_init: float = 1e-3
    init_alpha: float = 2.0              # the untrained network (spec Proposition 4)
    fig_init_alphas: tuple[float, ...] = (0.5, 1.0, 2.0)
    mc_chunk: int = 10_000
    planted_k: int = 5                   # rank of the planted ("parent") teacher
    planted_d: int = 100                 # its dimension (the ψ grid and replicates of Figure 1)


def _grid(start: float, stop: float, step: float) -> tuple[float, ...]:
    return tuple(float(x) for x in np.round(np.arange(start, stop + step / 2, step), 10))


RF_RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.2)


def config(scale: str) -> Config:
    """The sizes of ``scale`` ("ci" or "paper")."""
    if scale == "ci":
        return Config("ci", d=100, psis=_grid(0.1, 1.5, 0.1), reps=5, gd_d=100, gd_psis=(0.25, 0.5, 1.0),
                      gd_steps=6000, mc_psi=0.5, mc_n_test=50_000, rf_d=30, rf_ratios=RF_RATIOS, rf_reps=5,
                      lazy_d=20, lazy_m=10, lazy_reps=3, alphas=(2.0, 4.0, 8.0), J=200)
    if scale == "paper":
        return Config("paper", d=1000, psis=_grid(0.02, 1.5, 0.02), reps=10, gd_d=300,
                      gd_psis=(0.25, 0.5, 0.75, 1.0), gd_steps=20_000, mc_psi=0.5, mc_n_test=50_000, rf_d=60,
                      rf_ratios=RF_RATIOS, rf_reps=10, lazy_d=40, lazy_m=20, lazy_reps=5,
                      alphas=(1.0, 2.0, 4.0, 8.0, float(np.sqrt(20))), J=400, planted_d=200)
    raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")


PARTS = {"closed": 1, "gd": 2, "mc": 3, "rf": 4, "lazy": 5, "quad": 6, "alpha": 7, "init": 8, "planted": 9}


def _rng(seed: int, part: str, rep: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, PARTS[part], rep]))


def widths(cfg: Config) -> list[int]:
    """``m = round(ψd)`` for the ψ grid of Figure 1."""
    return [int(round(p * cfg.d)) for p in cfg.psis]


def draw_target_and_weights(cfg: Config, seed: int, rep: int) -> tuple[np.ndarray, np.ndarray]:
    """Replicate ``rep`` of Figure 1: the target ``B`` and the nested unit-row ``W`` (max width rows)."""
    rng = _rng(seed, "closed", rep)
    B = quadratic.goe_traceless(cfg.d, rng)
    W = data.sphere(max(widths(cfg)), cfg.d, rng)
    return B, W


# ----------------------------------------------------------------------------------------------
# the parts
# ----------------------------------------------------------------------------------------------


def closed_forms_rep(cfg: Config, seed: int, rep: int) -> list[dict]:
    """Task of :func:`closed_forms`: the rows of replicate ``rep``."""
    ms = widths(cfg)
    rows = []
    B, W = draw_target_and_weights(cfg, seed, rep)
    nt = regimes.nt_projection_nested(W, B, ms)
    rf = regimes.rf_projection_nested(W, B, ms)
    lam = np.linalg.eigvalsh(B)
    for psi, m, a, b in zip(cfg.psis, ms, nt, rf):
        nn = regimes.nn_truncation_measures(lam, m)
        nb = regimes.nn_truncation_measures(lam, m, balanced=True)
        for regime, (e, s) in (("NT", a), ("RF", b), ("NN", nn), ("NN-balanced", nb)):
            rows.append(dict(rep=rep, psi=psi, m=m, regime=regime, eps=e, S2=s))
    return rows


def closed_forms_tasks(cfg: Config, seed: int) -> list[Task]:
    return [Task(closed_forms_rep, dict(cfg=cfg, seed=seed, rep=rep), ("closed", rep)) for rep in range(cfg.reps)]


def closed_forms(cfg: Config, seed: int) -> pd.DataFrame:
    """One row per (replicate, ψ, regime ∈ {NT, RF, NN, NN-balanced}): ``eps`` = ε/V, ``S2`` = S²/S⋆²."""
    return _rows(run_tasks(closed_forms_tasks(cfg, seed), f"closed forms (d={cfg.d})"))


def _rows(parts: list[list[dict]]) -> pd.DataFrame:
    """One frame from tasks that each return a list of rows (in task order)."""
    return pd.DataFrame([row for rows in parts for row in rows])


def nn_descent_width(cfg: Config, seed: int, index: int, device: str = "cpu") -> dict:
    """Task of :func:`nn_descent`: the width ``ψ = gd_psis[index]``.  The target ``B`` comes from the
    stream ``(seed, gd, 0)`` (the same for every width), the initial weights from ``(seed, gd, 1 + index)``."""
    B = quadratic.goe_traceless(cfg.gd_d, _rng(seed, "gd"))
    psi = cfg.gd_psis[index]
    m = int(round(psi * cfg.gd_d))
    M = regimes.nn_gradient_descent(B, m, cfg.gd_steps, cfg.gd_lr, cfg.gd_init, _rng(seed, "gd", 1 + index), device)
    e, s = quadratic.normalised_measures(M, B)
    et, st = quadratic.normalised_measures(regimes.nn_truncation(B, m, balanced=True), B)
    return dict(psi=psi, m=m, eps=e, S2=s, eps_trunc=et, S2_trunc=st, residual=abs(e + s - 1))


def nn_descent_tasks(cfg: Config, seed: int, device: str = "cpu") -> list[Task]:
    return [Task(nn_descent_width, dict(cfg=cfg, seed=seed, index=i, device=device), ("gd", psi))
            for i, psi in enumerate(cfg.gd_psis)]


def nn_descent(cfg: Config, seed: int, device: str = "cpu") -> pd.DataFrame:
    """Gradient descent on the fully trained network at each ψ of ``cfg.gd_psis`` (one target for all
    widths), with the sign-constrained truncation it should reach."""
    return pd.DataFrame(run_tasks(nn_descent_tasks(cfg, seed, device), f"NN gradient descent (d={cfg.gd_d})"))


def nt_monte_carlo(cfg: Config, seed: int) -> dict[str, float]:
    """:func:`nt_monte_carlo_chunk` tasks (one per ``mc_chunk`` test points), merged by
    :func:`nt_monte_carlo_merge`."""
    return nt_monte_carlo_merge(cfg, run_tasks(nt_monte_carlo_tasks(cfg, seed), f"NT network Monte Carlo (d={cfg.d})"))


def mc_chunks(cfg: Config) -> list[int]:
    """Sizes of the Monte-Carlo chunks: ``mc_chunk`` points each, the last one the remainder."""
    return [min(cfg.mc_chunk, cfg.mc_n_test - s) for s in range(0, cfg.mc_n_test, cfg.mc_chunk)]


def nt_monte_carlo_tasks(cfg: Config, seed: int) -> list[Task]:
    """Tasks of :func:`nt_monte_carlo`: one per chunk of ``mc_chunk`` test points (chunk ``k`` draws
    its points from the stream ``(seed, mc, k)``)."""
    return [Task(nt_monte_carlo_chunk, dict(cfg=cfg, seed=seed, chunk=k), ("mc", k)) for k in range(len(mc_chunks(cfg)))]


def nt_monte_carlo_chunk(cfg: Config, seed: int, chunk: int) -> dict:
    """Task of :func:`nt_monte_carlo`: realise the NT projection of replicate 0 at ``ψ = mc_psi`` as a
    quadratic-activation network ``f(x) = Σ_j 2(a_j·x)(w_j·x) + c`` (:func:`rob.regimes.realise_nt_network`;
    every chunk rebuilds the same ``B``, ``W``, ``A``, ``c``), draw ``mc_chunks(cfg)[chunk]`` fresh
    Gaussian points ``x`` from the stream ``(seed, mc, chunk)`` and return, per point, the squared error
    ``(f(x) − f⋆(x))²`` and the squared input-gradient norm ``‖∇f(x)‖²`` (:func:`rob.features.ntk_input_grad`),
    with the closed-form ``ε/V``, ``S²/S⋆²`` and the normalisers ``V``, ``S⋆²``."""
    B, Wfull = draw_target_and_weights(cfg, seed, 0)
    m = int(round(cfg.mc_psi * cfg.d))
    W = Wfull[:m]
    quad = activations.get("quad")
    A, c = regimes.realise_nt_network(W, B)
    eps_cf, S2_cf = quadratic.normalised_measures(regimes.nt_projection(W, B), B)
    X = data.gaussian(mc_chunks(cfg)[chunk], cfg.d, _rng(seed, "mc", chunk))
    f = regimes.nt_network_output(X, W, A, c, quad)
    g = features.ntk_input_grad(X, W, A.ravel() * np.sqrt(m), quad)
    return dict(m=m, err=(f - quadratic.value(X, B, -np.trace(B))) ** 2, grad2=np.einsum("ij,ij->i", g, g),
                eps_cf=eps_cf, S2_cf=S2_cf, V=quadratic.variance(B), S2_star=quadratic.dirichlet_energy(B))


def nt_monte_carlo_merge(cfg: Config, parts: list[dict]) -> dict[str, float]:
    """Monte-Carlo means of ``(f − f⋆)²/V`` and ``‖∇f‖²/S⋆²`` over all chunks (with standard errors)
    against the closed form: ``eps_mc``, ``eps_se``, ``S2_mc``, ``S2_se``, ``eps_cf``, ``S2_cf``."""
    first = parts[0]
    V, S2s = first["V"], first["S2_star"]
    err = np.concatenate([p["err"] for p in parts])
    # only the squared gradient norms are kept per point: a one-column "gradient" of norm ‖∇f‖
    sob = sobolev_seminorm(np.sqrt(np.concatenate([p["grad2"] for p in parts]))[:, None])
    return dict(m=first["m"], d=cfg.d, n_test=len(err),
                eps_mc=float(err.mean() / V), eps_se=float(err.std(ddof=1) / np.sqrt(len(err)) / V),
                S2_mc=sob.energy / S2s, S2_se=sob.energy_se / S2s, eps_cf=first["eps_cf"], S2_cf=first["S2_cf"])


def planted_teacher(cfg: Config, seed: int, device: str = "cpu") -> pd.DataFrame:
    """The planted rank-``k⋆`` teacher (:func:`rob.quadratic.planted`) in dimension ``planted_d`` on
    the ψ grid of Figure 1: NT and the balanced NN truncation per replicate (nested ``W``), and one
    gradient-descent run of the fully trained network at ``m = k⋆`` (``regime = "NN-GD"``, ``rep = −1``)."""
    parts = run_tasks(planted_teacher_tasks(cfg, seed, device), f"planted teacher (d={cfg.planted_d}, k={cfg.planted_k})")
    return pd.DataFrame([row for rows in parts for row in rows])


def planted_teacher_tasks(cfg: Config, seed: int, device: str = "cpu") -> list[Task]:
    return ([Task(planted_teacher_rep, dict(cfg=cfg, seed=seed, rep=rep), ("planted", rep)) for rep in range(cfg.reps)]
            + [Task(planted_teacher_descent, dict(cfg=cfg, seed=seed, device=device), ("planted", "gd"))])


def planted_teacher_rep(cfg: Config, seed: int, rep: int) -> list[dict]:
    """Task of :func:`planted_teacher`: replicate ``rep`` (stream ``(seed, planted, rep)``)."""
    d = cfg.planted_d
    ms = [int(round(p * d)) for p in cfg.psis]
    rows = []
    rng = _rng(seed, "planted", rep)
    B = quadratic.planted(d, cfg.planted_k, rng)
    W = data.sphere(max(ms), d, rng)
    lam = np.linalg.eigvalsh(B)
    for psi, m, (e, s) in zip(cfg.psis, ms, regimes.nt_projection_nested(W, B, ms)):
        nb = regimes.nn_truncation_measures(lam, m, balanced=True)
        rows += [dict(rep=rep, psi=psi, m=m, regime="NT", eps=e, S2=s, exact=T.nt_exact_mean(d, m)),
                 dict(rep=rep, psi=psi, m=m, regime="NN", eps=nb[0], S2=nb[1], exact=0.0)]
    return rows


def planted_teacher_descent(cfg: Config, seed: int, device: str = "cpu") -> list[dict]:
    """Task of :func:`planted_teacher`: gradient descent at ``m = k⋆`` (stream ``(seed, planted, reps)``)."""
    rng = _rng(seed, "planted", cfg.reps)
    B = quadratic.planted(cfg.gd_d, cfg.planted_k, rng)
    M = regimes.nn_gradient_descent(B, cfg.planted_k, cfg.gd_steps, cfg.gd_lr, cfg.gd_init, rng, device)
    e, s = quadratic.normalised_measures(M, B)
    return [dict(rep=-1, psi=cfg.planted_k / cfg.gd_d, m=cfg.planted_k, regime="NN-GD", eps=e, S2=s, exact=0.0)]


def rf_wide(cfg: Config, seed: int) -> pd.DataFrame:
    """Figure 2a: RF at ``m = round(ratio·D)`` with nested ``W`` (``round(max ratio·D)`` rows) and
    the exact conditional mean, per replicate."""
    parts = run_tasks(rf_wide_tasks(cfg, seed), f"RF at m ~ d^2 (d={cfg.rf_d})")
    return pd.DataFrame([row for rows in parts for row in rows])


def rf_wide_tasks(cfg: Config, seed: int) -> list[Task]:
    return [Task(rf_wide_rep, dict(cfg=cfg, seed=seed, rep=rep), ("rf", rep)) for rep in range(cfg.rf_reps)]


def rf_wide_rep(cfg: Config, seed: int, rep: int) -> list[dict]:
    """Task of :func:`rf_wide`: replicate ``rep`` (stream ``(seed, rf, rep)``)."""
    d = cfg.rf_d
    D = d * (d + 1) // 2
    ms = [int(round(r * D)) for r in cfg.rf_ratios]
    rows = []
    rng = _rng(seed, "rf", rep)
    B = quadratic.goe_traceless(d, rng)
    W = data.sphere(max(ms), d, rng)
    for ratio, m in zip(cfg.rf_ratios, ms):
        r = regimes.rf_projection_qr(W[:m], B)
        rows.append(dict(rep=rep, ratio=ratio, m=m, D=D, eps=r.eps, S2=r.S2, dim=r.dim, pe2=r.pe2,
                         cond_mean=r.cond_mean))
    return rows


@dataclass(frozen=True)
class Lazy:
    """Figure 2b and Propositions 3-4: one row per fitted replicate (``act``, ``rep``, normalised
    NT error and energy, slopes ``e1``, ``s1``), the α²-law draws (J-means, standard errors, law)
    and the initialisation point (J-means against the untrained-network law)."""

    fits: pd.DataFrame
    alpha: pd.DataFrame
    init: pd.DataFrame
    moments: dict[str, float] = field(default_factory=dict)


def _lazy_fit(act: str, cfg: Config, seed: int, part: str, rep: int):
    rng = _rng(seed, part, rep)
    d, m = cfg.lazy_d, cfg.lazy_m
    B = quadratic.goe_traceless(d, rng)
    W = data.sphere(m, d, rng)
    N = cfg.lazy_n_factor * (1 + m * d)
    return regimes.lazy_projection(activations.get(act), W, B, N, cfg.lazy_n_test, rng)


def lazy_tasks(cfg: Config, seed: int) -> list[Task]:
    """Tasks of :func:`lazy`: the ELU fits (stream ``(seed, lazy, rep)``) and the ``t²`` fit."""
    jobs = [("elu", "lazy", r) for r in range(cfg.lazy_reps)] + [("quad", "quad", 0)]
    return [Task(_lazy_fit, dict(act=act, cfg=cfg, seed=seed, part=part, rep=rep), ("lazy", act, rep), kind="lazy_fit")
            for act, part, rep in jobs]


def _z_stats(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def lazy(cfg: Config, seed: int) -> Lazy:
    """ELU fits (``lazy_reps`` weight draws) and one ``t²`` fit; the α² law on ELU replicate 0 with
    ``J`` Gaussian draws ``z ~ N(0, α²I/m)`` per α; the initialisation point at ``init_alpha``."""
    return lazy_merge(cfg, seed, run_tasks(lazy_tasks(cfg, seed), f"lazy least squares (d={cfg.lazy_d}, m={cfg.lazy_m})"))


def lazy_merge(cfg: Config, seed: int, done: list) -> Lazy:
    """:class:`Lazy` from the fits of :func:`lazy_tasks` (in their order); the α² law and the
    initialisation point are ``J × m`` Gaussian draws and quadratic forms in ``m + 1`` variables,
    cheap enough for the kernel (streams ``(seed, alpha)`` and ``(seed, init)``)."""
    m = cfg.lazy_m
    rows, fits = [], {}
    jobs = [("elu", "lazy", r) for r in range(cfg.lazy_reps)] + [("quad", "quad", 0)]
    for (act, part, rep), fit in zip(jobs, done):
        fits[(act, rep)] = fit
        rows.append(dict(act=act, rep=rep, eps=fit.eps_nt / fit.V, S2=fit.S2_nt / fit.S2_star,
                         e1=fit.e1, s1=fit.s1, e1_n=fit.e1 / fit.V, s1_n=fit.s1 / fit.S2_star))
    fit = fits[("elu", 0)]
    e_s2, e_ds2 = hermite.moments(activations.get("elu"))
    rng = _rng(seed, "alpha")
    arows = []
    for a in cfg.alphas:
        Z = a / np.sqrt(m) * rng.standard_normal((cfg.J, m))
        for stat, gram, law in (("eps", fit.err_gram, fit.eps_nt + fit.e1 * a * a),
                                ("S2", fit.grad_gram, fit.S2_nt + fit.s1 * a * a)):
            mean, se = _z_stats(regimes.quadratic_draws(gram, Z))
            arows.append(dict(alpha=a, alpha2=a * a, stat=stat, mean=mean, se=se, law=law, z=(mean - law) / se))
    rng = _rng(seed, "init")
    a = cfg.init_alpha
    Z = a / np.sqrt(m) * rng.standard_normal((cfg.J, m))
    irows = []
    for stat, vals, law in (("eps", regimes.quadratic_draws(fit.init_err_gram, Z), fit.V + a * a * e_s2),
                            ("S2", regimes.quadratic_draws(fit.init_grad_gram, Z, lead=False), a * a * e_ds2)):
        mean, se = _z_stats(vals)
        irows.append(dict(alpha=a, stat=stat, mean=mean, se=se, law=law, z=(mean - law) / se))
    return Lazy(pd.DataFrame(rows), pd.DataFrame(arows), pd.DataFrame(irows),
                dict(e_sigma2=e_s2, e_dsigma2=e_ds2, V=fit.V, S2_star=fit.S2_star))


def tasks(cfg: Config, seed: int, device: str = "cpu", link: LinkConfig | None = None) -> list[Task]:
    """Every task of the chapter, in the order :func:`sweeps` submits them (for ``rob plan``); the
    further sections use ``link`` (default: :func:`link_config` of ``cfg.scale``)."""
    parts = _sweep_parts(cfg, link or link_config(cfg.scale), seed, device)
    return [replace(t, batch="sweeps") for _, part in parts for t in part]  # one submission (:func:`sweeps`)


@dataclass(frozen=True)
class Results:
    closed: pd.DataFrame
    gd: pd.DataFrame
    mc: dict
    rf: pd.DataFrame
    lazy: Lazy
    planted: pd.DataFrame


# ----------------------------------------------------------------------------------------------
# acceptance checks (spec §8): R1-R18
# ----------------------------------------------------------------------------------------------


def theory_curves(cfg: Config) -> pd.DataFrame:
    """ε/V per ψ of the grid: NT exact finite-d mean, its limit (1−ψ)₊², F_sc and RF 1 − m/(D−1)."""
    D = cfg.d * (cfg.d + 1) // 2
    return pd.DataFrame([dict(psi=p, m=m, nt_exact=T.nt_exact_mean(cfg.d, m), nt_limit=T.nt_limit(p),
                              nn=T.f_sc(p), rf=1 - m / (D - 1)) for p, m in zip(cfg.psis, widths(cfg))])


def record_checks(report, cfg: Config, res: Results) -> dict[str, float]:
    """Record the acceptance checks R1-R18 (and P1-P3 of the planted teacher) in ``report`` and return
    the numbers the prose quotes."""
    C = res.closed
    th = theory_curves(cfg).set_index("psi")
    main = C[C.regime.isin(["NT", "RF", "NN"])]
    ident = np.concatenate([np.abs(main.eps + main.S2 - 1).to_numpy(), np.abs(res.rf.eps + res.rf.S2 - 1).to_numpy()])
    report.below("R1", "identity |ε/V + S²/S⋆² − 1|, max over NT, RF, NN truncation, every replicate and ψ "
                 "(and the RF of Figure 2a)", float(ident.max()), 1e-10)

    nt = C[C.regime == "NT"]
    nt_mean = nt.groupby("psi").eps.mean()
    below1 = nt_mean.index[nt_mean.index < 1]
    dev = (nt_mean[below1] - th.nt_exact[below1]).abs()
    report.below("R2", "NT: max over ψ < 1 of |replicate mean ε/V − exact finite-d expectation|", float(dev.max()),
                 0.025)
    report.below("R3", "NT: max ε/V over ψ ≥ 1 (exactly zero)", float(nt[nt.psi >= 1].eps.max()), 1e-12)
    band = [p for p in nt_mean.index if 0.1 - 1e-9 <= p <= 0.9 + 1e-9]
    slope = loglog_slope(1 - np.asarray(band), nt_mean[band])
    slope_th = loglog_slope(1 - np.asarray(band), th.nt_exact[band])
    report.within("R4", "NT rate: slope of log mean ε/V against log(1 − ψ), ψ ∈ [0.1, 0.9] (target: slope of the "
                  "exact finite-d curve; limit 2)", slope, slope_th, 0.16)
    rf = C[C.regime == "RF"]
    report.above("R5", "RF learns almost nothing at m ≍ d: min over ψ and replicates of ε_RF/V",
                 float(rf.eps.min()), 0.95)
    nn_mean = C[C.regime == "NN"].groupby("psi").eps.mean()
    dev_nn = (nn_mean - th.nn).abs()
    report.below("R6", "NN: max over ψ of |replicate mean Eckart–Young ε/V − F_sc(ψ)|", float(dev_nn.max()), 0.02)

    gd = res.gd
    report.below("R7 error", "NN gradient descent: max over ψ of |ε_GD − ε_trunc|/V (sign-constrained optimum)",
                 float((gd.eps - gd.eps_trunc).abs().max()), 2e-3)
    report.below("R7 identity", "NN gradient descent: max identity residual |ε/V + S²/S⋆² − 1|",
                 float(gd.residual.max()), 1e-4)

    mc = res.mc
    z_mc = [(mc["eps_mc"] - mc["eps_cf"]) / mc["eps_se"], (mc["S2_mc"] - mc["S2_cf"]) / mc["S2_se"]]
    report.within("R8", "Monte Carlo of the realised NT network: z-scores of ε and S² against the closed form",
                  z_mc, 0.0, 5.0)

    piv = C.pivot_table(index=["rep", "psi"], columns="regime", values="eps").reset_index()
    sub = piv[piv.psi < 1]
    margin_order = float(min((sub.NT - sub.NN).min(), (sub.RF - sub.NT).min()))
    mono = float(-nt.sort_values(["rep", "psi"]).groupby("rep").eps.diff().max())
    report.above("R9", "ordering ε_NN ≤ ε_NT ≤ ε_RF (ψ < 1) and NT monotone in ψ: smallest margins (each ≥ 0)",
                 [margin_order, mono], -1e-12)

    rfw = res.rf
    part = rfw[rfw.ratio < 1]
    gap = (part.S2 - part.cond_mean).groupby(part.ratio).mean()
    report.within("R10", "Figure 2a: replicate mean of S²_RF/S⋆² − exact conditional mean, each m/D < 1",
                  gap.to_numpy(), 0.0, 0.08)
    full = rfw[rfw.m >= rfw.D]
    report.below("R11", "Figure 2a: |S²_RF/S⋆² − 1| for m ≥ D", float(np.abs(full.S2 - 1).max()), 1e-10)

    L = res.lazy
    q = L.fits[L.fits.act == "quad"]
    report.below("R12", "quadratic activation has no initialisation effect: max(e1, s1)",
                 float(max(q.e1.max(), q.s1.max())), 1e-20)
    elu = L.fits[L.fits.act == "elu"]
    report.between("R13 ratio", "ELU: mean over replicates of s1/e1 (initialisation effect is rough)",
                   float((elu.s1 / elu.e1).mean()), 4.0, 6.0)
    report.above("R13 sign", "ELU: e1 and s1 of every replicate (> 0)", np.concatenate([elu.e1, elu.s1]), 1e-12)
    tot = elu.eps + elu.S2
    report.between("R14", "ELU NT lies above the line: mean over replicates of ε/V + S²/S⋆²", float(tot.mean()),
                   1.15, 1.35)
    report.above("R15", "lower bound for any projection, ELU NT: S²/S⋆² − (1 − ε/V)², every replicate",
                 (elu.S2 - T.lower_bound(elu.eps)).to_numpy(), 0.0)
    report.within("R16", "α² law of lazy training: z-scores of the J-means of ε(f_α), S(f_α)² against the law",
                  L.alpha.z.to_numpy(), 0.0, 5.0)
    report.within("R17", "untrained network (initialisation point): z-scores of the J-means of ε(f₀), S(f₀)²",
                  L.init.z.to_numpy(), 0.0, 5.0)

    fq = [T.f_sc_quadrature(0.5), T.f_sc_quadrature(0.25)]
    report.within("R18 F_sc", "F_sc(0.5), F_sc(0.25): brentq closed form − semicircle quadrature",
                  [T.f_sc(0.5) - fq[0], T.f_sc(0.25) - fq[1]], 0.0, 1e-9)
    cf = T.elu_moments()
    report.within("R18 ELU", "ELU E σ², E σ'²: Hermite-module quadrature − closed form",
                  [L.moments["e_sigma2"] - cf[0], L.moments["e_dsigma2"] - cf[1]], 0.0, 1e-6)

    P = res.planted
    pnt = P[(P.regime == "NT") & (P.psi < 1)].groupby("psi")[["eps", "exact"]].mean()
    pdev = (pnt.eps - pnt.exact).abs()
    report.below("P1", "planted rank-k⋆ teacher, NT: max over ψ < 1 of |replicate mean ε/V − exact expectation| "
                 "(5 s.d. of the replicate mean)", float(pdev.max()), 0.1)
    pnn = P[(P.regime == "NN") & (P.m >= cfg.planted_k)]
    pgd = P[P.regime == "NN-GD"]
    report.below("P2", "planted teacher, fully trained: max ε/V of the balanced optimum (m ≥ k⋆) and of gradient "
                 "descent at m = k⋆ (exact recovery)", [float(pnn.eps.max()), float(pgd.eps.max())], 1e-6)
    report.below("P3", "planted teacher, fully trained: |S²/S⋆² − 1| (as sensitive as its parent)",
                 [float((pnn.S2 - 1).abs().max()), float((pgd.S2 - 1).abs().max())], 1e-6)

    a0 = L.alpha
    quote = {
        "rg-d": cfg.d, "rg-reps": cfg.reps, "rg-ident-max": float(ident.max()), "rg-r2": float(dev.max()),
        "rg-slope": slope, "rg-slope-th": slope_th, "rg-rf-min": float(rf.eps.min()), "rg-r6": float(dev_nn.max()),
        "rg-nt-half": float(nt_mean.get(0.5, np.nan)), "rg-nt-half-th": float(T.nt_exact_mean(cfg.d, cfg.d // 2)),
        "rg-nn-half": float(nn_mean.get(0.5, np.nan)), "rg-fsc-half": T.f_sc(0.5),
        "rg-rf-half": float(rf[np.isclose(rf.psi, 0.5)].eps.mean()) if np.isclose(rf.psi, 0.5).any() else float("nan"),
        "rg-gd-max": float((gd.eps - gd.eps_trunc).abs().max()), "rg-gd-res": float(gd.residual.max()),
        "rg-mc-eps": mc["eps_mc"], "rg-mc-eps-se": mc["eps_se"], "rg-mc-eps-cf": mc["eps_cf"],
        "rg-mc-S2": mc["S2_mc"], "rg-mc-S2-se": mc["S2_se"], "rg-mc-S2-cf": mc["S2_cf"],
        "rg-r10": float(np.abs(gap).max()),
        "rg-elu-eps": float(elu.eps.mean()), "rg-elu-S2": float(elu.S2.mean()), "rg-elu-tot": float(tot.mean()),
        "rg-e1": float(elu.e1.mean()), "rg-s1": float(elu.s1.mean()), "rg-ratio": float((elu.s1 / elu.e1).mean()),
        "rg-quad-e1": float(q.e1.max()), "rg-excess-std": float(elu.s1.mean() * cfg.lazy_m),
        "rg-alpha-zmax": float(np.abs(a0.z).max()), "rg-init-zmax": float(np.abs(L.init.z).max()),
        "rg-init-S2": float(L.init[L.init.stat == "S2"]["mean"].iloc[0]),
        "rg-init-eps": float(L.init[L.init.stat == "eps"]["mean"].iloc[0]),
        "rg-init-S2-law": float(L.init[L.init.stat == "S2"].law.iloc[0]),
        "rg-init-eps-law": float(L.init[L.init.stat == "eps"].law.iloc[0]),
        "rg-esig2": L.moments["e_sigma2"], "rg-edsig2": L.moments["e_dsigma2"],
        "rg-planted-dev": float(pdev.max()), "rg-planted-gd": float(pgd.eps.max()),
        "rg-planted-k": cfg.planted_k, "rg-planted-d": cfg.planted_d,
        "rg-lazy-m": cfg.lazy_m, "rg-mc-psi": cfg.mc_psi, "rg-lazy-d": cfg.lazy_d,
    }
    return {k: float(v) for k, v in quote.items()}


__all__ = ["Config", "Results", "Lazy", "config", "widths", "draw_target_and_weights", "closed_forms",
           "nn_descent", "nt_monte_carlo", "rf_wide", "planted_teacher", "lazy", "theory_curves", "record_checks", "replace",
           "Sweeps", "sweeps"]


# ----------------------------------------------------------------------------------------------
# further sections: the adversarial link and the equivalent ridge (checks A1-A6, Q1-Q4)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkConfig:
    """Sizes of the two further sections (spec §9.2-9.3).  The adversarial link attacks the NT
    predictors of replicate 0 of Figure 1 (dimension ``Config.d``, nested ``W``); radii are given
    as ``r/√d``."""

    scale: str
    adv_psis: tuple[float, ...]          # NT predictors of panel (a)
    adv_n: int                           # Gaussian test points
    adv_radii: tuple[float, ...]         # r/√d, panel (a)
    pgd_radii: tuple[float, ...]         # r/√d also attacked by PGD (a subset of adv_radii)
    pgd_steps: int
    plane_radii: tuple[float, ...]       # r/√d of the adversarial tradeoff plane (every ψ of Figure 1)
    ridge_d: int                         # equivalent ridge: ELU lazy fits
    ridge_ms: tuple[int, ...]
    ridge_reps: int
    ridge_n_factor: int = 100            # N = ridge_n_factor · (1 + md)
    ridge_n_test: int = 20_000
    plane_every: int = 1                 # the plane uses every plane_every-th ψ of Figure 1


def link_config(scale: str) -> LinkConfig:
    """The sizes of ``scale`` ("ci" or "paper") for the adversarial link and the equivalent ridge."""
    radii = tuple(float(x) for x in np.round(np.logspace(-3, 0, 13), 12))
    if scale == "ci":
        return LinkConfig("ci", adv_psis=(0.25, 0.5, 1.0), adv_n=500, adv_radii=radii, pgd_radii=radii[::3],
                          pgd_steps=40, plane_radii=(1e-3, 0.1, 0.3, 1.0), ridge_d=20,
                          ridge_ms=(2, 5, 10, 15, 20, 30), ridge_reps=3)
    if scale == "paper":
        fine = tuple(float(x) for x in np.round(np.logspace(-3, 0, 25), 12))
        return LinkConfig("paper", adv_psis=(0.25, 0.5, 1.0), adv_n=500, adv_radii=fine, pgd_radii=fine[::12],
                          pgd_steps=40, plane_radii=(1e-3, 0.1, 0.3, 1.0), ridge_d=40,
                          ridge_ms=(4, 10, 20, 30, 40, 60), ridge_reps=3, plane_every=3)
    raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")


LINK_PARTS = {"adv": 20, "ridge": 21}


def _link_rng(seed: int, part: str, rep: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, LINK_PARTS[part], rep]))


@dataclass(frozen=True)
class AdvLink:
    """The adversarial link.  ``curves``: one row per (ψ of ``adv_psis``, radius) with the exact
    worst-case change ``Δ`` (RMS and mean over the test points, divided by ``r``), its bracket
    ``[r S_n, r S_n + r²‖B̂‖_op]/r`` (``S_n`` = RMS of ``‖∇f‖`` at the same points), the
    deterministic equivalent, the closed-form ``S``, the largest optimality-certificate violation and,
    where attacked, PGD (RMS/r, smallest and mean ratio to the exact value, largest excess).
    ``plane``: one row per (ψ of Figure 1, radius of ``plane_radii``) with ``ε/V`` and the
    normalised sensitivity ``mean Δ²/(r²S⋆²)`` with its standard error."""

    curves: pd.DataFrame
    plane: pd.DataFrame


def adversarial_link(cfg: Config, link: LinkConfig, seed: int) -> AdvLink:
    """Exact worst-case ℓ2 perturbations (:func:`rob.trust_region.worst_change`) of the NT predictors
    ``xᵀB̂x + c`` of replicate 0 of Figure 1 at ``adv_n`` fresh Gaussian points, against two-sided ℓ2
    PGD (:func:`rob.attacks.pgd_l2_regression`), the energy prediction ``r S`` and the deterministic
    equivalent (:func:`rob.theory.regimes.worst_change_equivalent`).  One task per ψ
    (:func:`adversarial_link_tasks`), merged in ψ order."""
    return adversarial_link_merge(run_tasks(adversarial_link_tasks(cfg, link, seed), f"adversarial link (d={cfg.d})"))


def adversarial_link_merge(done: list[tuple[list[dict], list[dict]]]) -> AdvLink:
    """:class:`AdvLink` from the (curve rows, plane rows) of :func:`adversarial_link_tasks`, in ψ order."""
    return AdvLink(pd.DataFrame([row for curves, _ in done for row in curves]),
                   pd.DataFrame([row for _, plane in done for row in plane]))


def _link_psis(cfg: Config, link: LinkConfig) -> list[float]:
    """The ψ of the adversarial link: those of the tradeoff plane and of panel (a), sorted."""
    return sorted(set(cfg.psis[::link.plane_every]) | set(link.adv_psis))


def adversarial_link_tasks(cfg: Config, link: LinkConfig, seed: int) -> list[Task]:
    """Tasks of :func:`adversarial_link`: one per ψ; every task rebuilds the same ``B``, ``W``
    (stream ``(seed, closed, 0)``), test points (``(seed, adv, 0)``) and QR of the nested ``W``."""
    return [Task(adversarial_link_psi, dict(cfg=cfg, link=link, seed=seed, psi=psi), ("adv", psi))
            for psi in _link_psis(cfg, link)]


def adversarial_link_psi(cfg: Config, link: LinkConfig, seed: int, psi: float) -> tuple[list[dict], list[dict]]:
    """Task of :func:`adversarial_link`: the (curve rows, plane rows) of one ψ."""
    from .. import attacks, trust_region

    B, Wfull = draw_target_and_weights(cfg, seed, 0)
    d = cfg.d
    X = data.gaussian(link.adv_n, d, _link_rng(seed, "adv"))
    S2_star = quadratic.dirichlet_energy(B)
    curves, plane = [], []
    plane_psis = cfg.psis[::link.plane_every]
    ms = [int(round(p * d)) for p in _link_psis(cfg, link)]
    m = int(round(psi * d))
    U, _ = np.linalg.qr(Wfull[:min(max(ms), d)].T)           # nested W: the same QR serves every width
    Bh = B - regimes.remove_block(B, U[:, :min(m, d)])      # B̂ = B − QBQ (rob.regimes.nt_projection)
    eig = np.linalg.eigh(Bh)
    G = quadratic.grad(X, Bh)
    eps = quadratic.normalised_measures(Bh, B)[0]
    if psi in plane_psis:
        rad = np.asarray(link.plane_radii) * np.sqrt(d)
        V2 = trust_region.worst_change(Bh, G, rad, eig=eig, with_delta=False).value ** 2 / rad[:, None] ** 2
        for rr, v in zip(link.plane_radii, V2 / S2_star):
            plane.append(dict(psi=psi, m=m, r_rel=rr, eps=eps, S2=1 - eps, sens=float(v.mean()),
                              sens_se=float(v.std(ddof=1) / np.sqrt(len(v)))))
    if psi not in link.adv_psis:
        return curves, plane
    S = float(np.sqrt(quadratic.dirichlet_energy(Bh)))
    Sn = float(np.sqrt(np.mean(np.sum(G * G, axis=1))))
    op = float(np.max(np.abs(eig[0])))
    f = lambda Z: quadratic.value(Z, Bh)
    gf = lambda Z: quadratic.grad(Z, Bh)
    f0 = f(X)
    rad = np.asarray(link.adv_radii) * np.sqrt(d)
    wcs = [trust_region.worst_change(Bh, G, rad[k:k + 4], eig=eig, with_delta=False)
           for k in range(0, len(rad), 4)]                   # chunks of radii bound the memory
    values = np.concatenate([w.value for w in wcs])
    kkts = np.concatenate([w.kkt.max(axis=1) for w in wcs])
    hards = np.concatenate([w.hard.sum(axis=1) for w in wcs])
    for rr, r, D, kk, hh in zip(link.adv_radii, rad, values, kkts, hards):
        row = dict(psi=psi, m=m, r_rel=rr, r=r, eps=eps, S=S, S_n=Sn, opnorm=op,
                   rms=float(np.sqrt(np.mean(D**2)) / r), mean=float(D.mean() / r),
                   lo=Sn, hi=Sn + r * op, det=T.worst_change_equivalent(eig[0], r) / r,
                   kkt=float(kk), hard=int(hh),
                   pgd_rms=np.nan, pgd_min=np.nan, pgd_mean=np.nan, pgd_excess=np.nan)
        if any(np.isclose(rr, p, rtol=1e-9) for p in link.pgd_radii):
            _, fmax, fmin = attacks.pgd_l2_regression(f, gf, X, f0, r, steps=link.pgd_steps)
            P = np.maximum(fmax - f0, f0 - fmin)
            ratio = P / D
            row.update(pgd_rms=float(np.sqrt(np.mean(P**2)) / r), pgd_min=float(ratio.min()),
                       pgd_mean=float(ratio.mean()), pgd_excess=float(((P - D) / D).max()))
        curves.append(row)
    return curves, plane


def ridge_sweep(cfg: Config, link: LinkConfig, seed: int) -> pd.DataFrame:
    """ELU lazy (zero-output) predictors at ``d = ridge_d`` for each width of ``ridge_ms`` and
    ``ridge_reps`` draws of ``(B, W)``, by least squares on ``N = ridge_n_factor·(1 + md)`` points
    (:func:`rob.regimes.lazy_nt_measures`), against the equivalent ridge
    (:func:`rob.regimes.equivalent_ridge`), the refined chaos model
    (:func:`rob.regimes.lazy_chaos_model`) and the exact quadratic-activation NT projection, all on the
    same ``(B, W)``.  One row per (m, rep); columns ``eps_*``, ``S2_*`` (normalised) for
    ``elu``, ``ridge``, ``chaos``, ``quad``."""
    return pd.DataFrame(run_tasks(ridge_tasks(cfg, link, seed), f"equivalent ridge (ELU, d={link.ridge_d})"))


def ridge_tasks(cfg: Config, link: LinkConfig, seed: int) -> list[Task]:
    """Tasks of :func:`ridge_sweep`: one per (m, rep), stream ``(seed, ridge, 1000m + rep)``."""
    return [Task(ridge_rep, dict(link=link, seed=seed, m=m, rep=rep), ("ridge", m, rep))
            for m in link.ridge_ms for rep in range(link.ridge_reps)]


def ridge_rep(link: LinkConfig, seed: int, m: int, rep: int) -> dict:
    """Task of :func:`ridge_sweep`: the row of one (m, rep)."""
    elu = activations.get("elu")
    rc = regimes.ridge_constants(elu)
    d = link.ridge_d
    rng = _link_rng(seed, "ridge", 1000 * m + rep)
    B = quadratic.goe_traceless(d, rng)
    W = data.sphere(m, d, rng)
    e, s = regimes.lazy_nt_measures(elu, W, B, link.ridge_n_factor * (1 + m * d), link.ridge_n_test, rng)
    er, sr = regimes.equivalent_ridge(W, B, rc.kappa, rc.theta)
    ec, sc = regimes.lazy_chaos_model(W, B, rc)
    eq, sq = quadratic.normalised_measures(regimes.nt_projection(W, B), B)
    return dict(m=m, psi=m / d, rep=rep, eps_elu=e, S2_elu=s, eps_ridge=er, S2_ridge=sr,
                eps_chaos=ec, S2_chaos=sc, eps_quad=eq, S2_quad=sq)


def link_tasks(cfg: Config, link: LinkConfig, seed: int) -> list[Task]:
    """The tasks of the two further sections, in notebook order."""
    return adversarial_link_tasks(cfg, link, seed) + ridge_tasks(cfg, link, seed)


def record_link_checks(report, cfg: Config, link: LinkConfig, adv: AdvLink, ridge: pd.DataFrame) -> dict[str, float]:
    """Record the checks A1-A6 (adversarial link) and Q1-Q3 (equivalent ridge) and return the numbers
    the prose quotes.  Statistical tolerances: at least five standard deviations of the statistic
    over 12 seeds of the ``ci`` pipeline (see the chapter)."""
    C = adv.curves
    report.below("A1", "exact worst case (trust-region theorem): largest violation of the global optimality "
                 "conditions, every point, radius and ψ", float(C.kkt.max()), 1e-10)
    pg = C.dropna(subset=["pgd_min"])
    report.below("A2", "PGD never beats the exact optimum: largest (Δ_PGD − Δ)/Δ over points, radii and ψ",
                 float(pg.pgd_excess.max()), 1e-9)
    small = pg[pg.r_rel <= 0.2]
    report.above("A3 small r", "PGD finds the exact optimum at r ≤ 0.2√d: smallest Δ_PGD/Δ over points",
                 float(small.pgd_min.min()), 0.999)
    report.above("A3 mean", "PGD against the exact optimum: smallest mean of Δ_PGD/Δ over radii and ψ",
                 float(pg.pgd_mean.min()), 0.99)
    slack = [float(((C.rms - C.lo) / C.lo).min()), float(((C.hi - C.rms) / C.hi).min())]
    report.above("A4", "bracket r S_n ≤ RMS Δ ≤ r S_n + r²‖B̂‖_op (exact): smallest relative slack of each side",
                 slack, -1e-12)
    P = adv.plane
    p0 = P[np.isclose(P.r_rel, min(link.plane_radii))]
    z = ((p0.sens - p0.S2) / p0.sens_se).to_numpy()
    report.within("A5", "energy link at the smallest radius: z-scores of mean Δ²/(r²S⋆²) against S²/S⋆² = 1 − ε/V, "
                  "every ψ of Figure 1", z, 0.0, 5.0)
    det = float((C.rms / C.det - 1).abs().max())
    report.below("A6", "deterministic equivalent: max over radii and ψ of |RMS Δ / Δ_det − 1|", det, 0.065)

    R = ridge.assign(x_elu=ridge.eps_elu + ridge.S2_elu - 1, x_ridge=ridge.eps_ridge + ridge.S2_ridge - 1,
                     x_chaos=ridge.eps_chaos + ridge.S2_chaos - 1)
    g = R.groupby("psi").mean(numeric_only=True)
    ch = [float((g.eps_elu - g.eps_chaos).abs().max()), float((g.S2_elu - g.S2_chaos).abs().max())]
    report.below("Q1 error", "refined equivalent model (ridge + linear part): max over ψ of |mean ε_ELU − ε_model|/V",
                 ch[0], 0.04)
    report.below("Q1 energy", "refined equivalent model: max over ψ of |mean S²_ELU − S²_model|/S⋆²", ch[1], 0.055)
    big = g[g.index >= 0.5 - 1e-9]
    sr = [float((big.eps_elu - big.eps_ridge).abs().max()), float((big.S2_elu - big.S2_ridge).abs().max())]
    report.below("Q2", "scalar equivalent ridge, ψ ≥ 0.5: max |mean ε_ELU − ε_ridge|/V and |mean S²_ELU − S²_ridge|/S⋆²",
                 sr, 0.12)
    xr = float((g.x_elu - g.x_ridge).abs().max())
    report.below("Q3", "distance above the line ε/V + S²/S⋆² − 1: max over ψ of |mean ELU − equivalent ridge|", xr, 0.055)

    rc = regimes.ridge_constants(activations.get("elu"))
    half = C[np.isclose(C.psi, 0.5)] if np.isclose(C.psi, 0.5).any() else C[C.psi == C.psi.min()]
    top = half[half.r_rel == half.r_rel.max()].iloc[0]
    tenth = half.iloc[(half.r_rel - 0.1).abs().argmin()]
    g_half = g.iloc[(np.abs(g.index - 0.5)).argmin()]
    small_psi = g.iloc[0]
    quote = {
        "rg-adv-n": link.adv_n, "rg-adv-kkt": float(C.kkt.max()), "rg-adv-pgd-excess": float(pg.pgd_excess.max()),
        "rg-adv-pgd-small": float(small.pgd_min.min()), "rg-adv-pgd-mean": float(pg.pgd_mean.min()),
        "rg-adv-pgd-min": float(pg.pgd_min.min()), "rg-adv-zmax": float(np.abs(z).max()), "rg-adv-det": det,
        "rg-adv-S-half": float(top.S), "rg-adv-Sn-half": float(top.S_n), "rg-adv-top-half": float(top.rms),
        "rg-adv-top-ratio": float(top.rms / top.S_n), "rg-adv-tenth-excess": float(tenth.rms / tenth.S_n - 1),
        "rg-adv-op-half": float(top.opnorm), "rg-adv-psi": float(top.psi),
        "rg-kappa": rc.kappa, "rg-theta": rc.theta, "rg-ridge-d": link.ridge_d, "rg-ridge-reps": link.ridge_reps,
        "rg-q1-eps": ch[0], "rg-q1-S2": ch[1], "rg-q2-eps": sr[0], "rg-q2-S2": sr[1], "rg-q3": xr,
        "rg-ridge-small-psi": float(g.index[0]), "rg-ridge-small-eps": float(small_psi.eps_elu - small_psi.eps_ridge),
        "rg-ridge-small-S2": float(small_psi.S2_elu - small_psi.S2_ridge),
        "rg-x-elu-half": float(g_half.x_elu), "rg-x-ridge-half": float(g_half.x_ridge),
    }
    return {k: float(v) for k, v in quote.items()}


# ----------------------------------------------------------------------------------------------
# the whole chapter in one submission
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweeps:
    """Everything the chapter computes: the sweeps of Figures 1-2 (``res``), the adversarial link
    (``adv``) and the equivalent ridge (``ridge``), as the per-part functions return them."""

    res: Results
    adv: AdvLink
    ridge: pd.DataFrame


def _sweep_parts(cfg: Config, link: LinkConfig, seed: int, device: str = "cpu") -> list[tuple[str, list[Task]]]:
    """The parts of :func:`sweeps` as (name, tasks), in submission order: the long tasks first
    (gradient-descent widths and equivalent-ridge fits, widest first: their cost grows with ``m``; the
    lazy least-squares fits; the ``d = 1000`` closed forms; RF at ``m ~ d²``), the many short ones last
    (Monte-Carlo chunks, adversarial link, planted teacher), so that on ``N`` workers the order
    approximates longest-first scheduling and the last tasks to finish are short.  At ``paper``
    scale, measured one thread each on a loaded machine: GD ψ = 1 about 140 s, ψ = 0.25 about 20 s;
    ridge m = 60 about 35-55 s, m = 40 about 14 s; lazy fit 40-115 s; closed forms 30 s; RF 22 s;
    Monte-Carlo chunk 4-7 s; adversarial link 2.6 s; planted replicate < 1 s."""
    return [("gd", nn_descent_tasks(cfg, seed, device)[::-1]), ("ridge", ridge_tasks(cfg, link, seed)[::-1]),
            ("lazy", lazy_tasks(cfg, seed)), ("closed", closed_forms_tasks(cfg, seed)), ("rf", rf_wide_tasks(cfg, seed)),
            ("mc", nt_monte_carlo_tasks(cfg, seed)), ("adv", adversarial_link_tasks(cfg, link, seed)),
            ("planted", planted_teacher_tasks(cfg, seed, device))]


def sweeps(cfg: Config, link: LinkConfig, seed: int, device: str = "cpu") -> Sweeps:
    """Every sweep of the chapter in ONE :func:`rob.book.executor.run_tasks` call (no worker waits at
    the end of one sweep for the next), split and merged exactly as :func:`closed_forms`,
    :func:`nn_descent`, :func:`nt_monte_carlo`, :func:`rf_wide`, :func:`lazy`, :func:`planted_teacher`,
    :func:`adversarial_link` and :func:`ridge_sweep` do (the same values, bit for bit)."""
    parts = _sweep_parts(cfg, link, seed, device)
    done = run_tasks([t for _, part in parts for t in part], f"regimes: {sum(len(p) for _, p in parts)} tasks (d={cfg.d})")
    out, k = {}, 0
    for name, part in parts:
        out[name], k = done[k:k + len(part)], k + len(part)
    res = Results(_rows(out["closed"]), pd.DataFrame(out["gd"][::-1]), nt_monte_carlo_merge(cfg, out["mc"]),
                  _rows(out["rf"]), lazy_merge(cfg, seed, out["lazy"]), _rows(out["planted"]))
    return Sweeps(res, adversarial_link_merge(out["adv"]), pd.DataFrame(out["ridge"][::-1]))
