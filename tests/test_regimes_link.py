"""The regimes chapter's further sections: the equivalent ridge (two routes, its limits and its
Marchenko–Pastur average), the fast lazy least squares, and the deterministic equivalent of the
worst-case change."""

import numpy as np
import pytest
from scipy.stats import norm

from rob import activations, data, quadratic, regimes, trust_region
from rob.theory import regimes as T


def test_ridge_constants_of_elu_and_quad():
    rc = regimes.ridge_constants(activations.get("elu"))
    e2, ed2 = T.elu_moments()
    edd2 = np.e**2 * norm.cdf(-2.0)                              # E σ''(g)² = E[e^{2g}1{g<0}]
    assert abs(rc.err3 - (ed2 - rc.mu1**2 - 2 * rc.mu2**2)) < 1e-10
    assert abs(rc.grad3 - (edd2 + ed2 - rc.mu1**2 - 4 * rc.mu2**2)) < 1e-9
    assert abs(rc.kappa - 0.28758) < 1e-4 and abs(rc.theta - 6.0657) < 1e-3
    # c_k of tσ'(t) from the μ's: c₁ = μ₁ + √6 μ₃, c₂ = 2μ₂ + √12 μ₄
    from rob import hermite
    mu = hermite.coefficients(activations.get("elu"), 4)
    assert abs(rc.c1 - (mu[1] + np.sqrt(6) * mu[3])) < 1e-9 and abs(rc.c2 - (2 * mu[2] + np.sqrt(12) * mu[4])) < 1e-9
    q = regimes.ridge_constants(activations.get("quad"))
    assert abs(q.kappa) < 1e-12 and abs(q.mu2 - np.sqrt(2)) < 1e-10 and abs(q.rad_err3) < 1e-12


@pytest.mark.parametrize("m,d", [(3, 8), (8, 8), (11, 7)])
def test_equivalent_ridge_closed_form_matches_the_dense_least_squares(m, d):
    rng = np.random.default_rng(m)
    rc = regimes.ridge_constants(activations.get("elu"))
    W, B = data.sphere(m, d, rng), quadratic.goe_traceless(d, rng)
    closed = regimes.equivalent_ridge(W, B, rc.kappa, rc.theta)
    dense = regimes.lazy_chaos_model(W, B, rc, chaos1=False, radial=False)
    np.testing.assert_allclose(closed, dense, atol=1e-10)
    # κ = 0 is the exact quadratic NT projection; θ = 2 puts the model on the line ε/V + S²/S⋆² = 1
    np.testing.assert_allclose(regimes.equivalent_ridge(W, B, 0.0, 6.0),
                               quadratic.normalised_measures(regimes.nt_projection(W, B), B), atol=1e-12)
    e, s = regimes.equivalent_ridge(W, B, rc.kappa, 2.0)
    assert abs(e + s - 1) < 1e-12
    e, s = closed
    assert e + s > 1 + 1e-3                                      # θ > 2: strictly above the line
    # the refined model keeps the linear part, which costs: more error than the ridge
    assert regimes.lazy_chaos_model(W, B, rc)[0] > e


def test_marchenko_pastur_nodes_and_the_limit_of_the_ridge():
    for psi in (0.25, 1.0, 1.5):
        lam, w = T.mp_nodes(psi)
        mean = 1.0 if psi <= 1 else psi
        assert abs(w @ lam - mean) < 1e-10
        assert abs(w @ lam**2 - (1 + psi if psi <= 1 else psi * (psi + 1))) < 1e-8
    assert np.allclose(T.equivalent_ridge_limit(0.4, 0.0, 5.0), (0.36, 0.64), atol=1e-12)
    rng = np.random.default_rng(7)
    d = 240
    for psi in (0.5, 1.5):
        m = int(psi * d)
        vals = np.mean([regimes.equivalent_ridge(data.sphere(m, d, rng), quadratic.goe_traceless(d, rng), 0.29, 6.07)
                        for _ in range(2)], axis=0)
        np.testing.assert_allclose(vals, T.equivalent_ridge_limit(psi, 0.29, 6.07), atol=0.01)


def test_fast_lazy_least_squares_is_the_same_estimator():
    act = activations.get("elu")
    rng = np.random.default_rng(8)
    W, B = data.sphere(3, 6, rng), quadratic.goe_traceless(6, rng)
    st = rng.bit_generator.state
    fit = regimes.lazy_projection(act, W, B, 3000, 2000, rng)
    rng.bit_generator.state = st
    e, s = regimes.lazy_nt_measures(act, W, B, 3000, 2000, rng, block=700)
    assert abs(e - fit.eps_nt / fit.V) < 1e-9 and abs(s - fit.S2_nt / fit.S2_star) < 1e-9
    # σ = t²: the Gram matrix is singular; the fallback gives the exact NT projection up to sampling error
    rng = np.random.default_rng(9)
    e, s = regimes.lazy_nt_measures(activations.get("quad"), W, B, 20_000, 20_000, rng)
    ex = quadratic.normalised_measures(regimes.nt_projection(W, B), B)
    assert abs(e - ex[0]) < 0.03 and abs(s - ex[1]) < 0.05


def test_deterministic_equivalent_of_the_worst_change():
    rng = np.random.default_rng(10)
    d = 300
    B = quadratic.goe_traceless(d, rng)
    a = np.linalg.eigvalsh(B)
    S = np.sqrt(quadratic.dirichlet_energy(B))
    assert abs(T.worst_change_equivalent(a, 1e-4) / 1e-4 - S) < 1e-3 * S       # r → 0: the energy prediction
    X = rng.standard_normal((200, d))
    for rr in (0.05, 0.5):
        r = rr * np.sqrt(d)
        D = trust_region.worst_change(B, quadratic.grad(X, B), [r]).value[0]
        assert abs(np.sqrt(np.mean(D**2)) / T.worst_change_equivalent(a, r) - 1) < 0.03
    # a negative semi-definite form with an interior maximum of the decrease side
    assert T.worst_change_equivalent(-np.abs(a), 1e3) > 0
