"""Serial against N Dask workers for chapters' sweep tasks, timed in the same run.

Run:  .venv/bin/python benchmarks/bench_executor.py regimes [stability ...] --scale paper --workers 2
                       [--kinds lazy_fit,rf_wide_rep] [--every K] [--json FILE] [--no-record] [--blocks]

For each chapter, runs its tasks (all; or those of the given kinds; or every K-th task of each
sweep, a representative sample that keeps the mix of kinds) once serially in a child process
without Dask (as a serial ``rob run``: no scheduler or client threads beside the task) and once
on a LocalCluster of N single-threaded worker processes on 127.0.0.1, each sweep (one
``run_tasks`` call of the notebook: one ``batch``, else consecutive tasks of one kind) waiting for
the previous one as in the notebook.  The two passes take turns sweep by sweep (serially, then on
the workers), so that a drift of the machine's speed over the run weighs on both alike
(``--blocks``: all sweeps serially, then all on the workers).  Cluster start-up is timed separately (with one warm-up
round-trip, so that worker imports are not counted); the cache is not used.  Checks that the
results are identical, and prints the wall times, the speed-up, what ``rob plan`` predicted from
the serial task times, and per task kind the task time serially and on the workers (what running
beside other tasks costs).  The serial task times are recorded in the cache directory's
``task-times.jsonl`` (as a serial ``rob run`` records them), so the cluster gets the tasks longest
first, as on a rerun; ``--no-record`` keeps the chapter's own submission order.  Not a test:
timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np
import pandas as pd


def identical(a, b) -> bool:
    """Exact equality of nested results (frames, arrays, dataclasses, dicts, lists; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, pd.DataFrame):  # column by column: object columns may hold arrays with NaN
        return (list(a.columns) == list(b.columns) and a.index.equals(b.index)
                and all(identical(a[c].tolist(), b[c].tolist()) if a[c].dtype == object else a[c].equals(b[c])
                        for c in a.columns))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if dataclasses.is_dataclass(a):
        return all(identical(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


def _warm(module: str) -> None:
    import importlib

    import scipy.linalg  # noqa: F401
    import torch  # noqa: F401

    importlib.import_module(module)


def sweeps(tasks: list) -> list[list]:
    """The tasks split as the notebook submits them (consecutive tasks of one batch, else kind)."""
    out: list[list] = []
    for t in tasks:
        if out and (out[-1][0].batch or out[-1][0].name) == (t.batch or t.name):
            out[-1].append(t)
        else:
            out.append([t])
    return out


def bench(chapter: str, scale: str, seed: int, workers: int, kinds: str, every: int, record: bool = True,
          blocks: bool = False) -> dict:
    from rob.book import executor as E
    from rob.book import plan

    tasks = plan.chapter_tasks(chapter, scale, seed)
    if kinds:
        keep = set(kinds.split(","))
        tasks = [t for t in tasks if t.name in keep]
    if every > 1:
        tasks = [t for sw in sweeps(tasks) for t in sw[::every]]
    groups = sweeps(tasks)
    print(f"{chapter} ({scale}): {len(tasks)} tasks in {len(groups)} sweep(s), kinds "
          f"{sorted({t.name for t in tasks})}", flush=True)

    # the serial pass runs in a child process without Dask, as a serial `rob run` does: in this
    # process the cluster's scheduler and client wake up every few milliseconds and preempt
    # Python-heavy tasks (stability's torch training ran 25 % slower here than without Dask)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    alone = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    alone.submit(_warm, tasks[0].fn.__module__).result()
    ex = E.Executor("local", workers)
    t0 = time.perf_counter()
    client = E.client_for(ex)
    client.run(_warm, tasks[0].fn.__module__)  # worker imports, not counted
    t_start = time.perf_counter() - t0

    serial, seconds, parallel, on_workers = [], [], [], {}
    t_serial = t_parallel = 0.0
    # sweep by sweep, serially then on the workers (--blocks: every sweep serially, then every sweep
    # on the workers): a shared machine's speed drifts over minutes, and taking turns exposes both
    # passes to the same drift
    for part in ([groups] if blocks else [[g] for g in groups]):
        t0 = time.perf_counter()
        for value, s in alone.submit(E.execute_bundle, [(t.fn, t.kwargs) for g in part for t in g]).result():
            serial.append(value)
            seconds.append(s)
        t_serial += time.perf_counter() - t0
        # recorded as a serial `rob run` records them: the cluster then gets the tasks longest first
        # (executor.longest_first), as on any rerun of the chapter; --no-record gives the chapter's order
        if record:
            E._record_times([E.time_row(t, s, "serial") for t, s in
                             zip((t for g in part for t in g), seconds[len(seconds) - sum(map(len, part)):])])
        t0 = time.perf_counter()
        for g in part:
            parallel += E.run_tasks(g, chapter, ex, use_cache=False)
            on_workers.update({(r["kind"], *r["key"]): r["seconds"] for r in E._STATE.last_times})
        t_parallel += time.perf_counter() - t0
    E.shutdown()
    alone.shutdown()

    same = identical(serial, parallel)
    p = plan.Plan(chapter, scale, workers, tasks, list(seconds), ["recorded"] * len(tasks))
    print(f"  serial: {t_serial:.1f} s (task CPU {sum(seconds):.1f} s)")
    print(f"  {workers} workers: {t_parallel:.1f} s (+ {t_start:.1f} s cluster start and imports)")
    print(f"  speed-up {t_serial / t_parallel:.2f}x; rob plan from the serial task times: {p.wall_s:.1f} s "
          f"({(t_parallel / p.wall_s - 1) * 100:+.0f} % measured against predicted)")
    print(f"  results identical: {same}")
    # what running beside another task costs each kind: task time on the workers over serial
    kinds_: dict[str, list[float]] = {}
    for t, s in zip(tasks, seconds):
        row = kinds_.setdefault(t.name, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += s
        row[2] += on_workers.get((t.name, *(str(k) for k in t.key)), float("nan"))
    print("  task time per kind, serial -> on the workers:")
    for name, (n, ser, par) in sorted(kinds_.items(), key=lambda kv: -kv[1][1]):
        print(f"    {name:28s} {n:4d} tasks  {ser:8.1f} s -> {par:8.1f} s  ({(par / ser - 1) * 100:+.0f} %)")
    sys.stdout.flush()
    return dict(chapter=chapter, scale=scale, workers=workers, tasks=len(tasks), kinds=kinds, every=every,
                recorded_order=record and E.cache.enabled(), interleaved=not blocks,
                serial_s=t_serial, parallel_s=t_parallel, start_s=t_start, task_cpu_s=sum(seconds),
                task_cpu_workers_s=sum(on_workers.values()),
                per_kind={k: dict(tasks=v[0], serial_s=v[1], workers_s=v[2]) for k, v in kinds_.items()},
                plan_s=p.wall_s, speedup=t_serial / t_parallel, identical=same)


def main(argv: list[str] | None = None) -> int:
    import json
    import os

    from rob.book import executor as E

    if argv is None and any(os.environ.get(k) != v for k, v in E.MALLOC_ENV.items()):
        # the serial pass runs in this process: give it the heap settings of rob's kernel and workers
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **E.MALLOC_ENV})
    from rob.book import plan
    from rob.book.chapters import CHAPTERS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="+", choices=[c for c in CHAPTERS if plan.has_tasks(c)])
    ap.add_argument("--scale", default="ci")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--kinds", default="", help="comma-separated task kinds (default: all)")
    ap.add_argument("--every", type=int, default=1, help="every K-th task of each sweep (default: all)")
    ap.add_argument("--json", default="", help="append one JSON line per chapter to this file")
    ap.add_argument("--no-record", action="store_true",
                    help="do not record the serial task times (the cluster then gets the chapter's own order)")
    ap.add_argument("--blocks", action="store_true",
                    help="every sweep serially, then every sweep on the workers (default: sweep by sweep, in turn)")
    args = ap.parse_args(argv)
    workers = E.parse_workers(args.workers)
    ok = True
    for ch in args.chapters:
        row = bench(ch, args.scale, args.seed, workers, args.kinds, args.every, not args.no_record, args.blocks)
        ok &= row["identical"]
        if args.json:
            with open(args.json, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
