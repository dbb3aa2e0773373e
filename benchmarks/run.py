"""The book's heaviest kernel of every chapter against its best peer, timed in the same run.

Run:  python benchmarks/run.py [--threads 1 2] [--quick] [--repeat 5]

For every thread count, each row times ``rob``'s kernel and a peer on the same inputs, interleaved
(rob, peer, rob, peer, ...) and reports the median of ``--repeat`` runs, the ratio rob/peer (below 1:
rob is faster) and, where the kernel is built on matrix products, the share of the GEMM peak
measured at the start of the same run (square float64/float32 ``torch.mm``).  Results are compared
(the run fails on a mismatch), so a fast wrong kernel cannot pass.

Peers: plain torch closed forms, ``torch.func``, scikit-learn, torchattacks (optional:
``pip install --no-deps torchattacks``; its dependencies would pull a CUDA torch) and
neural-tangents (optional, in its own environment; see README "Performance").  A missing optional
peer is reported as skipped.  ``--quick`` shrinks every size (a smoke test, not a measurement).

Not a test: timings depend on the machine and its load.  On a shared machine run it twice.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import torch
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rob import attacks, features, activations, data, kernels, ntk, spectral, solvers  # noqa: E402
from rob.theory import adversarial_rf as T  # noqa: E402


@dataclass
class Row:
    chapter: str
    kernel: str
    peer: str
    t_rob: float
    t_peer: float | None
    flops: float | None = None     # matrix-product flops of the kernel (None: not GEMM-shaped)
    dtype: str = "f64"
    note: str = ""


def interleaved(fns, repeat: int) -> list[float]:
    """Median wall time of each function, run interleaved ``repeat`` times after one warm-up."""
    for f in fns:
        f()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t)
    return [float(np.median(t)) for t in times]


def gemm_peak(repeat: int, n: int) -> dict[str, float]:
    """Measured GFLOP/s of a square ``torch.mm`` (the machine's practical peak at this thread count)."""
    out = {}
    for name, dt in (("f64", torch.float64), ("f32", torch.float32)):
        A = torch.randn(n, n, dtype=dt)
        B = torch.randn(n, n, dtype=dt)
        C = torch.empty(n, n, dtype=dt)
        t = min(interleaved([lambda: torch.mm(A, B, out=C)], repeat))
        out[name] = 2 * n ** 3 / t / 1e9
    return out


# -- peers ---------------------------------------------------------------------------------------

def torch_ntk_closed_form(X: torch.Tensor, sw2=ntk.SW2, sb2=ntk.SB2) -> torch.Tensor:
    """Peer: the two-layer ReLU NTK Gram as a plain (unfused) torch closed form."""
    d = X.shape[1]
    k12 = sw2 * (X @ X.T) / d + sb2
    k11 = torch.diagonal(k12)
    nn = torch.sqrt(torch.outer(k11, k11))
    rho = torch.clamp(k12 / nn, -1.0, 1.0)
    theta = torch.acos(rho)
    D = nn * torch.sqrt(torch.clamp(1 - rho * rho, min=0.0))
    return sb2 + sw2 / (2 * np.pi) * (D + 2 * (np.pi - theta) * k12)


def numpy_unfused_ntk(X, sw2=ntk.SW2, sb2=ntk.SB2):
    """The book's former implementation: unfused numpy passes with n×n temporaries."""
    d = X.shape[1]
    k12 = sw2 * (X @ X.T) / d + sb2
    k11 = np.diag(k12).copy()
    nn = np.sqrt(k11[:, None] * k11[None, :])
    rho = np.clip(k12 / nn, -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)
    r = np.clip(rho, -1.0, 1.0)
    kappa1 = nn * (r * (np.pi - np.arccos(r)) + np.sqrt(np.maximum(1.0 - r * r, 0.0))) / (2 * np.pi)
    kappa0 = (np.pi - np.arccos(rho)) / (2 * np.pi)
    return sb2 + sw2 * kappa1 + sw2 * kappa0 * k12


def torch_func_entk(X, W, c, a, sw2=ntk.SW2, sb2=ntk.SB2):
    """Peer: the finite-width NTK as the Gram of ``torch.func`` per-example parameter Jacobians."""
    Xt = torch.from_numpy(X)
    params = {k: torch.from_numpy(v) for k, v in dict(W=W, c=c, a=a, c0=np.zeros(1)).items()}
    m, d = W.shape

    def f(p, x):
        h = (sw2 / d) ** 0.5 * (p["W"] @ x) + sb2 ** 0.5 * p["c"]
        return (sw2 / m) ** 0.5 * (torch.relu(h) @ p["a"]) + sb2 ** 0.5 * p["c0"][0]

    J = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(params, Xt)
    Jf = torch.cat([J[k].reshape(len(X), -1) for k in ("W", "c", "a", "c0")], dim=1)
    return (Jf @ Jf.T).numpy()


def autograd_pgd(fn, X, y, eps, steps):
    """Peer: a plain float32 autograd ℓ∞ PGD loop (same iteration as rob.attacks.pgd)."""
    step = 2.5 * eps / steps
    Xa = X.clone()
    for _ in range(steps):
        Xa.requires_grad_(True)
        (g,) = torch.autograd.grad(fn(Xa).sum(), Xa)
        Xa = Xa.detach() - step * torch.sign(y[:, None] * g)
        Xa = torch.clamp(torch.min(torch.max(Xa, X - eps), X + eps), 0.0, 1.0)
    return Xa


class _TwoLogits(torch.nn.Module):
    """A score ``g`` as a two-class model ``(−g/2, g/2)`` so that torchattacks' cross-entropy PGD takes
    exactly the ℓ∞ sign steps of the margin attack."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        g = self.fn(x)[:, None]
        return torch.cat([-g / 2, g / 2], dim=1)


# -- the rows ------------------------------------------------------------------------------------

def run_rows(threads: int, quick: bool, repeat: int) -> list[Row]:
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    s = 8 if quick else 1

    # ntk-features: the analytic NTK Gram, n = 4000, d = 100 (digits parity is n = 1198, d = 64)
    n, d = 4000 // s, 100
    X = rng.uniform(0, 1, (n, d))
    for dt, tdt in ((np.float64, torch.float64), (np.float32, torch.float32)):
        Xt = torch.from_numpy(X.astype(dt))
        ref = torch_ntk_closed_form(torch.from_numpy(X)).numpy()
        got = ntk.ntk(X, dtype=dt, workers=threads)
        tol = 1e-12 if dt == np.float64 else 2e-5
        assert np.max(np.abs(got - ref)) <= tol * np.max(np.abs(ref)), "NTK Gram differs from the torch closed form"
        t_rob, t_peer = interleaved([lambda: ntk.ntk(X, dtype=dt, workers=threads), lambda: torch_ntk_closed_form(Xt)],
                                    repeat)
        name = "f64" if dt == np.float64 else "f32"
        rows.append(Row("ntk-features", f"analytic NTK Gram n={n}, d={d}", "torch closed form", t_rob, t_peer,
                        2 * n * n * d, name))
    t_rob, t_peer = interleaved([lambda: ntk.ntk(X, workers=threads), lambda: numpy_unfused_ntk(X)], max(3, repeat // 2))
    rows.append(Row("ntk-features", f"analytic NTK Gram n={n}, d={d}", "unfused numpy (the book before)", t_rob, t_peer,
                    2 * n * n * d))
    try:  # optional peer in its own environment
        import neural_tangents  # noqa: F401
        rows.append(Row("ntk-features", "analytic NTK Gram", "neural-tangents", np.nan, None, note="see README"))
    except ImportError:
        rows.append(Row("ntk-features", f"analytic NTK Gram n={n}", "neural-tangents jit", np.nan, None,
                        note="skipped: not installed (own venv, see README)"))

    # ntk-features: NTK Gram partials (gradients of kernel predictors), 1000 × 4000
    Z = X[: n // 4]
    t_rob, = interleaved([lambda: ntk.ntk_partials(Z, X, workers=threads)], repeat)
    rows.append(Row("ntk-features", f"NTK partials {len(Z)}x{n}", "(no peer)", t_rob, None, 2 * len(Z) * n * d))

    # ntk-features: the empirical NTK at init, n = 500, m = 2048, d = 64
    ne, m, de = 400 // s, 2048 // s, 64
    Xe = rng.uniform(0, 1, (ne, de))
    W, c, a = rng.standard_normal((m, de)), rng.standard_normal(m), rng.standard_normal(m)
    ref = torch_func_entk(Xe, W, c, a)
    assert np.allclose(ntk.empirical_ntk(Xe, Xe, W, c, a), ref, rtol=1e-10, atol=1e-12)
    t_rob, t_peer = interleaved([lambda: ntk.empirical_ntk(Xe, Xe, W, c, a), lambda: torch_func_entk(Xe, W, c, a)],
                                max(3, repeat // 2))
    rows.append(Row("ntk-features", f"empirical NTK n={ne}, m={m}, d={de}", "torch.func jacrev Gram", t_rob, t_peer,
                    2 * ne * m * de * 2 + 2 * ne * ne * (2 * m + de)))

    # ntk-features: μ_∞ kernel solve, n = 2000 (Cholesky, no eigenvectors)
    nk = 2000 // s
    K = ntk.ntk(X[:nk])
    y = np.sign(rng.standard_normal(nk))
    from sklearn.kernel_ridge import KernelRidge

    kr = KernelRidge(alpha=1e-10, kernel="precomputed")
    a_rob = spectral.kernel_solve(K, y, 1e-10 / nk)
    a_skl = kr.fit(K, y).dual_coef_
    assert np.allclose(a_rob, a_skl, rtol=1e-6, atol=1e-8 * np.abs(a_skl).max())
    t_rob, t_peer, t_torch = interleaved([lambda: spectral.kernel_solve(K, y, 1e-10 / nk), lambda: kr.fit(K, y),
                                          lambda: torch.cholesky_solve(torch.from_numpy(y[:, None]),
                                                                       torch.linalg.cholesky(torch.from_numpy(K)))],
                                         repeat)
    rows.append(Row("ntk-features", f"kernel solve n={nk} (Cholesky)", "sklearn KernelRidge", t_rob, t_peer, nk ** 3 / 3))
    rows.append(Row("ntk-features", f"kernel solve n={nk} (Cholesky)", "torch cholesky+solve", t_rob, t_torch, nk ** 3 / 3))
    ne2 = 1198 // s
    K2 = np.ascontiguousarray(K[:ne2, :ne2])
    K2t = torch.from_numpy(K2)
    t_rob, t_peer, t_np = interleaved([lambda: spectral.eigh(K2), lambda: torch.linalg.eigh(K2t),
                                       lambda: np.linalg.eigh(K2)], max(3, repeat // 2))
    rows.append(Row("ntk-features", f"eigh n={ne2} (eigen-features)", "torch linalg.eigh", t_rob, t_peer, 4 * ne2 ** 3 / 3))
    rows.append(Row("ntk-features", f"eigh n={ne2} (eigen-features)", "numpy eigh", t_rob, t_np, 4 * ne2 ** 3 / 3))

    # ntk-features: ℓ∞ PGD on a width-4096 network (float32), 1000 points of dimension 64, 20 steps
    from rob import nets

    net = nets.init(64, 4096 // s, np.random.SeedSequence(1), dtype=torch.float32)
    na = 1000 // s
    Xa = torch.rand(na, 64, dtype=torch.float32)
    ya = torch.sign(torch.randn(na))
    fn = lambda x: nets.raw(net, x)  # noqa: E731
    eps, steps = 0.1, 20
    A1 = attacks.pgd_torch(fn, Xa, ya, eps, steps)
    A2 = autograd_pgd(fn, Xa, ya, eps, steps)
    assert torch.mean((A1 - A2).abs() > 1e-5 * eps, dtype=torch.float32) < 0.01
    fns = [lambda: attacks.pgd_torch(fn, Xa, ya, eps, steps), lambda: autograd_pgd(fn, Xa, ya, eps, steps)]
    flops = steps * 2 * 2 * na * 64 * (4096 // s)
    try:
        import torchattacks

        ta = torchattacks.PGD(_TwoLogits(fn), eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=False)
        labels = (ya > 0).long()
        fns.append(lambda: ta(Xa, labels))
    except ImportError:
        ta = None
    t = interleaved(fns, repeat)
    rows.append(Row("ntk-features", f"ℓ∞ PGD, net m={4096 // s}, {na} pts, {steps} steps", "plain autograd loop",
                    t[0], t[1], flops, "f32"))
    if ta is not None:
        rows.append(Row("ntk-features", f"ℓ∞ PGD, net m={4096 // s}, {na} pts, {steps} steps", "torchattacks PGD",
                        t[0], t[2], flops, "f32"))
    else:
        rows.append(Row("ntk-features", "ℓ∞ PGD", "torchattacks PGD", t[0], None, note="skipped: not installed"))
    # the same attack through the float64 numpy oracle (the old default)
    Xn, yn = Xa.double().numpy(), ya.double().numpy()
    net64 = nets.init(64, 4096 // s, np.random.SeedSequence(1))
    g64 = attacks.torch_grad(lambda x: nets.raw(net64, x))
    t_rob, t_peer = interleaved([lambda: attacks.pgd_torch(fn, Xa, ya, eps, steps),
                                 lambda: attacks.pgd(Xn, yn, g64, eps, steps)], max(3, repeat // 2))
    rows.append(Row("ntk-features", "ℓ∞ PGD f32 torch vs f64 numpy oracle", "rob pgd+torch_grad f64", t_rob, t_peer,
                    flops, "f32"))

    # memorization: the Sobolev Monte Carlo (RF input gradients), 2000 points, d = 300, k = 600
    erf = activations.get("erf")
    dm, km_ = 300, 600 // s
    Wm, Xm, cm = features.random_weights(km_, dm, rng), data.sphere(2000 // s, dm, rng), rng.normal(size=km_)
    Wt, ct = torch.from_numpy(Wm), torch.from_numpy(cm)
    f = lambda x: (torch.special.erf(Wt @ x) * ct).sum() / km_ ** 0.5  # noqa: E731
    peer = lambda: torch.func.vmap(torch.func.grad(f))(torch.from_numpy(Xm)).numpy()  # noqa: E731
    assert np.allclose(features.rf_input_grad(Xm, Wm, cm, erf), peer(), rtol=1e-9, atol=1e-12)
    t_rob, t_peer = interleaved([lambda: features.rf_input_grad(Xm, Wm, cm, erf), peer], repeat)
    rows.append(Row("memorization", f"RF input gradients {len(Xm)} pts, d={dm}, k={km_}", "torch.func vmap(grad)",
                    t_rob, t_peer, 2 * 2 * len(Xm) * km_ * dm))
    # memorization: arc-cosine kernel of the certificate on a k × k cosine matrix
    R = np.clip(rng.uniform(-1, 1, (3000 // s, 3000 // s)), -1, 1)

    def numpy_unfused(r):
        r = np.clip(r, -1.0, 1.0)
        return (r * (np.pi - np.arccos(r)) + np.sqrt(np.maximum(1.0 - r * r, 0.0))) / (2 * np.pi)

    assert np.allclose(kernels.arccos_kernel(R, "relu"), numpy_unfused(R), rtol=1e-14, atol=1e-15)
    t_rob, t_peer = interleaved([lambda: kernels.arccos_kernel(R, "relu"), lambda: numpy_unfused(R)], repeat)
    rows.append(Row("memorization", f"arc-cosine kernel {R.shape[0]}²", "numpy unfused formula", t_rob, t_peer))

    # adversarial-rf: the Hassani–Javanmard limit on a 500-point grid (5 ε × 4 ψ2 × 25 ψ1)
    e = np.array([0.05, 0.1, 0.2, 0.3, 0.5])[:, None, None]
    p2 = np.array([0.5, 1.0, 2.0, 4.0])[None, :, None]
    p1 = np.geomspace(0.1, 20, 25 if not quick else 5)[None, None, :]
    t_rob, = interleaved([lambda: T.solve_grid(e, 0.25, p1, p2)], max(3, repeat // 2))
    rows.append(Row("adversarial-rf", f"theory grid, {e.size * p2.size * p1.size} points", "(target 0.1 s)", t_rob, None))
    # adversarial-rf: ridge on RF features, n = 2000, N = 4000
    from sklearn.linear_model import Ridge

    Zr = rng.standard_normal((2000 // s, 4000 // s))
    yr = rng.standard_normal(2000 // s)
    lam = 1e-3
    sk = Ridge(alpha=lam * len(yr), fit_intercept=False, solver="cholesky")
    assert np.allclose(solvers.ridge(Zr, yr, lam), sk.fit(Zr, yr).coef_, rtol=1e-6, atol=1e-9)
    t_rob, t_peer = interleaved([lambda: solvers.ridge(Zr, yr, lam), lambda: sk.fit(Zr, yr)], repeat)
    nr, pr = Zr.shape
    rows.append(Row("adversarial-rf", f"ridge n={nr}, N={pr}", "sklearn Ridge(cholesky)", t_rob, t_peer,
                    2 * nr * nr * pr + nr ** 3 / 3))

    # implicit-bias: ℓ2 PGD on a two-layer ReLU net, n = 1000, d = 1000, m = 256, 50 steps
    ni, di, mi = 1000 // s, 1000, 256
    Xi, Wi = rng.standard_normal((ni, di)), rng.standard_normal((mi, di)) / di ** 0.5
    bi, vi = rng.standard_normal(mi) * 0.1, rng.choice([-1.0, 1.0], mi) / mi
    yi = np.sign(rng.standard_normal(ni))
    Xt_, Wt_, bt_, vt_, yt_ = (torch.from_numpy(v) for v in (Xi, Wi, bi, vi, yi))

    def torch_pgd_l2(eps=1.0, steps=50, frac=0.1):
        delta = torch.zeros_like(Xt_)
        for _ in range(steps):
            delta.requires_grad_(True)
            out = yt_ * (torch.relu((Xt_ + delta) @ Wt_.T + bt_) @ vt_)
            (g,) = torch.autograd.grad(out.sum(), delta)
            with torch.no_grad():
                delta = delta - frac * eps * g / torch.clamp(g.norm(dim=1, keepdim=True), min=1e-300)
                delta = delta * torch.clamp(eps / torch.clamp(delta.norm(dim=1, keepdim=True), min=1e-300), max=1.0)
        return (yt_ * (torch.relu((Xt_ + delta) @ Wt_.T + bt_) @ vt_)).numpy()

    assert np.allclose(attacks.pgd_l2(Xi, yi, Wi, bi, vi, 1.0), torch_pgd_l2(), rtol=1e-8, atol=1e-10)
    t_rob, t_peer = interleaved([lambda: attacks.pgd_l2(Xi, yi, Wi, bi, vi, 1.0), torch_pgd_l2], repeat)
    rows.append(Row("implicit-bias", f"ℓ2 PGD n={ni}, d={di}, m={mi}, 50 steps", "torch autograd loop", t_rob, t_peer,
                    50 * 2 * 2 * ni * di * mi))

    # stability: PGD on the logistic loss of a smooth net, batched over 8 replicas, n = 400, d = 50, m = 512
    from rob import two_layer

    Rr, nS, dS, mS = 8, 400 // s, 50, 512
    g = torch.Generator().manual_seed(0)
    WS = torch.randn(Rr, mS, dS, generator=g, dtype=torch.float64) / dS ** 0.5
    aS = torch.sign(torch.randn(mS, generator=g, dtype=torch.float64))
    XS = torch.randn(Rr, nS, dS, generator=g, dtype=torch.float64)
    yS = torch.sign(torch.randn(Rr, nS, generator=g, dtype=torch.float64))

    def autograd_stab(eps=0.1, steps=10):
        step = 2.5 * eps / steps
        delta = torch.zeros_like(XS)
        for _ in range(steps):
            delta.requires_grad_(True)
            out = (yS * two_layer.forward(WS, aS, XS + delta)).sum()
            (gr,) = torch.autograd.grad(out, delta)
            with torch.no_grad():
                delta = torch.clamp(delta - step * torch.sign(gr), -eps, eps)
        return XS + delta

    assert torch.allclose(attacks.pgd_classification(WS, aS, XS, yS, 0.1, 10), autograd_stab(), atol=1e-12)
    t_rob, t_peer = interleaved([lambda: attacks.pgd_classification(WS, aS, XS, yS, 0.1, 10), autograd_stab], repeat)
    rows.append(Row("stability", f"ℓ∞ PGD {Rr} replicas × {nS} pts, m={mS}, 10 steps", "torch autograd loop",
                    t_rob, t_peer, 10 * 2 * 2 * Rr * nS * dS * mS))

    # regimes / memorization: min-norm least squares, tall (the lazy NT design, n = 3000, p = 2000)
    # and square (memorization's NTK fits at the interpolation threshold n = p = 2000)
    for chapter, (n_, p_) in (("regimes", (3000, 2000)), ("memorization", (2000, 2000))):
        Zg = rng.standard_normal((n_ // s, p_ // s))
        yg = rng.standard_normal(n_ // s)
        ref = sla.lstsq(Zg, yg, lapack_driver="gelsy")[0]
        assert np.allclose(solvers.min_norm_lstsq(Zg, yg), ref, rtol=1e-7, atol=1e-10)
        fns = [lambda: solvers.min_norm_lstsq(Zg, yg), lambda: sla.lstsq(Zg, yg, lapack_driver="gelsy"),
               lambda: np.linalg.lstsq(Zg, yg, rcond=None)]
        t_rob, t_gelsy, t_gelsd = interleaved(fns, max(3, repeat // 2))
        flops = 2 * Zg.shape[0] * Zg.shape[1] ** 2
        name = f"min-norm least squares n={Zg.shape[0]}, p={Zg.shape[1]} (torch QR)"
        rows.append(Row(chapter, name, "scipy lstsq (gelsy, the book before)", t_rob, t_gelsy, flops))
        rows.append(Row(chapter, name, "numpy lstsq (gelsd)", t_rob, t_gelsd, flops))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (BLAS and torch)")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke test")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved repeats (median reported)")
    args = ap.parse_args(argv)
    if any(t < 1 for t in args.threads) or args.repeat < 1:
        print("benchmarks/run.py: --threads and --repeat must be positive", file=sys.stderr)
        return 2
    repeat = 1 if args.quick else args.repeat
    blas = ", ".join(f"{i['internal_api']} {i.get('architecture', '')}" for i in threadpool_info())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy {np.__version__} "
          f"({blas}); torch {torch.__version__}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}")
    print(f"medians of {repeat} interleaved runs; ratio = rob/peer (< 1: rob faster); "
          f"%peak = the kernel's matrix-product flops / time / measured GEMM peak")
    for th in args.threads:
        torch.set_num_threads(th)
        with threadpool_limits(th):
            peak = gemm_peak(repeat, 512 if args.quick else 2000)
            rows = run_rows(th, args.quick, repeat)
        print(f"\n## {th} thread(s): GEMM peak {peak['f64']:.0f} GFLOP/s f64, {peak['f32']:.0f} GFLOP/s f32\n")
        print("| chapter | kernel | dtype | peer | rob [ms] | peer [ms] | rob/peer | rob %peak |")
        print("|---|---|---|---|---:|---:|---:|---:|")
        for r in rows:
            peer = "" if r.t_peer is None else f"{1e3 * r.t_peer:.1f}"
            ratio = "" if r.t_peer is None else f"{r.t_rob / r.t_peer:.2f}"
            pk = "" if r.flops is None or not np.isfinite(r.t_rob) else f"{100 * r.flops / r.t_rob / 1e9 / peak[r.dtype]:.0f}%"
            trob = "" if not np.isfinite(r.t_rob) else f"{1e3 * r.t_rob:.1f}"
            print(f"| {r.chapter} | {r.kernel} | {r.dtype} | {r.peer}{' (' + r.note + ')' if r.note else ''} | "
                  f"{trob} | {peer} | {ratio} | {pk} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
