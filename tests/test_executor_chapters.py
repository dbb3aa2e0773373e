"""Every chapter's sweep tasks give identical results serially and on a real 2-worker Dask
LocalCluster over TCP on 127.0.0.1 (one BLAS/torch thread per task, results merged in task order).

A representative subset per chapter, at ``ci`` sizes or cut further where one ci task takes
more than a few seconds (the regimes chapter runs all its ci sweeps in tests/test_executor.py).
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from rob.book import executor as E
from rob.experiments import adversarial_rf as A
from rob.experiments import implicit_bias as I
from rob.experiments import memorization as Me
from rob.experiments import ntk_features as N
from rob.experiments import regimes as R
from rob.experiments import stability as S


def same(a, b, where="result"):
    """Exact equality of nested results (frames, arrays, dataclasses, dicts, lists, floats with NaN)."""
    assert type(a) is type(b), where
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def _subsets() -> dict[str, list[E.Task]]:
    arf = A.replace(A.config("ci"), d=40, trials=2, psi1_sim=(0.5, 2.5), pgd_psi1=(1.0,), pgd_n_test=50)
    ib = I.config("ci")
    st = S.config("ci")
    small = S.replace(st.tsweep[0], T=10, record=(5, 10), n_test=200)
    st = S.replace(st, tsweep=(small,), nsweep=(S.replace(small, n=400),))
    mem = Me.config("ci")
    ntk = N.replace(N.config("ci"), widths=(16, 64), reps=1, T=50)
    # the kernel part on a small split: every kind of kernel task (2 feature chunks, ε grid with noise, PGD, filters)
    ntk_k = N.replace(N.config("ci"), n_train=80, n_feat=40, eps_grid=(0.0, 0.15), pgd_eps=(0.15,), noise_draws=2,
                      T_grid=(10, float("inf")), topk=(5,), n1_width=2 ** 8, T=50)
    return {
        "adversarial-rf": A.simulate_tasks(arf, 0),
        "implicit-bias": I.sweep_tasks(ib.sweep_d[:2], 0, "d"),
        "stability": S.main_tasks(st, 0),
        "memorization": (Me.descent_tasks(mem.fig1, 0, "fig1")[:6] + Me.descent_tasks(mem.fig1b, 0, "fig1b")[:4]
                         + Me.scaling_tasks(mem.fig2a, 0)[:4] + Me.width_tasks(mem.fig2b, 0, "fig2b")[:4]
                         + Me.width_tasks(mem.fig2c, 0, "fig2c")[:4]),
        "ntk-features": N.net_tasks(ntk, 0) + N.kernel_tasks(ntk_k, 0),
    }


@pytest.mark.parametrize("chapter", ["adversarial-rf", "implicit-bias", "stability", "memorization", "ntk-features"])
def test_serial_equals_two_workers(chapter, dask_local2):
    tasks = _subsets()[chapter]
    assert {t.chapter for t in tasks} == {chapter} and len(tasks) >= 2
    serial = E.run_tasks(tasks, chapter, E.Executor(), use_cache=False)
    parallel = E.run_tasks(tasks, chapter, dask_local2, use_cache=False)
    same(serial, parallel, chapter)


def _later_sweeps(chapter: str):
    """The sweeps of the sections added after the first conversion (the infinite-width panels, the
    kernel dynamics, the adversarial link and the equivalent ridge), through their public functions
    (task lists and the merge that follows them), on cut-down ci configs."""
    if chapter == "memorization":
        ic = Me.infinite_config("ci", n_test=200)
        return (Me.kernel_scaling_sweep(dataclasses.replace(ic.scaling, ds=(50, 100), reps=2), 0),
                Me.kernel_convergence_sweep(dataclasses.replace(ic.convergence, ns=(10, 40), ks=(200, 800), reps=2), 0))
    if chapter == "ntk-features":
        return N.dynamics_part(dataclasses.replace(N.dynamics_config("ci"), epochs=3, reps=2, n_eval=100), 0)
    cfg = R.replace(R.config("ci"), psis=(0.25, 0.5, 1.0))
    link = dataclasses.replace(R.link_config("ci"), adv_psis=(0.5,), adv_n=200, ridge_ms=(2, 5), ridge_reps=2,
                               ridge_n_test=2000)
    # the whole chapter in one submission (every task kind, the Monte Carlo in 3 chunks), on a tiny config
    tiny = R.replace(cfg, d=30, reps=2, gd_d=20, gd_psis=(0.5, 1.0), gd_steps=500, mc_n_test=2500, mc_chunk=1000,
                     rf_d=8, rf_reps=2, planted_d=30, lazy_d=6, lazy_m=3, lazy_reps=2, J=50, lazy_n_test=2000)
    tiny_link = dataclasses.replace(link, adv_psis=(0.5, 1.0), adv_n=50, ridge_ms=(2,), ridge_reps=2, ridge_n_test=500)
    return R.adversarial_link(cfg, link, 0), R.ridge_sweep(cfg, link, 0), R.sweeps(tiny, tiny_link, 0)


@pytest.mark.parametrize("chapter", ["memorization", "ntk-features", "regimes"])
def test_later_sweeps_serial_equals_two_workers(chapter, dask_local2, monkeypatch):
    monkeypatch.setenv("ROB_NO_CACHE", "1")
    monkeypatch.setenv("ROB_EXECUTOR", "serial")
    serial = _later_sweeps(chapter)
    monkeypatch.setenv("ROB_EXECUTOR", dask_local2.spec())
    assert E.current() == dask_local2
    run = E._STATE.tasks_run
    parallel = _later_sweeps(chapter)
    assert E._STATE.tasks_run - run >= 4  # the sweeps ran as tasks on the cluster, none from the cache
    same(serial, parallel, chapter)
