"""rob.trust_region: the exact trust-region subproblem against brute force, scipy's iterative solver,
the optimality certificate and PGD, on random instances including the hard case; the worst-case
change of a quadratic form and its elementary bracket."""

import numpy as np
import pytest
from scipy.optimize._trustregion_exact import IterativeSubproblem

from rob import attacks, trust_region as TR


def _q(P, H, c):
    return 0.5 * np.einsum("...i,ij,...j->...", P, H, P) + P @ c


def _sym(rng, d, shift=0.0):
    G = rng.standard_normal((d, d))
    return (G + G.T) / 2 + shift * np.eye(d)


def test_two_dimensional_instances_match_a_dense_grid_of_the_disk():
    rng = np.random.default_rng(0)
    th = np.linspace(0, 2 * np.pi, 2001)
    for _ in range(15):
        H = _sym(rng, 2, rng.choice([-2.0, 0.0, 2.0]))
        c = rng.standard_normal(2) * rng.choice([1e-2, 1.0, 10.0])
        r = rng.uniform(0.1, 3.0)
        sol = TR.solve(H, c, r)
        rad = np.linspace(0, r, 201)
        P = (rad[:, None, None] * np.stack([np.cos(th), np.sin(th)], -1)[None]).reshape(-1, 2)
        grid = _q(P, H, c).min()
        scale = 1 + abs(grid)
        assert sol.value <= grid + 1e-12 * scale                 # never worse than any feasible point
        assert sol.value >= grid - 1e-3 * scale                  # and the grid gets within its resolution
        assert np.linalg.norm(sol.delta) <= r * (1 + 1e-12)
        assert abs(sol.value - _q(sol.delta, H, c)) < 1e-12 * scale


@pytest.mark.parametrize("shift", [-3.0, 0.0, 3.0, 8.0])
def test_random_instances_are_certified_and_beat_scipy(shift):
    rng = np.random.default_rng(int(10 + shift))
    d = 25
    for _ in range(25):
        H = _sym(rng, d, shift)
        c = rng.standard_normal(d) * rng.choice([1e-3, 1.0])
        r = rng.uniform(0.01, 4.0)
        h, U = np.linalg.eigh(H)
        sol = TR.solve_eig(h, U, c, r)
        assert TR.kkt_violation(h, r, sol) < 1e-12
        assert sol.lam >= 0 and h[0] + sol.lam >= -1e-12
        sp = IterativeSubproblem(np.zeros(d), lambda x: _q(x, H, c), lambda x: H @ x + c, lambda x: H,
                                 k_easy=1e-10, k_hard=1e-10)
        p = sp.solve(r)[0]
        p = p * min(1.0, r / np.linalg.norm(p))                  # scipy may step slightly outside
        assert sol.value <= _q(p, H, c) + 1e-10 * (1 + abs(sol.value))
        assert sol.value >= _q(p, H, c) - 1e-6 * (1 + abs(sol.value))


def test_interior_solution_is_the_newton_step():
    rng = np.random.default_rng(2)
    H = _sym(rng, 8, 10.0)
    c = 0.01 * rng.standard_normal(8)
    sol = TR.solve(H, c, 1.0)
    assert bool(sol.interior) and not bool(sol.hard) and sol.lam == 0
    np.testing.assert_allclose(sol.delta, -np.linalg.solve(H, c), atol=1e-14)


