"""Sweeps as tasks, run serially or on a Dask cluster, with identical results.

A chapter's sweep is a list of :class:`Task` objects: an importable module-level function, its
keyword arguments and a key (``("closed", 3)``: part and replicate).  :func:`run_tasks` runs them
and returns their results **in task order**, whatever order they finish in, on one of three
backends (an :class:`Executor`):

- ``serial``: one after the other in this process (the default, and what the test suite uses);
- ``local:N``: a Dask ``LocalCluster`` of ``N`` single-threaded worker processes on 127.0.0.1,
  started on first use and stopped when the process exits;
- a scheduler address ``tcp://host:port``: an existing Dask cluster (``dask scheduler`` +
  ``dask worker`` by hand, dask-jobqueue, Kubernetes, ...).

Bit-identical by construction: a task's random stream is derived inside the task from
``(seed, task key)`` (the task's own arguments), every task runs with BLAS and torch pinned to one
thread (:func:`execute`), and results are merged in task order.

Resumable: each finished task is written to the on-disk cache (:mod:`rob.book.cache`, atomic,
keyed by the function, its arguments and the source of ``rob``) as soon as it arrives, so a run
that is killed resumes with the tasks that were not finished.  Task wall times are appended to
``<cache dir>/task-times.jsonl`` (what ``rob plan`` reads).

The kernel that papermill starts learns the backend from the environment variable
``ROB_EXECUTOR`` (``serial``, ``local:N`` or an address) that ``rob run``/``rob build`` set;
``ROB_SCHEDULER`` (an address) is read when ``ROB_EXECUTOR`` is not set.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadpoolctl import ThreadpoolController

from . import cache

#: The largest worker count ``--workers`` accepts (a typo guard, not a limit of Dask).
MAX_WORKERS = 1024
_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")


class ExecutorError(ValueError):
    """A malformed executor specification (bad ``--workers`` or scheduler address)."""


class TaskFailed(RuntimeError):
    """A task raised: the message names the chapter, the task key and the error."""


# -- tasks -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """One independent unit of a sweep: ``fn(**kwargs)``, identified by ``key``.

    ``fn`` must be a module-level function of an importable module (it is sent to worker
    processes by reference); ``kwargs`` hold everything the task needs, including the seed from
    which it derives its random stream.  ``key`` is a short tuple naming the task within its sweep
    (``("gd", 0.5)``); ``kind`` groups tasks of similar cost for ``rob plan`` (default: the
    function's name); ``batch`` names the ``run_tasks`` call that submits the task when one call
    submits tasks of several kinds together (default: one call per run of consecutive tasks of a
    kind), so that ``rob plan`` schedules them together as the executor does.  Neither enters the
    cache key."""

    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    key: tuple
    kind: str = ""
    batch: str = ""

    @property
    def name(self) -> str:
        return self.kind or self.fn.__name__

    @property
    def chapter(self) -> str:
        """The chapter, from the module ``rob.experiments.<chapter>`` (else the module name)."""
        return self.fn.__module__.rsplit(".", 1)[-1].replace("_", "-")

    def label(self) -> str:
        return f"{self.name}[{', '.join(map(str, self.key))}]"

    def cache_key(self) -> str:
        """The on-disk cache key (function, arguments, ``rob`` version and source)."""
        return cache.key(self.fn, (), self.kwargs)

    def plan_id(self) -> str:
        """Function and arguments only (not the source): stable across edits of ``rob``, so that
        recorded task times stay usable for ``rob plan``."""
        payload = {"fn": f"{self.fn.__module__}.{self.fn.__qualname__}", "kwargs": cache._canonical(self.kwargs)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


_CONTROLLER: list = [None, -1]  # (ThreadpoolController, len(sys.modules) when it was made)


def _one_thread():
    """``threadpool_limits(1)`` on every BLAS/OpenMP library loaded, with the library scan (about
    3 ms) redone only when modules were imported since the last one (ci sweeps have ~1000 tasks)."""
    import sys

    if _CONTROLLER[0] is None or _CONTROLLER[1] != len(sys.modules):
        _CONTROLLER[0], _CONTROLLER[1] = ThreadpoolController(), len(sys.modules)
    return _CONTROLLER[0].limit(limits=1)


def execute(fn: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Any, float]:
    """Run ``fn(**kwargs)`` with BLAS and torch pinned to one thread; return (value, seconds).

    This is what runs inside a worker (and in-process for the serial backend): one thread per
    task makes the floating-point reductions, hence the results, independent of the machine's
    core count and of the backend."""
    import torch

    old = torch.get_num_threads()
    start = time.perf_counter()
    try:
        if kwargs.get("device") == "cuda":
            gpu = worker_gpu()
            if gpu is not None:
                torch.cuda.set_device(gpu)  # "cuda" is this worker's own GPU from here on
        torch.set_num_threads(1)
        with _one_thread():
            value = fn(**kwargs)
    finally:
        torch.set_num_threads(old)
    return value, time.perf_counter() - start


def gpu_index(worker_name: object, gpus: int) -> int:
    """The GPU of a worker: ``name mod gpus`` for the workers that ``--workers N`` starts (named
    0..N-1), so N = the number of GPUs gives each worker its own; 0 for a worker of another name
    (a cluster of your own: give each worker one GPU with ``CUDA_VISIBLE_DEVICES``, as dask-cuda's
    ``dask cuda worker`` does)."""
    try:
        return int(str(worker_name)) % max(1, gpus)
    except ValueError:
        return 0


def worker_gpu() -> int | None:
    """:func:`gpu_index` of the Dask worker running this task; ``None`` outside a worker."""
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return None
    import torch

    return gpu_index(name, torch.cuda.device_count())


def visible_gpus() -> int:
    """The number of CUDA devices torch sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# -- executors ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Executor:
    """``kind`` is ``"serial"``, ``"local"`` (``workers`` processes started by ``rob``) or
    ``"scheduler"`` (an existing cluster at ``address``)."""

    kind: str = "serial"
    workers: int = 1
    address: str | None = None

    def spec(self) -> str:
        """The text form read back by :func:`parse` (the value of ``ROB_EXECUTOR``)."""
        return {"serial": "serial", "local": f"local:{self.workers}"}.get(self.kind, self.address or "")


#: glibc heap settings for the processes that run tasks (the workers that ``--workers`` starts and
#: the notebook's kernel): temporaries up to 1 GiB come from the heap and freed memory is kept for
#: the next step.  glibc's default maps every temporary above 32 MiB afresh (and Dask's
#: MALLOC_TRIM_THRESHOLD_ freezes that limit at 128 KiB), so a training loop page-faults its
#: activations at every step: stability's m = 16384 task took 106 s (68 s of it system time)
#: against 42 s with these settings.  One arena: a Dask worker runs its task in a thread, and
#: glibc serves a thread from a secondary arena whose heaps stop at 64 MiB, so every larger
#: temporary was mapped afresh there whatever the threshold (a regimes ridge task: 26 000-30 000
#: page faults a run, against under 800 from the second run on with one arena, and 10 % faster).
#: Only where memory comes from changes, never a value.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
              "MALLOC_ARENA_MAX": "1"}


