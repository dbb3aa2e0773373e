"""rob.experiments.memorization: configuration, determinism, and the closed forms on small runs."""

import numpy as np
import pytest

from rob.experiments import memorization as M
from rob.theory import memorization as T


def test_config_scales_and_errors():
    ci, paper = M.config("ci"), M.config("paper")
    assert ci.fig1.n_test == 1000 and paper.fig1.n_test == 2000
    assert ci.fig1.k in ci.fig1.ns and 2 * ci.fig1.k in ci.fig1.ns and 0.75 * ci.fig1.k in ci.fig1.ns
    assert ci.fig1b.d * ci.fig1b.k in ci.fig1b.ns
    for cfg in (ci, paper):  # every grid point the checks read is on the grid
        for n in (cfg.fig1.k, 0.75 * cfg.fig1.k, 2 * cfg.fig1.k, cfg.fig1.d, 0.8 * cfg.fig1.d, 1.2 * cfg.fig1.d):
            assert round(n) in cfg.fig1.ns
        p = cfg.fig1b.d * cfg.fig1b.k
        for n in (p, round(2 * p / 3), 2 * p, cfg.fig1b.d, 1.2 * cfg.fig1b.d, cfg.fig1b.d / 2, 3 * cfg.fig1b.d):
            assert round(n) in cfg.fig1b.ns
    assert M.config("ci", n_test=300).fig2a.n_test == 300
    with pytest.raises(ValueError, match="scale"):
        M.config("huge")
    with pytest.raises(ValueError, match="n_test"):
        M.config("ci", n_test=5)


def test_gradient_test_passes():
    g = M.gradient_test(seed=11)
    assert len(g) == 4 and (g.points == 10).all()
    assert g.max_rel_err.max() < 1e-6


def test_replicate_is_deterministic_and_interpolates():
    rows1 = M.replicate("rf", "relu", 20, 40, 10, 0.2, (0.0, 1e-2), 200, np.random.default_rng([1, 2]), certificate=True)
    rows2 = M.replicate("rf", "relu", 20, 40, 10, 0.2, (0.0, 1e-2), 200, np.random.default_rng([1, 2]), certificate=True)
    assert rows1 == rows2 or all(
        np.allclose([a[k] for k in ("S", "train_mse")], [b[k] for k in ("S", "train_mse")]) for a, b in zip(rows1, rows2))
    assert rows1[0]["train_mse"] < 1e-20 and rows1[1]["train_mse"] > 1e-6
    assert 0 < rows1[0]["L"] <= rows1[0]["S2"]
    assert np.isnan(rows1[1]["L"])  # no certificate for ridge


def test_sweep_rows_do_not_depend_on_the_grid():
    """One stream per (panel, grid point, replicate): a sub-grid gives the same rows."""
    sweep = M.DescentSweep("rf", ("relu",), 20, 30, (5, 10, 40), (0.0,), (0.2,), 2, 100)
    full = M.descent_sweep(sweep, 3, "fig1")
    part = M.descent_sweep(M.replace(sweep, ns=(40,)), 3, "fig1")
    np.testing.assert_allclose(full[full.n == 40].S.to_numpy(), part.S.to_numpy())


def test_leading_order_on_a_small_width_sweep():
    sweep = M.WidthSweep("rf", ("relu",), 200, 8, (800,), 1.0, 12, 500)
    df = M.width_sweep(sweep, 0, "fig2b")
    ratio = (df.S2 / df.y2c).mean() / T.rf_min_norm_energy("relu", 200, 800)
    assert 0.85 < ratio < 1.25
