"""Runs of the ntk-features chapter (Tsilivis & Kempe 2022, arXiv:2210.05577).

Kernel part (deterministic given the split): the closed-form two-layer ReLU NTK Gram on a digits
task, its eigendecomposition, the kernel predictors μ_∞ and μ_T, FGSM / PGD / random-noise accuracy
curves computed from the kernel formula alone, the learning-order curve μ_T(T) and the top-k
predictors, the per-eigen-feature usefulness / robustness table, the Theorem A(3) bound and the
identities of Theorem A.  Network part (Monte Carlo): R centred two-layer networks per width,
trained by full-batch GD from independent initialisations (seed from ``SeedSequence([seed, m, r])``),
evaluated on the FGSM sets computed from μ_T and μ_∞ (never looking at a network) and on noise.

Executor tasks (:mod:`rob.book.executor`): the kernel part is split into tasks (:func:`kernel_tasks`: the
feature table in chunks of 50 eigen-features, one task per ε of panel (a), per spectral-filter predictor,
μ_T on the attack sets, the identities with N1/N2, one per overlap depth), and :func:`chapter_part`
submits them together with the networks and the kernel dynamics in ONE call, so that the workers stay
busy.  Each task rebuilds the kernel model through a per-process memo and derives its random numbers
from its own arguments.  Change of streams (2026-12): the random-sign noise of panel (a) at ``ε =
eps_grid[i]`` is drawn from its own stream ``(seed, 1, i)``; before, one stream ``(seed, 1)`` was used
sequentially across the ε loop, so the noise curve's values differ from earlier runs by the Monte Carlo
error of ``noise_draws`` draws (the other streams, N1 ``(seed, 2)``, N2 ``(seed, 3)`` and the networks'
noise set ``(seed, 7)``, are unchanged).

All kernel computations are float64 numpy with one BLAS thread (many small products, spec §10); the
networks run with one torch thread on the CPU (two threads were several times slower when other
processes share the two cores).  Speed (2026-12): the networks' GD steps, the kernel dynamics' SGD
steps and their PGD attacks use the closed-form gradients of :mod:`rob.nets` (:func:`rob.nets.param_grads`,
:func:`rob.nets.input_grad_centred`) and the in-torch ℓ∞ PGD :func:`rob.attacks.pgd_torch_oracle` instead
of autograd and numpy round trips: still float64 and the same steps, so results are equal up to rounding
(the ci checks at seed 0 within 2e-12 relative, D1, itself a rounding error, aside); the paper-scale
network and adversarial-dynamics tasks are about 1.6-2.6x faster at one thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import attacks, datasets, nets, ntk, spectral
from ..attacks import accuracy as _acc  # sign(score) = y; a score of 0 counts as wrong
from ..book.params import torch_threads
from ..book.executor import Task, run_tasks
from ..stats import loglog_slope

# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------

EPS_GRID = tuple(round(0.05 * i, 2) for i in range(7))


@dataclass(frozen=True)
class Config:
    """Sizes of one scale (spec §7) and the thresholds that depend on it (§8.1, §8.3)."""

    scale: str
    task: str = "parity"
    n_train: int | None = 400          # None: ⌊2N/3⌋
    n_feat: int | None = 500           # test points of the feature analysis; None: all
    eps_grid: tuple[float, ...] = EPS_GRID
    pgd_eps: tuple[float, ...] = (0.1, 0.15, 0.2)
    pgd_steps: int = 20
    noise_draws: int = 5
    eta: float = 2.0
    T: int = 1000
    widths: tuple[int, ...] = (16, 64, 256, 1024)
    reps: int = 3
    alpha: float = 1.0
    eps_head: float = 0.15
    eps_feat: float = 0.1
    T_grid: tuple[float, ...] = (1, 3, 10, 30, 100, 300, 1000, 3000, 10_000, float("inf"))
    topk: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100)
    bands: tuple[int, ...] = (1, 10, 50)        # top band 1..9, middle 10..49, bulk ≥ 50
    n1_width: int = 2 ** 15
    n1_images: int = 8
    check_width: int = 1024                      # N6, N7
    slope_widths: tuple[int, ...] = (64, 256, 1024)
    N8_min: float = 0.92
    N9_band: tuple[float, float] = (-0.65, -0.30)
    early_T: int = 10
    N15_against: str = "inf"                     # "inf": μ_∞ (spec, ci); "T": μ_T at the networks' T
    torch_threads: int = 1


def config(scale: str, task: str = "parity", alpha: float = 1.0) -> Config:
    """``ci`` (digits parity, n = 400, widths 16…1024, R = 3) or ``paper`` (n = ⌊2N/3⌋, all test points
    in the feature analysis, PGD at every ε, 20 noise draws, widths 16…4096, R = 2)."""
    if scale == "ci":
        return Config("ci", task=task, alpha=alpha)
    if scale == "paper":
        return Config("paper", task=task, n_train=None, n_feat=None, pgd_eps=EPS_GRID[1:], noise_draws=20,
                      widths=(16, 64, 256, 1024, 4096), reps=2, alpha=alpha, slope_widths=(256, 1024, 4096),
                      N8_min=0.94, N9_band=(-0.65, -0.25), N15_against="T")
    raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")


# ----------------------------------------------------------------------------------------------
# kernel predictors
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelModel:
    """Training data, Gram spectrum and the coefficient vectors of μ_∞ and μ_T."""

    task: datasets.BinaryTask
    spec: spectral.Spectrum
    alpha_inf: np.ndarray
    alpha_T: np.ndarray

    def predict(self, Z: np.ndarray, coef: np.ndarray) -> np.ndarray:
        return ntk.ntk(Z, self.task.X) @ coef

    def grad(self, coef: np.ndarray):
        return lambda Z: ntk.ntk_predictor_grad(Z, self.task.X, coef)


def kernel_model(cfg: Config, seed: int) -> KernelModel:
    """The split of ``seed``, the Gram spectrum and the μ_∞, μ_T coefficients (refuses unstable η)."""
    task = datasets.load_task(cfg.task, seed, cfg.n_train)
    spec = spectral.spectrum(ntk.ntk(task.X), task.y)
    n = len(task.y)
    spectral.check_step(spec.lam[0], n, cfg.eta)
    a_inf = spectral.coefficients(spec, np.ones(n))
    a_T = spectral.coefficients(spec, spectral.gd_filter(spec.lam, n, cfg.eta, cfg.T))
    return KernelModel(task, spec, a_inf, a_T)


def attack_sets(km: KernelModel, cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """The test sets the networks are evaluated on: clean, FGSM(ε_head) from μ_T and from μ_∞, and
    ``noise_draws`` random-sign-noise draws of the same size (stacked)."""
    t = km.task
    rng = np.random.default_rng([seed, 7])
    noise = np.concatenate([attacks.sign_noise(t.X_test, cfg.eps_head, rng) for _ in range(cfg.noise_draws)])
    return {"clean": t.X_test,
            "fgsm_T": attacks.fgsm(t.X_test, t.y_test, km.grad(km.alpha_T), cfg.eps_head),
            "fgsm_inf": attacks.fgsm(t.X_test, t.y_test, km.grad(km.alpha_inf), cfg.eps_head),
            "noise": noise}


@dataclass(frozen=True)
class KernelResults:
    """Everything of the kernel part (see the module docstring)."""

    lam: np.ndarray
    n_train: int
    n_test: int
    pos_share: float
    min_train_test_dist: float
    curves: pd.DataFrame        # eps, fgsm, pgd (NaN where not run), noise, noise_min, noise_max
    muT: dict                   # clean, own_fgsm, inf_fgsm, noise
    learning: pd.DataFrame      # T, clean, fgsm, eff_dim
    topk: pd.DataFrame          # k, clean, fgsm
    ridge: pd.DataFrame         # gamma, clean, fgsm, eff_dim
    features: pd.DataFrame      # i, lam, u, r, q, rel_change, bound_ratio, violations, d_theta
    bulk: dict                  # clean, fgsm, majority
    identities: dict            # sum_rel, recursion_rel
    N1: float
    N2: dict                    # abs_err, max_grad
    overlaps: pd.DataFrame      # i, depth2, depth3


def _fgsm_acc(km: KernelModel, coef: np.ndarray, X: np.ndarray, y: np.ndarray, eps: float) -> float:
    return _acc(km.predict(attacks.fgsm(X, y, km.grad(coef), eps), coef), y)


def feature_table(km: KernelModel, X: np.ndarray, y: np.ndarray, eps: float, chunk: int = 50,
                  start: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Per eigen-feature ``i`` (``start ≤ i < stop``, default all): usefulness ``u_i`` (clean accuracy of
    sign f^(i)), robustness ``r_i`` (accuracy under FGSM computed on f^(i) alone, true labels),
    ``q_i = r_i/u_i``, the median relative change ``|f(x̃) − f(x)|/|f(x)|``, the median ratio of the two
    sides of Theorem A(3), its violations and the median kernel distance ``d_Θ(x, x̃)``.  Each feature's
    row depends on that feature alone, so disjoint ranges concatenate to the whole table."""
    spec, Xtr = km.spec, km.task.X
    B = spec.feature_coefs
    n = spec.n
    stop = n if stop is None else min(stop, n)
    Kx = ntk.ntk(X, Xtr)
    const = np.abs(spec.proj) / np.sqrt(spec.lam)
    rows = []
    for s in range(start, stop, chunk):
        idx = np.arange(s, min(stop, s + chunk))
        clean = Kx @ B[:, idx]           # (t, chunk): f^(i)(x_t)
        G = ntk.ntk_predictor_grad(X, Xtr, B[:, idx], chunk=chunk)
        Xadv = attacks.feature_fgsm(X, y, G, eps)
        for j, i in enumerate(idx):
            xa = Xadv[:, j, :]
            fa = ntk.ntk(xa, Xtr) @ B[:, i]
            f0 = clean[:, j]
            lhs = np.abs(fa - f0)
            dth = ntk.kernel_distance(X, xa)
            rhs = const[i] * dth
            viol = int(np.sum(lhs > rhs * (1 + 1e-9) + 1e-12))
            u, r = _acc(f0, y), _acc(fa, y)
            rows.append(dict(i=int(i), lam=float(spec.lam[i]), u=u, r=r, q=r / u if u > 0 else np.nan,
                             rel_change=float(np.median(lhs / np.abs(f0))),
                             bound_ratio=float(np.median(lhs / np.where(rhs > 0, rhs, np.inf))),
                             violations=viol, d_theta=float(np.median(dth))))
    return pd.DataFrame(rows)


