"""rob pieces of the regimes chapter, each against an independent computation: finite differences,
autograd, brute-force least squares, Monte Carlo, quadrature and Stein's identity."""

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss
from math import factorial, sqrt
from scipy.stats import norm

from rob import activations, data, features, hermite, quadratic, regimes
from rob.theory import regimes as T


# -- activations and Hermite coefficients --------------------------------------------------------

@pytest.mark.parametrize("name", ["quad", "elu"])
def test_new_activation_derivatives_match_finite_differences(name):
    act = activations.get(name)
    t = np.array([-2.3, -0.7, -0.1, 0.3, 1.1, 2.9])
    h = 1e-6
    np.testing.assert_allclose(act.df(t), (act.f(t + h) - act.f(t - h)) / (2 * h), atol=1e-8)
    np.testing.assert_allclose(act.d2f(t), (act.df(t + h) - act.df(t - h)) / (2 * h), atol=1e-6)


def test_elu_hermite_coefficients_match_stein_closed_forms():
    # E[e^g 1{g<0}] = e^{1/2} Φ(−1); Stein: μ_k = E σ^(k)(g)/√k!, with the jump of σ'' at 0 in μ_3
    a = np.exp(0.5) * norm.cdf(-1.0)
    phi0 = 1 / np.sqrt(2 * np.pi)
    expected = [phi0 + a - 0.5, 0.5 + a, a / sqrt(2), (a - phi0) / sqrt(6)]
    np.testing.assert_allclose(hermite.coefficients(activations.get("elu"), 3), expected, atol=1e-10)
    np.testing.assert_allclose(hermite.moments(activations.get("elu")), T.elu_moments(), atol=1e-10)


def test_quad_hermite_coefficients_are_exact():
    mu = hermite.coefficients(activations.get("quad"), 4)
    np.testing.assert_allclose(mu, [1, 0, np.sqrt(2), 0, 0], atol=1e-11)
    np.testing.assert_allclose(hermite.moments(activations.get("quad")), (3.0, 4.0), atol=1e-10)


def test_smooth_coefficients_match_gauss_hermite_and_parseval():
    act = activations.get("tanh")
    t, w = hermegauss(120)
    w = w / w.sum()
    from scipy.special import eval_hermitenorm
    gh = [np.sum(w * act.f(t) * eval_hermitenorm(k, t)) / sqrt(factorial(k)) for k in range(12)]
    mu = hermite.coefficients(act, 11)
    np.testing.assert_allclose(mu, gh, atol=1e-10)
    e2, ed2 = hermite.moments(act)
    mu = hermite.coefficients(act, 40)
    assert abs(np.sum(mu**2) - e2) < 1e-7 and abs(np.sum(np.arange(41) * mu**2) - ed2) < 1e-5


# -- quadratic forms and targets -------------------------------------------------------------------

def test_quadratic_form_moments_match_monte_carlo():
    rng = np.random.default_rng(1)
    d, n = 5, 400_000
    G = rng.standard_normal((d, d))
    M, b, c = (G + G.T) / 4, rng.standard_normal(d), 0.3
    X = data.gaussian(n, d, rng)
    q = quadratic.value(X, M, c) + X @ b
    g = quadratic.grad(X, M) + b
    se = lambda v: v.std() / np.sqrt(n)
    assert abs(q.var() - quadratic.variance(M, b)) < 5 * se((q - q.mean()) ** 2)
    sq = np.sum(g * g, axis=1)
    assert abs(sq.mean() - quadratic.dirichlet_energy(M, b)) < 5 * se(sq)
    h = 1e-6
    e0 = np.eye(d)[0]
    fd = (quadratic.value(X[:3] + h * e0, M) - quadratic.value(X[:3] - h * e0, M)) / (2 * h)
    np.testing.assert_allclose(fd, quadratic.grad(X[:3], M)[:, 0], atol=1e-6)


def test_targets_are_normalised():
    rng = np.random.default_rng(2)
    for B in (quadratic.goe_traceless(30, rng), quadratic.planted(30, 4, rng), quadratic.planted(30, 5, rng)):
        assert abs(np.trace(B)) < 1e-12 and abs(quadratic.variance(B) - 1) < 1e-12
        assert abs(quadratic.dirichlet_energy(B) - 2) < 1e-12
    lam = np.linalg.eigvalsh(quadratic.planted(30, 5, rng))
    assert np.sum(lam > 1e-10) == 3 and np.sum(lam < -1e-10) == 2  # rank 5, alternating signs


# -- NT ---------------------------------------------------------------------------------------------

def _draw(seed, d, m):
    rng = np.random.default_rng(seed)
    return rng, quadratic.goe_traceless(d, rng), data.sphere(m, d, rng)


def _tangent_projection_brute_force(W, B):
    """Frobenius projection of B onto span{sym(e_k w_jᵀ)} by least squares in symmetric coordinates."""
    m, d = W.shape
    cols = []
    for j in range(m):
        for k in range(d):
            E = np.outer(np.eye(d)[k], W[j])
            cols.append(regimes.sym_coordinates((E + E.T) / 2))
    A = np.array(cols).T
    coef = np.linalg.lstsq(A, regimes.sym_coordinates(B), rcond=None)[0]
    return A @ coef


