"""rob.experiments.stability: configuration, one small setting, and the acceptance checks S1-S12
(they pass on data that obey the theorems' shapes and fail on broken data)."""

import numpy as np
import pandas as pd
import pytest

import check_helpers
from rob.experiments import stability as M


def test_config_scales_and_errors():
    ci, paper = M.config("ci"), M.config("paper")
    t = ci.tsweep[0]
    assert (t.n, t.m, t.d, t.eps, t.eta, t.T, t.r, t.n_test) == (200, 128, 10, 0.03, 20.0, 400, 3, 2000)
    assert t.record == (10, 25, 50, 100, 200, 400) and ci.nsweep[0].n == 800 and ci.nsweep[0].T == 400
    assert ci.reps == 1 and not ci.width and ci.regime is None
    assert [s.n for s in paper.tsweep] == [200, 800] and paper.tsweep[0].T == 2000
    assert len(paper.tsweep[0].record) == 12 and {25, 100, 200, 400} <= set(paper.tsweep[0].record)
    # paper = the spec's sizes (§7): 5 replicates, r = 8, both T-sweep n to T = 2000, n-sweep to T = 400
    assert [s.n for s in paper.nsweep] == [400, 1600, 3200] and paper.reps == 5
    assert all(s.r == 8 and s.n_test == 5000 for s in paper.tsweep + paper.nsweep)
    assert [(s.T, s.record) for s in paper.tsweep] == [(2000, M.PAPER_RECORD)] * 2
    assert all((s.T, s.record) == (400, (100, 200, 400)) for s in paper.nsweep)
    assert paper.T_n in paper.nsweep[0].record
    c = M.constants(paper.regime)
    assert c["eta_rho_T"] <= 1 and c["lam_rho"] <= 0.5
    with pytest.raises(ValueError, match="scale"):
        M.config("huge")


def test_small_setting_is_deterministic_and_sensible():
    spec = M.RunSpec(40, 30, (10, 30), m=16, r=2, n_test=200)
    a, b = M.run_setting(spec, 3), M.run_setting(spec, 3)
    pd.testing.assert_frame_equal(a.rows, b.rows)
    assert set(a.rows.method) == {"std", "at", "moreau"} and len(a.rows) == 6
    r = a.rows.set_index(["method", "T"])
    assert (r.delta_mean > 0).all() and (r.move > 0).all()
    assert r.loc[("at", 30), "train_loss"] < r.loc[("at", 10), "train_loss"]
    assert all(v <= M.constants(spec)["G"] for v in a.max_grad_norm.values())
    c = M.run_setting(spec, 4)
    assert not np.allclose(a.rows.delta_mean, c.rows.delta_mean)


def test_one_task_per_method_merges_to_the_all_methods_setting():
    spec = M.RunSpec(40, 20, (10, 20), m=16, r=2, n_test=100)
    whole = M.run_setting(spec, 5, rep=1)
    parts = [M.run_setting(M.replace(spec, methods=(k,)), 5, rep=1) for k in reversed(spec.methods)][::-1]
    merged = M.merge_methods(spec, parts)
    pd.testing.assert_frame_equal(merged.rows, whole.rows, check_exact=True)
    assert list(merged.max_grad_norm.items()) == list(whole.max_grad_norm.items())
    assert all(np.array_equal(merged.flip_frac[k], whole.flip_frac[k], equal_nan=True) for k in spec.methods)
    # the chapter's task list: one task per (setting, replicate, method), largest first, all of them
    cfg = M.config("paper")
    ts = M.tasks(cfg, 0)
    units = (len(cfg.tsweep) + len(cfg.nsweep)) * cfg.reps
    assert len(M.main_tasks(cfg, 0)) == 3 * units and len(ts) == 3 * units + len(M.extra_tasks(cfg, 0))
    assert all(len(t.kwargs["spec"].methods) == 1 for t in ts) and len({t.key for t in ts}) == len(ts)
    costs = [M.cost(t.kwargs["spec"], t.kwargs["spec"].methods[0]) for t in ts]
    assert costs == sorted(costs, reverse=True) and max(costs) < sum(costs) / 10



def test_compute_puts_every_task_back_in_place(monkeypatch):
    """compute submits the tasks largest first; the merged results equal one all-methods
    run_setting per (setting, replicate) in the natural order, extras included (tiny sizes)."""
    monkeypatch.setenv("ROB_NO_CACHE", "1")
    monkeypatch.setenv("ROB_EXECUTOR", "serial")
    t = M.RunSpec(20, 6, (3, 6), m=8, r=2, n_test=40)
    cfg = M.Config("paper", (t, M.replace(t, n=30)), (M.replace(t, n=50, T=3, record=(3,)),), reps=2, T_n=3, T_cmp=6,
                   width=(M.replace(t, m=4, methods=("at",), r=0, evaluate=False), M.replace(t, m=16, methods=("at",), r=0,
                                                                                               evaluate=False)),
                   regime=M.replace(t, m=32, methods=("at", "moreau")), variants=(M.replace(t, methods=("moreau",)),))
    assert [x.key for x in M.tasks(cfg, 2)] != [x.key for x in M.main_tasks(cfg, 2) + M.extra_tasks(cfg, 2)]
    res = M.compute(cfg, 2)
    whole = [M.run_setting(s, 2, r) for s in cfg.tsweep + cfg.nsweep for r in range(cfg.reps)]
    pd.testing.assert_frame_equal(res.table, pd.concat([w.rows for w in whole], ignore_index=True), check_exact=True)
    assert list(res.grad_norms.max_grad_norm) == [v for w in whole for v in w.max_grad_norm.values()]
    for got, specs in ((res.width, cfg.width), (res.regime, (cfg.regime,)), (res.variants, cfg.variants)):
        want = pd.concat([M.run_setting(s, 2, 0).rows for s in specs], ignore_index=True)
        pd.testing.assert_frame_equal(got.drop(columns="deltas"), want.drop(columns="deltas"), check_exact=True)
        assert list(map(repr, got.deltas)) == list(map(repr, want.deltas))  # [nan] when r = 0

