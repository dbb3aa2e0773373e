"""rob.experiments.memorization: configuration, determinism, and the closed forms on small runs."""

import numpy as np
import pandas as pd
import pytest

import check_helpers
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


# -- the acceptance checks themselves: they pass on data that obey the theorems and fail otherwise --

def _descent_frame(sweep, p, second_peak_at, rate):
    """Fake multiple-descent results: S = rate(n) below p, a peak x20 at p, decay above p,
    an extra x3 peak at n = second_peak_at for erf/tanh; ridge flattens everything."""
    rows = []
    for act in sweep.acts:
        for n in sweep.ns:
            for lam in sweep.lams:
                for zeta in sweep.zetas:
                    for rep in range(3):
                        if lam > 0:
                            s = 0.01
                        elif n < p:
                            s = rate(n) * (3.0 if act in ("erf", "tanh") and n == second_peak_at else 1.0)
                        elif n == p:
                            s = 20 * rate(p)
                        else:
                            s = 2 * rate(p) * p / n
                        rows.append(dict(act=act, n=n, lam=lam, zeta=zeta, rep=rep, S=s, S2=s * s,
                                         train_mse=1e-30 if (lam == 0 and n < p) else 1e-3))
    return pd.DataFrame(rows)


def _ideal_results(cfg):
    d, k, dn, kn = cfg.fig1.d, cfg.fig1.k, cfg.fig1b.d, cfg.fig1b.k
    fig1 = _descent_frame(cfg.fig1, k, d, lambda n: 0.3 * np.sqrt(n))
    fig1b = _descent_frame(cfg.fig1b, dn * kn, dn, lambda n: 0.5 * np.sqrt(n / kn))
    noise = _descent_frame(cfg.noise, k, d, lambda n: 0.3 * np.sqrt(n))
    fig2a = pd.DataFrame([dict(act=a, d=dd, n=dd // 2, rep=r, S=1.3 * np.sqrt(dd // 2), S2=1.69 * (dd // 2),
                               L=0.3 * 1.69 * (dd // 2), y2c=dd // 2)
                          for a in cfg.fig2a.acts for dd in cfg.fig2a.ds for r in range(3)])
    fig2b = pd.DataFrame([dict(act=a, k=kk, rep=r, y2c=16.0, S2=16.0 * T.rf_min_norm_energy(a, cfg.fig2b.d, kk))
                          for a in cfg.fig2b.acts for kk in cfg.fig2b.ks for r in range(3)])
    fig2c = pd.DataFrame([dict(act="abs", k=kk, rep=r, y2=20.0, S2=20.0 * T.ntk_abs_min_norm_energy(cfg.fig2c.d, kk))
                          for kk in cfg.fig2c.ks for r in range(3)])
    grad = pd.DataFrame(dict(model=["rf", "ntk"], act=["erf", "relu"], max_rel_err=[1e-10, 2e-10]))
    return M.Results(fig1, fig1b, noise, fig2a, fig2b, fig2c, grad)


def _failed(cfg, results):
    return check_helpers.record("memorization", M, cfg, results)


def test_checks_pass_on_data_that_obey_the_theorems():
    cfg = M.config("ci")
    report, failed = _failed(cfg, _ideal_results(cfg))
    assert failed == [] and len(report.checks) == 43


def test_checks_fail_when_the_reproduction_is_wrong():
    cfg = M.config("ci")
    ideal = _ideal_results(cfg)
    # S growing like n instead of sqrt(n): the headline slope and the flatness of S/sqrt(n) fail
    fig2a = ideal.fig2a.assign(S2=lambda f: (0.2 * f.n) ** 2)
    assert _failed(cfg, M.replace(ideal, fig2a=fig2a))[1] == ["M3 abs", "M3 relu", "M4 abs", "M4 relu"]
    # a wrong gradient formula, an interpolator that does not interpolate, a certificate above S^2
    assert _failed(cfg, M.replace(ideal, grad=ideal.grad.assign(max_rel_err=[1e-10, 1e-3])))[1] == ["M2"]
    fig1 = ideal.fig1.copy()
    fig1.loc[(fig1.lam == 0) & (fig1.n == 100), "train_mse"] = 1e-4
    assert _failed(cfg, M.replace(ideal, fig1=fig1))[1] == ["M1 RF"]
    assert _failed(cfg, M.replace(ideal, fig2a=ideal.fig2a.assign(L=lambda f: 1.1 * f.S2)))[1] == ["M5"]
    # Proposition 3 off by 30 %
    assert _failed(cfg, M.replace(ideal, fig2b=ideal.fig2b.assign(S2=lambda f: 1.3 * f.S2)))[1] == ["M7 abs", "M7 relu"]
    # no second peak for erf
    fig1 = ideal.fig1.copy()
    sel = (fig1.act == "erf") & (fig1.n == cfg.fig1.d) & (fig1.lam == 0)
    fig1.loc[sel, "S"] /= 3
    assert _failed(cfg, M.replace(ideal, fig1=fig1))[1] == ["M12 erf"]
