"""rob.experiments.ntk_features: configuration, the kernel part on a small split, and the acceptance
checks N1-N16 (they pass on results that obey the theorems and fail on broken ones)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import check_helpers
from rob.experiments import ntk_features as M


def test_config_scales_and_errors():
    ci, paper = M.config("ci"), M.config("paper")
    assert (ci.n_train, ci.n_feat, ci.eta, ci.T, ci.reps) == (400, 500, 2.0, 1000, 3)
    assert ci.widths == (16, 64, 256, 1024) and ci.pgd_eps == (0.1, 0.15, 0.2) and len(ci.eps_grid) == 7
    assert paper.n_train is None and paper.widths[-1] == 4096 and paper.N8_min == 0.94
    assert M.config("ci", alpha=0.1).alpha == 0.1
    with pytest.raises(ValueError, match="scale"):
        M.config("huge")


def test_small_kernel_part_runs_and_is_deterministic():
    cfg = replace(M.config("ci"), n_train=120, n_feat=60, eps_grid=(0.0, 0.1, 0.15), pgd_eps=(0.15,), noise_draws=2,
                  T_grid=(1, 10, 1000, float("inf")), topk=(1, 5), n1_width=2 ** 10, T=1000)
    a = M.kernel_part(cfg, 3)
    b = M.kernel_part(cfg, 3)
    pd.testing.assert_frame_equal(a.features, b.features)
    assert a.features.violations.sum() == 0 and len(a.features) == 120
    assert a.identities["sum_rel"] < 1e-8 and a.identities["recursion_rel"] < 1e-8
    assert a.N2["abs_err"] < 1e-6 * a.N2["max_grad"]
    assert a.curves.fgsm.iloc[0] > 0.85 and a.curves.fgsm.iloc[2] < a.curves.noise.iloc[2]
    assert not np.isnan(a.curves.pgd.iloc[2]) and np.isnan(a.curves.pgd.iloc[1])


def test_chapter_part_merges_the_three_parts(monkeypatch, tmp_path):
    """One submission of kernel, network and dynamics tasks splits back into what the three parts give."""
    from test_executor_chapters import same

    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("ROB_NO_CACHE", "0")
    cfg = replace(M.config("ci"), n_train=60, n_feat=30, eps_grid=(0.0, 0.15), pgd_eps=(0.15,), noise_draws=2,
                  T_grid=(10, float("inf")), topk=(5,), n1_width=2 ** 8, T=20, widths=(16, 32), reps=1)
    dc = replace(M.dynamics_config("ci"), n_train=60, n_probe=12, width=16, epochs=2, batch=20, reps=1, n_eval=40,
                 n_autograd=6)
    res, dyn = M.chapter_part(cfg, dc, 2)
    kt = M.kernel_tasks(cfg, 2)
    assert len(M.tasks(cfg, 2, dc=dc)) == 2 + 2 + len(kt) and len(kt) == 2 + 2 + 1 + 2 + 1 + 11
    assert list(res.nets.m) == [16, 32] and len(res.kernel.features) == 60 and list(res.kernel.curves.eps) == [0.0, 0.15]
    # the parts one by one (their tasks come from the cache the submission filled: the merge is what is tested)
    same(res.kernel, M.kernel_part(cfg, 2), "kernel")
    same(res.nets, M.net_part(cfg, 2), "nets")
    same(dyn, M.dynamics_part(dc, 2), "dynamics")
    # panel (a): each ε has its own noise stream (seed, 1, i)
    km = M.kernel_model(cfg, 2)
    rng = np.random.default_rng([2, 1, 1])
    nz = [M._acc(km.predict(M.attacks.sign_noise(km.task.X_test, 0.15, rng), km.alpha_inf), km.task.y_test)
          for _ in range(2)]
    assert res.kernel.curves.noise.iloc[1] == np.mean(nz) and res.kernel.curves.noise_min.iloc[1] == min(nz)


# -- synthetic results --------------------------------------------------------------------------------

def _ideal(cfg):
    n = 400
    lam = 250 * np.arange(1, n + 1) ** -1.4
    i = np.arange(n)
    u = np.full(n, 0.55)
    r = np.where(i < 10, 0.45, np.where(i < 50, 0.05, 0.002))
    feats = pd.DataFrame(dict(i=i, lam=lam, u=u, r=r, q=r / u, rel_change=lam ** -0.2, bound_ratio=0.3,
                              violations=0, d_theta=0.27))
    eps = np.asarray(cfg.eps_grid)
    fgsm = np.array([0.98, 0.90, 0.64, 0.17, 0.02, 0.0, 0.0])
    curves = pd.DataFrame(dict(eps=eps, fgsm=fgsm, pgd=[np.nan, np.nan, 0.63, 0.157, 0.014, np.nan, np.nan],
                               noise=[0.98, 0.98, 0.975, 0.96, 0.94, 0.90, 0.86], noise_min=0.0, noise_max=1.0))
    learning = pd.DataFrame(dict(T=list(cfg.T_grid), clean=np.linspace(0.7, 0.98, 10),
                                 fgsm=[0.48, 0.47, 0.44, 0.43, 0.34, 0.22, 0.14, 0.14, 0.16, 0.17], eff_dim=1.0))
    K = M.KernelResults(
        lam=lam, n_train=n, n_test=1397, pos_share=0.5, min_train_test_dist=1.0, curves=curves,
        muT=dict(clean=0.97, own_fgsm=0.136, inf_fgsm=0.2, noise=0.945), learning=learning,
        topk=pd.DataFrame(dict(k=[1, 2], clean=[0.5, 0.6], fgsm=[0.5, 0.4])),
        ridge=pd.DataFrame(dict(gamma=[1e-3], clean=[0.9], fgsm=[0.3], eff_dim=[50.0])),
        features=feats, bulk=dict(clean=0.586, fgsm=0.009, majority=0.502),
        identities=dict(sum_rel=1e-13, recursion_rel=1e-14), N1=0.017, N2=dict(abs_err=1e-9, max_grad=1.0),
        overlaps=pd.DataFrame(dict(i=i, depth2=0.99, depth3=0.95)))
    rows = []
    for m in cfg.widths:
        for rep in range(cfg.reps):
            rows.append(dict(m=m, rep=rep, loss=0.04, spike=1.0, weight_change=0.01, clean=0.97,
                             fgsm_T=0.13, fgsm_inf=0.19, noise=0.94, agreement=1 - 0.6 / np.sqrt(m),
                             rmse=2.0 / np.sqrt(m) * (1 + 0.01 * rep)))
    return M.Results(K, pd.DataFrame(rows))


def _failed(cfg, res):
    return check_helpers.record("ntk-features", M, cfg, res)


@pytest.mark.parametrize("scale", ["ci", "paper"])
def test_checks_pass_on_results_that_obey_the_theorems(scale):
    cfg = M.config(scale)
    report, failed = _failed(cfg, _ideal(cfg))
    assert failed == [] and len(report.checks) == 23


def _kernel(res, **kw):
    return M.Results(replace(res.kernel, **kw), res.nets)


def test_checks_fail_on_broken_results():
    cfg = M.config("ci")
    res = _ideal(cfg)
    K, N = res.kernel, res.nets
    assert _failed(cfg, _kernel(res, N1=0.2))[1] == ["N1"]
    assert _failed(cfg, _kernel(res, N2=dict(abs_err=1e-3, max_grad=1.0)))[1] == ["N2"]
    # a useless predictor: clean accuracy near chance (noise then also fails)
    bad = K.curves.assign(fgsm=K.curves.fgsm * 0.5, noise=K.curves.noise * 0.5)
    assert {"N3", "N4 noise"} <= set(_failed(cfg, _kernel(res, curves=bad))[1])
    # an attack that does nothing: FGSM accuracy equals noise accuracy
    weak = K.curves.assign(fgsm=K.curves.noise)
    assert {"N4 FGSM", "N4 gap"} <= set(_failed(cfg, _kernel(res, curves=weak))[1])
    # PGD weaker than FGSM
    assert _failed(cfg, _kernel(res, curves=K.curves.assign(pgd=K.curves.pgd + 0.05)))[1] == ["N5"]
    # no transfer: the nets are as robust as under noise, and disagree with the kernel
    no_transfer = N.assign(fgsm_T=0.9, agreement=0.6)
    assert {"N6", "N7", "N8 agree", "N8 gain"} <= set(_failed(cfg, M.Results(K, no_transfer))[1])
    # nets that do not converge to the kernel: RMSE flat in m
    assert _failed(cfg, M.Results(K, N.assign(rmse=0.1)))[1] == ["N9"]
    # features all equally robust: no spectral ordering
    flat = K.features.assign(r=0.3, q=0.3 / 0.55, rel_change=1.0)
    assert {"N10 bulk", "N10 ratio", "N11", "N14"} <= set(_failed(cfg, _kernel(res, features=flat))[1])
    # bulk predictor at chance / robust
    assert _failed(cfg, _kernel(res, bulk=dict(clean=0.5, fgsm=0.3, majority=0.502)))[1] == ["N12 fragile", "N12 useful"]
    assert _failed(cfg, _kernel(res, features=K.features.assign(violations=1)))[1] == ["N13"]
    # early stopping no more robust than the converged predictor
    assert "N15 robust" in _failed(cfg, _kernel(res, learning=K.learning.assign(fgsm=0.17)))[1]
    assert _failed(cfg, _kernel(res, identities=dict(sum_rel=1e-4, recursion_rel=1e-14)))[1] == ["N16"]


# -- §9.3: kernel dynamics under standard and adversarial training --------------------------------

def test_cosine_distance_and_top_share():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6)); A = A @ A.T
    B = rng.standard_normal((6, 6)); B = B @ B.T
    assert abs(M.cosine_distance(A, 3.0 * A)) < 1e-14
    d = M.cosine_distance(A, B)
    assert 0 < d < 1 and abs(d - M.cosine_distance(B, A)) < 1e-15
    assert abs(d - (1 - np.trace(A @ B) / np.sqrt(np.trace(A @ A) * np.trace(B @ B)))) < 1e-12
    stack = np.stack([A, B, A + B])
    assert np.allclose(M.cosine_distance(stack, B), [d, 0.0, M.cosine_distance(A + B, B)], atol=1e-14)
    # top share: eigenvalues 4, 3, 2, 1 in a rotated basis -> (16 + 9)/30 for k = 2
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    K = Q @ np.diag([1.0, 4.0, 2.0, 3.0]) @ Q.T
    assert abs(M.top_share(K, 2) - 25 / 30) < 1e-12 and abs(M.top_share(K, 4) - 1) < 1e-12
    assert np.allclose(M.top_share(np.stack([K, np.eye(4)]), 1), [16 / 30, 0.25])


def test_freeze_epoch():
    d = np.array([1.0, 0.5, 0.05, 0.2, 0.05, 0.0])
    assert M.freeze_epoch(d, 0.1) == 4          # the bump at epoch 3 counts
    assert M.freeze_epoch(d, 0.3) == 2 and M.freeze_epoch(d, 2.0) == 0 and M.freeze_epoch(d, 1e-9) == 5


def test_dynamics_part_small():
    dc = replace(M.dynamics_config("ci"), n_train=60, n_probe=12, width=16, epochs=3, batch=20, reps=2, n_eval=40,
                 n_autograd=6)
    res = M.dynamics_part(dc, 1)
    R, C = res.runs, res.curves
    assert len(R) == 4 and len(C) == 4 * (dc.epochs + 1)
    assert R.D1.max() < 1e-10                       # closed-form empirical NTK = autograd J Jᵀ
    assert np.allclose(C[C.epoch == dc.epochs].d_final, 0, atol=1e-12) and (R.D > 0).all()
    assert ((C.share > 0.5) & (C.share <= 1 + 1e-12)).all() and set(res.dist) == {"standard", "adversarial"}
    assert np.allclose(np.diag(res.dist["standard"]), 0, atol=1e-12)
    # same initialisation and minibatch order: the two trainings start from the same kernel ...
    first = C[C.epoch == 0].groupby("rep").share.agg(["min", "max"])
    assert np.allclose(first["min"], first["max"], rtol=0, atol=1e-14)
    # ... and with ε = 0 adversarial training is standard training
    same = M.dynamics_part(replace(dc, eps=0.0, reps=1), 1).runs
    assert abs(same.D.iloc[0] - same.D.iloc[1]) < 1e-12 and same.share.iloc[0] == same.share.iloc[1]
    assert not np.isclose(R.D.iloc[0], R.D.iloc[1], rtol=1e-6)


def _ideal_dynamics(dc):
    rows = []
    for r in range(dc.reps):
        rows.append(dict(training="standard", rep=r, D=0.0018 + 1e-4 * r, freeze_abs=38 - r, freeze_rel=38 - r,
                         share=0.99980 + 1e-5 * r, robust=0.54, D1=1e-15))
        rows.append(dict(training="adversarial", rep=r, D=0.0005, freeze_abs=20 + r, freeze_rel=43 + r,
                         share=0.99974 + 1e-5 * r, robust=0.73 - 0.01 * r, D1=1e-15))
    runs = pd.DataFrame(rows).assign(D_ntk=0.01, share0=0.9997, clean=0.9, loss=0.3)
    curves = pd.DataFrame(dict(training=["standard", "adversarial"], rep=0, epoch=1, d_step=[8e-5, 4e-5]))
    return M.DynamicsResults(curves, runs, {})


def _dyn_failed(dc, dyn):
    from rob.book import checks

    report = checks.Report("ntk-features", {})
    quoted = M.record_dynamics_checks(report, dc, dyn)
    assert all(isinstance(v, float) for v in quoted.values())
    return sorted(c.id for c in report.checks if not c.passed)


def test_dynamics_checks_pass_and_fail():
    dc = M.dynamics_config("ci")
    ok = _ideal_dynamics(dc)
    assert _dyn_failed(dc, ok) == []

    def mod(training, **kw):
        R = ok.runs.copy()
        for k, v in kw.items():
            R.loc[R.training == training, k] = v
        return M.DynamicsResults(ok.curves, R, {})

    assert _dyn_failed(dc, mod("adversarial", D1=1e-6)) == ["D1"]
    assert _dyn_failed(dc, mod("standard", D=0.05)) == ["D2"]
    assert _dyn_failed(dc, mod("adversarial", robust=0.55)) == ["D3"]
    assert _dyn_failed(dc, mod("adversarial", freeze_abs=45)) == ["D4"]
    assert _dyn_failed(dc, mod("adversarial", freeze_rel=10)) == ["D5"]
    assert _dyn_failed(dc, mod("adversarial", share=0.99995)) == ["D6"]


def test_dynamics_checks_paper_scale_d4_records_non_reproduction():
    dc = M.dynamics_config("paper")
    assert (dc.width, dc.epochs, dc.reps, dc.D4_earlier) == (1024, 200, 5, False)
    ok = _ideal_dynamics(dc)
    later = ok.runs.copy()
    later.loc[later.training == "adversarial", "freeze_abs"] = 45
    assert _dyn_failed(dc, M.DynamicsResults(ok.curves, later, {})) == []
    assert _dyn_failed(dc, ok) == ["D4"]        # significantly earlier: the claim would be seen at this scale