def test_hard_case_exact_and_nearly_hard():
    rng = np.random.default_rng(3)
    h = np.array([-2.0, -1.0, 0.5, 1.0, 3.0, 4.0])
    ct = rng.standard_normal(6)
    ct[0] = 0.0                                                  # c orthogonal to the bottom eigenvector
    r_crit = np.linalg.norm(ct[1:] / (h[1:] - h[0]))            # ‖δ(−h₁)‖: the hard case starts beyond it
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    H, c = Q @ np.diag(h) @ Q.T, Q @ ct
    for r in (0.5 * r_crit, 1.5 * r_crit, 10 * r_crit):
        exact = TR.solve_eig(h, np.eye(6), ct, r)                # c̃₁ exactly 0: the hard-case branch
        near = TR.solve(H, c, r)                                 # c̃₁ ~ 1e-16 after rotation: Newton near the pole
        assert bool(exact.hard) == (r > r_crit)
        assert TR.kkt_violation(h, r, exact) < 1e-12
        assert abs(exact.value - near.value) < 1e-10 * (1 + abs(exact.value))
        assert abs(np.linalg.norm(exact.delta) - r) < 1e-12 * r
        if r > r_crit:
            assert abs(exact.lam + h[0]) < 1e-14 and abs(exact.delta[0]) > 0.1 * r
        Z = rng.standard_normal((200_000, 6))
        Z *= r / np.linalg.norm(Z, axis=1, keepdims=True)
        assert exact.value <= _q(Z, H, c).min() + 1e-12
    # scipy's iterative solver is not exact in the hard case; ours is below it
    sp = IterativeSubproblem(np.zeros(6), lambda x: _q(x, H, c), lambda x: H @ x + c, lambda x: H)
    p = sp.solve(10 * r_crit)[0]
    assert TR.solve(H, c, 10 * r_crit).value <= _q(p * min(1, 10 * r_crit / np.linalg.norm(p)), H, c) + 1e-12


def test_vectorised_over_points_and_radii_like_one_at_a_time():
    rng = np.random.default_rng(4)
    H = _sym(rng, 10)
    h, U = np.linalg.eigh(H)
    C = rng.standard_normal((7, 10))
    radii = np.array([0.01, 0.3, 2.0])[:, None]
    sol = TR.solve_eig(h, U, C[None], radii)
    assert sol.value.shape == (3, 7) and sol.delta.shape == (3, 7, 10)
    one = TR.solve_eig(h, U, C[4], 0.3)
    assert abs(sol.value[1, 4] - one.value) < 1e-14


def test_bad_input():
    with pytest.raises(ValueError, match="ascending"):
        TR.solve_eig(np.array([1.0, 0.0]), np.eye(2), np.ones(2), 1.0)
    with pytest.raises(ValueError, match="positive"):
        TR.solve(np.eye(2), np.ones(2), 0.0)


def test_worst_change_of_a_quadratic_form_against_pgd_and_the_bracket():
    rng = np.random.default_rng(5)
    d, n = 12, 60
    A = _sym(rng, d) / d
    b = rng.standard_normal(d) * 0.1
    f = lambda Z: np.einsum("ij,jk,ik->i", Z, A, Z) + Z @ b
    gf = lambda Z: 2 * Z @ A + b
    X = rng.standard_normal((n, d))
    radii = [0.01, 0.5, 3.0]
    wc = TR.worst_change(A, gf(X), radii)
    assert wc.kkt.max() < 1e-12
    # the maximiser attains the value, with the right sign
    for k, r in enumerate(radii):
        change = f(X + wc.delta[k]) - f(X)
        np.testing.assert_allclose(np.abs(change), wc.value[k], rtol=1e-10, atol=1e-13)
        assert np.all(np.linalg.norm(wc.delta[k], axis=1) <= r * (1 + 1e-12))
        _, fmax, fmin = attacks.pgd_l2_regression(f, gf, X, f(X), r, steps=60)
        assert np.all(fmax - f(X) <= wc.up[k] * (1 + 1e-9) + 1e-13)     # PGD never beats the optimum
        assert np.all(f(X) - fmin <= wc.down[k] * (1 + 1e-9) + 1e-13)
        assert np.mean(np.maximum(fmax - f(X), f(X) - fmin) / wc.value[k]) > 0.99
    lo, hi = TR.change_bounds(A, gf(X), radii)
    assert np.all(lo <= wc.value * (1 + 1e-12)) and np.all(wc.value <= hi * (1 + 1e-12))
    # small radius: Δ = r‖g‖ + O(r²)
    g = np.linalg.norm(gf(X), axis=1)
    assert np.max(np.abs(wc.value[0] / (0.01 * g) - 1)) < 0.01 * 2 * np.abs(np.linalg.eigvalsh(A)).max() / g.min()
