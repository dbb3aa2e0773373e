"""rob.kernel_interp: the infinite-width RF/NTK kernels, the min-norm kernel interpolant and its
closed-form gradient; the infinite-width sweeps of the memorization chapter on tiny grids."""

import numpy as np
import pytest

from rob import activations, data, features, kernel_interp as KI, robustness, solvers
from rob.experiments import memorization as M
from rob.theory import memorization as T

CASES = [("rf", "relu"), ("rf", "abs"), ("ntk", "relu"), ("ntk", "abs")]


@pytest.mark.parametrize("model,act", CASES)
def test_interpolates_and_gradient_matches_finite_differences(model, act):
    rng = np.random.default_rng([3, len(model), len(act)])
    X, y = data.sphere(25, 30, rng), rng.standard_normal(25)
    f = KI.fit_interpolant(X, y, model, act)
    np.testing.assert_allclose(KI.predict(f, X), y, atol=1e-10)
    P = data.sphere(8, 30, rng) * rng.uniform(0.5, 2.0, (8, 1))   # off the sphere: homogeneous extension
    h, E = 1e-6, np.eye(30) * 1e-6
    fd = np.stack([(KI.predict(f, P + E[l]) - KI.predict(f, P - E[l])) / (2 * h) for l in range(30)], axis=1)
    g = KI.input_grad(f, P)
    assert np.max(np.abs(g - fd)) / np.max(np.abs(g)) < 1e-6
    # tangential part: orthogonal to x, and ‖∇f‖² = ‖∇_S f‖² + f² on the sphere
    U = P / np.linalg.norm(P, axis=1, keepdims=True)
    gt = KI.input_grad(f, U, radial=False)
    np.testing.assert_allclose(np.einsum("ij,ij->i", gt, U), 0, atol=1e-10)
    np.testing.assert_allclose((g**2).sum(1), (gt**2).sum(1) + KI.predict(f, U) ** 2, rtol=1e-10)


