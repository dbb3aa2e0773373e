"""rob.book.executor: sweeps as tasks, serial or on a Dask cluster, with identical results.

The regimes chapter's ci sweeps run serially and on a real 2-worker LocalCluster over TCP on
127.0.0.1 (tidy frames and checks must be identical); one worker process is killed in the middle
of a sweep (Dask reruns its tasks; the result must not change); the cache survives concurrent
writers of one key; a killed run resumes from its finished tasks; bad --workers/--scheduler
values stop the CLI with exit 2 before anything runs.
"""

import json
import multiprocessing as mp
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from rob.book import cache, checks, cli
from rob.book import executor as E
from rob.experiments import regimes as M

CFG = M.config("ci")


def _sweeps(ex_spec: str, monkeypatch) -> M.Results:
    """The regimes chapter's ci sweeps (what its notebook computes), without the cache."""
    monkeypatch.setenv("ROB_EXECUTOR", ex_spec)
    monkeypatch.setenv("ROB_NO_CACHE", "1")
    return M.Results(M.closed_forms(CFG, 0), M.nn_descent(CFG, 0), M.nt_monte_carlo(CFG, 0), M.rf_wide(CFG, 0),
                     M.lazy(CFG, 0), M.planted_teacher(CFG, 0))


def _check_values(res: M.Results) -> tuple[list, dict]:
    report = checks.Report("regimes", {})
    quoted = M.record_checks(report, CFG, res)
    return [(c.id, c.value, c.passed) for c in report.checks], quoted


def _assert_same(a: M.Results, b: M.Results) -> None:
    for name in ("closed", "gd", "rf", "planted"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert a.mc == b.mc
    for name in ("fits", "alpha", "init"):
        pd.testing.assert_frame_equal(getattr(a.lazy, name), getattr(b.lazy, name), check_exact=True)
    assert a.lazy.moments == b.lazy.moments
    assert _check_values(a) == _check_values(b)


@pytest.fixture(scope="module")
def serial():
    with pytest.MonkeyPatch.context() as mpatch:
        return _sweeps("serial", mpatch)


# -- the executor on a cluster ----------------------------------------------------------------------

def test_regimes_serial_equals_two_worker_local_cluster(serial, monkeypatch, dask_local2):
    """Tidy frames, quoted numbers and every check value identical, bit for bit."""
    parallel = _sweeps(dask_local2.spec(), monkeypatch)
    assert E.client_for(dask_local2).scheduler.address.startswith("tcp://127.0.0.1:")
    assert E.describe(dask_local2)["workers"] == 2 and E.describe(dask_local2)["executor"] == "local"
    _assert_same(serial, parallel)
    ids, _ = _check_values(serial)
    assert all(passed for _, _, passed in ids)


def _fits_frame(fits) -> pd.DataFrame:
    return pd.DataFrame([dict(eps=f.eps_nt / f.V, S2=f.S2_nt / f.S2_star, e1=f.e1, s1=f.s1) for f in fits])


def test_killed_worker_reruns_tasks_and_failing_task_is_reported(serial):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        ex = E.Executor("scheduler", 0, cluster.scheduler_address)
        client.run(lambda: __import__("rob.experiments.regimes"))  # warm imports: the kill hits a task
        pids = client.run(os.getpid)
        killed = {}

        def kill_one_busy_worker():
            deadline = time.time() + 60
            while time.time() < deadline and not killed:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(0.3)  # in the middle of its task
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed["worker"] = busy[0]
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one_busy_worker)
        killer.start()
        fits = E.run_tasks(M.lazy_tasks(CFG, 0), "lazy", ex, use_cache=False)
        killer.join()
        assert killed, "no worker was killed"
        assert killed["worker"] not in client.scheduler_info()["workers"]  # the nanny started a new one

        with pytest.raises(E.TaskFailed, match=r"chapter regimes: task rf_wide_rep\[rf, 0\] failed: ValueError"):
            E.run_tasks([E.Task(M.rf_wide_rep, dict(cfg=CFG, seed=-1, rep=0), ("rf", 0))], "bad", ex,
                        use_cache=False, retries=0)
        E.shutdown(ex)  # rob's client of this cluster, before the cluster goes
    pd.testing.assert_frame_equal(_fits_frame(fits), serial.lazy.fits[["eps", "S2", "e1", "s1"]], check_exact=True)


# -- serial executor: order, cache, resume, failures ------------------------------------------------