def test_nt_projection_matches_brute_force_and_nested():
    _, B, W = _draw(3, 7, 9)
    for m in (1, 3, 6):
        Bh = regimes.nt_projection(W[:m], B)
        np.testing.assert_allclose(regimes.sym_coordinates(Bh), _tangent_projection_brute_force(W[:m], B), atol=1e-12)
    ms = [1, 3, 6, 7, 9]
    nested = regimes.nt_projection_nested(W, B, ms)
    direct = [quadratic.normalised_measures(regimes.nt_projection(W[:m], B), B) for m in ms]
    np.testing.assert_allclose(nested, direct, atol=1e-12)
    assert nested[-1][0] < 1e-25


def test_nt_exact_mean_matches_monte_carlo_over_weights():
    rng = np.random.default_rng(4)
    d, m, n = 8, 3, 4000
    B = quadratic.goe_traceless(d, rng)
    eps = np.array([regimes.nt_projection_nested(data.sphere(m, d, rng), B, [m])[0][0] for _ in range(n)])
    assert abs(eps.mean() - T.nt_exact_mean(d, m)) < 5 * eps.std() / np.sqrt(n)
    assert T.nt_exact_mean(d, 0) == 1.0 and T.nt_exact_mean(d, d) == 0.0
    assert abs(T.nt_exact_mean(4000, 2000) - T.nt_limit(0.5)) < 1e-3


def test_realised_nt_network_is_the_projection():
    d, m = 9, 4
    rng, B, W = _draw(5, d, m)
    A, c = regimes.realise_nt_network(W, B)
    Bh = regimes.nt_projection(W, B)
    X = data.gaussian(50, d, rng)
    quad = activations.get("quad")
    np.testing.assert_allclose(regimes.nt_network_output(X, W, A, c, quad), quadratic.value(X, Bh, c), atol=1e-12)
    np.testing.assert_allclose(features.ntk_input_grad(X, W, A.ravel() * np.sqrt(m), quad), quadratic.grad(X, Bh),
                               atol=1e-12)
    assert abs(c + np.trace(Bh) - np.trace(B)) < 1e-12  # the fitted constant


# -- RF ---------------------------------------------------------------------------------------------

def test_rf_routes_agree_with_brute_force():
    _, B, W = _draw(6, 6, 25)
    for m in (3, 10, 18):
        Bh, _ = regimes.rf_projection(W[:m], B)
        A = regimes.rank_one_coordinates(W[:m])
        b = regimes.sym_coordinates(B)
        brute = A @ np.linalg.lstsq(A, b, rcond=None)[0]
        np.testing.assert_allclose(regimes.sym_coordinates(Bh), brute, atol=1e-10)
        qr = regimes.rf_projection_qr(W[:m], B)
        e, s = quadratic.normalised_measures(Bh, B)
        assert abs(qr.eps - e) < 1e-10 and abs(qr.S2 - s) < 1e-10 and qr.dim == min(m, 21)
    np.testing.assert_allclose(regimes.rf_projection_nested(W, B, [3, 10, 18]),
                               [quadratic.normalised_measures(regimes.rf_projection(W[:m], B)[0], B) for m in (3, 10, 18)],
                               atol=1e-10)
    # beyond D = 21 the Gram matrix is singular: the Cholesky route falls back to least squares
    np.testing.assert_allclose(regimes.rf_projection_nested(W, B, [25]), [(0.0, 1.0)], atol=1e-9)
    full = regimes.rf_projection_qr(W, B)
    assert full.dim == 21 and abs(full.S2 - 1) < 1e-12 and full.eps < 1e-24


def test_rf_conditional_mean_matches_monte_carlo_over_targets():
    rng = np.random.default_rng(7)
    d, m, n = 6, 8, 3000
    W = data.sphere(m, d, rng)
    s2 = np.array([regimes.rf_projection_qr(W, quadratic.goe_traceless(d, rng)).S2 for _ in range(n)])
    r = regimes.rf_projection_qr(W, quadratic.goe_traceless(d, rng))
    assert abs(s2.mean() - r.cond_mean) < 5 * s2.std() / np.sqrt(n)
    lo, hi = T.rf_bracket(m, d)
    assert lo <= r.cond_mean <= hi


# -- NN ---------------------------------------------------------------------------------------------

def test_nn_truncation_is_eckart_young():
    rng = np.random.default_rng(8)
    d, m = 12, 5
    B = quadratic.goe_traceless(d, rng)
    lam = np.linalg.eigvalsh(B)
    Bh = regimes.nn_truncation(B, m)
    kept = np.sort(np.abs(lam))[::-1][:m]
    assert np.linalg.matrix_rank(Bh, tol=1e-10) == m
    assert abs(np.sum((B - Bh) ** 2) - (np.sum(lam**2) - np.sum(kept**2))) < 1e-12
    # no random rank-m matrix does better
    for _ in range(50):
        U = np.linalg.qr(rng.standard_normal((d, m)))[0]
        assert np.sum((B - U @ U.T @ B @ U @ U.T) ** 2) >= np.sum((B - Bh) ** 2) - 1e-12
    lb = np.linalg.eigvalsh(regimes.nn_truncation(B, m, balanced=True))
    assert np.sum(lb > 1e-12) <= 3 and np.sum(lb < -1e-12) <= 2


