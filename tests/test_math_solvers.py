"""rob.solvers and rob.robustness against independent computations."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from rob import robustness, solvers


@pytest.mark.parametrize("shape", [(20, 50), (50, 50), (80, 30)])
def test_min_norm_matches_pseudoinverse(shape):
    rng = np.random.default_rng(0)
    Z, y = rng.normal(size=shape), rng.normal(size=shape[0])
    c = solvers.min_norm_lstsq(Z, y)
    np.testing.assert_allclose(c, np.linalg.pinv(Z) @ y, rtol=1e-8, atol=1e-10)
    if shape[0] <= shape[1]:
        assert np.max(np.abs(Z @ c - y)) < 1e-10  # interpolates


@pytest.mark.parametrize("shape", [(20, 50), (80, 30)])
def test_torch_qr_path_matches_lapack(shape):
    rng = np.random.default_rng(1)
    Z, y = rng.normal(size=shape), rng.normal(size=shape[0])
    np.testing.assert_allclose(solvers._min_norm_qr_torch(Z, y, "cpu"), solvers.min_norm_lstsq(Z, y), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape", [(20, 50), (80, 30)])
def test_ridge_matches_sklearn_with_lambda_n_convention(shape):
    rng = np.random.default_rng(2)
    Z, y = rng.normal(size=shape) * 0.1, rng.normal(size=shape[0])
    lam = 1e-2
    ref = Ridge(alpha=lam * shape[0], fit_intercept=False, solver="svd").fit(Z, y).coef_
    np.testing.assert_allclose(solvers.ridge(Z, y, lam), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(solvers.fit(Z, y, lam), ref, rtol=1e-9, atol=1e-12)


def test_ridge_rejects_zero_lambda():
    with pytest.raises(ValueError):
        solvers.ridge(np.eye(3), np.ones(3), 0.0)


def test_sobolev_of_a_linear_function_is_its_slope_norm():
    a = np.array([3.0, -4.0])
    est = robustness.sobolev_seminorm(np.tile(a, (100, 1)))
    assert est.value == pytest.approx(5.0) and est.energy == pytest.approx(25.0)
    assert est.energy_se == pytest.approx(0.0, abs=1e-12)


def test_sobolev_standard_error_covers_the_truth():
    # f(x) = x1^2 / 2 on standard Gaussians: E|grad f|^2 = E x1^2 = 1
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(200):
        x = rng.normal(size=(400, 3))
        g = np.zeros_like(x)
        g[:, 0] = x[:, 0]
        est = robustness.sobolev_seminorm(g)
        hits += abs(est.energy - 1.0) <= 2 * est.energy_se
    assert 0.9 <= hits / 200 <= 0.99
