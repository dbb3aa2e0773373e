"""Quantitative checks recorded as data.

A chapter creates one :class:`Report` with its parameters, records each acceptance check with
:meth:`Report.within`, :meth:`Report.between`, :meth:`Report.below`, :meth:`Report.above` or
:meth:`Report.equal`, shows the table and the provenance box with :meth:`Report.show`, and ends
with :meth:`Report.finish`, which writes ``<chapter>.checks.json`` and raises
:class:`ReproductionError` if any check failed, so that papermill, ``rob run`` and CI fail loudly
when the reproduction does not match the theorem.

A check passes only when *every* entry of its value satisfies the rule; NaN never passes.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__

SCHEMA = 1


class ReproductionError(AssertionError):
    """Raised by :meth:`Report.finish` when a check failed."""


@dataclass
class Check:
    """One acceptance check: ``id`` (e.g. ``"M3"``), what it checks, the measured value(s), the
    target and tolerance as shown to a reader, the numeric rule, and whether it passed."""

    id: str
    description: str
    value: float | list[float]
    target: str
    tolerance: str
    lower: float | None
    upper: float | None
    passed: bool


def _as_list(value: Any) -> float | list[float]:
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else [float(v) for v in arr.ravel()]


def format_value(value: Any) -> str:
    """How a measured value or a target is shown to a reader: 4 significant digits, scientific
    notation for very small or large numbers, lists joined with commas, anything else as ``str``."""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
        return f"{value:.3g}"
    return f"{value:.4g}"


def git_commit(path: str | os.PathLike = ".") -> str:
    """The git commit of the checkout containing ``path`` (``-dirty`` if it has uncommitted
    changes to tracked files); ``ROB_GIT_COMMIT`` overrides; ``"unknown"`` outside git."""
    if os.environ.get("ROB_GIT_COMMIT"):
        return os.environ["ROB_GIT_COMMIT"]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=path, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_used(requested: Any) -> str:
    """The device a computation asked to run on ``requested`` (``"auto"``, ``"cpu"``, ``"cuda"``)
    runs on: ``"auto"`` resolved as :func:`rob.book.params.resolve_device` does."""
    from .params import ParameterError, resolve_device

    try:
        return resolve_device(requested if requested is not None else "auto")
    except ParameterError:
        return str(requested)


def thread_counts() -> dict[str, int | None]:
    """The sizes of this process's thread pools: ``torch`` (``torch.get_num_threads()``) and
    ``blas`` (the largest BLAS pool that :mod:`threadpoolctl` finds loaded; ``None`` if none).
    Blocks that pin fewer threads (``threadpool_limits(1)``, :func:`rob.book.params.torch_threads`)
    use fewer inside them."""
    import torch
    from threadpoolctl import threadpool_info

    blas = [int(info["num_threads"]) for info in threadpool_info() if info.get("user_api") == "blas"]
    return {"torch": int(torch.get_num_threads()), "blas": max(blas) if blas else None}


def _execution() -> dict[str, Any]:
    """How the sweeps ran: executor (serial, local or scheduler), number of workers, scheduler
    address, tasks run and read from the cache (:mod:`rob.book.executor`)."""
    from . import executor

    return {"execution": executor.describe()}


@dataclass
class Report:
    """The checks of one chapter run, with its parameters and provenance.

    ``device``: the device the chapter's computations ran on, when it is not the resolved
    ``params["device"]`` (e.g. ``"cpu"`` for a chapter that computes in float64 numpy whatever
    device is asked for).
    """

    chapter: str
    params: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    device: str | None = None

    # -- recording -------------------------------------------------------------------------
    def _add(self, id: str, description: str, value: Any, target: str, tolerance: str,
             lower: float | None, upper: float | None) -> Check:
        if any(c.id == id for c in self.checks):
            raise ValueError(f"check id {id!r} recorded twice")
        vals = np.atleast_1d(np.asarray(value, dtype=float))
        ok = bool(vals.size > 0 and np.all(np.isfinite(vals))
                  and (lower is None or np.all(vals >= lower))
                  and (upper is None or np.all(vals <= upper)))
        check = Check(id, description, _as_list(value), target, tolerance, lower, upper, ok)
        self.checks.append(check)
        return check

    def within(self, id: str, description: str, value: Any, target: float, tol: float) -> Check:
        """Pass iff ``|value - target| <= tol``."""
        return self._add(id, description, value, format_value(target), f"± {format_value(tol)}",
                         target - tol, target + tol)

    def between(self, id: str, description: str, value: Any, lower: float, upper: float) -> Check:
        """Pass iff ``lower <= value <= upper``."""
        return self._add(id, description, value, f"[{format_value(lower)}, {format_value(upper)}]", "interval",
                         lower, upper)

    def below(self, id: str, description: str, value: Any, upper: float) -> Check:
        """Pass iff ``value <= upper``."""
        return self._add(id, description, value, f"≤ {format_value(upper)}", "bound", None, upper)

    def above(self, id: str, description: str, value: Any, lower: float) -> Check:
        """Pass iff ``value >= lower``."""
        return self._add(id, description, value, f"≥ {format_value(lower)}", "bound", lower, None)

    def equal(self, id: str, description: str, value: Any, target: float) -> Check:
        """Pass iff ``value == target`` exactly (e.g. the location of a peak on a grid)."""
        return self._add(id, description, value, format_value(target), "exact", target, target)

    # -- reading ---------------------------------------------------------------------------
    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def table(self):
        """The checks as a :class:`pandas.DataFrame` (one row per check)."""
        import pandas as pd

        rows = [{"check": c.id, "what": c.description,
                 "value": format_value(c.value),
                 "target": c.target, "tolerance": c.tolerance, "passed": "pass" if c.passed else "FAIL"}
                for c in self.checks]
        return pd.DataFrame(rows, columns=["check", "what", "value", "target", "tolerance", "passed"])

    def record(self) -> dict[str, Any]:
        """Everything needed to reproduce and judge the run, as JSON-ready data."""
        import numpy
        import scipy
        import torch

        return {
            "schema": SCHEMA,
            "chapter": self.chapter,
            "params": dict(self.params),
            "scale": self.params.get("scale"),
            "seed": self.params.get("seed"),
            "device": self.device or device_used(self.params.get("device")),
            "runtime_s": round(time.perf_counter() - self.started, 3),
            "rob_version": __version__,
            "git_commit": git_commit(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": {"python": platform.python_version(), "numpy": numpy.__version__,
                         "scipy": scipy.__version__, "torch": torch.__version__},
            "threads": thread_counts(),
            "cpu_count": os.cpu_count(),
            **_execution(),
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
        }

    def show(self):
        """Display the "how this was made" box and the checks table (HTML for Jupyter and the book)."""
        from IPython.display import HTML

        rec = self.record()
        params = ", ".join(f"<code>{html.escape(k)}={html.escape(repr(v))}</code>" for k, v in rec["params"].items())
        box = (
            '<div class="admonition note rob-provenance"><p class="admonition-title">How this was made</p>'
            f"<p>Parameters: {params}.<br>"
            f"<code>rob</code> {rec['rob_version']}, commit <code>{rec['git_commit']}</code>, "
            f"Python {rec['versions']['python']}, numpy {rec['versions']['numpy']}, torch {rec['versions']['torch']}.<br>"
            f"Runtime {rec['runtime_s']:.1f} s on {rec['device']} ({_threads_text(rec['threads'])}), "
            f"executed {rec['created']}; {_execution_text(rec)}. "
            f"{sum(c.passed for c in self.checks)} of {len(self.checks)} checks passed.</p></div>"
        )
        table = self.table().to_html(index=False, classes="rob-checks", border=0, escape=True)
        return HTML(box + '<div class="rob-checks-wrap">' + table + "</div>")

    def finish(self, out_dir: str | os.PathLike = ".") -> dict[str, Any]:
        """Write ``<out_dir>/<chapter>.checks.json`` (atomically) and raise
        :class:`ReproductionError` if a check failed or none was recorded."""
        rec = self.record()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.chapter}.checks.json"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(rec, indent=2, allow_nan=True))
        os.replace(tmp, path)
        if not self.checks:
            raise ReproductionError(f"{self.chapter}: no check was recorded")
        failed = [c for c in self.checks if not c.passed]
        if failed:
            lines = "\n".join(f"  {c.id}: {c.description}: value {c.value} not within target {c.target} "
                              f"({c.tolerance})" for c in failed)
            raise ReproductionError(f"{self.chapter}: {len(failed)} of {len(self.checks)} checks failed\n{lines}")
        return rec


def _threads_text(threads: dict[str, int | None]) -> str:
    blas = threads.get("blas")
    return f"{threads.get('torch')} torch threads, " + (f"{blas} BLAS threads" if blas else "no BLAS pool found")


def _execution_text(rec: dict[str, Any]) -> str:
    ex = rec.get("execution") or {}
    kind = ex.get("executor", "serial")
    how = {"serial": "sweeps run serially in the kernel",
           "local": f"sweeps run on a local Dask cluster of {ex.get('workers')} worker processes"}.get(
        kind, f"sweeps run on the Dask scheduler {ex.get('address')} ({ex.get('workers')} workers)")
    return f"{html.escape(how)} ({ex.get('tasks_run', 0)} tasks run, {ex.get('tasks_cached', 0)} from the cache)"


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``*.checks.json`` record."""
    return json.loads(Path(path).read_text())
