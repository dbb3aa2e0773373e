"""Benchmark of the memorization chapter's heaviest kernels against naive or peer implementations.

Run:  .venv/bin/python benchmarks/bench_memorization.py [--threads 1]

Each row times rob's kernel and a baseline on the same inputs in the same run (best of a few
repeats) and reports the speed-up; results agree to the stated tolerance or the script fails.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg as sla
import torch
from threadpoolctl import threadpool_limits

from rob import activations, data, features, kernels, solvers


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def autograd_rf_grads(X, W, c):
    """Peer: torch.func (vmap of grad) on the RF model with erf, float64."""
    Wt, ct = torch.tensor(W), torch.tensor(c)
    k = W.shape[0]
    f = lambda x: (torch.special.erf(Wt @ x) * ct).sum() / k**0.5
    return torch.func.vmap(torch.func.grad(f))(torch.tensor(X)).numpy()


def autograd_ntk_grads(X, W, c):
    """Peer: torch.func on the first-layer NTK model with erf (σ' in closed form), float64."""
    Wt, A = torch.tensor(W), torch.tensor(c).reshape(W.shape)
    k = W.shape[0]
    f = lambda x: ((2 / np.pi**0.5) * torch.exp(-(Wt @ x) ** 2) * (A @ x)).sum() / k**0.5
    return torch.func.vmap(torch.func.grad(f))(torch.tensor(X)).numpy()


def naive_ntk_features(X, W, act):
    """Naive: one Kronecker product per point."""
    return np.stack([np.kron(act.df(W @ x), x) for x in X]) / np.sqrt(W.shape[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (the sweeps use 1)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    erf = activations.get("erf")
    rows = []
    with threadpool_limits(args.threads), _torch_threads(args.threads):
        # 1. Sobolev estimate: input gradients at 2000 test points, RF d=300, k=600 (paper Fig. 1)
        d, k = 300, 600
        W, X, c = features.random_weights(k, d, rng), data.sphere(2000, d, rng), rng.normal(size=k)
        t_rob, g = best_of(lambda: features.rf_input_grad(X, W, c, erf))
        t_peer, g_ref = best_of(lambda: autograd_rf_grads(X, W, c))
        assert np.allclose(g, g_ref, rtol=1e-9, atol=1e-12)
        rows.append(("RF input gradients, 2000 pts, d=300, k=600", "torch.func vmap(grad)", t_rob, t_peer))

        # 2. the same for the NTK, d=50, k=40 (paper Fig. 1b)
        d, k = 50, 40
        W, X, c = features.random_weights(k, d, rng), data.sphere(2000, d, rng), rng.normal(size=k * d)
        t_rob, g = best_of(lambda: features.ntk_input_grad(X, W, c, erf))
        t_peer, g_ref = best_of(lambda: autograd_ntk_grads(X, W, c))
        assert np.allclose(g, g_ref, rtol=1e-9, atol=1e-12)
        rows.append(("NTK input gradients, 2000 pts, d=50, k=40", "torch.func vmap(grad)", t_rob, t_peer))

        # 3. NTK feature matrix, n=2920, kd=2000
        Xn = data.sphere(2920, d, rng)
        t_rob, Z = best_of(lambda: features.ntk_features(Xn, W, erf))
        t_peer, Z_ref = best_of(lambda: naive_ntk_features(Xn, W, erf), repeat=1)
        assert np.allclose(Z, Z_ref)
        rows.append(("NTK features, n=2920, kd=2000", "per-point np.kron", t_rob, t_peer))

        # 4. min-norm least squares at the NTK threshold n = p = 2000 (the costliest fits)
        Z = features.ntk_features(data.sphere(2000, d, rng), W, erf)
        y = rng.normal(size=2000)
        t_rob, c1 = best_of(lambda: solvers.min_norm_lstsq(Z, y), repeat=1)
        t_peer, c2 = best_of(lambda: sla.lstsq(Z, y, lapack_driver="gelsd")[0], repeat=1)
        assert np.linalg.norm(Z @ c1 - y) < 1e-6 * np.linalg.norm(y)
        rows.append(("min-norm lstsq at n = p = 2000 (torch QR)", "LAPACK gelsd (SVD)", t_rob, t_peer))
        t_peer, c3 = best_of(lambda: np.linalg.pinv(Z) @ y, repeat=1)
        rows.append(("min-norm lstsq at n = p = 2000 (torch QR)", "numpy pinv", t_rob, t_peer))

        # 5. Poincaré certificate, RF k=800 (Fig. 2a largest d at ci)
        W = features.random_weights(800, 400, rng)
        t_rob, L = best_of(lambda: kernels.poincare_certificate(W, "relu", 1.0))
        Zmc = features.rf_features(data.sphere(20000, 400, rng), W, activations.get("relu"))
        t_peer, lam_mc = best_of(lambda: np.linalg.eigvalsh(np.cov(Zmc, rowvar=False))[0], repeat=1)
        rows.append(("certificate λ_min(C_φ) exact, k=800", "Monte-Carlo covariance, 20000 pts", t_rob, t_peer))

    print(f"BLAS threads: {args.threads}")
    print(f"{'kernel':46s} {'baseline':34s} {'rob [ms]':>9s} {'base [ms]':>10s} {'speed-up':>9s}")
    for name, base, t_rob, t_peer in rows:
        print(f"{name:46s} {base:34s} {1e3 * t_rob:9.1f} {1e3 * t_peer:10.1f} {t_peer / t_rob:8.1f}x")


class _torch_threads:
    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


if __name__ == "__main__":
    main()
