"""rob.solvers and rob.robustness against independent computations."""

import numpy as np
import pytest
import scipy.linalg as sla
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


@pytest.mark.parametrize("shape", [(20, 50), (50, 50), (80, 30)])
def test_qr_path_matches_lapack_gelsy(shape):
    rng = np.random.default_rng(1)
    Z, y = rng.normal(size=shape), rng.normal(size=shape[0])
    ref = sla.lstsq(Z, y, lapack_driver="gelsy")[0]
    np.testing.assert_allclose(solvers._min_norm_qr(Z, y, "cpu"), ref, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape", [(5, 40), (40, 12)])
def test_rank_deficient_falls_back_to_the_pseudoinverse(shape):
    # wide: a repeated training point; tall: a zero column (a ReLU feature no point activates) and a
    # repeated column. Either way QR's R is singular and gelsy takes over.
    rng = np.random.default_rng(3)
    Z, y = rng.normal(size=shape), rng.normal(size=shape[0])
    if shape[0] < shape[1]:
        Z[1], y[1] = Z[0], y[0]
    else:
        Z[:, 0] = 0.0
        Z[:, 2] = Z[:, 1]
    assert solvers._min_norm_qr(Z, y, "cpu") is None
    np.testing.assert_allclose(solvers.min_norm_lstsq(Z, y), np.linalg.pinv(Z) @ y, rtol=1e-8, atol=1e-10)


def test_wide_relu_features_with_dead_columns():
    # 5 points, 1280 ReLU features, some never active: torch's MKL gelsy returns rank 0 on such a
    # matrix (seen with torch 2.13); the solver must still interpolate with the min-norm solution
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 40))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Z = np.maximum(X @ rng.normal(size=(40, 1280)) / np.sqrt(40), 0.0) / np.sqrt(1280)
    Z[:, :3] = 0.0
    y = rng.normal(size=5)
    c = solvers.min_norm_lstsq(Z, y)
    np.testing.assert_allclose(c, np.linalg.pinv(Z) @ y, rtol=1e-8, atol=1e-10)
    assert np.max(np.abs(Z @ c - y)) < 1e-12


@pytest.mark.parametrize("shape", [(20, 50), (80, 30)])
def test_fit_path_equals_one_fit_per_lambda(shape):
    rng = np.random.default_rng(5)
    Z, y = rng.normal(size=shape) * 0.1, rng.normal(size=shape[0])
    lams = (0.0, 1e-5, 1e-3, 1e-1)
    C = solvers.fit_path(Z, y, lams)
    assert C.shape == (shape[1], len(lams))
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(C[:, i], solvers.fit(Z, y, lam), rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError):
        solvers.fit_path(Z, y, (0.0, -1.0))


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


@pytest.mark.parametrize("shape", [(20, 50), (80, 30)])
def test_min_norm_several_right_hand_sides(shape):
    rng = np.random.default_rng(6)
    Z, Y = rng.normal(size=shape), rng.normal(size=(shape[0], 3))
    C = solvers.min_norm_lstsq(Z, Y)
    assert C.shape == (shape[1], 3)
    for j in range(3):
        np.testing.assert_allclose(C[:, j], solvers.min_norm_lstsq(Z, Y[:, j]), rtol=1e-10, atol=1e-12)
