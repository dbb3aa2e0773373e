"""rob.experiments.regimes: configuration, small runs, and the acceptance checks R1-R18 (they pass on
data that obey the theorems and fail on broken data)."""

import numpy as np
import pandas as pd
import pytest

import check_helpers
from rob import activations, hermite
from rob.experiments import regimes as M
from rob.theory import regimes as T


def test_config_scales_and_errors():
    ci, paper = M.config("ci"), M.config("paper")
    assert ci.d == 100 and len(ci.psis) == 15 and ci.psis[0] == 0.1 and ci.psis[-1] == 1.5 and ci.reps == 5
    assert M.widths(ci)[:3] == [10, 20, 30] and ci.gd_psis == (0.25, 0.5, 1.0) and ci.gd_steps == 6000
    assert (ci.rf_d, ci.lazy_d, ci.lazy_m, ci.J, ci.lazy_reps) == (30, 20, 10, 200, 3)
    assert paper.d == 1000 and len(paper.psis) == 75 and paper.reps == 10 and paper.gd_d == 300
    assert (paper.rf_d, paper.lazy_d, paper.lazy_m, paper.J, paper.planted_d) == (60, 40, 20, 400, 200)
    with pytest.raises(ValueError, match="scale"):
        M.config("huge")


def _small():
    return M.replace(M.config("ci"), d=30, psis=(0.2, 0.5, 1.0, 1.2), reps=2, gd_d=20, gd_psis=(0.5,), gd_steps=3000,
                     mc_n_test=5000, rf_d=8, rf_reps=2, planted_d=30, lazy_d=6, lazy_m=3, lazy_reps=2, J=50, lazy_n_test=5000)