# -- the kernel part as executor tasks ------------------------------------------------------------------
#
# Every task below is a module-level function of (cfg, seed, its own index): it rebuilds the kernel model
# through the per-process memo :func:`_kernel_model` (about 1.6 s at paper scale, once per worker process)
# and draws its random numbers from streams derived from its own arguments.  :func:`kernel_merge` puts the
# task values back together; it computes nothing heavy.

#: The ridge strengths of the exercise on ridge, early stopping and truncation.
RIDGE_GAMMAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
#: Eigen-features per task of the feature table (24 tasks of about 1 s at paper scale).
FEATURE_CHUNK = 50

_KM: dict = {}


def _kernel_model(cfg: Config, seed: int) -> KernelModel:
    """:func:`kernel_model` computed once per process (a worker reuses it across its tasks); it depends on
    ``(task, n_train, eta, T, seed)`` only."""
    key = (cfg.task, cfg.n_train, cfg.eta, cfg.T, seed)
    if key not in _KM:
        with threadpool_limits(limits=1, user_api="blas"):
            km = kernel_model(cfg, seed)
        _KM.clear()
        _KM[key] = km
    return _KM[key]


def _feature_points(cfg: Config, km: KernelModel) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_feat`` test points (all of them when ``n_feat`` is None)."""
    t = km.task
    nf = len(t.y_test) if cfg.n_feat is None else min(cfg.n_feat, len(t.y_test))
    return t.X_test[:nf], t.y_test[:nf]


def kernel_base(cfg: Config, seed: int) -> dict:
    """Task: the split's sizes, the spectrum, the smallest train–test distance (refuses a test image equal
    to a training image: the NTK gradient is undefined there) and μ_T on the networks' attack sets
    (:func:`attack_sets`: clean, FGSM(ε_head) of μ_T and of μ_∞, noise from ``(seed, 7)``)."""
    km, sets, mu = _net_inputs(cfg, seed)
    t = km.task
    X, Xt, yt = t.X, t.X_test, t.y_test
    dmin = float(np.sqrt(np.maximum(
        (Xt ** 2).sum(1)[:, None] + (X ** 2).sum(1)[None, :] - 2 * Xt @ X.T, 0)).min())
    if dmin == 0:
        raise ValueError("a test image coincides with a training image: the NTK gradient is undefined there")
    muT = dict(clean=_acc(mu["clean"], yt), own_fgsm=_acc(mu["fgsm_T"], yt), inf_fgsm=_acc(mu["fgsm_inf"], yt),
               noise=_acc(mu["noise"], np.tile(yt, cfg.noise_draws)))
    return dict(lam=km.spec.lam, n_train=len(t.y), n_test=len(yt), pos_share=float(np.mean(yt > 0)),
                min_train_test_dist=dmin, muT=muT)


def kernel_curve(cfg: Config, seed: int, i: int) -> dict:
    """Task: panel (a) at ``ε = cfg.eps_grid[i]`` on μ_∞: FGSM, PGD (NaN unless ε ∈ ``pgd_eps``) and the
    mean, min and max over ``noise_draws`` random-sign draws from the stream ``(seed, 1, i)``."""
    km = _kernel_model(cfg, seed)
    Xt, yt = km.task.X_test, km.task.y_test
    eps = cfg.eps_grid[i]
    g_inf = km.grad(km.alpha_inf)
    fg = _acc(km.predict(attacks.fgsm(Xt, yt, g_inf, eps), km.alpha_inf), yt) if eps > 0 else \
        _acc(km.predict(Xt, km.alpha_inf), yt)
    pg = np.nan
    if any(abs(eps - e) < 1e-12 for e in cfg.pgd_eps):
        pg = _acc(km.predict(attacks.pgd(Xt, yt, g_inf, eps, cfg.pgd_steps), km.alpha_inf), yt)
    rng = np.random.default_rng([seed, 1, i])
    nz = [_acc(km.predict(attacks.sign_noise(Xt, eps, rng), km.alpha_inf), yt) for _ in range(cfg.noise_draws)]
    return dict(eps=eps, fgsm=fg, pgd=pg, noise=float(np.mean(nz)), noise_min=min(nz), noise_max=max(nz))


def kernel_filter(cfg: Config, seed: int, family: str, value: float) -> dict:
    """Task: one spectral-filter predictor attacked on itself — ``family`` ``"learning"`` (μ_T at
    ``T = value``), ``"topk"`` (top ``value`` eigen-directions), ``"ridge"`` (γ = ``value``), all with FGSM at
    ε_head, or ``"bulk"`` (the eigen-directions ``i ≥ value``, FGSM at ε_feat, with the majority share)."""
    km = _kernel_model(cfg, seed)
    lam, n = km.spec.lam, len(km.task.y)
    Xt, yt = km.task.X_test, km.task.y_test
    if family == "learning":
        h = spectral.gd_filter(lam, n, cfg.eta, value)
    elif family == "topk":
        h = spectral.topk_filter(lam, int(value))
    elif family == "ridge":
        h = spectral.ridge_filter(lam, n, value)
    elif family == "bulk":
        h = (np.arange(n) >= value).astype(float)
    else:
        raise ValueError(f"unknown filter family {family!r}")
    a = spectral.coefficients(km.spec, h)
    eps = cfg.eps_feat if family == "bulk" else cfg.eps_head
    row = dict(clean=_acc(km.predict(Xt, a), yt), fgsm=_fgsm_acc(km, a, Xt, yt, eps))
    if family == "bulk":
        p = float(np.mean(yt > 0))   # the bulk predictor is judged on the whole test set
        return dict(row, majority=max(p, 1 - p))
    key = {"learning": "T", "topk": "k", "ridge": "gamma"}[family]
    out = {key: int(value) if family == "topk" else value, **row}
    if family != "topk":
        out["eff_dim"] = spectral.effective_dimension(h)
    return out


def kernel_features(cfg: Config, seed: int, start: int) -> list[dict]:
    """Task: the rows ``start … start + FEATURE_CHUNK − 1`` of :func:`feature_table` (ε_feat, first
    ``n_feat`` test points)."""
    km = _kernel_model(cfg, seed)
    Xf, yf = _feature_points(cfg, km)
    return feature_table(km, Xf, yf, cfg.eps_feat, chunk=FEATURE_CHUNK, start=start,
                         stop=start + FEATURE_CHUNK).to_dict("records")


def kernel_identities(cfg: Config, seed: int) -> dict:
    """Task: the identities of Theorem A (Σ_i f^(i) against a direct solve of μ_∞; the eigen-filter μ_T
    against ``T`` explicit GD steps on the training inputs), N1 (the empirical NTK at init, m = 2^15, from
    the stream ``(seed, 2)``, against the closed form) and N2 (the closed-form input gradient of a random
    predictor, stream ``(seed, 3)``, against central differences at 5 test points)."""
    km = _kernel_model(cfg, seed)
    t = km.task
    X, Xt, n = t.X, t.X_test, len(t.y)
    Kt = ntk.ntk(Xt, X)
    K = ntk.ntk(X)
    direct = Kt @ spectral.kernel_solve(K, t.y)
    summed = Kt @ km.spec.feature_coefs.sum(axis=1)
    sum_rel = float(np.max(np.abs(summed - direct)) / np.max(np.abs(direct)))
    u = np.zeros(n)
    for _ in range(cfg.T):
        u = u - (cfg.eta / n) * (K @ (u - t.y))
    rec_rel = float(np.max(np.abs(K @ km.alpha_T - u)) / np.max(np.abs(u)))

    rng1 = np.random.default_rng([seed, 2])
    m, d = cfg.n1_width, X.shape[1]
    Xs = X[:cfg.n1_images]
    emp = ntk.empirical_ntk(Xs, Xs, rng1.standard_normal((m, d)), rng1.standard_normal(m), rng1.standard_normal(m))
    ana = ntk.ntk(Xs)
    N1 = float(np.max(np.abs(emp - ana) / ana))

    rng2 = np.random.default_rng([seed, 3])
    beta = rng2.standard_normal(n)
    x5 = Xt[:5]
    G = ntk.ntk_predictor_grad(x5, X, beta)
    hstep = 1e-5
    fd = np.empty_like(G)
    for j in range(d):
        e = np.zeros(d)
        e[j] = hstep
        fd[:, j] = (ntk.ntk(x5 + e, X) @ beta - ntk.ntk(x5 - e, X) @ beta) / (2 * hstep)
    N2 = dict(abs_err=float(np.max(np.abs(G - fd))), max_grad=float(np.max(np.abs(G))))
    return dict(identities=dict(sum_rel=sum_rel, recursion_rel=rec_rel), N1=N1, N2=N2)


def kernel_overlap(cfg: Config, seed: int, depth: int) -> np.ndarray:
    """Task (§9.1): ``|⟨v_i, v_i^(depth)⟩|`` for every i, against the eigenvectors of the ReLU NTK with
    ``depth`` hidden layers."""
    km = _kernel_model(cfg, seed)
    Vd = spectral.spectrum(ntk.deep_ntk(km.task.X, depth), km.task.y).V
    return np.abs(np.sum(km.spec.V * Vd, axis=0))


def _n_features(cfg: Config, seed: int) -> int:
    """The number of eigen-features (= training points) without computing the kernel."""
    if cfg.n_train is not None:
        return cfg.n_train
    return len(datasets.load_task(cfg.task, seed, cfg.n_train).y)


def kernel_tasks(cfg: Config, seed: int) -> list[Task]:
    """Tasks of :func:`kernel_part`, longest first: the feature table in chunks of :data:`FEATURE_CHUNK`
    features, the ε grid, the identities and N1/N2, the overlaps, μ_T on the attack sets, and one task per
    spectral-filter predictor (learning order, top-k, ridge, bulk)."""
    n = _n_features(cfg, seed)
    kw = dict(cfg=cfg, seed=seed)
    filters = ([("learning", T) for T in cfg.T_grid] + [("topk", k) for k in cfg.topk]
               + [("ridge", g) for g in RIDGE_GAMMAS] + [("bulk", cfg.bands[2])])
    return ([Task(kernel_features, dict(kw, start=s), ("features", s), kind="kernel-features")
             for s in range(0, n, FEATURE_CHUNK)]
            + [Task(kernel_curve, dict(kw, i=i), ("curve", eps), kind="kernel-curve")
               for i, eps in enumerate(cfg.eps_grid)]
            + [Task(kernel_identities, kw, ("identities",), kind="kernel-identities")]
            + [Task(kernel_overlap, dict(kw, depth=dp), ("overlap", dp), kind="kernel-overlap") for dp in (2, 3)]
            + [Task(kernel_base, kw, ("base",), kind="kernel-base")]
            + [Task(kernel_filter, dict(kw, family=f, value=v), ("filter", f, v), kind="kernel-filter")
               for f, v in filters])


def kernel_merge(tasks: list[Task], values: list) -> KernelResults:
    """:class:`KernelResults` from the values of :func:`kernel_tasks` (in task order)."""
    by: dict[str, list] = {}
    for t, v in zip(tasks, values):
        by.setdefault(t.key[0], []).append((t.key, v))
    base = by["base"][0][1]
    ident = by["identities"][0][1]
    filt: dict[str, list] = {}
    for key, v in by["filter"]:
        filt.setdefault(key[1], []).append(v)
    overlaps = pd.DataFrame({"i": np.arange(base["n_train"]),
                             **{f"depth{key[1]}": v for key, v in by["overlap"]}})
    return KernelResults(lam=base["lam"], n_train=base["n_train"], n_test=base["n_test"],
                         pos_share=base["pos_share"], min_train_test_dist=base["min_train_test_dist"],
                         curves=pd.DataFrame([v for _, v in by["curve"]]), muT=base["muT"],
                         learning=pd.DataFrame(filt["learning"]), topk=pd.DataFrame(filt["topk"]),
                         ridge=pd.DataFrame(filt["ridge"]),
                         features=pd.DataFrame([row for _, v in by["features"] for row in v]),
                         bulk=filt["bulk"][0], identities=ident["identities"], N1=ident["N1"], N2=ident["N2"],
                         overlaps=overlaps)


def kernel_part(cfg: Config, seed: int) -> KernelResults:
    """The kernel-only computations of the chapter (panels a, c, d and checks N1–N5, N10–N16), as the
    tasks of :func:`kernel_tasks`."""
    ts = kernel_tasks(cfg, seed)
    return kernel_merge(ts, run_tasks(ts, "kernel"))


# ----------------------------------------------------------------------------------------------
# networks
# ----------------------------------------------------------------------------------------------


def train_net(cfg: Config, X: np.ndarray, y: np.ndarray, m: int, seed: int, rep: int, device: str = "cpu"):
    """One centred network of width ``m`` trained for ``cfg.T`` steps; float64 on the CPU, float32 on CUDA."""
    import torch

    dtype = torch.float32 if device == "cuda" else torch.float64
    net = nets.init(X.shape[1], m, np.random.SeedSequence([seed, m, rep]), device, dtype, alpha=cfg.alpha)
    losses = nets.train(net, X, y, cfg.eta, cfg.T)  # fast with rob's heap settings (rob.book.executor.MALLOC_ENV)
    return net, losses


def net_part(cfg: Config, seed: int, device: str = "cpu") -> pd.DataFrame:
    """One row per (width, replicate): final training loss, relative weight change, and on the clean /
    μ_T-FGSM / μ_∞-FGSM / noise test sets the accuracy, plus the sign agreement with μ_T on the μ_T-FGSM
    set and RMSE(f̄_T − μ_T) on the clean test set."""
    return pd.DataFrame(run_tasks(net_tasks(cfg, seed, device), "networks"))


def net_tasks(cfg: Config, seed: int, device: str = "cpu") -> list[Task]:
    """Tasks of :func:`net_part`: one network per (width, replicate), initialised from ``(seed, m, rep)``."""
    return [Task(net_row, dict(cfg=cfg, seed=seed, m=m, r=r, device=device), ("net", m, r), kind="network")
            for m in cfg.widths for r in range(cfg.reps)]


def tasks(cfg: Config, seed: int, device: str = "cpu", dc: DynamicsConfig | None = None) -> list[Task]:
    """The chapter's tasks (for ``rob plan``), as :func:`chapter_part` submits them in one call: the networks
    (widest, i.e. longest, first), the kernel dynamics (``dc``, default :func:`dynamics_config` of ``cfg.scale``
    and ``cfg.alpha``) and the kernel part (:func:`kernel_tasks`)."""
    every = (net_tasks(cfg, seed, device)[::-1] + dynamics_tasks(dc or dynamics_config(cfg.scale, alpha=cfg.alpha), seed)
             + kernel_tasks(cfg, seed))
    return [replace(t, batch="chapter") for t in every]


def chapter_part(cfg: Config, dc: DynamicsConfig, seed: int, device: str = "cpu") -> tuple[Results, DynamicsResults]:
    """The kernel part, the networks and the kernel dynamics as ONE submission of independent tasks
    (:func:`tasks`, longest kinds first so that two workers stay busy to the end), merged back into
    ``(Results, DynamicsResults)``; equal to ``Results(kernel_part(cfg, seed), net_part(cfg, seed, device))``
    and ``dynamics_part(dc, seed)``."""
    ts = tasks(cfg, seed, device, dc)
    out = run_tasks(ts, "networks, kernel dynamics, kernel")
    i = sum(t.kind == "network" for t in ts)
    j = i + sum(t.kind == "dynamics" for t in ts)
    return Results(kernel_merge(ts[j:], out[j:]), pd.DataFrame(out[:i][::-1])), dynamics_merge(dc, out[i:j])


_NET_INPUTS: dict = {}


def _net_inputs(cfg: Config, seed: int):
    """The kernel model, the attack sets and μ_T on them: deterministic in ``(cfg, seed)``, computed
    once per process (a worker reuses them across its networks)."""
    key = (cfg, seed)
    if key not in _NET_INPUTS:
        km = _kernel_model(cfg, seed)
        with threadpool_limits(limits=1, user_api="blas"):
            sets = attack_sets(km, cfg, seed)
            mu = {k: km.predict(v, km.alpha_T) for k, v in sets.items()}
        _NET_INPUTS.clear()
        _NET_INPUTS[key] = (km, sets, mu)
    return _NET_INPUTS[key]


def net_row(cfg: Config, seed: int, m: int, r: int, device: str = "cpu") -> dict:
    """Task of :func:`net_part`: train the network ``(m, r)`` and measure it (docstring of :func:`net_part`)."""
    km, sets, mu = _net_inputs(cfg, seed)
    yt = km.task.y_test
    with torch_threads(cfg.torch_threads):
        net, losses = train_net(cfg, km.task.X, km.task.y, m, seed, r, device)
        out = {k: nets.predict(net, v) for k, v in sets.items()}
    return dict(
        m=m, rep=r, loss=losses[-1], spike=float(max(losses) / losses[0]),
        weight_change=nets.relative_change(net),
        clean=_acc(out["clean"], yt), fgsm_T=_acc(out["fgsm_T"], yt), fgsm_inf=_acc(out["fgsm_inf"], yt),
        noise=_acc(out["noise"], np.tile(yt, cfg.noise_draws)),
        agreement=float(np.mean(np.sign(out["fgsm_T"]) == np.sign(mu["fgsm_T"]))),
        rmse=float(np.sqrt(np.mean((out["clean"] - mu["clean"]) ** 2))),
    )


@dataclass(frozen=True)
class Results:
    kernel: KernelResults
    nets: pd.DataFrame


# ----------------------------------------------------------------------------------------------
# acceptance checks (spec §8.1): N1-N16
# ----------------------------------------------------------------------------------------------


def band_means(feats: pd.DataFrame, bands: tuple[int, ...] = (1, 10, 50)) -> tuple[float, float, float]:
    """Mean robust/useful ratio q over i = b0..b1−1, b1..b2−1 and ≥ b2."""
    b0, b1, b2 = bands
    i = feats.i.to_numpy()
    q = feats.q.to_numpy()
    return (float(np.mean(q[(i >= b0) & (i < b1)])), float(np.mean(q[(i >= b1) & (i < b2)])),
            float(np.mean(q[i >= b2])))


def record_checks(report, cfg: Config, res: Results) -> dict[str, float | str]:
    """Record N1–N16 in ``report``; return the numbers the prose quotes."""
    K, N = res.kernel, res.nets
    cur = K.curves.set_index("eps")
    e = cfg.eps_head

    report.below("N1", f"max relative error of the closed-form NTK vs the finite-width kernel at init "
                       f"({cfg.n1_images} images, m = {cfg.n1_width})", K.N1, 10 / np.sqrt(cfg.n1_width))
    report.below("N2", "input gradient vs central differences: max abs error / max |∇|",
                 K.N2["abs_err"] / K.N2["max_grad"], 1e-6)
    clean = float(cur.fgsm.loc[0.0])
    report.above("N3", "clean test accuracy of μ_∞", clean, 0.95)
    fg, nz = float(cur.fgsm.loc[e]), float(cur.noise.loc[e])
    report.below("N4 FGSM", f"μ_∞: accuracy under NTK-FGSM, ε = {e}", fg, 0.45)
    report.above("N4 noise", f"μ_∞: accuracy under random sign noise, ε = {e} (mean of draws)", nz, 0.90)
    report.above("N4 gap", "μ_∞: noise accuracy minus FGSM accuracy", nz - fg, 0.50)
    pg = cur.pgd.dropna()
    gaps = [float(pg.loc[x] - cur.fgsm.loc[x]) for x in pg.index if x > 0]
    report.below("N5", f"PGD-{cfg.pgd_steps} accuracy minus FGSM accuracy at ε ∈ {tuple(pg.index)}", gaps, 0.01)

    big = N[N.m == cfg.check_width]
    d6 = float(big.fgsm_T.mean() - K.muT["own_fgsm"])
    report.within("N6", f"width {cfg.check_width}: nets' accuracy on the μ_T-FGSM set minus μ_T's (mean of R)", d6, 0.0, 0.06)
    d7 = float(big.noise.mean() - big.fgsm_T.mean())
    report.above("N7", f"width {cfg.check_width}: nets' noise accuracy minus their accuracy on the NTK set", d7, 0.50)
    g = N.groupby("m").mean(numeric_only=True)
    mmin, mmax = min(cfg.widths), max(cfg.widths)
    report.above("N8 agree", f"sign agreement with μ_T on the NTK set at m = {mmax}", float(g.agreement.loc[mmax]), cfg.N8_min)
    gain = float(g.agreement.loc[mmax] - g.agreement.loc[mmin])
    report.above("N8 gain", f"agreement gain from m = {mmin} to {mmax}", gain, 0.06)
    ws = list(cfg.slope_widths)
    slope = loglog_slope(ws, g.rmse.loc[ws])
    report.between("N9", f"log-log slope of RMSE(f̄_T − μ_T) over m ∈ {tuple(ws)} (theory −½ asymptotically)",
                   slope, *cfg.N9_band)

    F = K.features
    q_top, q_mid, q_bulk = band_means(F, cfg.bands)
    report.above("N10 top", "mean robust/useful ratio q over features i = 1..9", q_top, 0.30)
    report.below("N10 bulk", "mean q over features i ≥ 50", q_bulk, 0.03)
    ratio = q_top / q_bulk if q_bulk > 0 else float("inf")
    report.above("N10 ratio", "ratio of the two band means", ratio, 20.0)
    r_bulk = float(F.r[F.i >= cfg.bands[2]].max())
    report.below("N11", f"max robustness r_i(ε = {cfg.eps_feat}) over i ≥ 50", r_bulk, 0.06)
    report.above("N12 useful", "bulk predictor μ^{≥50}: clean accuracy minus majority-class share",
                 K.bulk["clean"] - K.bulk["majority"], 0.03)
    report.below("N12 fragile", f"bulk predictor μ^{{≥50}}: FGSM accuracy at ε = {cfg.eps_feat}", K.bulk["fgsm"], 0.08)
    report.equal("N13", "Theorem A(3) violations over all (feature, test point) pairs", int(F.violations.sum()), 0)
    sel = F.i >= 1
    s14 = loglog_slope(F.lam[sel], F.rel_change[sel])
    report.below("N14", "log-log slope of the median relative change vs λ_i (i ≥ 1)", s14, -0.10)
    L = K.learning.set_index("T")
    ce, fe = float(L.clean.loc[cfg.early_T]), float(L.fgsm.loc[cfg.early_T])
    report.above("N15 clean", f"early stopping T = {cfg.early_T}: clean accuracy", ce, 0.75)
    # At paper scale (n = 1198) μ_∞ is itself fairly robust at ε = 0.15 and the FGSM accuracy of μ_T is
    # not monotone in T (it dips near T = 1000 and recovers towards μ_∞), so there the early-stopped
    # predictor is compared with μ_T at the networks' training time T instead of μ_∞.
    if cfg.N15_against == "inf":
        ref, ref_name = fg, "μ_∞"
    else:
        ref, ref_name = float(L.fgsm.loc[cfg.T]), f"μ_T at T = {cfg.T}"
    report.above("N15 robust", f"early stopping T = {cfg.early_T}: FGSM({e}) accuracy minus that of {ref_name}",
                 fe - ref, 0.06)
    report.below("N16", "identities: Σ_i f^(i) vs μ_∞ and eigen-filter vs explicit GD recursion (relative)",
                 [K.identities["sum_rel"], K.identities["recursion_rel"]], 1e-8)

    lam = K.lam
    quote: dict[str, float | str] = {
        "nf-n": float(K.n_train), "nf-ntest": float(K.n_test), "nf-lam0": float(lam[0]), "nf-lam1": float(lam[1]),
        "nf-lammin": float(lam[-1]), "nf-cond": float(lam[0] / lam[-1]), "nf-etastab": float(cfg.eta * lam[0] / K.n_train),
        "nf-N1": K.N1, "nf-N2": K.N2["abs_err"] / K.N2["max_grad"],
        "nf-clean": clean, "nf-fgsm": fg, "nf-noise": nz,
        "nf-fgsm-01": float(cur.fgsm.loc[0.1]), "nf-pgd-01": float(cur.pgd.loc[0.1]) if 0.1 in pg.index else float("nan"),
        "nf-fgsm-02": float(cur.fgsm.loc[0.2]), "nf-pgd-015": float(cur.pgd.loc[e]) if e in pg.index else float("nan"),
        "nf-muT-clean": K.muT["clean"], "nf-muT-own": K.muT["own_fgsm"], "nf-muT-inf": K.muT["inf_fgsm"],
        "nf-muT-noise": K.muT["noise"],
        "nf-net-fgsmT": float(big.fgsm_T.mean()), "nf-net-fgsminf": float(big.fgsm_inf.mean()),
        "nf-net-noise": float(big.noise.mean()), "nf-net-clean": float(big.clean.mean()),
        "nf-agree-min": float(g.agreement.loc[mmin]), "nf-agree-max": float(g.agreement.loc[mmax]),
        "nf-rmse-max": float(g.rmse.loc[mmax]), "nf-slope": slope, "nf-wchange": float(g.weight_change.loc[mmax]),
        "nf-spikes": float((N.spike > 1).sum()), "nf-nnets": float(len(N)),
        "nf-spike-mmax": float(N.m[N.spike > 1].max()) if (N.spike > 1).any() else 0.0,
        "nf-mmax": float(mmax), "nf-mmin": float(mmin), "nf-reps": float(cfg.reps),
        "nf-qtop": q_top, "nf-qmid": q_mid, "nf-qbulk": q_bulk, "nf-qratio": ratio, "nf-rbulk": r_bulk,
        "nf-bulk-clean": K.bulk["clean"], "nf-bulk-fgsm": K.bulk["fgsm"], "nf-majority": K.bulk["majority"],
        "nf-viol": float(F.violations.sum()), "nf-s14": s14,
        "nf-early-clean": ce, "nf-early-fgsm": fe, "nf-fgsm-T": float(L.fgsm.loc[cfg.T]),
        "nf-fgsm-min": float(L.fgsm.min()), "nf-fgsm-argmin": float(L.fgsm.idxmin()), "nf-id-sum": K.identities["sum_rel"],
        "nf-id-rec": K.identities["recursion_rel"],
        "nf-u1": float(F.u.iloc[1]), "nf-r1": float(F.r.iloc[1]),
        "nf-u-last": float(F.u.iloc[-1]), "nf-r-last": float(F.r.iloc[-1]),
        "nf-ov2-top": float(K.overlaps.depth2.iloc[1:10].min()), "nf-ov2-bulk": float(K.overlaps.depth2.iloc[50:].mean()),
        "nf-ov3-top": float(K.overlaps.depth3.iloc[1:10].min()), "nf-ov3-bulk": float(K.overlaps.depth3.iloc[50:].mean()),
    }
    return {k: (float(v) if not isinstance(v, str) else v) for k, v in quote.items()}


__all__ = ["Config", "config", "KernelModel", "kernel_model", "attack_sets", "KernelResults", "kernel_part",
           "kernel_tasks", "kernel_merge", "kernel_base", "kernel_curve", "kernel_filter", "kernel_features",
           "kernel_identities", "kernel_overlap", "chapter_part", "dynamics_merge", "tasks",
           "feature_table", "train_net", "net_part", "Results", "band_means", "record_checks", "loglog_slope",
           "replace", "DynamicsConfig", "dynamics_config", "cosine_distance", "top_share",
           "freeze_epoch", "net_kernel", "train_dynamics", "dynamics_part", "DynamicsResults", "dynamics_summary",
           "record_dynamics_checks"]


# ----------------------------------------------------------------------------------------------
# §9.3: the empirical NTK during standard and adversarial training (the paper's claims 3-4)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DynamicsConfig:
    """One standard and one adversarial training per replicate, from the same initialisation and the
    same minibatch order; the empirical NTK on a fixed probe set after every epoch.

    Network: the chapter's two-layer ReLU net in NTK parametrisation (:mod:`rob.nets`), centred, output
    scale α.  Training: minibatch SGD on the logistic loss ``mean log(1 + exp(−y α f̄(x)))`` with step
    ``η/α²``; adversarial training replaces each minibatch by its ℓ∞ PGD points (``pgd_steps`` steps of
    ``2.5ε/pgd_steps`` on the margin of the current network, projection, clip to [0, 1]), as in
    Madry et al.; the authors' script does the same with a CNN on CIFAR-10."""

    scale: str
    task: str = "parity"
    n_train: int | None = 400
    n_probe: int = 200           # kernel on the first n_probe training inputs (clean)
    width: int = 256
    alpha: float = 1.0
    eta: float = 1.0
    epochs: int = 50
    batch: int = 40
    eps: float = 0.1
    pgd_steps: int = 5
    reps: int = 5
    top: int = 20                # the share Σ_{i<top} λ_i² / Σ λ_i²
    freeze_frac: float = 0.1     # frozen: distance to the final kernel below this fraction of d(K_0, K_E)
    n_eval: int = 500            # test points for the clean / PGD accuracy after training
    n_autograd: int = 12         # probe points of the autograd cross-check D1
    D2_max: float = 0.01         # standard training is lazy: d(K_0, K_E) below this
    D4_earlier: bool = True      # D4 asserts the absolute reading of claim 3 (ci); False: only "not earlier" (paper)
    torch_threads: int = 1