#: Dask settings for the workers that ``--workers`` starts: no statistical profiler (it samples the
#: running task's stack every 10 ms, taking the GIL from it) and the system and memory monitors and
#: the event loop's health check every second or two instead of every 20-500 ms.  On 2 cores every
#: wake-up of these threads preempts a task: NTK fits (memorization's fig1b) on 2 workers spent 7 %
#: of their wall time preempted with Dask's defaults (task time 22.0 s of CPU in 23.7 s), 2 % with
#: these (20.7 s in 21.2 s).  Only the Dask dashboard's profile pages lose anything.
QUIET_WORKERS = {"distributed.worker.profile.enabled": False,
                 "distributed.admin.system-monitor.interval": "2s",
                 "distributed.worker.memory.monitor-interval": "1s",
                 "distributed.admin.tick.interval": "1s"}


def parse_workers(text: str | int, gpus: int = 0) -> int:
    """``--workers`` value: a positive integer, or ``auto``: one worker per GPU when ``gpus`` > 0
    (a run on ``cuda``), else one per usable core."""
    if isinstance(text, str) and text.strip().lower() == "auto":
        if gpus > 0:
            return gpus
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)
    try:
        n = int(str(text).strip(), 10)
    except ValueError:
        raise ExecutorError(f"--workers must be a positive integer or 'auto', got {text!r}") from None
    if not 1 <= n <= MAX_WORKERS:
        raise ExecutorError(f"--workers must be between 1 and {MAX_WORKERS} (or 'auto'), got {n}")
    return n