def test_small_runs_are_deterministic():
    cfg = _small()
    a, b = M.closed_forms(cfg, 3), M.closed_forms(cfg, 3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(M.closed_forms(cfg, 4))
    assert set(a.regime) == {"NT", "RF", "NN", "NN-balanced"} and len(a) == 2 * 4 * 4
    assert np.allclose(a.eps + a.S2, 1, atol=1e-12)
    rf = M.rf_wide(cfg, 3)
    assert (rf[rf.m >= rf.D].S2 - 1).abs().max() < 1e-10
    mc = M.nt_monte_carlo(cfg, 3)
    assert abs(mc["eps_mc"] - mc["eps_cf"]) < 5 * mc["eps_se"]
    P = M.planted_teacher(cfg, 3)
    assert P[P.regime == "NN-GD"].eps.max() < 1e-10 and P[(P.regime == "NN") & (P.m >= 5)].eps.max() < 1e-20


def test_one_submission_equals_the_parts_and_the_monte_carlo_is_chunked(monkeypatch):
    """M.sweeps (every task in one run_tasks call, long ones first) returns exactly what the per-part
    functions return; the Monte Carlo runs as one task per chunk (the last one the remainder), each
    with its own stream, and merges all points."""
    monkeypatch.setenv("ROB_NO_CACHE", "1")
    cfg = M.replace(_small(), gd_psis=(0.5, 1.0), gd_steps=500, mc_n_test=2500, mc_chunk=1000)
    link = M.replace(M.link_config("ci"), adv_psis=(0.5,), adv_n=50, ridge_ms=(2, 3), ridge_reps=1, ridge_n_test=500)
    S = M.sweeps(cfg, link, 3)
    for name, part in (("closed", M.closed_forms(cfg, 3)), ("gd", M.nn_descent(cfg, 3)), ("rf", M.rf_wide(cfg, 3)),
                       ("planted", M.planted_teacher(cfg, 3))):
        pd.testing.assert_frame_equal(getattr(S.res, name), part, check_exact=True)
    assert list(S.res.gd.psi) == [0.5, 1.0]
    lz = M.lazy(cfg, 3)
    for name in ("fits", "alpha", "init"):
        pd.testing.assert_frame_equal(getattr(S.res.lazy, name), getattr(lz, name), check_exact=True)
    adv = M.adversarial_link(cfg, link, 3)
    pd.testing.assert_frame_equal(S.adv.curves, adv.curves, check_exact=True)
    pd.testing.assert_frame_equal(S.adv.plane, adv.plane, check_exact=True)
    pd.testing.assert_frame_equal(S.ridge, M.ridge_sweep(cfg, link, 3), check_exact=True)
    assert S.res.mc == M.nt_monte_carlo(cfg, 3) and S.res.mc["n_test"] == 2500
    tasks = M.tasks(cfg, 3, link=link)
    assert [t.key for t in tasks if t.key[0] == "mc"] == [("mc", 0), ("mc", 1), ("mc", 2)]
    assert tasks[0].key == ("gd", 1.0) and tasks[2].key == ("ridge", 3, 0) and len({t.key for t in tasks}) == len(tasks)
    chunks = [M.nt_monte_carlo_chunk(cfg, 3, k) for k in range(3)]
    assert [len(c["err"]) for c in chunks] == M.mc_chunks(cfg) == [1000, 1000, 500]
    assert not np.allclose(chunks[0]["err"][:500], chunks[2]["err"])  # every chunk has its own points
    mc = M.nt_monte_carlo_merge(cfg, chunks)
    err = np.concatenate([c["err"] for c in chunks])
    assert mc["eps_mc"] == pytest.approx(err.mean() / chunks[0]["V"], rel=1e-14)
    assert abs(mc["eps_mc"] - mc["eps_cf"]) < 5 * mc["eps_se"] and abs(mc["S2_mc"] - mc["S2_cf"]) < 5 * mc["S2_se"]


# -- synthetic results --------------------------------------------------------------------------

def _ideal(cfg):
    D = cfg.d * (cfg.d + 1) // 2
    rows = []
    for rep in range(cfg.reps):
        for p, m in zip(cfg.psis, M.widths(cfg)):
            for reg, e in (("NT", T.nt_exact_mean(cfg.d, m)), ("RF", 1 - m / (D - 1)), ("NN", T.f_sc(p)),
                           ("NN-balanced", T.f_sc(p))):
                rows.append(dict(rep=rep, psi=p, m=m, regime=reg, eps=e, S2=1 - e))
    closed = pd.DataFrame(rows)
    gd = pd.DataFrame([dict(psi=p, m=int(p * cfg.gd_d), eps=T.f_sc(p), S2=1 - T.f_sc(p), eps_trunc=T.f_sc(p),
                            S2_trunc=1 - T.f_sc(p), residual=0.0) for p in cfg.gd_psis])
    mc = dict(eps_mc=0.25, eps_se=0.002, S2_mc=0.75, S2_se=0.001, eps_cf=0.251, S2_cf=0.749)
    Dw = cfg.rf_d * (cfg.rf_d + 1) // 2
    rf = []
    for rep in range(cfg.rf_reps):
        for r in cfg.rf_ratios:
            m = int(round(r * Dw))
            s = min(m / (Dw - 1), 1.0) if m < Dw else 1.0
            rf.append(dict(rep=rep, ratio=r, m=m, D=Dw, eps=1 - s, S2=s, dim=min(m, Dw), pe2=0.5, cond_mean=s))
    fits = pd.DataFrame([dict(act="elu", rep=r, eps=0.495, S2=0.749, e1=1.15e-3, s1=5.7e-3, e1_n=1.15e-3,
                              s1_n=2.85e-3) for r in range(cfg.lazy_reps)]
                        + [dict(act="quad", rep=0, eps=0.26, S2=0.74, e1=1e-30, s1=1e-30, e1_n=1e-30, s1_n=1e-30)])
    alpha = pd.DataFrame([dict(alpha=a, alpha2=a * a, stat=s, mean=1.0, se=0.01, law=1.0, z=0.5)
                          for a in cfg.alphas for s in ("eps", "S2")])
    init = pd.DataFrame([dict(alpha=2.0, stat=s, mean=v, se=0.1, law=v, z=-0.3) for s, v in (("eps", 3.58), ("S2", 2.67))])
    e2, ed2 = hermite.moments(activations.get("elu"))
    lazy = M.Lazy(fits, alpha, init, dict(e_sigma2=e2, e_dsigma2=ed2, V=1.0, S2_star=2.0))
    planted = pd.concat([closed[closed.regime == "NT"].assign(exact=lambda f: f.eps),
                         closed[closed.regime == "NN"].assign(eps=0.0, S2=1.0, exact=0.0),
                         pd.DataFrame([dict(rep=-1, psi=0.05, m=5, regime="NN-GD", eps=1e-30, S2=1.0, exact=0.0)])],
                        ignore_index=True)
    return M.Results(closed, gd, mc, pd.DataFrame(rf), lazy, planted)


def _failed(cfg, res):
    return check_helpers.record("regimes", M, cfg, res)


def test_checks_pass_on_data_that_obey_the_theorems():
    cfg = M.config("ci")
    report, failed = _failed(cfg, _ideal(cfg))
    assert failed == [] and len(report.checks) == 24


def _edit(df, mask, **cols):
    df = df.copy()
    for k, v in cols.items():
        df.loc[mask(df), k] = v(df[mask(df)]) if callable(v) else v
    return df


def test_checks_fail_when_the_reproduction_is_wrong():
    cfg = M.config("ci")
    ideal = _ideal(cfg)
    C = ideal.closed
    # NT 0.05 too high below ψ = 1 (identity kept): the expectation, the rate and the ordering with RF near ψ=0.1 hold
    nt_hi = _edit(C, lambda f: (f.regime == "NT") & (f.psi < 1), eps=lambda f: f.eps + 0.05, S2=lambda f: f.S2 - 0.05)
    assert "R2" in _failed(cfg, M.replace(ideal, closed=nt_hi))[1]
    # the identity broken for RF
    assert _failed(cfg, M.replace(ideal, closed=_edit(C, lambda f: f.regime == "RF", S2=0.5)))[1] == ["R1"]
    # NT not zero beyond ψ = 1
    assert _failed(cfg, M.replace(ideal, closed=_edit(C, lambda f: (f.regime == "NT") & (f.psi >= 1), eps=1e-6,
                                                      S2=1 - 1e-6)))[1] == ["R3"]
    # NT decaying like (1 − ψ)¹: the rate, the expectation and the ordering NN ≤ NT fail
    lin = _edit(C, lambda f: (f.regime == "NT"), eps=lambda f: np.clip(1 - f.psi, 0, None) * 0.8 + 0.0,
                S2=lambda f: 1 - np.clip(1 - f.psi, 0, None) * 0.8)
    assert {"R2", "R4"} <= set(_failed(cfg, M.replace(ideal, closed=lin))[1])
    # RF that learns
    assert "R5" in _failed(cfg, M.replace(ideal, closed=_edit(C, lambda f: (f.regime == "RF") & (f.psi == 0.5),
                                                              eps=0.9, S2=0.1)))[1]
    # NN off the semicircle law by 0.05
    assert _failed(cfg, M.replace(ideal, closed=_edit(C, lambda f: (f.regime == "NN") & (f.psi == 0.3),
                                                      eps=lambda f: f.eps + 0.05, S2=lambda f: f.S2 - 0.05)))[1] == ["R6"]
    # gradient descent stuck
    assert _failed(cfg, M.replace(ideal, gd=ideal.gd.assign(eps=ideal.gd.eps + 0.01, residual=1e-3)))[1] == [
        "R7 error", "R7 identity"]
    # Monte Carlo disagreeing with the closed form
    assert _failed(cfg, M.replace(ideal, mc={**ideal.mc, "eps_mc": 0.27}))[1] == ["R8"]
    # NT non-monotone in ψ for one replicate
    bump = _edit(C, lambda f: (f.regime == "NT") & (f.psi == 0.4) & (f.rep == 0), eps=lambda f: f.eps + 0.2,
                 S2=lambda f: f.S2 - 0.2)
    assert "R9" in _failed(cfg, M.replace(ideal, closed=bump))[1]
    # RF of Figure 2a off its conditional mean; not exactly 1 at m ≥ D
    rf = ideal.rf
    assert _failed(cfg, M.replace(ideal, rf=rf.assign(cond_mean=np.where(rf.ratio < 1, rf.cond_mean - 0.1,
                                                                            rf.cond_mean))))[1] == ["R10"]
    assert _failed(cfg, M.replace(ideal, rf=_edit(rf, lambda f: f.m >= f.D, S2=0.999, eps=0.001)))[1] == ["R11"]
    L = ideal.lazy
    quad_bad = _edit(L.fits, lambda f: f.act == "quad", e1=1e-6)
    assert _failed(cfg, M.replace(ideal, lazy=M.replace(L, fits=quad_bad)))[1] == ["R12"]
    smooth = _edit(L.fits, lambda f: f.act == "elu", s1=2.3e-3)
    assert _failed(cfg, M.replace(ideal, lazy=M.replace(L, fits=smooth)))[1] == ["R13 ratio"]
    neg = _edit(L.fits, lambda f: (f.act == "elu") & (f.rep == 0), e1=-1e-4, s1=-5e-4)
    assert "R13 sign" in _failed(cfg, M.replace(ideal, lazy=M.replace(L, fits=neg)))[1]
    on_line = _edit(L.fits, lambda f: f.act == "elu", S2=lambda f: 1 - f.eps)
    assert _failed(cfg, M.replace(ideal, lazy=M.replace(L, fits=on_line)))[1] == ["R14"]
    below = _edit(L.fits, lambda f: (f.act == "elu") & (f.rep == 1), eps=0.5, S2=0.2)
    assert "R15" in _failed(cfg, M.replace(ideal, lazy=M.replace(L, fits=below)))[1]
    assert _failed(cfg, M.replace(ideal, lazy=M.replace(L, alpha=L.alpha.assign(z=[0, 0, 6.0, 0, 0, 0]))))[1] == ["R16"]
    assert _failed(cfg, M.replace(ideal, lazy=M.replace(L, init=L.init.assign(z=[-5.5, 0]))))[1] == ["R17"]
    P = ideal.planted
    assert _failed(cfg, M.replace(ideal, planted=_edit(P, lambda f: (f.regime == "NT") & (f.psi == 0.6),
                                                       eps=lambda f: f.eps + 0.15)))[1] == ["P1"]
    assert _failed(cfg, M.replace(ideal, planted=_edit(P, lambda f: f.regime == "NN-GD", eps=0.01, S2=0.99)))[1] == [
        "P2", "P3"]
    bad_mom = {**L.moments, "e_sigma2": L.moments["e_sigma2"] + 1e-4}
    assert _failed(cfg, M.replace(ideal, lazy=M.replace(L, moments=bad_mom)))[1] == ["R18 ELU"]