def test_resume_runs_only_unfinished_tasks(tmp_path, monkeypatch):
    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    tasks = M.closed_forms_tasks(CFG, 2)
    before = E._STATE.tasks_run
    first = E.run_tasks(tasks[:2], "first two (then killed)", E.Executor())
    assert E._STATE.tasks_run - before == 2
    again = E.run_tasks(tasks, "resumed", E.Executor())
    assert E._STATE.tasks_run - before == 2 + len(tasks) - 2 and again[:2] == first
    assert [rows[0]["rep"] for rows in again] == list(range(CFG.reps))  # task order
    times = [json.loads(line) for line in (tmp_path / "task-times.jsonl").read_text().splitlines()]
    assert len(times) == len(tasks) and {t["kind"] for t in times} == {"closed_forms_rep"}


def test_serial_failure_names_chapter_task_and_error():
    with pytest.raises(E.TaskFailed, match=r"chapter regimes: task closed_forms_rep\[closed, 0\] failed: ValueError"):
        E.run_tasks([E.Task(M.closed_forms_rep, dict(cfg=CFG, seed=-3, rep=0), ("closed", 0))], "bad",
                    E.Executor(), use_cache=False)


def _write_many(path: str, value: bytes, n: int) -> None:
    for _ in range(n):
        cache.write_entry(cache.Path(path), value)
        got = cache.read_entry(cache.Path(path))
        assert got is cache._MISSING or got == value  # never a torn entry


def test_cache_entry_safe_under_concurrent_writers(tmp_path):
    path = tmp_path / "ab" / "abcd.pkl"
    value = os.urandom(4 << 20)  # 4 MB: writes take long enough to overlap
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(path), value, 8)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert cache.read_entry(path) == value
    assert [p.name for p in path.parent.iterdir()] == ["abcd.pkl"]  # no temporary file left


# -- specifications and the command line -----------------------------------------------------------