# -- synthetic results --------------------------------------------------------------------------
# Each method follows the same curves in its own "progress" p: AT p = T, ME p = 0.8 T (slower,
# so at equal training loss it coincides with AT), ST p = T with 0.8 of AT's Δ.

def _rows(cfg, speed_me=0.8, delta=lambda p, n: 0.05 * p ** 0.7 * 200 / n, me_delta_factor=1.0,
          test_extra=lambda p, n: 0.0, rel_move=0.6):
    rows = []
    for spec in cfg.tsweep + cfg.nsweep:
        n = spec.n
        for meth, speed, fac in (("std", 1.0, 0.8), ("at", 1.0, 1.0), ("moreau", speed_me, me_delta_factor)):
            for T in spec.record:
                p = speed * T
                train = 0.66 - 0.035 * np.log1p(p)
                gap = 0.02 * np.sqrt(p) * 200 / n
                D = fac * delta(p, n)
                rows.append(dict(method=meth, n=n, T=T, rep=0, delta_mean=D, deltas=[0.8 * D, D, 1.2 * D],
                                 train_loss=train, test_loss=train + gap + test_extra(p, n), train_err=0.3,
                                 test_err=0.33, gap=gap + test_extra(p, n), move=20.0, rel_move=rel_move))
    return pd.DataFrame(rows)


def _results(cfg, grad=0.6, **kw):
    gn = pd.DataFrame([dict(method=m, n=200, rep=0, max_grad_norm=grad) for m in ("std", "at", "moreau")])
    return M.Results(_rows(cfg, **kw), gn, np.full(10, 0.002), pd.DataFrame(), pd.DataFrame(), pd.DataFrame())


def _failed(cfg, res):
    return check_helpers.record("stability", M, cfg, res)


def test_checks_pass_on_data_that_obey_the_theorems():
    cfg = M.config("ci")
    report, failed = _failed(cfg, _results(cfg))
    assert failed == [] and len(report.checks) == 16


def test_checks_fail_when_the_reproduction_is_wrong():
    cfg = M.config("ci")
    # an n-independent stability floor (Δ does not shrink like 1/n)
    assert _failed(cfg, _results(cfg, delta=lambda p, n: 0.05 * p ** 0.7))[1] == ["S4 AT", "S4 ME"]
    # Δ_T growing like T^1.5 (faster than the bound allows), not like √T … T
    assert _failed(cfg, _results(cfg, delta=lambda p, n: 0.003 * p ** 1.5 * 200 / n))[1] == ["S3 AT", "S3 ME"]
    # Δ_T that stops growing (a plateau after T = 100)
    flat = _failed(cfg, _results(cfg, delta=lambda p, n: 0.05 * min(p, 100) ** 0.7 * 200 / n))[1]
    assert {"S1 AT", "S1 ME"} <= set(flat)
    # the Moreau variant identical to AT (no equal-T advantage)
    assert _failed(cfg, _results(cfg, speed_me=1.0))[1] == ["S5", "S6"]
    # a Moreau variant that would be genuinely more stable at equal training loss
    assert _failed(cfg, _results(cfg, me_delta_factor=0.6))[1] == ["S7"]
    # no early stopping: the test loss keeps falling
    assert "S8" in _failed(cfg, _results(cfg, test_extra=lambda p, n: -0.02 * np.sqrt(p) * 200 / n))[1]
    # gradient norms above G (a scaling bug, e.g. 1/m vs 1/√m), lazy training
    assert _failed(cfg, _results(cfg, grad=1.3))[1] == ["S11"]
    assert _failed(cfg, _results(cfg, rel_move=0.1))[1] == ["S12"]


def test_bound_table_reports_violated_hypotheses():
    cfg = M.config("ci")
    bt = M.bound_table(cfg, _results(cfg))
    row = bt.iloc[0]
    assert row.lam_rho > 0.5 and np.isnan(row.log10_B_ME)
    assert 60 < row.log10_B_AT < 70 and abs(row.convex_AT - 963.5) < 1 and abs(row.convex_ME - 87.6) < 0.1


def test_plan_sees_one_balanced_sweep(tmp_path, monkeypatch):
    """rob plan at paper scale: every task (main and extras, batch ``settings``) is one sweep, and
    with task times proportional to the cost model the 2-worker makespan is within 2 % of half."""
    import json

    from rob.book import plan

    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    ts = plan.chapter_tasks("stability", "paper")
    cost = [M.cost(t.kwargs["spec"], t.kwargs["spec"].methods[0]) * 1e-9 for t in ts]
    (tmp_path / "task-times.jsonl").write_text(
        "".join(json.dumps(dict(id=t.plan_id(), kind=t.name, seconds=c)) + "\n" for t, c in zip(ts, cost)))
    p = plan.make_plan("stability", "paper", 2)
    assert p.complete and [s["kind"] for s in p.sweeps()] == ["settings"] and len(p.kinds()) > 1
    assert p.wall_s == pytest.approx(sum(cost) / 2, rel=0.02)
