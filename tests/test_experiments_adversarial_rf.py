"""rob.experiments.adversarial_rf: configuration, one small trial, and the acceptance checks A0-A10
(they pass on data that obey the theory and fail on broken data)."""

import numpy as np
import pandas as pd
import pytest

import check_helpers
from rob.experiments import adversarial_rf as M


def test_config_scales_and_errors():
    ci, paper = M.config("ci"), M.config("paper")
    assert (ci.d, ci.trials, ci.psi2s, ci.eps, ci.psi1_sim) == (100, 8, (2.0,), (0.1, 0.3), M.CI_PSI1)
    assert len(ci.theory_psi1) == 60 and ci.pgd_psi1 == (1.0, 10.0) and ci.pgd_n_test == 500
    assert paper.d == 200 and paper.trials == 16 and len(paper.psi1_sim) == 15 and set(M.CI_PSI1) <= set(paper.psi1_sim)
    assert max(paper.psi1_sim) * paper.d <= 4000 and len(paper.theory_psi1) == 120 and paper.bias == 0.03
    with pytest.raises(ValueError, match="scale"):
        M.config("huge")


def _tiny():
    return M.replace(M.config("ci"), d=30, psi1_sim=(0.5, 10.0), trials=2, pgd_psi1=(10.0,), pgd_n_test=50)


def test_small_trial_is_deterministic_and_sensible():
    cfg = _tiny()
    (a, pa), (b, _) = M.trial(cfg, 3, 0), M.trial(cfg, 3, 0)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 4 and len(pa) == 1
    assert np.all(a.grad_norm < 1e-4) and np.all(a.lam_min > 0.02)
    big = a[a.psi1 == 10.0]
    assert np.all(big.interp > 0.9) and np.all(big.rel_mn < 1e-3) and np.all(np.isnan(a[a.psi1 == 0.5].rel_mn))
    assert abs(pa.AR_pgd.iloc[0] - pa.AR_lin.iloc[0]) < 0.02 * pa.AR_lin.iloc[0]
    c, _ = M.trial(cfg, 4, 0)
    assert not np.allclose(a.AR, c.AR)


# -- synthetic results --------------------------------------------------------------------------

def _ideal(cfg):
    """Simulation rows equal to the theory up to ±0.5 % trial-to-trial noise (so SE > 0)."""
    th = M.theory(cfg)
    rows = []
    for rep in range(cfg.trials):
        z = 1 + 0.005 * (1 if rep % 2 else -1)
        for _, r in th[th.simulated].iterrows():
            rows.append(dict(rep=rep, psi2=r.psi2, eps=r.eps, psi1=r.psi1, AR=r.AR * z, SR=r.SR * z, t=r.t * z,
                             L=r.R * z, interp=min(1.0, r.interp * z), rel_mn=1e-5 if r.psi1 >= 10 else np.nan,
                             grad_norm=1e-6, AR01_ridgeless=0.5))
    sim = pd.DataFrame(rows)
    t10 = th[(th.eps == 0.1) & (th.psi2 == 2.0)].set_index("psi1").t
    pgd = pd.DataFrame([dict(rep=0, psi1=p, t=t10[p], AR_pgd=1.0, AR_lin=1.001, grad_mean=t10[p] * 1.002,
                             grad_sd=0.07) for p in cfg.pgd_psi1])
    cross = pd.DataFrame([dict(eps=0.1, psi1=1.0, grad=1e-10, nu_diff=1e-16, eig_convex=0.01, eig_concave=-0.01)])
    spec = pd.DataFrame(dict(psi1=[0.5, 2.0], spectrum=[0.675, 0.2285], theory=[0.674978, 0.228300]))
    return M.Results(th, cross, spec, sim, pgd)


def _failed(cfg, res):
    return check_helpers.record("adversarial-rf", M, cfg, res)


def test_checks_pass_on_data_that_obey_the_theory():
    cfg = M.config("ci")
    report, failed = _failed(cfg, _ideal(cfg))
    assert failed == [] and len(report.checks) == 24


