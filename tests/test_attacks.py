"""rob.attacks: critical size by grid + bisection against a dense scan; PGD sanity."""

import numpy as np

from rob import attacks


def test_critical_size_matches_dense_scan():
    rng = np.random.default_rng(0)
    n, d, m = 40, 6, 8
    X, W, b, v = rng.standard_normal((n, d)), rng.standard_normal((m, d)), rng.standard_normal(m), rng.standard_normal(m)
    y = np.sign(np.maximum(X @ W.T + b, 0) @ v)
    s = rng.standard_normal(d)
    U = y[:, None] * s[None, :]
    margin = attacks.two_layer_margin(X, y, W, b, v, U)
    rank_one = attacks.two_layer_margin(X, y, W, b, v, (y, s))  # the same U = y sᵀ, never formed
    c = rng.random(n) * 3
    np.testing.assert_allclose(rank_one(c), margin(c), rtol=0, atol=1e-12)
    cstar, M = attacks.critical_size(margin, n, np.linspace(0, 3, 61))
    dense = np.linspace(0, 3, 30001)
    for i in range(n):
        vals = y[i] * (np.maximum((X[i] - dense[:, None] * U[i]) @ W.T + b, 0) @ v)
        hit = np.flatnonzero(vals <= 0)
        if hit.size == 0:
            assert np.isinf(cstar[i])
        else:
            assert abs(cstar[i] - dense[hit[0]]) <= 2e-4 or cstar[i] == 0 and hit[0] == 0
    assert M.shape == (61, n) and np.all(M[0] > 0)


def test_pgd_is_at_least_as_strong_as_nothing():
    rng = np.random.default_rng(1)
    X, W, b, v = rng.standard_normal((30, 5)), rng.standard_normal((6, 5)), rng.standard_normal(6), rng.standard_normal(6)
    y = np.sign(np.maximum(X @ W.T + b, 0) @ v)
    clean = y * (np.maximum(X @ W.T + b, 0) @ v)
    adv = attacks.pgd_l2(X, y, W, b, v, eps=0.5)
    assert np.all(adv <= clean + 1e-12) and np.mean(adv) < np.mean(clean)
