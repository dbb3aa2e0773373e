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


# -- the sweeps and the checks A1-A6, Q1-Q3 ---------------------------------------------------------

import pandas as pd  # noqa: E402

import check_helpers  # noqa: E402
from rob.book import checks  # noqa: E402
from rob.experiments import regimes as M  # noqa: E402


def _small():
    cfg = M.replace(M.config("ci"), d=30, psis=(0.2, 0.5, 1.0, 1.2))
    link = M.replace(M.link_config("ci"), adv_psis=(0.5, 1.0), adv_n=60, adv_radii=(1e-3, 0.1, 1.0),
                     pgd_radii=(1e-3, 1.0), plane_radii=(1e-3, 1.0), ridge_d=6, ridge_ms=(2, 6), ridge_reps=1,
                     ridge_n_factor=30, ridge_n_test=3000)
    return cfg, link


def test_link_config_and_small_runs():
    ci, paper = M.link_config("ci"), M.link_config("paper")
    assert ci.adv_radii[0] == 1e-3 and ci.adv_radii[-1] == 1.0 and set(ci.pgd_radii) <= set(ci.adv_radii)
    assert (ci.ridge_d, paper.ridge_d, ci.ridge_reps) == (20, 40, 3) and set(paper.pgd_radii) <= set(paper.adv_radii)
    with pytest.raises(ValueError, match="scale"):
        M.link_config("huge")
    cfg, link = _small()
    adv = M.adversarial_link(cfg, link, 3)
    C = adv.curves
    assert len(C) == 2 * 3 and C.kkt.max() < 1e-12 and C.pgd_excess.max() <= 1e-9
    assert (C.rms >= C.lo * (1 - 1e-12)).all() and (C.rms <= C.hi * (1 + 1e-12)).all()
    assert len(adv.plane) == len(cfg.psis) * 2
    pd.testing.assert_frame_equal(C, M.adversarial_link(cfg, link, 3).curves)
    R = M.ridge_sweep(cfg, link, 3)
    assert len(R) == 2 and (R.eps_elu + R.S2_elu > 1).all()
    report = checks.Report("regimes", {})
    quoted = M.record_link_checks(report, cfg, link, adv, R)
    assert {c.id for c in report.checks} >= {"A1", "A2", "A4", "Q3"} and all(isinstance(v, float) for v in quoted.values())


def _ideal(cfg, link):
    rows = []
    for psi in link.adv_psis:
        for rr in link.adv_radii:
            r = rr * np.sqrt(cfg.d)
            pgd = any(np.isclose(rr, p) for p in link.pgd_radii)
            rms = 1.2 + 0.5 * r * 0.13
            rows.append(dict(psi=psi, m=int(psi * cfg.d), r_rel=rr, r=r, eps=0.25, S=1.2, S_n=1.2, opnorm=0.13, rms=rms,
                             mean=rms, lo=1.2, hi=1.2 + r * 0.13, det=rms * 0.98, kkt=1e-15, hard=0,
                             pgd_rms=rms if pgd else np.nan, pgd_min=(0.99999 if rr <= 0.2 else 0.98) if pgd else np.nan,
                             pgd_mean=0.998 if pgd else np.nan, pgd_excess=-1e-11 if pgd else np.nan))
    plane = pd.DataFrame([dict(psi=p, m=int(p * cfg.d), r_rel=rr, eps=max(1 - p, 0) ** 2, S2=1 - max(1 - p, 0) ** 2,
                               sens=1 - max(1 - p, 0) ** 2 + (0 if rr < 0.01 else rr), sens_se=0.005)
                          for p in cfg.psis for rr in link.plane_radii])
    ridge = pd.DataFrame([dict(m=m, psi=m / link.ridge_d, rep=k, eps_elu=0.5, S2_elu=0.75, eps_ridge=0.47, S2_ridge=0.79,
                               eps_chaos=0.49, S2_chaos=0.74, eps_quad=0.26, S2_quad=0.74)
                          for m in link.ridge_ms for k in range(link.ridge_reps)])
    return M.AdvLink(pd.DataFrame(rows), plane), ridge


def _failed(cfg, link, adv, ridge):
    report = checks.Report("regimes", {})
    M.record_link_checks(report, cfg, link, adv, ridge)
    return sorted(c.id for c in report.checks if not c.passed)


def _edit(df, mask, **cols):
    df = df.copy()
    for k, v in cols.items():
        df.loc[mask(df), k] = v(df[mask(df)]) if callable(v) else v
    return df


def test_link_checks_pass_on_good_data_and_fail_on_broken_data():
    cfg, link = M.config("ci"), M.link_config("ci")
    adv, ridge = _ideal(cfg, link)
    assert _failed(cfg, link, adv, ridge) == []
    C, P = adv.curves, adv.plane
    pg = lambda f: f.pgd_min.notna()
    bad = lambda **kw: M.replace(adv, **kw)
    assert _failed(cfg, link, bad(curves=C.assign(kkt=1e-6)), ridge) == ["A1"]
    assert _failed(cfg, link, bad(curves=_edit(C, pg, pgd_excess=1e-3)), ridge) == ["A2"]
    assert _failed(cfg, link, bad(curves=_edit(C, lambda f: pg(f) & (f.r_rel < 0.01), pgd_min=0.99)), ridge) == [
        "A3 small r"]
    assert _failed(cfg, link, bad(curves=_edit(C, pg, pgd_mean=0.95)), ridge) == ["A3 mean"]
    # the solver returning too small a worst case: below r S_n
    assert _failed(cfg, link, bad(curves=C.assign(rms=C.lo * 0.999, det=C.lo * 0.999)), ridge) == ["A4"]
    assert _failed(cfg, link, bad(plane=_edit(P, lambda f: (f.r_rel < 0.01) & (f.psi == 0.5), sens=lambda f: f.sens + 0.05)),
                   ridge) == ["A5"]
    assert _failed(cfg, link, bad(curves=C.assign(det=C.rms * 0.9)), ridge) == ["A6"]
    assert _failed(cfg, link, adv, ridge.assign(eps_chaos=ridge.eps_elu - 0.08)) == ["Q1 error"]
    assert _failed(cfg, link, adv, ridge.assign(S2_chaos=ridge.S2_elu + 0.1)) == ["Q1 energy"]
    # κ = 0 (the ridge forgotten): the quadratic NT values as the "ridge" prediction
    assert "Q2" in _failed(cfg, link, adv, ridge.assign(eps_ridge=ridge.eps_quad, S2_ridge=ridge.S2_quad))
    assert _failed(cfg, link, adv, ridge.assign(eps_ridge=ridge.eps_elu + 0.1, S2_ridge=ridge.S2_elu - 0.02)) == ["Q3"]