def test_checks_fail_when_the_reproduction_is_wrong():
    cfg = M.config("ci")
    ideal = _ideal(cfg)
    sim = ideal.sim

    def with_sim(mask, **cols):
        s = sim.copy()
        for k, f in cols.items():
            s.loc[mask, k] = f(s.loc[mask, k])
        return M.replace(ideal, sim=s)

    # robust error 10 % too high everywhere
    assert _failed(cfg, with_sim(sim.eps > 0, AR=lambda v: v * 1.1))[1] == ["A5 AR"]
    # no curse: AR(20) pulled down to AR(6) (also moves the simulated minimum)
    sim = ideal.sim.copy()
    for e in (0.1, 0.3):
        ar6 = sim[(sim.eps == e) & (sim.psi1 == 6.0)].AR.to_numpy()
        sim.loc[(sim.eps == e) & (sim.psi1 == 20.0), "AR"] = ar6 - 0.01
    assert "A6 curse" in _failed(cfg, M.replace(ideal, sim=sim))[1]
    sim = ideal.sim
    # standard error of t off by 30 % at large psi1
    assert _failed(cfg, with_sim(sim.psi1 >= 10, t=lambda v: v * 1.3))[1] == ["A5 t"]
    # training objective and interpolation far from R* and erf(nu*/sqrt 2)
    assert _failed(cfg, with_sim(sim.psi1 == 1.5, L=lambda v: v * 1.5, interp=lambda v: v + 0.1))[1] == [
        "A8 interp", "A8 objective"]
    # a fit that is not the min-||J theta|| interpolator, a solver that did not converge
    assert _failed(cfg, with_sim(sim.psi1 == 20, rel_mn=lambda v: v * 0 + 0.01))[1] == ["A7"]
    assert _failed(cfg, with_sim(sim.psi1 == 1, grad_norm=lambda v: v * 0 + 1e-2))[1] == ["A10"]
    # PGD finds a much larger loss than the linearisation; gradients off
    bad = ideal.pgd.assign(AR_pgd=1.05, grad_mean=ideal.pgd.t * 1.05)
    assert _failed(cfg, M.replace(ideal, pgd=bad))[1] == ["A9 PGD", "A9 grad"]
    # literal objective not stationary, wrong saddle signature, wrong spectrum
    cross = ideal.cross.assign(grad=1e-4, nu_diff=1e-6, eig_convex=-0.01, eig_concave=0.01)
    assert _failed(cfg, M.replace(ideal, cross=cross))[1] == ["A2 concave", "A2 convex", "A2 grad", "A2 nu"]
    assert _failed(cfg, M.replace(ideal, spectrum=ideal.spectrum.assign(spectrum=[0.70, 0.2285])))[1] == ["A1"]
    # a theory without the curse (SR frozen beyond psi1 = 6) breaks the landmarks and the same-interpolator check
    th = ideal.theory.copy()
    m = th.psi1 > 6
    th.loc[m & (th.eps == 0.1), "AR"] = 0.715
    th.loc[m & (th.eps == 0.3), "SR"] += 0.01
    failed = _failed(cfg, M.replace(ideal, theory=th))[1]
    assert {"A3 curse", "A3 rise", "A3 limit", "A4"} <= set(failed)
    # residual of the reduced system too large
    assert "A0" in _failed(cfg, M.replace(ideal, theory=ideal.theory.assign(residual=1e-6)))[1]


def test_fine_landmarks_match_the_reference_values():
    lm = M.fine_landmarks(M.config("ci"), points=800)
    assert lm["arf-fine-peak-psi1"] == pytest.approx(2.24, abs=0.02) and lm["arf-fine-peak"] == pytest.approx(2.196, abs=0.01)
    assert lm["arf-fine-min-psi1"] == pytest.approx(5.97, abs=0.05) and lm["arf-fine-min"] == pytest.approx(0.7146, abs=1e-3)
    assert lm["arf-fine-min3-psi1"] == pytest.approx(7.69, abs=0.05) and lm["arf-fine-peak3"] == pytest.approx(1.411, abs=2e-3)
