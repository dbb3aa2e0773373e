"""The fused, row-blocked kernels (rob.ntk, rob.kernels), the Cholesky kernel solve, pgd_torch and the
vectorised theory grid against slow reference implementations of the formulas they replaced."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rob import attacks, kernels, nets, ntk, spectral
from rob.theory import adversarial_rf as T

SW2, SB2 = 2.0, 0.01


# -- slow references: the unfused numpy formulas the book used before -----------------------------

def ref_parts(X, Z, sw2=SW2, sb2=SB2, same=False):
    d = X.shape[1]
    k12 = sw2 * (X @ Z.T) / d + sb2
    k11 = sw2 * np.einsum("ij,ij->i", X, X) / d + sb2
    k22 = sw2 * np.einsum("ij,ij->i", Z, Z) / d + sb2
    nn = np.sqrt(k11[:, None] * k22[None, :])
    rho = np.clip(k12 / nn, -1.0, 1.0)
    if same:
        np.fill_diagonal(rho, 1.0)
    return k12, k11, k22, nn, rho


def ref_kernel(X, Z=None, kind="ntk", sw2=SW2, sb2=SB2):
    same = Z is None
    Z = X if same else Z
    k12, _, _, nn, rho = ref_parts(X, Z, sw2, sb2, same)
    kappa1 = nn * (rho * (np.pi - np.arccos(rho)) + np.sqrt(np.maximum(1 - rho * rho, 0))) / (2 * np.pi)
    kappa0 = (np.pi - np.arccos(rho)) / (2 * np.pi)
    return sb2 + sw2 * kappa1 + (sw2 * kappa0 * k12 if kind == "ntk" else 0.0)


def ref_partials(X, Z, sw2=SW2, sb2=SB2):
    k12, k11, k22, nn, rho = ref_parts(X, Z, sw2, sb2)
    D = np.maximum(np.sqrt(np.maximum(k11[:, None] * k22[None, :] - k12 * k12, 0.0)), ntk.D_FLOOR)
    c = sw2 / (2 * np.pi)
    return c * (2 * (np.pi - np.arccos(rho)) + k12 / D), c * (k22[None, :] / 2 - k12 * k12 / k11[:, None]) / D


def hard_inputs(seed=0, n=120, m=90, d=12):
    """Random rows plus pairs at ρ ≈ +1 (z = x(1 + δ)) and ρ ≈ −1 (z = −x) and tiny-norm rows."""
    rng = np.random.default_rng(seed)
    X, Z = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    Z[:20] = X[:20] * (1 + np.logspace(-15, -3, 20))[:, None]
    Z[20:30] = -X[20:30] * 5.0
    X[30:33] *= 1e-9
    return X, Z


def tolerance(rho, scale, floor=1e-12):
    """Round-off of ρ (~1e-16) moves arccos by ~1e-16/√(1−ρ²): the kernel itself is that ill-conditioned at ρ → ±1."""
    return scale * (floor + 4e-15 / np.sqrt(np.maximum(1 - rho * rho, 1e-16)))


@pytest.mark.parametrize("kind", ["ntk", "rf"])
@pytest.mark.parametrize("seed", [0, 1])
def test_fused_kernels_match_the_unfused_formulas(kind, seed):
    X, Z = hard_inputs(seed)
    f = ntk.ntk if kind == "ntk" else ntk.rf_kernel
    for args in ((X, Z), (X, None)):
        ref = ref_kernel(*args, kind=kind)
        got = f(*args)
        rho = ref_parts(X, X if args[1] is None else Z)[4]
        assert got.dtype == np.float64 and got.shape == ref.shape
        assert np.all(np.abs(got - ref) <= tolerance(rho, np.abs(ref).max()))
        # block size does not matter
        np.testing.assert_allclose(f(*args, block=7), got, rtol=1e-13, atol=1e-14 * np.abs(ref).max())
        np.testing.assert_allclose(f(*args, block=16, workers=2), got, rtol=1e-13, atol=1e-14 * np.abs(ref).max())
    # the Gram's diagonal has ϑ = 0 exactly: Θ(x, x) = σ_b² + σ_w² k11 (NTK), σ_b² + σ_w² k11/2 (RF)
    k11 = SW2 * (X ** 2).sum(1) / X.shape[1] + SB2
    np.testing.assert_allclose(np.diag(f(X)), SB2 + SW2 * k11 * (1.0 if kind == "ntk" else 0.5), rtol=1e-14)


def test_float32_kernel_agrees_with_float64():
    X, Z = np.random.default_rng(3).uniform(0, 1, (200, 30)), np.random.default_rng(4).uniform(0, 1, (150, 30))
    K64, K32 = ntk.ntk(X, Z), ntk.ntk(X, Z, dtype=np.float32)
    assert K32.dtype == np.float32
    np.testing.assert_allclose(K32, K64, rtol=2e-5)
    with pytest.raises(ValueError, match="float64 or float32"):
        ntk.ntk(X, dtype=np.int64)


def test_partials_match_the_unfused_formulas_away_from_the_cusp():
    X, Z = hard_inputs(2)
    A12, A11 = ntk.ntk_partials(X, Z)
    R12, R11 = ref_partials(X, Z)
    rho = ref_parts(X, Z)[4]
    ok = np.abs(rho) < 1 - 1e-6     # at x = z (D = round-off) the kernel has a cusp and no gradient
    ok[:20, :20] &= ~np.eye(20, dtype=bool)
    for got, ref in ((A12, R12), (A11, R11)):
        scale = np.abs(ref[ok]).max()
        assert np.all(np.abs(got - ref)[ok] <= tolerance(rho[ok], scale, 1e-11))
    np.testing.assert_allclose(ntk.ntk_partials(X, Z, block=5)[0], A12, rtol=1e-12)


def test_zero_norm_rows_without_bias_get_the_continuous_limit():
    X = np.random.default_rng(5).standard_normal((6, 4))
    X[2] = 0.0
    K = ntk.ntk(X, sb2=0.0)
    assert np.all(np.isfinite(K))
    np.testing.assert_array_equal(K[2], 0.0)            # Θ(0, z) = 0 when σ_b = 0 (the limit x → 0)
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(K[np.ix_(keep, keep)], ref_kernel(X[keep], sb2=0.0), rtol=1e-12)
    with pytest.raises(ValueError, match="k11 > 0"):
        ntk.ntk_partials(X, X, sb2=0.0)


@pytest.mark.parametrize("bad", [
    lambda X: ntk.ntk(X, X[:, :3]),                        # mismatched dimensions
    lambda X: ntk.ntk(np.where(np.eye(5, 4) > 0, np.nan, X)),
    lambda X: ntk.rf_kernel(X, np.full((2, 4), np.inf)),
    lambda X: ntk.ntk(X, sw2=-1.0),                        # negative variance
    lambda X: ntk.ntk_partials(X, X, sb2=-0.1),
    lambda X: ntk.ntk(X[0]),                               # 1-d input
    lambda X: kernels.arccos_kernel(np.array([0.1, np.nan]), "relu"),
    lambda X: kernels.arccos_kernel(np.array([0.1]), "tanh"),
])
def test_bad_input_is_a_clear_value_error(bad):
    with pytest.raises(ValueError):
        bad(np.random.default_rng(0).standard_normal((5, 4)))


@pytest.mark.parametrize("act", ["relu", "abs"])
def test_fused_arccos_kernel_matches_the_formula_near_the_ends(act):
    rng = np.random.default_rng(6)
    r = np.concatenate([rng.uniform(-1.3, 1.3, 300_000), 1 - np.logspace(-17, -1, 40), -1 + np.logspace(-17, -1, 40)])
    rc = np.clip(r, -1, 1)
    s = np.sqrt(np.maximum(1 - rc * rc, 0))
    ref = (rc * (np.pi - np.arccos(rc)) + s) / (2 * np.pi) if act == "relu" else 2 / np.pi * (rc * np.arcsin(rc) + s)
    np.testing.assert_allclose(kernels.arccos_kernel(r, act), ref, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(kernels.arccos_kernel(r.reshape(40, -1)[:, ::2], act), ref.reshape(40, -1)[:, ::2],
                               rtol=1e-15, atol=1e-16)
    assert np.ndim(kernels.arccos_kernel(np.array(0.3), act)) == 0


def test_kernel_solve_matches_the_spectral_filters_and_refuses_singular_grams():
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 1, (80, 6))
    K, y = ntk.ntk(X), np.sign(rng.standard_normal(80))
    spec = spectral.spectrum(K, y)
    a = spectral.kernel_solve(K, y)
    np.testing.assert_allclose(a, spectral.coefficients(spec, np.ones(80)), rtol=1e-7, atol=1e-9 * np.abs(a).max())
    np.testing.assert_allclose(K @ a, y, atol=1e-8)
    g = 1e-3
    np.testing.assert_allclose(spectral.kernel_solve(K, np.c_[y, -y], g)[:, 1],
                               -spectral.coefficients(spec, spectral.ridge_filter(spec.lam, 80, g)), rtol=1e-9)
    lam, V = spectral.eigh(K)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(K), rtol=1e-10, atol=1e-12 * lam.max())
    np.testing.assert_allclose((V * lam) @ V.T, K, atol=1e-10 * lam.max())
    with pytest.raises(ValueError, match="not positive definite"):
        spectral.kernel_solve(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError):
        spectral.kernel_solve(K, y[:5])
    with pytest.raises(ValueError, match="non-finite"):
        spectral.kernel_solve(np.where(np.eye(80, k=3) > 0, np.nan, K), y)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_torch_takes_the_steps_of_pgd_with_the_numpy_oracle(norm):
    net = nets.init(5, 64, np.random.SeedSequence(8))
    X = np.random.default_rng(9).uniform(0, 1, (30, 5))
    y = np.sign(np.random.default_rng(10).standard_normal(30))
    ref = attacks.pgd(X, y, attacks.torch_grad(lambda x: nets.raw(net, x)), 0.1, 10, norm=norm)
    got = attacks.pgd_torch(lambda x: nets.raw(net, x), torch.from_numpy(X), torch.from_numpy(y), 0.1, 10, norm=norm)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-13)
    net32 = nets.init(5, 64, np.random.SeedSequence(8), dtype=torch.float32)
    got32 = attacks.pgd_torch(lambda x: nets.raw(net32, x), torch.from_numpy(X).float(), torch.from_numpy(y), 0.1, 10,
                              norm=norm)
    assert got32.dtype == torch.float32
    assert np.mean(np.abs(got32.numpy() - ref) < 1e-5) > 0.95   # float32: a few sign(∇) ties may flip
    with pytest.raises(ValueError):
        attacks.pgd_torch(lambda x: x.sum(1), X, y, 0.1)


def test_vectorised_acceptance_and_neighbour_search_match_the_point_by_point_versions():
    rng = np.random.default_rng(11)
    B = 60
    e, tq, p1, p2 = rng.choice([0.1, 0.3], B), np.full(B, 0.25), np.exp(rng.uniform(-2, 3, B)), rng.choice([0.5, 2.0], B)
    Xs = rng.normal(0, 1.5, (3, B))
    for i in range(20):  # genuine roots for a third of the columns
        L = T.solve_grid(e[i], tq[i], p1[i], p2[i])
        if not L.trivial:
            Xs[:, i] = np.log([float(L.alpha), float(L.t), float(L.kappa)])
    Xs[0, 55] = np.nan
    mask = T._acceptable_batch(Xs, e, tq, p1, p2)
    assert mask.tolist() == [T._acceptable(Xs[:, i], e[i], tq[i], p1[i], p2[i]) for i in range(B)]
    assert mask[:20].sum() >= 5
    group = np.unique(np.stack([e, tq, p2]), axis=1, return_inverse=True)[1].reshape(-1)
    done = rng.random(B) < 0.5
    idx = np.flatnonzero(~done)
    got = T._nearest_solved(idx, done, group, np.log(p1))
    for k, i in enumerate(idx):
        same = np.flatnonzero(done & (e == e[i]) & (tq == tq[i]) & (p2 == p2[i]))
        assert got[k] == (same[np.argmin(np.abs(np.log(p1[same] / p1[i])))] if same.size else -1)


@pytest.mark.slow
def test_benchmark_suite_runs_quick():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "run.py"), "--quick", "--threads", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "| ntk-features | analytic NTK Gram" in out.stdout and "GEMM peak" in out.stdout
