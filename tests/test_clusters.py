"""rob.clusters: means, N_rob, its exact radius (against a brute-force search) and the theory curve."""

import numpy as np
import pytest
from scipy.stats import norm

from rob import clusters as C


def _setup(d=40, k=3, sigma=0.3, n=6, seed=0):
    rng = np.random.default_rng(seed)
    mu = C.orthogonal_means(d, k, rng)
    labels = C.default_labels(k)
    s = C.sample(mu, labels, n, sigma, rng)
    return mu, labels, s


def test_means_labels_and_universal_direction():
    rng = np.random.default_rng(1)
    mu = C.orthogonal_means(50, 6, rng)
    np.testing.assert_allclose(mu @ mu.T, 50 * np.eye(6), atol=1e-9)
    g = C.gaussian_means(400, 5, rng)
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 20.0)
    lab = C.default_labels(6)
    assert list(lab) == [1, 1, 1, -1, -1, -1]
    s = C.universal_direction(mu, lab)
    assert np.isclose(np.linalg.norm(s), np.sqrt(6 * 50))
    with pytest.raises(ValueError):
        C.default_labels(4, n_pos=4)
    with pytest.raises(ValueError):
        C.means("uniform", 10, 2, rng)


def test_robust_output_at_the_means():
    mu, labels, _ = _setup()
    out = C.robust_output(mu, mu, labels)        # a_q = 4d/d - 2 = 2, others -2
    np.testing.assert_allclose(out, 2 * labels)
    assert C.robust_radius(mu, labels, mu, labels).exceptions == 0


def _brute_force_radius(x, y, mu, labels, strict, n_dir=3000, seed=0):
    """Min over many directions in span{μ} (and a few outside) of the first flip along the ray."""
    d = mu.shape[1]
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n_dir, len(mu)))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    D = U @ mu / np.sqrt(d)                        # unit vectors in span{μ}
    D = np.vstack([D, -mu / np.sqrt(d)])           # plus the exact kill directions
    def bad(t):
        o = y * C.robust_output(x + t[:, None] * D, mu, labels)
        return o < 0 if strict else o <= 0
    ts = np.linspace(0, 2 * np.sqrt(d), 121)
    first = np.full(len(D), np.inf)
    for t in ts[::-1]:
        first = np.where(bad(np.full(len(D), t)), t, first)
    ok = np.isfinite(first)
    lo, hi = np.maximum(first[ok] - ts[1], 0), first[ok]
    Dk = D[ok]
    for _ in range(40):
        mid = (lo + hi) / 2
        o = y * C.robust_output(x + mid[:, None] * Dk, mu, labels)
        b = o < 0 if strict else o <= 0
        hi, lo = np.where(b, mid, hi), np.where(b, lo, mid)
    return hi.min()


def test_robust_output_along_a_direction_is_affine():
    rng = np.random.default_rng(4)
    d, k = 120, 6
    mu = C.orthogonal_means(d, k, rng)
    lab = C.default_labels(k)
    te = C.sample(mu, lab, 200, 1.0, rng)
    s = C.universal_direction(mu, lab)
    U = te.y[:, None] * s[None, :] / k
    cs = np.linspace(0.0, 4.0, 17)
    got = C.robust_output_along(te.X, U, mu, lab, cs)
    want = np.stack([C.robust_output(te.X - c * U, mu, lab) for c in cs])
    assert got.shape == (17, 200)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(C.robust_output_along(te.X, (te.y / k, s), mu, lab, cs), want, rtol=0, atol=1e-12)
    acc = (te.y * got > 0).mean(axis=1)
    assert acc[0] > 0.9 and acc[-1] < 0.1  # the universal direction flips N_rob near c = k/2


def test_exact_radius_matches_brute_force():
    mu, labels, s = _setup(d=12)
    rad = C.robust_radius(s.X, s.y, mu, labels)
    assert rad.exceptions == 0 and rad.kill_wins.all()
    for i in range(3):
        bf = _brute_force_radius(s.X[i], s.y[i], mu, labels, strict=False)
        assert abs(bf - rad.r[i]) < 1e-6 * rad.r[i] + 1e-8
        # closed form r = (√d/4) a_q = √d/2 + <μ_q, ξ>/√d
        d = mu.shape[1]
        xi = s.X[i] - mu[s.idx[i]]
        assert np.isclose(rad.r[i], np.sqrt(d) / 2 + mu[s.idx[i]] @ xi / np.sqrt(d))
        bfs = _brute_force_radius(s.X[i], s.y[i], mu, labels, strict=True)
        assert bfs >= rad.r_strict[i] - 1e-9 and bfs <= rad.r_strict[i] * 1.01


def test_constructive_certificate():
    mu, labels, s = _setup(d=200, k=6, sigma=1.0, n=300)
    rad = C.robust_radius(s.X, s.y, mu, labels)
    assert C.certificate_passes(s.X, s.y, mu, labels, rad).all()
    # a wrong radius fails the certificate
    wrong = C.RobustRadius(1.1 * rad.r, rad.r_strict, 0, rad.kill_wins, rad.a_own, rad.own)
    assert not C.certificate_passes(s.X, s.y, mu, labels, wrong).any()


def test_theory_curve_against_monte_carlo():
    d, sigma = 400, 1.0
    mu, labels, s = _setup(d=d, k=4, sigma=sigma, n=20000, seed=3)
    rad = C.robust_radius(s.X, s.y, mu, labels)
    r = np.linspace(0, 0.8 * np.sqrt(d), 81)
    emp = C.certified_accuracy(rad.r, r)
    assert np.max(np.abs(emp - C.theory_certified_accuracy(r, d, sigma))) < C.dkw_bound(20000)
    assert np.isclose(C.theory_certified_accuracy(np.sqrt(d) / 2 + 1.0, d, 1.0), norm.cdf(-1.0))
    assert np.isclose(C.dkw_bound(1000), 0.0704, atol=1e-4)


def test_certified_accuracy_counts_strictly_larger_radii():
    np.testing.assert_allclose(C.certified_accuracy(np.array([0.0, 1.0, 2.0, 2.0]), [0.0, 1.0, 1.5, 2.0]),
                               [0.75, 0.5, 0.5, 0.0])


@pytest.mark.parametrize("n, nbytes", [(37, 8 * 40 * 5), (37, 1 << 24), (0, 1 << 20)])
def test_sample_blocks_draw_the_sample_block_by_block(n, nbytes):
    """``sample_blocks`` gives the rows of ``sample`` bit for bit, block by block, and leaves the
    generator where ``sample`` leaves it (the implicit-bias runs redraw their test set this way)."""
    rng = np.random.default_rng(7)
    mu, labels = C.orthogonal_means(40, 3, rng), C.default_labels(3)
    a, b = np.random.default_rng(8), np.random.default_rng(8)
    whole = C.sample(mu, labels, n, 0.5, a)
    X, y, idx, seen = np.empty((n, 40)), np.empty(n), np.empty(n, int), []
    for rows, blk in C.sample_blocks(mu, labels, n, 0.5, b, nbytes=nbytes):
        X[rows], y[rows], idx[rows] = blk.X, blk.y, blk.idx
        seen.append((rows.start, rows.stop))
    assert np.array_equal(X, whole.X) and np.array_equal(y, whole.y) and np.array_equal(idx, whole.idx)
    assert [r for s in seen for r in range(*s)] == list(range(n))
    assert len(seen) == (0 if n == 0 else -(-n // max(1, nbytes // (8 * 40))))
    assert a.standard_normal() == b.standard_normal()