def test_nn_gradient_step_matches_autograd_and_descent_reaches_truncation():
    rng = np.random.default_rng(9)
    d, m = 10, 4
    B = quadratic.goe_traceless(d, rng)
    # one step from the same initialisation against autograd of L(W) = 2‖Wᵀdiag(a)W − B‖²
    W0 = 0.3 * np.random.default_rng(11).standard_normal((m, d))
    M1 = regimes.nn_gradient_descent(B, m, 1, 0.01, 0.3, np.random.default_rng(11))
    W = torch.tensor(W0, requires_grad=True)
    a = torch.tensor(regimes.alternating_signs(m))[:, None]
    loss = 2 * torch.sum((W.T @ (a * W) - torch.tensor(B)) ** 2)
    loss.backward()
    W1 = (W - 0.01 * W.grad).detach()
    np.testing.assert_allclose(M1, (W1.T @ (a * W1)).numpy(), atol=1e-12)
    M = regimes.nn_gradient_descent(B, m, 6000, 0.05, 1e-3, rng)
    e, s = quadratic.normalised_measures(M, B)
    et, _ = quadratic.normalised_measures(regimes.nn_truncation(B, m, balanced=True), B)
    assert abs(e - et) < 1e-6 and abs(e + s - 1) < 1e-6


def test_f_sc_matches_quadrature_and_large_goe():
    for p in (0.1, 0.25, 0.5, 0.9):
        assert abs(T.f_sc(p) - T.f_sc_quadrature(p)) < 1e-10
        assert T.f_sc(p) < T.nt_limit(p)
    assert T.f_sc(1.0) == 0.0 and T.f_sc(0.0) == 1.0
    rng = np.random.default_rng(10)
    B = quadratic.goe_traceless(400, rng)
    e, _ = quadratic.normalised_measures(regimes.nn_truncation(B, 200), B)
    assert abs(e - T.f_sc(0.5)) < 0.01


# -- lazy regime by least squares --------------------------------------------------------------------

def test_lazy_projection_with_quadratic_activation_is_the_nt_closed_form():
    rng = np.random.default_rng(12)
    d, m = 6, 3
    B = quadratic.goe_traceless(d, rng)
    W = data.sphere(m, d, rng)
    fit = regimes.lazy_projection(activations.get("quad"), W, B, 100 * (1 + m * d), 40_000, rng)
    e, s = quadratic.normalised_measures(regimes.nt_projection(W, B), B)
    assert abs(fit.eps_nt / fit.V - e) < 0.03 and abs(fit.S2_nt / fit.S2_star - s) < 0.03
    assert fit.e1 < 1e-20 and fit.s1 < 1e-20
    # init-point Gram: diagonal mean equals E σ'(g)² = 4 within Monte-Carlo error
    assert abs(np.trace(fit.init_grad_gram) / m - 4.0) < 0.15


def test_lazy_projection_elu_slopes_and_draws():
    rng = np.random.default_rng(13)
    d, m = 6, 3
    fit = regimes.lazy_projection(activations.get("elu"), data.sphere(m, d, rng), quadratic.goe_traceless(d, rng),
                                  100 * (1 + m * d), 20_000, rng)
    assert fit.e1 > 0 and fit.s1 > fit.e1
    Z = rng.standard_normal((5, m))
    explicit = [np.r_[1, z] @ fit.err_gram @ np.r_[1, z] for z in Z]
    np.testing.assert_allclose(regimes.quadratic_draws(fit.err_gram, Z), explicit, rtol=1e-12)
    np.testing.assert_allclose(regimes.quadratic_draws(fit.init_grad_gram, Z, lead=False),
                               [z @ fit.init_grad_gram @ z for z in Z], rtol=1e-12)


def test_init_point_and_bound():
    e2, ed2 = T.elu_moments()
    x, y = T.init_point(2.0, e2, ed2)
    assert abs(x - 3.5798) < 1e-3 and abs(y - 2.6724 / 2) < 1e-3
    assert T.lower_bound(0.25) == 0.5625


@pytest.mark.parametrize("balanced", [False, True])
def test_nn_truncation_measures_from_eigenvalues(balanced):
    _, B, _ = _draw(5, 9, 4)
    lam = np.linalg.eigvalsh(B)
    for m in (1, 2, 5, 9):
        direct = quadratic.normalised_measures(regimes.nn_truncation(B, m, balanced=balanced), B)
        np.testing.assert_allclose(regimes.nn_truncation_measures(lam, m, balanced), direct, rtol=1e-10, atol=1e-14)