def test_parse_specifications():
    assert E.parse(None) == E.Executor() and E.parse("serial").kind == "serial"
    assert E.parse("local:3") == E.Executor("local", 3)
    assert E.parse("tcp://127.0.0.1:8786") == E.Executor("scheduler", 0, "tcp://127.0.0.1:8786")
    assert E.parse_workers("auto") >= 1 and E.parse_workers(" 4 ") == 4
    for bad in ("0", "-2", "1.5", "two", "", "1e3"):
        with pytest.raises(E.ExecutorError):
            E.parse_workers(bad)
    for bad in ("127.0.0.1:8786", "tcp://127.0.0.1", "http://x:1", "tcp://:80", "tcp://h:0", "tcp://h:70000"):
        with pytest.raises(E.ExecutorError):
            E.parse_address(bad)


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers must be between 1"),
    (["--workers", "-1"], "--workers must be between 1"),
    (["--workers", "2.5"], "positive integer"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "either --workers or --scheduler"),
    (["--scheduler", "localhost"], "tcp://HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1:1"], "no Dask scheduler reachable"),
])
def test_cli_rejects_bad_executor_options(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("ROB_SCHEDULER", raising=False)
    start = time.perf_counter()
    for command in (["run", "regimes"], ["build"]):
        assert cli.main(command + argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert time.perf_counter() - start < 10


def test_cli_passes_executor_to_kernel_env(monkeypatch):
    monkeypatch.delenv("ROB_EXECUTOR", raising=False)
    monkeypatch.setenv("ROB_SCHEDULER", "tcp://127.0.0.1:1")
    args = cli.make_parser().parse_args(["run", "regimes", "--workers", "3"])
    with pytest.raises(cli.UsageError, match="ROB_SCHEDULER"):
        cli.executor_option(args)
    monkeypatch.delenv("ROB_SCHEDULER")
    assert cli.executor_option(args) == "local:3" and os.environ["ROB_EXECUTOR"] == "local:3"
    assert E.current() == E.Executor("local", 3)
    rec = checks.Report("regimes", {}).record()
    assert rec["execution"]["executor"] == "local" and rec["execution"]["workers"] == 3


def test_workers_auto_is_one_per_gpu_on_cuda(monkeypatch):
    """``--workers auto`` starts one worker per visible GPU when the chapter may run on CUDA, one per
    core otherwise (``--device cpu``, or no GPU)."""
    cores = E.parse_workers("auto")
    assert E.parse_workers("auto", gpus=3) == 3 and E.parse_workers("2", gpus=3) == 2
    monkeypatch.delenv("ROB_SCHEDULER", raising=False)
    monkeypatch.setattr(E, "visible_gpus", lambda: 3)
    for argv, want in ((["--workers", "auto"], "local:3"), (["--workers", "auto", "--device", "cuda"], "local:3"),
                       (["--workers", "auto", "--device", "cpu"], f"local:{cores}"), (["--workers", "2"], "local:2")):
        assert cli.executor_option(cli.make_parser().parse_args(["run", "regimes", *argv])) == want
    assert cli.executor_option(cli.make_parser().parse_args(["build", "--workers", "auto"])) == "local:3"
    monkeypatch.setattr(E, "visible_gpus", lambda: 0)
    assert cli.executor_option(cli.make_parser().parse_args(["run", "regimes", "--workers", "auto"])) == f"local:{cores}"


def test_gpu_index_of_a_worker():
    assert [E.gpu_index(i, 2) for i in range(5)] == [0, 1, 0, 1, 0]
    assert E.gpu_index("3", 4) == 3 and E.gpu_index("tcp://10.0.0.1:4000", 4) == 0 and E.gpu_index(5, 0) == 0
    assert E.worker_gpu() is None  # not inside a Dask worker


def _cuda_task_on_fake_gpus() -> list:
    """Inside a worker: run a task asking for ``cuda`` through :func:`execute` with torch's CUDA calls
    replaced (2 GPUs), and return the devices it was pointed at."""
    import torch

    calls, saved = [], (torch.cuda.set_device, torch.cuda.device_count)
    torch.cuda.set_device, torch.cuda.device_count = calls.append, lambda: 2
    try:
        E.execute(lambda device: device, {"device": "cuda"})
        E.execute(lambda device: device, {"device": "cpu"})
    finally:
        torch.cuda.set_device, torch.cuda.device_count = saved
    return calls


def test_each_worker_runs_cuda_tasks_on_its_own_gpu(dask_local2):
    """On 2 workers and 2 GPUs, worker 0 points ``cuda`` at GPU 0 and worker 1 at GPU 1; a ``cpu``
    task touches no GPU."""
    client = E.client_for(dask_local2)
    names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
    got = {names[a]: client.submit(_cuda_task_on_fake_gpus, workers=[a], pure=False).result() for a in names}
    assert got == {0: [0], 1: [1]}


# -- rob plan ----------------------------------------------------------------------------------------

def test_lpt_makespan_and_bounding_task():
    from rob.book.plan import lpt

    assert lpt([5, 4, 3, 3, 3], 2) == (10, 1)  # longest first: {5, 3}, {4, 3, 3}, bound by its 4; the optimum is 9
    assert lpt([7, 1, 1], 2) == (7, 0) and lpt([2, 2], 4)[0] == 2 and lpt([], 2) == (0.0, -1)


def test_plan_from_recorded_times(tmp_path, monkeypatch, capsys):
    from rob.book import plan

    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    tasks = plan.chapter_tasks("regimes", "ci")
    assert [t.label() for t in tasks] == [t.label() for t in M.tasks(CFG, 0)] and len(tasks) == 62
    seconds = {"closed_forms_rep": 1.0, "nn_descent_width": 10.0, "nt_monte_carlo_chunk": 2.0, "rf_wide_rep": 1.0,
               "lazy_fit": 4.0, "planted_teacher_rep": 0.5, "planted_teacher_descent": 3.0,
               "adversarial_link_psi": 0.5, "ridge_rep": 1.0}
    # every task recorded, except the second gd width (estimated from its kind)
    rows = [dict(id=t.plan_id(), kind=t.name, seconds=seconds[t.name] * (2 if t.key == ("gd", 1.0) else 1))
            for t in tasks if t.key != ("gd", 0.5)]
    (tmp_path / "task-times.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = plan.make_plan("regimes", "ci", 2)
    assert p.complete and p.source.count("kind") == 1
    assert p.estimate[[t.key for t in tasks].index(("gd", 0.5))] == 15.0  # mean of 10 and 20
    # the chapter submits all its sweeps at once (batch "sweeps"): one longest-first schedule of
    # 112.5 s of tasks, as even as the 0.5 s tasks allow (a barrier after each kind would give 62.5 s)
    assert [(s["kind"], s["tasks"]) for s in p.sweeps()] == [("sweeps", 62)]
    # the sweep is bound by the longest task of its most loaded worker, not by the last 0.5 s task dealt
    assert (p.sweeps()[0]["bound"], p.sweeps()[0]["bound_s"]) == ("nn_descent_width[gd, 1.0]", 20.0)
    assert p.cpu_s == pytest.approx(112.5) and p.wall_s == pytest.approx(56.5)
    assert cli.main(["plan", "regimes", "--scale", "ci", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "62 tasks" in out and "predicted wall time on 2 worker(s) 56.5 s" in out


def test_cluster_submission_is_longest_first_from_recorded_times(tmp_path, monkeypatch):
    """With recorded task times the cluster gets the tasks longest first (rob plan's LPT order);
    without any, the chapter's own order; a task never recorded goes ahead with its kind's mean."""
    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    tasks = M.tasks(CFG, 0)
    todo = list(range(len(tasks)))
    assert E.longest_first(tasks, todo) == todo
    rows = [dict(id=t.plan_id(), kind=t.name, seconds=float(i % 7)) for i, t in enumerate(tasks) if i != 5]
    rows += [dict(id=tasks[3].plan_id(), kind=tasks[3].name, seconds=s) for s in (100.0, 101.0)]  # median 3 → 100
    (tmp_path / "task-times.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    order = E.longest_first(tasks, todo)
    assert sorted(order) == todo and order[0] == 3
    est = E.recorded_medians()
    assert est[tasks[3].plan_id()] == 100.0 and tasks[5].plan_id() not in est
    known = [est.get(tasks[i].plan_id()) for i in order if i != 5]
    assert known == sorted(known, reverse=True)
    kind5 = [est[t.plan_id()] for t in tasks if t.name == tasks[5].name and t.plan_id() in est]
    pos = order.index(5)
    assert known[pos - 1] >= sum(kind5) / len(kind5) >= known[pos]
    assert E.longest_first(tasks, [9, 2, 4]) == sorted([9, 2, 4], key=lambda i: -est[tasks[i].plan_id()])


def test_short_tasks_travel_in_bundles(tmp_path, monkeypatch):
    """Consecutive short tasks of the longest-first order go to a worker together, until their
    estimated time reaches BUNDLE_SECONDS (or a quarter of the run per worker); a long task goes
    alone; untimed tasks are bundled by count, never across kinds.  Every task is in exactly one
    bundle, in submission order."""
    from rob.experiments import memorization as MM

    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    tasks = MM.tasks(MM.config("ci"), 0)
    todo = list(range(len(tasks)))
    untimed = E.bundles(tasks, todo, 2)
    assert [i for b in untimed for i in b] == todo  # chapter order
    size = -(-len(todo) // (E.BUNDLE_UNTIMED * 2))
    assert size > 1 and max(map(len, untimed)) == size
    assert all(len({tasks[i].name for i in b}) == 1 for b in untimed)
    assert E.bundles(tasks, todo[:E.BUNDLE_UNTIMED * 2], 2) == [[i] for i in todo[:E.BUNDLE_UNTIMED * 2]]
    # recorded: task 0 takes 5 s, the others 0.01-0.1 s, task 7 never recorded (its kind's mean)
    secs = {i: 5.0 if i == 0 else 0.01 * (1 + i % 10) for i in todo}
    rows = [dict(id=tasks[i].plan_id(), kind=tasks[i].name, seconds=secs[i]) for i in todo if i != 7]
    (tmp_path / "task-times.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    est = E.estimates(tasks, todo)
    timed = E.bundles(tasks, todo, 2)
    assert [i for b in timed for i in b] == E.longest_first(tasks, todo)
    assert timed[0] == [0]
    target = min(E.BUNDLE_SECONDS, sum(est.values()) / 8)
    sums = [sum(est[i] for i in b) for b in timed]
    assert all(s >= target for s in sums[:-1]) and all(s - est[b[-1]] < target for s, b in zip(sums, timed))
    assert len(timed) < len(todo) / 5
    few = E.bundles(tasks, todo[1:9], 2)  # 8 short tasks: a quarter of the run per worker each
    assert 4 <= len(few) <= 8


def test_bundled_tasks_equal_serial_and_name_the_failing_task(tmp_path, monkeypatch, dask_local2):
    """Bundles (timed and untimed) on a real 2-worker cluster give the serial results in task
    order, and a task that raises inside a bundle is reported by its own key."""
    from rob.experiments import memorization as MM

    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    cfg = MM.config("ci")
    tasks = MM.descent_tasks(cfg.noise, 4, "noise")
    def frame(parts):  # rows in task order (the rows hold NaN, so compare frames, not lists)
        return pd.DataFrame([row for rows in parts for row in rows])

    serial = frame(E.run_tasks(tasks, "noise", E.Executor(), use_cache=False))  # records the task times
    assert len(E.bundles(tasks, list(range(len(tasks))), 2)) < len(tasks) / 10
    pd.testing.assert_frame_equal(frame(E.run_tasks(tasks, "noise", dask_local2, use_cache=False)), serial,
                                  check_exact=True)
    monkeypatch.setenv("ROB_NO_CACHE", "1")  # untimed: bundles of a few tasks
    pd.testing.assert_frame_equal(frame(E.run_tasks(tasks, "noise", dask_local2, use_cache=False)), serial,
                                  check_exact=True)
    bad = list(tasks)
    bad[6] = E.Task(MM.descent_job, {**tasks[6].kwargs, "seed": -1}, tasks[6].key, kind=tasks[6].kind)
    assert len(next(b for b in E.bundles(bad, list(range(len(bad))), 2) if 6 in b)) > 1
    with pytest.raises(E.TaskFailed, match=r"chapter memorization: task noise-rf\[noise, relu, 0.0, 20, 1\] failed: ValueError"):
        E.run_tasks(bad, "bad", dask_local2, use_cache=False, retries=0)


def test_plan_schedules_one_batch_together(tmp_path, monkeypatch):
    """implicit-bias submits its headline networks and both sweeps in one ``run_tasks`` call
    (``batch="networks"``): the plan must schedule them as one sweep, not three in a row."""
    from rob.book import plan

    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    tasks = plan.chapter_tasks("implicit-bias", "ci")
    assert len(tasks) == 10 and {t.batch for t in tasks} == {"networks"}
    rows = [dict(id=t.plan_id(), kind=t.name, seconds=10.0 if t.name == "headline" else 1.0) for t in tasks]
    (tmp_path / "task-times.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = plan.make_plan("implicit-bias", "ci", 2)
    assert [s["kind"] for s in p.sweeps()] == ["networks"]
    assert p.wall_s == 10.0  # {headline}, {9 sweep networks}; three sweeps in a row would give 10 + 3 + 2
    assert p.sweeps()[0]["bound"] == "headline[headline, 0]"


def test_scheduler_probe_needs_a_dask_scheduler(capsys, monkeypatch, dask_local2):
    """A TCP port on which something other than a Dask scheduler listens (here: a socket that
    accepts connections and never answers) is refused with one line and exit 2 within seconds;
    a real scheduler passes and reports its workers."""
    import socket

    monkeypatch.delenv("ROB_SCHEDULER", raising=False)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        start = time.perf_counter()
        assert cli.main(["run", "regimes", "--scheduler", address]) == 2
        assert time.perf_counter() - start < 8
    err = capsys.readouterr().err.strip()
    assert "is not a Dask scheduler" in err and len(err.splitlines()) == 1
    real = E.client_for(dask_local2).scheduler.address
    assert E.check_reachable(real)["type"] == "Scheduler" and E.check_reachable(real)["n_workers"] == 2


def test_workers_and_kernel_get_the_heap_settings(dask_local2, monkeypatch):
    """The workers that --workers starts, and the kernel that rob starts, run with glibc's heap
    settings of ``MALLOC_ENV`` (large temporaries from the heap, not mapped afresh at every step)."""
    from rob.book import build

    env = E.client_for(dask_local2).run(lambda: {k: os.environ.get(k) for k in E.MALLOC_ENV})
    assert len(env) == 2 and all(v == E.MALLOC_ENV for v in env.values())
    for k in E.MALLOC_ENV:
        monkeypatch.delenv(k, raising=False)
    build._kernel_env(__import__("pathlib").Path("."), no_cache=False)
    assert all(os.environ[k] == v for k, v in E.MALLOC_ENV.items())



def _worker_quiet_settings(dask_worker=None) -> dict:
    import dask

    return {"config": {k: dask.config.get(k) for k in E.QUIET_WORKERS},
            "profiler": "profile" in dask_worker.periodic_callbacks,
            "every_ms": {k: dask_worker.periodic_callbacks[k].callback_time for k in ("monitor", "memory_monitor", "tick")}}


def test_workers_run_without_profiler_and_with_slow_monitors(dask_local2):
    """The workers that --workers starts run with :data:`QUIET_WORKERS`: no statistical profiler, whose
    10 ms samples preempt the task on a busy core, and monitors that wake up every second or two."""
    got = E.client_for(dask_local2).run(_worker_quiet_settings)
    assert len(got) == 2
    for info in got.values():
        assert info["config"] == E.QUIET_WORKERS
        assert info["profiler"] is False
        assert info["every_ms"] == {"monitor": 2000, "memory_monitor": 1000, "tick": 1000}
