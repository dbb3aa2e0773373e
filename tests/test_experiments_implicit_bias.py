"""rob.experiments.implicit_bias: configuration, one small run, and the acceptance checks I1-I13
(they pass on data that obey the theorems and fail on broken data)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import check_helpers
from rob.experiments import implicit_bias as M


def test_config_scales_and_errors():
    ci, paper = M.config("ci"), M.config("paper")
    assert (ci.headline.d, ci.headline.k, ci.headline.m, ci.headline.steps) == (1000, 10, 50, 400)
    assert [s.d for s in ci.sweep_d] == [250, 500, 1000, 2000, 4000] and all(s.k == 10 for s in ci.sweep_d)
    assert [s.k for s in ci.sweep_k] == [4, 8, 16, 32] and all(s.d == 2000 and s.steps == 300 for s in ci.sweep_k)
    assert len(ci.c_grid) == 61 and ci.c_grid[-1] == 3.0 and len(ci.r_grid) == 17
    assert paper.headline.d == 10_000 and paper.reps == 3 and 64 in [s.k for s in paper.sweep_k]
    with pytest.raises(ValueError, match="scale"):
        M.config("huge")


def test_small_run_is_deterministic_and_sensible():
    spec = M.RunSpec(300, 4, n_test=200, m=20, steps=200)
    a, b = M.run(spec, 5, "d"), M.run(spec, 5, "d")
    np.testing.assert_array_equal(a.cstar, b.cstar)
    assert a.summary["train_acc"] == 1.0 and a.summary["test_acc"] == 1.0
    assert 0.85 < a.summary["cstar_median"] < 1.15 and a.summary["n_never"] == 0
    assert a.cert_ok.all() and a.summary["rob_exceptions"] == 0
    assert list(a.log.step) == [50, 100, 150, 200]
    c = M.run(spec, 6, "d")
    assert not np.array_equal(a.cstar, c.cstar)


# -- synthetic results --------------------------------------------------------------------------

def _ideal_run(cfg, rep=0):
    spec = cfg.headline
    d, k, n = spec.d, spec.k, spec.n_test
    u = (np.arange(n) + 0.5) / n
    cstar = 1 + 0.1 * norm.ppf(u)
    r = np.sqrt(d) / 2 + spec.sigma * norm.ppf(u)
    c = np.asarray(cfg.c_grid)
    curve = pd.DataFrame(dict(c=c, acc=[(cstar > x).mean() for x in c], acc_rob=np.ones_like(c)))
    log = pd.DataFrame(dict(step=[100, 200, 300, 400], loss=[1e-3, 6e-4, 4e-4, 3e-4], train_acc=1.0,
                            margin=[3.0, 3.05, 3.06, 3.065]))
    summary = dict(d=d, k=k, seed=0, rep=rep, panel="headline", train_loss=3e-4, train_acc=1.0, test_acc=1.0,
                   rob_test_acc=1.0, rob_exceptions=0, cstar_median=float(np.median(cstar)),
                   cstar_q05=0.84, cstar_q95=1.16, n_never=0, znorm_median=float(np.median(cstar) * np.sqrt(d / k)),
                   r_rob_median=float(np.median(r)), r_rob_min=float(r.min()), r_strict_median=0.68 * np.sqrt(d),
                   balancedness=0.005, bias_pos=1.0, spread=1.1, crosstalk=0.1, n_dominant=15, means="orthogonal")
    return M.Run(spec, log, summary, cstar, curve, r, 1.36 * r, np.ones(n, bool), np.eye(3), np.ones(3),
                 np.array([1.0, -1.0]))


def _sweep(specs, factor=1.0):
    return pd.DataFrame([dict(d=s.d, k=s.k, cstar_median=factor, znorm_median=factor * np.sqrt(s.d / s.k))
                         for s in specs])


def _ideal(cfg):
    return M.Results([_ideal_run(cfg)], _sweep(cfg.sweep_d), _sweep(cfg.sweep_k))


def _failed(cfg, res):
    return check_helpers.record("implicit-bias", M, cfg, res)


def test_checks_pass_on_data_that_obey_the_theorems():
    cfg = M.config("ci")
    report, failed = _failed(cfg, _ideal(cfg))
    assert failed == [] and len(report.checks) == 20


def _with(run, **summary):
    return M.replace(run, summary={**run.summary, **summary})


def test_checks_fail_when_the_reproduction_is_wrong():
    cfg = M.config("ci")
    ideal = _ideal(cfg)
    run = ideal.headline[0]
    # c* far from 1: the trained network is twice as robust (curve, median and gap all move)
    cstar = 2 * run.cstar
    far = M.replace(_with(run, cstar_median=float(np.median(cstar)), znorm_median=float(np.median(cstar) * 10)),
                    cstar=cstar, curve=run.curve.assign(acc=[(cstar > x).mean() for x in run.curve.c]))
    assert _failed(cfg, M.replace(ideal, headline=[far]))[1] == ["I11", "I5", "I6 headline"]
    # a non-monotone normalised margin
    bad_log = run.log.assign(margin=[3.0, 3.06, 3.05, 3.07])
    assert _failed(cfg, M.replace(ideal, headline=[M.replace(run, log=bad_log)]))[1] == ["I2"]
    # the wrong rate in d
    sd = ideal.sweep_d.assign(znorm_median=lambda f: f.d ** 0.6 / 10)
    assert _failed(cfg, M.replace(ideal, sweep_d=sd))[1] == ["I7 d"]
    # a sweep point with c* off by 20 %
    sk = ideal.sweep_k.copy()
    sk.loc[0, "cstar_median"] = 1.2
    assert _failed(cfg, M.replace(ideal, sweep_k=sk))[1] == ["I6 sweeps"]
    # radius distribution shifted by one noise s.d. (the theory curve no longer fits)
    assert _failed(cfg, M.replace(ideal, headline=[M.replace(run, r_rob=run.r_rob + 1.0)]))[1] == ["I9"]
    # a failed certificate, a negative bias, unbalanced neurons, no feature averaging
    cert = run.cert_ok.copy()
    cert[3] = False
    assert _failed(cfg, M.replace(ideal, headline=[M.replace(run, cert_ok=cert)]))[1] == ["I10"]
    assert _failed(cfg, M.replace(ideal, headline=[_with(run, bias_pos=0.9, balancedness=0.1)]))[1] == [
        "I13 balance", "I13 bias"]
    assert _failed(cfg, M.replace(ideal, headline=[_with(run, spread=3.0, crosstalk=0.5)]))[1] == [
        "I12 cross", "I12 spread"]
    # training that did not converge
    assert _failed(cfg, M.replace(ideal, headline=[_with(run, train_acc=0.99, train_loss=0.1)]))[1] == [
        "I1 acc", "I1 loss"]
