"""Serial against N Dask workers for a chapter's sweep tasks, timed in the same run.

Run:  .venv/bin/python benchmarks/bench_executor.py regimes --scale ci --workers 2 [--kinds lazy_fit,rf_wide_rep]

Runs the chapter's tasks (all, or those of the given kinds) once serially in this process and once
on a LocalCluster of N single-threaded worker processes on 127.0.0.1 (cluster start-up timed
separately, and one warm-up round-trip so that worker imports are not counted), without the cache,
checks that the results are identical, and prints the wall times, the speed-up and what
``rob plan`` predicted from the serial task times.  Not a test: timings depend on the machine and
on what else runs on it.
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
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(a.columns) == list(b.columns)
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


def main(argv: list[str] | None = None) -> int:
    from rob.book import executor as E
    from rob.book import plan

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapter", choices=sorted(plan.TASKS))
    ap.add_argument("--scale", default="ci")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--kinds", default="", help="comma-separated task kinds (default: all)")
    args = ap.parse_args(argv)
    workers = E.parse_workers(args.workers)
    tasks = plan.chapter_tasks(args.chapter, args.scale, args.seed)
    if args.kinds:
        keep = set(args.kinds.split(","))
        tasks = [t for t in tasks if t.name in keep]
    print(f"{args.chapter} ({args.scale}): {len(tasks)} tasks of kinds {sorted({t.name for t in tasks})}", flush=True)

    t0 = time.perf_counter()
    serial, seconds = [], []
    for t in tasks:
        value, s = E.execute(t.fn, t.kwargs)
        serial.append(value)
        seconds.append(s)
    t_serial = time.perf_counter() - t0

    ex = E.Executor("local", workers)
    t0 = time.perf_counter()
    client = E.client_for(ex)
    client.run(_warm, tasks[0].fn.__module__)  # worker imports, not counted
    t_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    parallel = E.run_tasks(tasks, args.chapter, ex, use_cache=False)
    t_parallel = time.perf_counter() - t0
    E.shutdown()

    same = identical(serial, parallel)
    p = plan.Plan(args.chapter, args.scale, workers, tasks, list(seconds), ["recorded"] * len(tasks))
    print(f"serial: {t_serial:.1f} s (task CPU {sum(seconds):.1f} s)")
    print(f"{workers} workers: {t_parallel:.1f} s (+ {t_start:.1f} s cluster start and imports)")
    print(f"speed-up {t_serial / t_parallel:.2f}x; rob plan from the serial task times: {p.wall_s:.1f} s "
          f"({(t_parallel / p.wall_s - 1) * 100:+.0f} % measured against predicted)")
    print(f"results identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
