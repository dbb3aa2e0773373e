"""``rob plan``: how long a chapter's sweeps take on N workers, before running them.

For each task of the chapter at the given scale (:func:`chapter_tasks`), the estimate is

1. the median of the recorded wall times of *that* task (same function and arguments, from
   ``<cache dir>/task-times.jsonl``, which every run writes), else
2. the mean recorded time of the other tasks of its kind in this plan (tasks of one kind have
   similar sizes), else
3. unknown: ``--calibrate K`` runs K tasks of each such kind now (serially, one thread) and
   records them.

The notebook runs its sweeps one after another and each sweep waits for all its tasks, so the
predicted wall time on N workers is the sum over sweeps of the longest-first (LPT) makespan of the
sweep's tasks on N workers; the task that bounds a sweep is the longest task of its most loaded
worker.  Work done in the kernel outside the tasks (theory curves, figures, checks) is not counted.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import executor
from .executor import Task


def _experiments(chapter: str):
    import importlib

    try:
        return importlib.import_module(f"rob.experiments.{chapter.replace('-', '_')}")
    except ModuleNotFoundError:
        return None


def has_tasks(chapter: str) -> bool:
    """Whether ``rob.experiments.<chapter>`` lists its sweeps' tasks (``tasks`` and ``config``)."""
    module = _experiments(chapter)
    return module is not None and hasattr(module, "tasks") and hasattr(module, "config")


def chapter_tasks(chapter: str, scale: str, seed: int = 0) -> list[Task]:
    """Every task of ``chapter``'s sweeps at (``scale``, ``seed``) with the notebook's default
    parameters, device cpu: ``rob.experiments.<chapter>.tasks(config(scale), seed)``."""
    module = _experiments(chapter)
    return module.tasks(module.config(scale), seed)


def lpt(durations: list[float], workers: int) -> tuple[float, int]:
    """Longest-processing-time-first makespan of ``durations`` on ``workers`` machines, and the
    index of the task that bounds it: the longest task of the most loaded machine (its first, as
    tasks are dealt longest first)."""
    if not durations:
        return 0.0, -1
    heap = [(0.0, w) for w in range(workers)]
    first = [-1] * workers
    for i in sorted(range(len(durations)), key=lambda i: -durations[i]):
        load, w = heapq.heappop(heap)
        heapq.heappush(heap, (load + durations[i], w))
        if first[w] < 0:
            first[w] = i
    load, w = max(heap)
    return load, first[w]


@dataclass
class Plan:
    chapter: str
    scale: str
    workers: int
    tasks: list[Task]
    estimate: list[float | None]
    source: list[str]            # "recorded", "kind" or "unknown"

    def kinds(self) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for t, e, s in zip(self.tasks, self.estimate, self.source):
            r = rows.setdefault(t.name, dict(kind=t.name, tasks=0, cpu_s=0.0, recorded=0, unknown=0))
            r["tasks"] += 1
            r["cpu_s"] += e or 0.0
            r["recorded"] += s == "recorded"
            r["unknown"] += s == "unknown"
        return list(rows.values())

    def sweeps(self) -> list[dict[str, Any]]:
        """Per sweep (one ``run_tasks`` call: consecutive tasks of one ``batch``, else of one kind):
        makespan on ``workers`` and its bounding task."""
        groups: list[list[int]] = []
        for i, t in enumerate(self.tasks):
            if groups and (self.tasks[groups[-1][0]].batch or self.tasks[groups[-1][0]].name) == (t.batch or t.name):
                groups[-1].append(i)
            else:
                groups.append([i])
        out = []
        for g in groups:
            d = [self.estimate[i] or 0.0 for i in g]
            span, last = lpt(d, self.workers)
            first = self.tasks[g[0]]
            out.append(dict(kind=first.batch or first.name, tasks=len(g), makespan_s=span,
                            bound=self.tasks[g[last]].label() if last >= 0 else "-",
                            bound_s=d[last] if last >= 0 else 0.0))
        return out

    @property
    def cpu_s(self) -> float:
        return sum(e or 0.0 for e in self.estimate)

    @property
    def wall_s(self) -> float:
        return sum(s["makespan_s"] for s in self.sweeps())

    @property
    def complete(self) -> bool:
        return all(s != "unknown" for s in self.source)


def make_plan(chapter: str, scale: str, workers: int, seed: int = 0, calibrate: int = 0,
              progress: Callable[[str], None] | None = None) -> Plan:
    tasks = chapter_tasks(chapter, scale, seed)
    times = executor.recorded_medians()
    if calibrate:
        known = {t.name for t in tasks if t.plan_id() in times}
        pending: dict[str, list[Task]] = {}
        for t in tasks:
            if t.name not in known and len(pending.setdefault(t.name, [])) < calibrate:
                pending[t.name].append(t)
        todo = [t for ts in pending.values() for t in ts]
        if todo:
            if progress:
                progress(f"calibrating: {len(todo)} task(s) of {len(pending)} kind(s) without recorded times")
            executor.run_tasks(todo, f"calibration ({chapter}, {scale})", executor.Executor())
            times = executor.recorded_medians()
    est = executor.estimates(tasks, range(len(tasks)), times)
    estimate: list[float | None] = [est.get(i) for i in range(len(tasks))]
    source = ["recorded" if t.plan_id() in times else "kind" if i in est else "unknown" for i, t in enumerate(tasks)]
    return Plan(chapter, scale, workers, tasks, estimate, source)


def format_plan(plan: Plan) -> str:
    from .cli import _table

    lines = [f"rob plan: {plan.chapter} at scale {plan.scale}: {len(plan.tasks)} tasks, "
             f"predicted for {plan.workers} worker(s)", ""]
    rows = [[k["kind"], k["tasks"], f"{k['cpu_s']:.1f}", f"{k['recorded']}/{k['tasks']}",
             f"{k['cpu_s'] / k['tasks']:.2f}" if k["tasks"] and not k["unknown"] else "?"]
            for k in plan.kinds()]
    lines.append(_table(rows, ["task kind", "tasks", "CPU s", "recorded", "s/task"]))
    lines.append("")
    rows = [[s["kind"], s["tasks"], f"{s['makespan_s']:.1f}", s["bound"], f"{s['bound_s']:.1f}"]
            for s in plan.sweeps()]
    lines.append(_table(rows, ["sweep", "tasks", f"wall s on {plan.workers}", "bounding task", "its s"]))
    lines.append("")
    if plan.complete:
        speed = plan.cpu_s / plan.wall_s if plan.wall_s else float("nan")
        lines.append(f"CPU time of the tasks {plan.cpu_s:.1f} s; predicted wall time on {plan.workers} worker(s) "
                     f"{plan.wall_s:.1f} s (speed-up {speed:.2f}x; sweeps run one after another; kernel work "
                     "outside the tasks and cluster start-up not included)")
    else:
        unknown = sorted({k["kind"] for k in plan.kinds() if k["unknown"]})
        lines.append(f"no recorded times for: {', '.join(unknown)}; run the chapter once "
                     f"(rob run {plan.chapter} --scale {plan.scale}) or add --calibrate 1 "
                     "(runs one task of each such kind now)")
    return "\n".join(lines)