def test_kernel_derivative_matches_finite_differences():
    rho = np.linspace(-0.95, 0.95, 41)
    for model, act in CASES:
        fd = (KI.dot_kernel(rho + 1e-6, model, act) - KI.dot_kernel(rho - 1e-6, model, act)) / 2e-6
        np.testing.assert_allclose(KI.dot_kernel_deriv(rho, model, act), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("model,act", CASES)
def test_limit_kernel_matches_monte_carlo_features(model, act):
    """φ(X)φ(X)ᵀ → the limit Gram, with error shrinking like 1/√k (4x width: about half the error)."""
    rng = np.random.default_rng(5)
    d = 20
    X = data.sphere(12, d, rng) * rng.uniform(0.5, 1.5, (12, 1))
    G = KI.limit_gram(X, X, model, act)
    sigma = activations.get(act)
    errs = []
    for k in (500, 8000):
        es = []
        for r in range(3):
            Z = features.features(model, X, features.random_weights(k, d, np.random.default_rng([k, r])), sigma)
            es.append(np.abs(Z @ Z.T - G).max())
        errs.append(np.mean(es) / np.abs(G).max())
    assert errs[1] < 0.06 and errs[1] < 0.5 * errs[0]


def test_finite_width_interpolator_converges_to_the_kernel_interpolant():
    rng = np.random.default_rng(11)
    d, n = 30, 10
    ds = data.sphere_regression(n, 300, d, 1.0, rng)
    f = KI.fit_interpolant(ds.X, ds.y, "rf", "relu")
    g_inf = KI.input_grad(f, ds.X_test)
    sigma = activations.get("relu")
    dist = []
    for k in (200, 3200):
        W = features.random_weights(k, d, np.random.default_rng(k))
        c = solvers.fit(features.rf_features(ds.X, W, sigma), ds.y)
        g = features.rf_input_grad(ds.X_test, W, c, sigma)
        dist.append(np.mean(((g - g_inf) ** 2).sum(1)) / np.mean((g_inf**2).sum(1)))
    assert dist[1] < 0.25 * dist[0] and dist[1] < 0.1


def test_leading_order_energy_for_small_n():
    """n ≪ d: 𝔖²/‖y − ȳ‖² → A_σ (RF ReLU), 𝔖²/‖y‖² → 1/4 + 4/(π²d) (NTK ReLU), 16/(π²d) (NTK abs)."""
    d, n = 400, 8
    for model, act in (("rf", "relu"), ("ntk", "relu"), ("ntk", "abs")):
        r = []
        for rep in range(6):
            ds = data.sphere_regression(n, 500, d, 1.0, np.random.default_rng([rep, 9]))
            f = KI.fit_interpolant(ds.X, ds.y, model, act)
            S2 = robustness.sobolev_seminorm(KI.input_grad(f, ds.X_test)).energy
            r.append(S2 / (np.sum((ds.y - ds.y.mean()) ** 2) if model == "rf" else ds.y @ ds.y))
        assert 0.85 < np.mean(r) / T.kernel_floor(model, act, d) < 1.2, (model, act)
    assert T.kernel_floor("ntk", "relu", 1e12) == pytest.approx(0.25)
    assert T.kernel_floor("rf", "relu", 100) == pytest.approx(T.A("relu", 100))


def test_marchenko_pastur_formula():
    assert T.marchenko_pastur_mean(np.ones_like, 0.3) == pytest.approx(1.0, abs=1e-6)
    assert T.marchenko_pastur_mean(lambda g: g, 0.3) == pytest.approx(1.0, abs=1e-6)          # mean 1
    assert T.marchenko_pastur_mean(lambda g: g * g, 0.3) == pytest.approx(1.3, abs=1e-6)      # 1 + γ
    assert T.marchenko_pastur_mean(np.ones_like, 2.0) == pytest.approx(0.5, abs=1e-6)         # mass 1/γ off 0
    assert T.kernel_energy("rf", "relu", 100, 1e-6) == pytest.approx(T.kernel_floor("rf", "relu", 100), rel=1e-3)
    assert T.kernel_energy("ntk", "relu", 100, 0.5) / T.kernel_floor("ntk", "relu", 100) == pytest.approx(0.853, abs=0.01)
    with pytest.raises(ValueError):
        T.kernel_energy("cnn", "relu", 100, 0.5)
    with pytest.raises(ValueError):
        KI.fit_interpolant(np.eye(3), np.ones(3), "rf", "erf")


def test_infinite_sweeps_are_deterministic_and_record_checks():
    from rob.book.checks import Report

    sc = M.KernelScaling((("rf", "relu"), ("rf", "abs")), (40, 80, 160), 0.5, 1.0, 3, 200)
    cv = M.KernelConvergence("relu", 40, (5, 10), (80, 320, 1280), 0.2, 3, 200)
    a1, b = M.kernel_scaling_sweep(sc, 2), M.kernel_convergence_sweep(cv, 2)
    a2 = M.kernel_scaling_sweep(M.replace(sc, ds=(80,)), 2)
    np.testing.assert_allclose(a1[a1.d == 80].S.to_numpy(), a2.S.to_numpy())
    assert set(b.k) == {80.0, 320.0, 1280.0, np.inf} and (b[b.k == np.inf].grad_dist2 == 0).all()
    report = Report("test", {})
    quote = M.record_kernel_checks(report, M.InfiniteConfig(sc, cv), a1, b)
    assert 0.3 < quote["mem-inf-slope-rf-relu"] < 0.7 and abs(quote["mem-inf-slope-rf-abs"]) < 0.2
    assert -1.3 < quote["mem-inf-gd-slope"] < -0.7
    assert report.passed
    assert M.infinite_config("paper").scaling.n_test == 2000
    with pytest.raises(ValueError, match="scale"):
        M.infinite_config("huge")
