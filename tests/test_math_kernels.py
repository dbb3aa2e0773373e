"""rob.kernels and rob.theory.memorization against quadrature, Monte Carlo and the spec's numbers."""

import numpy as np
import pytest
from scipy import integrate

from rob import activations, data, features, kernels, solvers
from rob.theory import memorization as T


def _gauss(fn):
    """E[fn(g)] for g ~ N(0, 1) by adaptive quadrature, split at the kink t = 0."""
    dens = lambda t: fn(t) * np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
    return integrate.quad(dens, -np.inf, 0)[0] + integrate.quad(dens, 0, np.inf)[0]


def _kappa_quadrature(rho, name):
    """E[sigma(u) sigma(v)] for corr(u, v) = rho: outer quadrature over u, inner over the
    conditional law v | u ~ N(rho u, 1 - rho^2)."""
    s = activations.get(name).f
    r = np.sqrt(1 - rho**2)
    inner = lambda u: _gauss(lambda z: s(rho * u + r * z))
    return _gauss(lambda u: s(u) * inner(u))


@pytest.mark.parametrize("name", ["relu", "abs"])
@pytest.mark.parametrize("rho", [-0.9, -0.3, 0.0, 0.4, 0.95])
def test_arccos_kernel_matches_quadrature(name, rho):
    assert kernels.arccos_kernel(np.array(rho), name) == pytest.approx(_kappa_quadrature(rho, name), abs=1e-7)


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_kernel_derivative_and_constants(name):
    rho = np.linspace(-0.9, 0.9, 7)
    h = 1e-6
    fd = (kernels.arccos_kernel(rho + h, name) - kernels.arccos_kernel(rho - h, name)) / (2 * h)
    np.testing.assert_allclose(kernels.arccos_kernel_deriv(rho, name), fd, rtol=1e-6, atol=1e-8)
    c = kernels.constants(name)
    assert kernels.arccos_kernel(np.array(1.0), name) == pytest.approx(c.k1)
    assert kernels.arccos_kernel(np.array(0.0), name) == pytest.approx(c.k0)
    assert kernels.arccos_kernel_deriv(np.array(0.0), name) == pytest.approx(c.dk0)
    d2 = (kernels.arccos_kernel_deriv(np.array(h), name) - kernels.arccos_kernel_deriv(np.array(-h), name)) / (2 * h)
    assert d2 == pytest.approx(c.d2k0, rel=1e-5)
    act = activations.get(name)
    assert _gauss(lambda t: act.f(np.array(t))) == pytest.approx(c.mu0, rel=1e-8)
    assert _gauss(lambda t: act.df(np.array(t)) ** 2) == pytest.approx(c.dsig2, rel=1e-8)


def test_mean_gaussian_norm():
    assert kernels.mean_gaussian_norm(1) == pytest.approx(np.sqrt(2 / np.pi))
    assert kernels.mean_gaussian_norm(2) == pytest.approx(np.sqrt(np.pi / 2))
    g = np.random.default_rng(0).normal(size=(200000, 30))
    assert kernels.mean_gaussian_norm(30) == pytest.approx(np.linalg.norm(g, axis=1).mean(), rel=2e-3)


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_sphere_feature_covariance_matches_monte_carlo(name):
    rng = np.random.default_rng(1)
    d, k = 6, 4
    W = features.random_weights(k, d, rng)
    Z = features.rf_features(data.sphere(400000, d, rng), W, activations.get(name))
    mc = np.cov(Z, rowvar=False)
    exact = kernels.sphere_feature_covariance(W, name)
    np.testing.assert_allclose(exact, mc, atol=3e-3 * np.abs(exact).max())


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_certificate_bounds_every_interpolator(name):
    """L <= S^2 for the min-norm interpolator and for interpolators with null-space components."""
    rng = np.random.default_rng(2)
    d, k, n = 20, 60, 15
    act = activations.get(name)
    ds = data.sphere_regression(n, 20000, d, 1.0, rng)
    W = features.random_weights(k, d, rng)
    Z = features.rf_features(ds.X, W, act)
    c_hat = solvers.min_norm_lstsq(Z, ds.y)
    L = kernels.poincare_certificate(W, name, c_hat @ c_hat)
    null = np.linalg.svd(Z)[2][n:].T  # basis of the null space of Z
    for scale in (0.0, 1.0, 10.0):
        c = c_hat + scale * null @ rng.normal(size=null.shape[1])
        assert np.max(np.abs(Z @ c - ds.y)) < 1e-9
        S2 = np.mean(np.sum(features.rf_input_grad(ds.X_test, W, c, act) ** 2, axis=1))
        assert 0 < L <= S2


def test_theory_constants_match_the_spec():
    assert T.A("relu", np.inf) == pytest.approx(0.5380, abs=1e-4)
    assert T.A("relu", 1.0) - T.A("relu", np.inf) == pytest.approx(0.218, abs=1e-3)
    assert T.A("abs", 1.0) == pytest.approx(3.069, abs=1e-3)
    assert T.B("relu") == pytest.approx(1.4669, abs=1e-4)
    assert T.B("abs") == pytest.approx(2.7519, abs=1e-4)
    assert T.certificate_constant("relu") == pytest.approx(0.2665, abs=1e-4)
    assert T.certificate_constant("abs") == pytest.approx(1.0)
    assert kernels.constants("relu").delta == pytest.approx(0.3408, abs=1e-4)
    assert kernels.constants("abs").delta == pytest.approx(0.3634, abs=1e-4)
    assert T.ntk_abs_min_norm_energy(40, 10) == pytest.approx(0.1 + 4 / (np.pi**2 * 40))
    with pytest.raises(ValueError):
        kernels.constants("erf")
