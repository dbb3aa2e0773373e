"""One-thread CPU time of shortened paper-scale stability tasks (rob.experiments.stability.run_setting).

Run:  .venv/bin/python benchmarks/bench_stability.py [--tasks at800,me3200,regime] [--repeat 2] [--save FILE]

Each task is a paper-scale setting of the chapter's config("paper") with fewer steps (the work per
step is the same, so the full task's time scales about linearly in T):

- ``at800``:  main AT, n = 800 (R = 9, m = 128), T = 200 of 2000, 8 of the 12 snapshots;
- ``me3200``: main ME-AT, n = 3200, T = 100 of 400, snapshot 100;
- ``regime``: the m = 16384 AT run (R = 4, n = 400), T = 10 of 40, snapshots 5 and 10;
- ``std800``, ``at200``: ST at n = 800 and AT at n = 200, T = 200.

Prints the minimum over ``--repeat`` runs of the process CPU time (the machine is shared; CPU time
is what one pinned worker spends).  To compare two versions of rob, run this file twice with
``PYTHONPATH`` pointing at each checkout, with the glibc settings of the executor
(``MALLOC_MMAP_THRESHOLD_=MALLOC_TRIM_THRESHOLD_=1073741824``), and compare the ``--save``d results
with each other (they should agree to rounding).  Not a test.
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import replace

import torch
from threadpoolctl import threadpool_limits

from rob.experiments import stability as M


def specs() -> dict[str, M.RunSpec]:
    cfg = M.config("paper")
    rec = (10, 15, 25, 40, 60, 100, 150, 200)
    return {
        "at800": replace(cfg.tsweep[1], methods=("at",), T=200, record=rec),
        "me3200": replace(cfg.nsweep[2], methods=("moreau",), T=100, record=(100,)),
        "regime": replace(cfg.regime, methods=("at",), T=10, record=(5, 10)),
        "std800": replace(cfg.tsweep[1], methods=("std",), T=200, record=rec),
        "at200": replace(cfg.tsweep[0], methods=("at",), T=200, record=rec),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="at800,me3200,regime")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--save", default="")
    args = ap.parse_args()
    sp = specs()
    names = args.tasks.split(",")
    unknown = [k for k in names if k not in sp]
    if unknown:
        ap.error(f"unknown task(s) {unknown}; known: {', '.join(sp)}")
    torch.set_num_threads(1)
    results = {}
    with threadpool_limits(1):
        for k in names:
            times = []
            for _ in range(args.repeat):
                t0 = time.process_time()
                results[k] = M.run_setting(sp[k], seed=0, rep=0)
                times.append(time.process_time() - t0)
            print(f"{k:8s} T = {sp[k].T:4d}: {min(times):7.2f} s CPU (runs: {', '.join(f'{t:.2f}' for t in times)})",
                  flush=True)
    if args.save:
        with open(args.save, "wb") as fh:
            pickle.dump({k: v.rows for k, v in results.items()}, fh)


if __name__ == "__main__":
    main()