def dynamics_config(scale: str, alpha: float = 1.0) -> DynamicsConfig:
    """``ci``: n = 400, width 256, 50 epochs, R = 5; ``paper``: n = 1198, width 1024, 200 epochs (the
    authors' number), R = 5, PGD with 10 steps."""
    if scale == "ci":
        return DynamicsConfig("ci", alpha=alpha)
    if scale == "paper":
        # one run with R = 2 (seed 0) found the adversarial kernel moving 1.4 times as far and freezing later in
        # both readings, so at this scale D4 only records that the claim is not seen (as D5 and D6 do)
        return DynamicsConfig("paper", n_train=None, width=1024, alpha=alpha, epochs=200, pgd_steps=10, n_eval=599,
                              D4_earlier=False)
    raise ValueError(f"unknown scale {scale!r}; use 'ci' or 'paper'")


def cosine_distance(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Kernel distance ``1 − ⟨A, B⟩_F / (‖A‖_F ‖B‖_F)`` (the authors' ``kernel_similarity``); ``A`` and
    ``B`` broadcast over leading axes, the last two are the kernel's.  It is 0 for proportional kernels
    and lies in [0, 1] for positive semi-definite ones (then ⟨A, B⟩_F = tr(AB) ≥ 0)."""
    A, B = np.asarray(A, float), np.asarray(B, float)
    num = np.einsum("...ij,...ij->...", A, B)
    return 1.0 - num / (np.linalg.norm(A, axis=(-2, -1)) * np.linalg.norm(B, axis=(-2, -1)))


def top_share(K: np.ndarray, k: int) -> np.ndarray:
    """``Σ_{i<k} λ_i² / Σ_i λ_i²`` over the eigenvalues ``λ_0 ≥ λ_1 ≥ …`` of each symmetric kernel
    (leading axes broadcast); the denominator is ``‖K‖_F²``."""
    lam = np.linalg.eigvalsh(np.asarray(K, float))
    lam2 = np.sort(lam * lam, axis=-1)[..., ::-1]
    return lam2[..., :k].sum(-1) / lam2.sum(-1)


def freeze_epoch(d_final: np.ndarray, threshold: float) -> int:
    """First epoch ``e`` with ``d(K_s, K_E) < threshold`` for every ``s ≥ e`` (the kernel has stopped
    moving away from where it ends); ``d_final[-1] = 0`` so the answer is at most ``E``."""
    d = np.asarray(d_final, float)
    above = np.flatnonzero(d >= threshold)
    return 0 if above.size == 0 else int(above[-1] + 1)


def net_kernel(net: nets.TwoLayer, P: np.ndarray) -> np.ndarray:
    """Empirical NTK ``α² Θ_m(P, P)`` of the centred net ``α f̄`` at its current parameters, by the closed
    form :func:`rob.ntk.empirical_ntk` (f̄ and f have the same parameter gradient)."""
    W, c, a = (t.detach().cpu().double().numpy() for t in (net.W, net.c, net.a))
    return net.alpha ** 2 * ntk.empirical_ntk(P, P, W, c, a, net.sw2, net.sb2)


def _autograd_kernel(net: nets.TwoLayer, P: np.ndarray) -> np.ndarray:
    """``J Jᵀ`` with ``J`` the autograd Jacobian of ``α f̄`` with respect to (W, c, a, c_0) (check D1)."""
    import torch

    params = (net.W, net.c, net.a, net.c0)
    rows = []
    for x in torch.as_tensor(P, dtype=net.W.dtype):
        g = torch.autograd.grad(nets.centred(net, x[None, :])[0], params)
        rows.append(torch.cat([t.reshape(-1) for t in g]))
    J = torch.stack(rows).detach().numpy()
    return J @ J.T


def train_dynamics(dc: DynamicsConfig, task: datasets.BinaryTask, seed: int, rep: int, adversarial: bool) -> dict:
    """One training run; returns the kernels after every epoch (epoch 0 = initialisation), the training
    loss per epoch (on the points trained on), clean and PGD test accuracy and the D1 error."""
    import torch

    net = nets.init(task.X.shape[1], dc.width, np.random.SeedSequence([seed, dc.width, rep, 93]), alpha=dc.alpha)
    params = (net.W, net.c, net.a, net.c0)
    for t in params:
        t.requires_grad_(True)
    X, y = task.X, task.y
    n = len(y)
    P = X[:dc.n_probe]
    order = np.random.default_rng([seed, rep, 94])       # the same minibatch order for both trainings
    lr = dc.eta / dc.alpha ** 2
    kernels = [net_kernel(net, P)]
    losses = []
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(y)
    with torch.no_grad():
        # closed-form gradients (rob.nets.logistic_loss_and_grads, input_grad_centred): the same steps as
        # autograd on softplus(−y α f̄) and on α f̄, 5-10x faster at these small batches
        for _ in range(dc.epochs):
            perm = torch.as_tensor(order.permutation(n))
            tot = 0.0
            for s in range(0, n, dc.batch):
                idx = perm[s:s + dc.batch]
                xb, yb = Xt[idx], Yt[idx]
                if adversarial:
                    xb = attacks.pgd_torch_oracle(xb, yb, nets.input_grad_centred(net), dc.eps, dc.pgd_steps)
                loss, grads = nets.logistic_loss_and_grads(net, xb, yb)
                for p_, g_ in zip(params, grads):
                    p_.sub_(lr * g_)
                tot += loss * len(idx)
            losses.append(tot / n)
            kernels.append(net_kernel(net, P))
        Xe, ye = task.X_test[:dc.n_eval], task.y_test[:dc.n_eval]
        clean = _acc(nets.predict(net, Xe), ye)
        Xa = attacks.pgd_torch_oracle(torch.as_tensor(Xe), torch.as_tensor(ye), nets.input_grad_centred(net), dc.eps, 20)
        robust = _acc(nets.predict(net, Xa.numpy()), ye)
    Pa = P[:dc.n_autograd]
    Ka = _autograd_kernel(net, Pa)
    d1 = float(np.max(np.abs(net_kernel(net, Pa) - Ka)) / np.max(np.abs(Ka)))
    return dict(kernels=np.stack(kernels), losses=np.asarray(losses), clean=clean, robust=robust, D1=d1)


@dataclass(frozen=True)
class DynamicsResults:
    """``curves``: one row per (training, rep, epoch) with ``d_final = d(K_e, K_E)``, ``d_step =
    d(K_{e−1}, K_e)`` (NaN at e = 0), ``d_init = d(K_0, K_e)``, ``share`` (top-``top`` share of Σλ²) and
    the training loss of that epoch; ``runs``: one row per (training, rep) with the total movement
    ``D = d(K_0, K_E)``, the distance ``D_ntk = d(K_0, Θ)`` of the initial kernel to the infinite-width
    NTK, the freeze epochs (``freeze_abs``: threshold ``freeze_frac·D`` of the standard run of the same
    replicate, common to both trainings; ``freeze_rel``: ``freeze_frac·D`` of the run itself), the initial
    and final share, clean / PGD accuracy and D1; ``dist``: the epoch-by-epoch distance matrices of
    rep 0, keyed by training."""

    curves: pd.DataFrame
    runs: pd.DataFrame
    dist: dict


def dynamics_part(dc: DynamicsConfig, seed: int) -> DynamicsResults:
    """Both trainings for ``dc.reps`` replicates on the chapter's split of ``seed``: one task per
    (replicate, training) (:func:`dynamics_tasks`), merged in task order; the common freeze threshold
    of replicate r comes from its standard run."""
    return dynamics_merge(dc, run_tasks(dynamics_tasks(dc, seed), "kernel dynamics"))


def dynamics_merge(dc: DynamicsConfig, done: list[dict]) -> DynamicsResults:
    """:class:`DynamicsResults` from the values of :func:`dynamics_tasks` (in task order)."""
    rows = [row for out in done for row in out["rows"]]
    runs = pd.DataFrame([out["run"] for out in done])
    d_finals = {(out["run"]["training"], out["run"]["rep"]): out["d_final"] for out in done}
    dist = {out["run"]["training"]: out["dist"] for out in done if out["dist"] is not None}
    D_std = runs[runs.training == "standard"].set_index("rep").D
    runs["threshold"] = dc.freeze_frac * D_std.loc[runs.rep].to_numpy()
    runs["freeze_abs"] = [freeze_epoch(d_finals[t, r], th) for t, r, th in zip(runs.training, runs.rep, runs.threshold)]
    return DynamicsResults(pd.DataFrame(rows), runs, dist)


def dynamics_tasks(dc: DynamicsConfig, seed: int) -> list[Task]:
    """Tasks of :func:`dynamics_part`: one training per (replicate, standard/adversarial); both
    trainings of a replicate start from ``(seed, width, rep, 93)`` with minibatch order ``(seed, rep, 94)``."""
    return [Task(dynamics_run, dict(dc=dc, seed=seed, r=r, adversarial=adv),
                 ("dynamics", r, "adversarial" if adv else "standard"), kind="dynamics")
            for r in range(dc.reps) for adv in (False, True)]


_DYN_INPUTS: dict = {}


def _dynamics_inputs(dc: DynamicsConfig, seed: int):
    """The split and the infinite-width NTK on the probe set: deterministic in ``(task, n_train,
    n_probe, seed)``, computed once per process."""
    key = (dc.task, dc.n_train, dc.n_probe, seed)
    if key not in _DYN_INPUTS:
        task = datasets.load_task(dc.task, seed, dc.n_train)
        _DYN_INPUTS.clear()
        _DYN_INPUTS[key] = (task, ntk.ntk(task.X[:dc.n_probe]))
    return _DYN_INPUTS[key]


def dynamics_run(dc: DynamicsConfig, seed: int, r: int, adversarial: bool) -> dict:
    """Task of :func:`dynamics_part`: one training (:func:`train_dynamics`) reduced to its curve rows,
    its run row (without the common threshold), ``d_final`` and, for r = 0, the epoch-by-epoch distance
    matrix (the kernels themselves stay in the task)."""
    with torch_threads(dc.torch_threads), threadpool_limits(limits=1, user_api="blas"):
        task, K_inf = _dynamics_inputs(dc, seed)
        out = train_dynamics(dc, task, seed, r, adversarial)
        Ks = out["kernels"]
        name = "adversarial" if adversarial else "standard"
        d_final = cosine_distance(Ks, Ks[-1])
        d_init = cosine_distance(Ks, Ks[0])
        d_step = np.r_[np.nan, cosine_distance(Ks[1:], Ks[:-1])]
        share = top_share(Ks, dc.top)
        E = len(Ks) - 1
        rows = [dict(training=name, rep=r, epoch=e, d_final=d_final[e], d_step=d_step[e], d_init=d_init[e],
                     share=share[e], loss=out["losses"][e - 1] if e > 0 else np.nan) for e in range(E + 1)]
        D = float(d_final[0])
        run = dict(training=name, rep=r, D=D, D_ntk=float(cosine_distance(Ks[0], K_inf)),
                   freeze_rel=freeze_epoch(d_final, dc.freeze_frac * D),
                   share0=float(share[0]), share=float(share[-1]), clean=out["clean"], robust=out["robust"],
                   loss=float(out["losses"][-1]), D1=out["D1"])
        dist = None
        if r == 0:
            F = Ks.reshape(len(Ks), -1)
            G = F @ F.T
            nrm = np.sqrt(np.diag(G))
            dist = 1.0 - G / np.outer(nrm, nrm)
    return dict(rows=rows, run=run, d_final=d_final, dist=dist)


def dynamics_summary(runs: pd.DataFrame, column: str) -> tuple[float, float, int]:
    """Paired difference adversarial − standard of ``column`` over the replicates: ``(mean, sd, R)``."""
    a = runs[runs.training == "adversarial"].set_index("rep")[column]
    s = runs[runs.training == "standard"].set_index("rep")[column]
    diff = (a - s.reindex(a.index)).to_numpy(float)
    return float(diff.mean()), float(diff.std(ddof=1)) if len(diff) > 1 else 0.0, len(diff)


def record_dynamics_checks(report, dc: DynamicsConfig, dyn: DynamicsResults) -> dict[str, float]:
    """Record D1–D6 (§9.3 of the spec; the paper's claims 3–4) in ``report``; return the numbers the
    prose quotes (keys ``nfd-…``).  Paired differences adversarial − standard over the R replicates
    (same initialisation, same minibatch order) with standard error ``sd/√R``; the claim checks use a
    margin of two standard errors."""
    R = dyn.runs
    std, adv = R[R.training == "standard"], R[R.training == "adversarial"]
    report.below("D1", "empirical NTK: closed form (rob.ntk) vs autograd J Jᵀ after training, max relative error",
                 float(R.D1.max()), 1e-10)
    report.below("D2", "standard training is lazy: total kernel movement d(K_0, K_E), mean over R", float(std.D.mean()),
                 dc.D2_max)
    mr, sr, n = dynamics_summary(R, "robust")
    report.above("D3", f"adversarial training works: PGD-20 accuracy (ε = {dc.eps}), adversarial − standard, "
                       "mean − 2 s.e.", mr - 2 * sr / np.sqrt(n), 0.05)
    mf, sf, _ = dynamics_summary(R, "freeze_abs")
    d4 = f"claim 3, common threshold {dc.freeze_frac}·d_std(K_0, K_E): freeze epoch adversarial − standard, mean + 2 s.e."
    if dc.D4_earlier:
        report.below("D4", d4 + " (the paper: earlier)", mf + 2 * sf / np.sqrt(n), 0.0)
    else:
        report.above("D4", d4 + " (the paper: earlier; not reproduced when ≥ 0)", mf + 2 * sf / np.sqrt(n), 0.0)
    mg, sg, _ = dynamics_summary(R, "freeze_rel")
    report.above("D5", f"claim 3, own threshold {dc.freeze_frac}·d(K_0, K_E): freeze epoch adversarial − standard, "
                       "mean + 2 s.e. (the paper: earlier; not reproduced when ≥ 0)", mg + 2 * sg / np.sqrt(n), 0.0)
    ms, ss, _ = dynamics_summary(R, "share")
    report.below("D6", f"claim 4: top-{dc.top} share of Σλ² after training, adversarial − standard, mean − 2 s.e. "
                       "(the paper: larger; not reproduced when ≤ 0)", ms - 2 * ss / np.sqrt(n), 0.0)
    C = dyn.curves
    first = C[C.epoch == 1].groupby("training").d_step.mean()
    quote = {
        "nfd-R": float(n), "nfd-E": float(dc.epochs), "nfd-m": float(dc.width), "nfd-p": float(dc.n_probe),
        "nfd-eps": dc.eps, "nfd-D1": float(R.D1.max()),
        "nfd-D-std": float(std.D.mean()), "nfd-D-adv": float(adv.D.mean()),
        "nfd-D-ratio": float(adv.D.mean() / std.D.mean()), "nfd-Dntk": float(R.D_ntk.mean()),
        "nfd-step1-std": float(first.get("standard", np.nan)), "nfd-step1-adv": float(first.get("adversarial", np.nan)),
        "nfd-fabs-std": float(std.freeze_abs.mean()), "nfd-fabs-adv": float(adv.freeze_abs.mean()),
        "nfd-fabs-diff": mf, "nfd-fabs-se": sf / np.sqrt(n),
        "nfd-frel-std": float(std.freeze_rel.mean()), "nfd-frel-adv": float(adv.freeze_rel.mean()),
        "nfd-frel-diff": mg, "nfd-frel-se": sg / np.sqrt(n),
        "nfd-tail0": float(1 - R.share0.mean()), "nfd-tail-std": float(1 - std.share.mean()),
        "nfd-tail-adv": float(1 - adv.share.mean()), "nfd-share-diff": ms, "nfd-share-se": ss / np.sqrt(n),
        "nfd-rob-std": float(std.robust.mean()), "nfd-rob-adv": float(adv.robust.mean()),
        "nfd-clean-std": float(std.clean.mean()), "nfd-clean-adv": float(adv.clean.mean()),
        "nfd-loss-std": float(std.loss.mean()), "nfd-loss-adv": float(adv.loss.mean()),
    }
    return {k: float(v) for k, v in quote.items()}