def parse_address(address: str) -> tuple[str, int]:
    """``tcp://host:port`` (or ``tls://``) → (host, port); :class:`ExecutorError` otherwise."""
    match = _ADDRESS.match(address.strip())
    if not match:
        raise ExecutorError(f"scheduler address must look like tcp://HOST:PORT, got {address!r}")
    port = int(match.group(3))
    if not 1 <= port <= 65535:
        raise ExecutorError(f"scheduler port must lie in 1..65535, got {port} in {address!r}")
    return match.group(2).strip("[]"), port


def check_reachable(address: str, timeout: float = 3.0) -> dict:
    """Open (and close) a TCP connection to the scheduler, then ask it who it is (Dask's
    ``identity`` call); :class:`ExecutorError` if nothing listens there, or if what listens does
    not answer as a Dask scheduler within ``timeout`` seconds.  Returns the scheduler's identity
    (``n_workers``, …).  Nothing is computed before this passes."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ExecutorError(f"no Dask scheduler reachable at {address} ({exc.strerror or exc})") from None
    reply = _identity(address, timeout)
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        what = f"it answered {reply.get('type')!r}" if isinstance(reply, dict) else "it did not answer as one"
        raise ExecutorError(f"{address} accepts TCP connections but is not a Dask scheduler ({what} "
                            f"within {timeout:g} s)")
    return reply


def _identity(address: str, timeout: float) -> object:
    """Dask's ``identity`` reply of the server at ``address``, or None.  Runs in a daemon thread
    joined for at most ``timeout`` seconds, so that a server that accepts the connection and then
    stays silent cannot hold the command."""
    import asyncio
    import threading

    async def ask():
        from distributed.comm import connect

        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    out: list = [None]

    def target() -> None:
        try:
            out[0] = asyncio.run(ask())
        except Exception:  # noqa: BLE001 - any failure means: not a scheduler we can use
            out[0] = None

    thread = threading.Thread(target=target, name="rob-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return out[0]


def parse(text: str | None) -> Executor:
    """``"serial"``/``""``/None, ``"local:N"`` or a scheduler address → :class:`Executor`."""
    text = (text or "").strip()
    if text in ("", "serial"):
        return Executor()
    if text.startswith("local:"):
        return Executor("local", parse_workers(text.split(":", 1)[1]))
    parse_address(text)
    return Executor("scheduler", 0, text)


def current() -> Executor:
    """The executor this process uses: ``$ROB_EXECUTOR``, else ``$ROB_SCHEDULER``, else serial."""
    if os.environ.get("ROB_EXECUTOR"):
        return parse(os.environ["ROB_EXECUTOR"])
    if os.environ.get("ROB_SCHEDULER"):
        return parse(os.environ["ROB_SCHEDULER"])
    return Executor()


@dataclass
class _State:
    clients: dict[Executor, Any] = field(default_factory=dict)
    clusters: dict[Executor, Any] = field(default_factory=dict)
    workers_seen: dict[str, int] = field(default_factory=dict)
    tasks_run: int = 0
    tasks_cached: int = 0
    last_times: list = field(default_factory=list)  # task times of the last run_tasks call


_STATE = _State()


def client_for(ex: Executor):
    """The ``dask.distributed.Client`` of ``ex`` (started on first use, kept for the process)."""
    if ex in _STATE.clients:
        return _STATE.clients[ex]
    import logging

    from dask.distributed import Client, LocalCluster

    if ex.kind == "local":
        import dask

        # glibc's heap settings for the workers (see MALLOC_ENV), instead of Dask's default
        # MALLOC_TRIM_THRESHOLD_ = 64 KiB, and quieter worker threads (see QUIET_WORKERS).
        environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in MALLOC_ENV.items()}
        with dask.config.set({**environ, **QUIET_WORKERS}):
            cluster = LocalCluster(n_workers=ex.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.ERROR)
        _STATE.clusters[ex] = cluster
        client = Client(cluster)
    elif ex.kind == "scheduler":
        client = Client(ex.address, timeout=10)
    else:
        raise ValueError("the serial executor has no client")
    _STATE.clients[ex] = client
    return client


def shutdown(only: Executor | None = None) -> None:
    """Close every client and stop every cluster this process started (or only those of ``only``)."""
    for ex in [e for e in list(_STATE.clients) if only is None or e == only]:
        try:
            _STATE.clients.pop(ex).close()
        except Exception:  # noqa: BLE001 - closing at exit must not raise
            pass
    for ex in [e for e in list(_STATE.clusters) if only is None or e == only]:
        try:
            _STATE.clusters.pop(ex).close()
        except Exception:  # noqa: BLE001
            pass


atexit.register(shutdown)


def _n_workers(ex: Executor, client) -> int:
    try:
        return len(client.scheduler_info()["workers"])
    except Exception:  # noqa: BLE001 - provenance only
        return ex.workers


def describe(ex: Executor | None = None) -> dict[str, Any]:
    """Provenance for the checks JSON and the "how this was made" box: backend, number of
    workers (the most that held this process's tasks; requested ones before any ran), address,
    and how many tasks ran or came from the cache."""
    ex = ex or current()
    workers = _STATE.workers_seen.get(ex.spec(), ex.workers if ex.kind != "scheduler" else None)
    return {"executor": ex.kind, "workers": workers, "address": ex.address,
            "tasks_run": _STATE.tasks_run, "tasks_cached": _STATE.tasks_cached}


# -- running ----------------------------------------------------------------------------------------

def times_path():
    return cache.cache_dir() / "task-times.jsonl"


def time_row(t: Task, seconds: float, executor: str) -> dict[str, Any]:
    """One line of ``task-times.jsonl``."""
    return {"chapter": t.chapter, "kind": t.name, "key": [str(k) for k in t.key], "id": t.plan_id(),
            "seconds": round(seconds, 4), "executor": executor}


def _record_times(rows: list[dict[str, Any]]) -> None:
    """Append task times (one JSON object a line, one write per batch: appends of a few KB are
    not interleaved between processes)."""
    if not rows or not cache.enabled():
        return
    path = times_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in rows))
    except OSError:
        pass  # timing records are a convenience


_MEDIANS: dict[str, Any] = {"stamp": None, "medians": {}}


def recorded_medians() -> dict[str, float]:
    """plan id → median of the recorded wall times in ``task-times.jsonl`` (re-read only when the
    file changed)."""
    import statistics

    path = times_path()
    try:
        st = path.stat()
    except OSError:
        return {}
    stamp = (str(path), st.st_size, st.st_mtime_ns)
    if _MEDIANS["stamp"] != stamp:
        seen: dict[str, list[float]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                seen.setdefault(rec["id"], []).append(float(rec["seconds"]))
            except (ValueError, KeyError, TypeError):
                continue
        _MEDIANS.update(stamp=stamp, medians={k: statistics.median(v) for k, v in seen.items()})
    return _MEDIANS["medians"]


def estimates(tasks: Sequence[Task], todo: Sequence[int], medians: dict[str, float] | None = None) -> dict[int, float]:
    """``rob plan``'s estimate of each task in ``todo`` that has one: its recorded median (from
    ``medians``, default :func:`recorded_medians` when the cache is on), else the mean of the
    recorded tasks of its kind in ``todo``."""
    import statistics

    if medians is None:
        medians = recorded_medians() if cache.enabled() else {}
    if not medians:
        return {}
    ids = {i: tasks[i].plan_id() for i in todo}
    est: dict[int, float] = {i: medians[ids[i]] for i in todo if ids[i] in medians}
    by_kind: dict[str, list[float]] = {}
    for i, e in est.items():
        by_kind.setdefault(tasks[i].name, []).append(e)
    for i in todo:
        if i not in est and tasks[i].name in by_kind:
            est[i] = statistics.fmean(by_kind[tasks[i].name])
    return est


def longest_first(tasks: Sequence[Task], todo: Sequence[int], est: dict[int, float] | None = None) -> list[int]:
    """``todo`` in submission order for a cluster: longest first by ``rob plan``'s estimates
    (:func:`estimates`, or ``est``), so that the makespan is the LPT one that ``rob plan``
    predicts.  Tasks with no estimate keep the chapter's order (long tasks first) and go ahead of
    the estimated ones.  Only the order of submission changes: every task keeps its own stream and
    results are merged in task order."""
    est = estimates(tasks, todo) if est is None else est
    if not est:
        return list(todo)
    return sorted(todo, key=lambda i: -est.get(i, float("inf")))


#: A bundle of short tasks sent to a worker as one Dask task lasts about this long (seconds): long
#: enough that Dask's per-task cost is a few per cent, short enough not to unbalance the end of a run.
BUNDLE_SECONDS = 0.5
#: Without recorded times, a run of more than this many tasks per worker is sent in bundles.
BUNDLE_UNTIMED = 64


def bundles(tasks: Sequence[Task], todo: Sequence[int], workers: int,
            est: dict[int, float] | None = None) -> list[list[int]]:
    """``todo`` cut into bundles, each sent to a worker as one Dask task, in submission order.

    Every Dask task costs a few milliseconds of scheduler, client and worker time, and on a small
    machine that time is taken from the tasks themselves: 600 of memorization's noise tasks (about
    40 ms each) took 15.1 s on 2 workers one by one and 13.3 s in bundles of 10 (two runs a minute
    apart on this 2-core machine).  So consecutive tasks of the LPT order
    (:func:`longest_first`) are grouped until their estimated time reaches ``BUNDLE_SECONDS`` (or a
    quarter of the run's total per worker, so that every worker gets work); a task estimated
    longer than that travels alone.  Tasks with no estimate are grouped by count, consecutive ones
    of a kind in chapter order, only when a run has more than ``BUNDLE_UNTIMED`` of them per worker
    (then about that many bundles per worker).

    Bundles change what travels, never a result: each task still runs by itself in
    :func:`execute` with its own stream, is timed and cached by itself, and results are merged in
    task order."""
    est = estimates(tasks, todo) if est is None else est
    order = longest_first(tasks, todo, est)
    workers = max(1, workers)
    timed = [i for i in order if i in est]
    untimed = [i for i in order if i not in est]
    out: list[list[int]] = []
    size = -(-len(untimed) // (BUNDLE_UNTIMED * workers))  # ceil: 1 up to BUNDLE_UNTIMED per worker
    run: list[int] = []
    for i in untimed:
        if run and (len(run) >= size or tasks[i].name != tasks[run[0]].name):
            out.append(run)
            run = []
        run.append(i)
    if run:
        out.append(run)
    target = min(BUNDLE_SECONDS, sum(est[i] for i in timed) / (4 * workers)) if timed else 0.0
    run, acc = [], 0.0
    for i in timed:
        run.append(i)
        acc += est[i]
        if acc >= target:
            out.append(run)
            run, acc = [], 0.0
    if run:
        out.append(run)
    return out


class BundledTaskError(Exception):
    """Task ``args[0]`` of a bundle raised ``args[1]`` (so the caller can name it)."""


def execute_bundle(items: Sequence[tuple[Callable[..., Any], dict[str, Any]]]) -> list[tuple[Any, float]]:
    """:func:`execute` each ``(fn, kwargs)`` in turn, in one worker call: a list of (value, seconds)."""
    out = []
    for position, (fn, kwargs) in enumerate(items):
        try:
            out.append(execute(fn, kwargs))
        except Exception as exc:
            raise BundledTaskError(position, exc) from exc
    return out


def _failure(task: Task, exc: BaseException) -> TaskFailed:
    return TaskFailed(f"chapter {task.chapter}: task {task.label()} failed: {type(exc).__name__}: {exc}")


def run_tasks(tasks: Sequence[Task], desc: str, executor: Executor | None = None,
              use_cache: bool = True, retries: int = 1) -> list[Any]:
    """Run ``tasks`` on ``executor`` (default :func:`current`) and return their values in task order.

    Finished tasks are read from / written to the on-disk cache (unless ``use_cache`` is False or
    ``ROB_NO_CACHE=1``).  On a cluster, a task that raises is retried ``retries`` times (a worker
    that dies is replaced and its tasks rerun by Dask regardless); a task that still fails raises
    :class:`TaskFailed` naming the chapter, the task key and the error."""
    from .progress import bar

    ex = executor or current()
    use_cache = use_cache and cache.enabled()
    results: list[Any] = [None] * len(tasks)
    todo: list[int] = []
    paths = [cache.entry_path(t.cache_key()) for t in tasks] if use_cache else [None] * len(tasks)
    for i, path in enumerate(paths):
        value = cache.read_entry(path) if path is not None else cache._MISSING
        if value is cache._MISSING:
            todo.append(i)
        else:
            results[i] = value
    _STATE.tasks_cached += len(tasks) - len(todo)
    where = {"serial": "serial", "local": f"{ex.workers} workers"}.get(ex.kind, ex.address)
    progress = bar(len(tasks), f"{desc} [{where}]", initial=len(tasks) - len(todo))
    times: list[dict[str, Any]] = []

    def done(i: int, value: Any, seconds: float) -> None:
        results[i] = value
        if paths[i] is not None:
            cache.write_entry(paths[i], value, fsync=False)  # many small tasks: no flush each
        times.append(time_row(tasks[i], seconds, ex.kind))
        _STATE.tasks_run += 1
        progress.update(1)

    try:
        if ex.kind == "serial" or not todo:
            for i in todo:
                try:
                    value, seconds = execute(tasks[i].fn, tasks[i].kwargs)
                except Exception as exc:
                    raise _failure(tasks[i], exc) from exc
                done(i, value, seconds)
        else:
            from dask.distributed import as_completed

            client = client_for(ex)
            _STATE.workers_seen[ex.spec()] = max(_STATE.workers_seen.get(ex.spec(), 0), _n_workers(ex, client))
            futures = {}
            for bundle in bundles(tasks, todo, _STATE.workers_seen[ex.spec()] or 1):
                items = [(tasks[i].fn, tasks[i].kwargs) for i in bundle]
                first = tasks[bundle[0]]
                key = f"{first.name}-{first.plan_id()}-{len(bundle)}-{os.getpid()}-{time.time_ns()}"
                futures[client.submit(execute_bundle, items, pure=False, retries=retries, key=key)] = bundle
            try:
                for fut in as_completed(list(futures)):
                    bundle = futures[fut]
                    if fut.status == "error":
                        exc = fut.exception()
                        i = bundle[0]
                        if isinstance(exc, BundledTaskError):
                            i, exc = bundle[exc.args[0]], exc.args[1]
                        raise _failure(tasks[i], exc) from exc
                    for i, (value, seconds) in zip(bundle, fut.result()):
                        done(i, value, seconds)
            finally:
                for fut in futures:
                    if not fut.done():
                        fut.cancel()
            _STATE.workers_seen[ex.spec()] = max(_STATE.workers_seen[ex.spec()], _n_workers(ex, client))
    finally:
        progress.close()
        _record_times(times)
        _STATE.last_times = times
    return results
