"""Execute chapters with papermill, record their checks, and build the book.

Three entry points, used by :mod:`rob.book.cli`:

- :func:`run_chapter` — ``rob run``: execute one chapter notebook into an output folder;
- :func:`build_book` — ``rob build`` (what ``make book`` runs): stage the book sources in
  ``_build/stage``, execute every chapter there in place, write the "Reproduction status" page,
  then ``jupyter-book build`` into ``_build/html``;
- :func:`read_runs` — ``rob status``: the last recorded run of each chapter and scale.

Parameters are validated (:func:`rob.book.chapters.validate`) before anything is computed, because
papermill only warns about a parameter a notebook does not declare.  A notebook that fails (an
exception, a failed check, a timeout) stops everything with a message naming the chapter and the
cell; the book is never built after a failed execution.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import cache, chapters, checks
from .chapters import Chapter

#: Per-cell execution timeout (seconds) by scale; ``None`` means no limit.
DEFAULT_TIMEOUT: dict[str, int | None] = {"ci": 1800, "paper": None}

STATUS_PAGE = "book/status.md"


class ChapterFailed(RuntimeError):
    """A chapter notebook did not run to the end (its message names the chapter and the cell)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's :class:`KeyboardInterrupt` so that a run stops the same way
    (kernel shut down, run recorded as interrupted); see :func:`interrupt_on_sigterm`."""

    signal_name = "SIGTERM"


def interrupt_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` in this process (main thread only), and make Ctrl-C
    (SIGINT) raise :class:`KeyboardInterrupt` at once through a handler of our own: ``asyncio.run``
    (Python ≥ 3.11) replaces only the *default* SIGINT handler, by one that merely cancels the
    running task, which the code awaiting the kernel could absorb.  A defensive measure: with
    papermill 2.x the default handler is in place during a run (nbclient runs its loop with
    ``run_until_complete``)."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    def ctrl_c(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, ctrl_c)


def signal_name(exc: BaseException) -> str:
    """``"SIGTERM"`` for :class:`Terminated`, ``"SIGINT"`` (Ctrl-C) for any other interrupt."""
    return getattr(exc, "signal_name", "SIGINT")


@dataclass
class RunResult:
    """What one chapter execution produced."""

    chapter: str
    scale: str
    seed: int
    out_dir: Path
    notebook: Path
    checks_path: Path
    runtime_s: float
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def n_passed(self) -> int:
        return sum(bool(c.get("passed")) for c in self.record.get("checks", []))

    @property
    def n_checks(self) -> int:
        return len(self.record.get("checks", []))

    def written(self) -> list[Path]:
        """The files of the output folder (figures, CSVs, checks, executed notebook)."""
        return sorted(p for p in self.out_dir.iterdir() if p.is_file())


# -- papermill -----------------------------------------------------------------------------------

class _RawHandler(logging.Handler):
    """Writes papermill's log records (the notebook's streamed stdout/stderr) as they are."""

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith(("Executing Cell", "Ending Cell")):
            return  # papermill's own progress bar already shows which cell runs
        sys.stderr.write(msg if msg.endswith(("\n", "\r")) else msg + "\n")
        sys.stderr.flush()


def _stream_papermill_log() -> None:
    log = logging.getLogger("papermill")
    if not any(isinstance(h, _RawHandler) for h in log.handlers):
        log.addHandler(_RawHandler())
        log.setLevel(logging.INFO)
        log.propagate = False


def _failing_cell(nb_path: Path) -> tuple[int | None, int | None]:
    """(index, execution count) of the cell papermill marked as running or failed, if any."""
    try:
        import nbformat

        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may not have been written at all
        return None, None
    for index, cell in enumerate(nb.cells):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in ("running", "failed"):
            return index, cell.get("execution_count")
    return None, None


def _mark_stopped_cell(nb_path: Path, ename: str, evalue: str) -> tuple[int | None, int | None]:
    """Mark the cell that was running when execution was stopped from outside (a timeout, an
    interrupt) as failed in the saved notebook, with an error output ``ename: evalue``; cells that
    never started are marked ``pending`` (papermill marks them all ``completed``).  Returns the
    (index, execution count) of that cell, ``(None, None)`` if no cell had started."""
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may not have been written at all
        return None, None

    def meta(cell: Any) -> dict[str, Any]:
        return cell.setdefault("metadata", {}).setdefault("papermill", {})

    started = [i for i, cell in enumerate(nb.cells) if meta(cell).get("start_time")]
    if not started:
        return None, None
    index = started[-1]
    cell = nb.cells[index]
    meta(cell).update(status="failed", exception=True)
    if cell.cell_type == "code":
        cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                                   traceback=[f"{ename}: {evalue}"]))
    for later in nb.cells[index + 1:]:
        if not meta(later).get("start_time"):
            meta(later)["status"] = "pending"
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(nb, str(nb_path))
    return index, cell.get("execution_count")


#: Passed to every kernel: its own log (e.g. ipykernel's warning that it talks to papermill over
#: TCP on localhost without encryption, or tracebacks of a socket closed at shutdown) is noise to
#: a reader; the notebook's own output (prints, warnings, progress bars) still streams.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def execute_notebook(chapter: str, input_path: Path, output_path: Path, cwd: Path,
                     parameters: dict[str, Any], timeout: int | None, stream: bool = True) -> None:
    """Run ``input_path`` with papermill into ``output_path`` (they may be the same file).

    With ``stream``, the notebook's stdout and stderr (prints, warnings, progress bars) are copied
    to this process's stderr as they come; rich outputs (tables, figures, HTML) are not, since a
    terminal shows only their placeholder text.  Raises :class:`ChapterFailed` naming the chapter,
    the failing cell and the error (for a timeout: the cell and the limit).  On an interrupt
    (:class:`KeyboardInterrupt`, :class:`Terminated`) the running cell is marked in the saved
    notebook and the interrupt propagates.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    if stream:
        _stream_papermill_log()
    try:
        papermill.execute_notebook(
            str(input_path), str(output_path), parameters=parameters, kernel_name="python3",
            cwd=str(cwd), progress_bar=stream, log_output=False, execution_timeout=timeout,
            start_timeout=120, stdout_file=sys.stderr if stream else None,
            stderr_file=sys.stderr if stream else None, extra_arguments=KERNEL_ARGUMENTS)
    except PapermillExecutionError as exc:
        raise ChapterFailed(
            f"chapter {chapter} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
            f"{exc.ename}: {exc.evalue}\n  executed notebook with the traceback: {output_path}") from None
    except CellTimeoutError:
        index, count = _mark_stopped_cell(output_path, "CellTimeoutError",
                                          f"the cell ran longer than the limit of {timeout} s per cell")
        where = f"cell {index} (execution count {count})" if index is not None else "a cell"
        raise ChapterFailed(
            f"chapter {chapter} timed out in {where}: it ran longer than the limit of {timeout} s per cell "
            f"(--timeout; 0 for none)\n  executed notebook: {output_path}") from None
    except KeyboardInterrupt as exc:
        # the kernel is gone: asyncio would report its abandoned tasks at exit ("Task exception was
        # never retrieved ... DeadKernelError"), which says nothing more than "interrupted"
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        _mark_stopped_cell(output_path, "KeyboardInterrupt", f"the run was interrupted ({signal_name(exc)})")
        raise
    except Exception as exc:  # a dead kernel, a kernel that would not start
        index, count = _failing_cell(output_path)
        where = f"in cell {index} (execution count {count})" if index is not None else "before any cell ran"
        raise ChapterFailed(f"chapter {chapter} failed {where}: {type(exc).__name__}: {exc}".rstrip()) from None


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's ``injected-parameters`` cell ``remove-cell`` so that the published page
    shows the chapter's own ``parameters`` cell (with its comments) and not the build's overrides;
    the values used are listed in the chapter's "How this was made" box."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def _kernel_env(root: Path, no_cache: bool) -> None:
    """Environment inherited by the kernel: cache switch, the commit of the book's sources and
    glibc's heap settings (:data:`rob.book.executor.MALLOC_ENV`, unless set already)."""
    from .executor import MALLOC_ENV

    for name, value in MALLOC_ENV.items():
        os.environ.setdefault(name, value)
    if no_cache:
        os.environ["ROB_NO_CACHE"] = "1"
    os.environ.setdefault("ROB_GIT_COMMIT", checks.git_commit(root))


# -- run records (rob status) --------------------------------------------------------------------

def runs_dir() -> Path:
    """Where the last run of each chapter and scale is recorded: ``<cache dir>/runs``."""
    return cache.cache_dir() / "runs"


def record_run(result: RunResult | None, chapter: str, scale: str, seed: int, out_dir: Path,
               error: str | None = None, interrupted: bool = False) -> Path:
    """Write ``runs/<chapter>-<scale>.json`` (the latest run wins); ``interrupted`` marks a run
    stopped by Ctrl-C or SIGTERM (``error`` then says how and after how long)."""
    rec = dict(result.record) if result else {}
    checks_list = rec.get("checks", [])
    entry = {
        "chapter": chapter, "scale": scale, "seed": seed,
        "passed": error is None and bool(rec.get("passed")),
        "n_passed": sum(bool(c.get("passed")) for c in checks_list),
        "n_checks": len(checks_list),
        "runtime_s": result.runtime_s if result else None,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": rec.get("git_commit") or os.environ.get("ROB_GIT_COMMIT", "unknown"),
        "out_dir": str(out_dir),
        "error": error,
        "interrupted": interrupted,
        "checks": checks_list,
    }
    folder = runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}-{scale}.json"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(entry, indent=2))
    os.replace(tmp, path)
    return path


#: The fields ``rob status`` reads from a run record, with the types it accepts.
RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "chapter": (str,), "scale": (str,), "seed": (int, type(None)), "n_passed": (int,), "n_checks": (int,),
    "runtime_s": (int, float, type(None)), "created": (str, type(None)), "error": (str, type(None)),
}


def record_problem(record: Any) -> str | None:
    """Why ``record`` is not a run record ``rob status`` can show, or ``None`` if it is."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    for name, types in RECORD_FIELDS.items():
        if name not in record:
            return f"no field {name!r}"
        if not isinstance(record[name], types) or isinstance(record[name], bool):
            return f"field {name!r} is {record[name]!r}"
    return None


def read_runs_checked() -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """The readable run records, sorted by chapter (in book order) and scale, and the
    ``(path, reason)`` of every record file that could not be read."""
    order = {name: i for i, name in enumerate(chapters.CHAPTERS)}
    runs, bad = [], []
    for path in sorted(runs_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            bad.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        problem = record_problem(record)
        if problem:
            bad.append((path, problem))
        else:
            runs.append(record)
    runs.sort(key=lambda r: (order.get(r["chapter"], len(order)), r["scale"]))
    return runs, bad


def read_runs() -> list[dict[str, Any]]:
    """The readable run records, sorted by chapter (in book order) and scale."""
    return read_runs_checked()[0]


def _load_checks(path: Path) -> dict[str, Any]:
    return checks.load(path) if path.is_file() else {}


def record_interrupt(exc: BaseException, chapter: str, scale: str, seed: int, out_dir: Path,
                     notebook: Path, seconds: float) -> None:
    """Record a run stopped by Ctrl-C or SIGTERM, with the time it ran."""
    stopped = RunResult(chapter, scale, seed, out_dir, notebook, out_dir / f"{chapter}.checks.json",
                        round(seconds, 1))
    record_run(stopped, chapter, scale, seed, out_dir, interrupted=True,
               error=f"interrupted ({signal_name(exc)}) after {seconds:.0f} s")


# -- rob run -------------------------------------------------------------------------------------

def default_out_dir(root: Path, chapter: str, scale: str, seed: int) -> Path:
    return root / "results" / f"{chapter}-{scale}-seed{seed}"


def run_chapter(chapter: Chapter, params: dict[str, Any], out_dir: Path, root: Path,
                timeout: int | None, no_cache: bool = False) -> RunResult:
    """Execute one chapter with already validated ``params`` into ``out_dir``; record the run.

    Raises :class:`ChapterFailed` when the notebook fails (the run is recorded as failed).
    """
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    source = root / chapter.notebook
    output = out_dir / f"{chapter.name}.ipynb"
    checks_path = out_dir / f"{chapter.name}.checks.json"
    checks_path.unlink(missing_ok=True)  # never report the checks of an earlier run
    _kernel_env(root, no_cache)
    scale, seed = params["scale"], params["seed"]
    start = time.perf_counter()
    try:
        execute_notebook(chapter.name, source, output, cwd=source.parent,
                         parameters={**params, "out_dir": str(out_dir)}, timeout=timeout)
    except ChapterFailed as exc:
        failed = RunResult(chapter.name, scale, seed, out_dir, output, checks_path,
                           round(time.perf_counter() - start, 1), _load_checks(checks_path))
        record_run(failed, chapter.name, scale, seed, out_dir, error=str(exc))
        raise
    except KeyboardInterrupt as exc:
        record_interrupt(exc, chapter.name, scale, seed, out_dir, output, time.perf_counter() - start)
        raise
    result = RunResult(chapter.name, scale, seed, out_dir, output, checks_path,
                       round(time.perf_counter() - start, 1), _load_checks(checks_path))
    if not result.record:
        record_run(result, chapter.name, scale, seed, out_dir, error="no checks file written")
        raise ChapterFailed(f"chapter {chapter.name} ran but wrote no {checks_path.name} in {out_dir} "
                            "(does its last cell call report.finish(out_dir)?)")
    record_run(result, chapter.name, scale, seed, out_dir)
    return result


# -- rob build -----------------------------------------------------------------------------------

def toc_files(toc_path: Path) -> list[str]:
    """Every document path of a ``_toc.yml`` (root first), without suffix."""
    data = yaml.safe_load(toc_path.read_text())
    files: list[str] = [data["root"]] if data.get("root") else []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in data.items() if k != "root"})
    return files


def _strip_suffix(path: str) -> str:
    return str(Path(path).with_suffix("")) if Path(path).suffix in (".ipynb", ".md") else path


def toc_chapters(root: Path) -> list[Chapter]:
    """The registered chapters that ``_toc.yml`` lists, in book order."""
    by_doc = {_strip_suffix(c.notebook): c for c in chapters.CHAPTERS.values()}
    return [by_doc[f] for f in map(_strip_suffix, toc_files(root / "_toc.yml")) if f in by_doc]


def stage_sources(root: Path, stage: Path) -> None:
    """Copy the book sources (config, toc, ``book/``, ``notebooks/*.ipynb``) into a fresh ``stage``,
    with the book pages of ``assignments/*.ipynb`` (:func:`rob.book.assignments.stage_pages`)."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    shutil.copytree(root / "book", stage / "book",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "_build"))
    (stage / "notebooks").mkdir()
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, stage / "notebooks" / nb.name)
    # the assignment pages: the otter sources rendered as exercises with solution dropdowns
    from .assignments import stage_pages

    stage_pages(root, stage)


def _drop_from_toc(toc_path: Path, drop: set[str]) -> None:
    """Remove the entries whose ``file`` is in ``drop`` from a ``_toc.yml``."""
    data = yaml.safe_load(toc_path.read_text())

    def prune(node: Any) -> Any:
        if isinstance(node, list):
            return [prune(item) for item in node
                    if not (isinstance(item, dict) and _strip_suffix(str(item.get("file", ""))) in drop)]
        if isinstance(node, dict):
            return {k: prune(v) for k, v in node.items()}
        return node

    toc_path.write_text(yaml.safe_dump(prune(data), sort_keys=False))


_DOC_ROLE = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?([^`<>]+)>?`")


def _unlink_dropped(stage: Path, drop: set[str]) -> None:
    """In the staged Markdown pages, replace each ``{doc}`` link to a left-out document (``drop``:
    paths relative to the book root, without suffix) by the chapter's title in italics, so that a
    build of some chapters (``--chapters``) has no dangling reference."""
    titles = {_strip_suffix(c.notebook): c.title for c in chapters.CHAPTERS.values()}
    for page in stage.rglob("*.md"):
        if "_build" in page.relative_to(stage).parts:
            continue
        text = page.read_text(encoding="utf-8")

        def plain(m: re.Match) -> str:
            target = os.path.normpath(os.path.join(os.path.relpath(page.parent, stage), m.group(2).strip()))
            target = _strip_suffix(target.replace(os.sep, "/"))
            if target not in drop:
                return m.group(0)
            return f"*{(m.group(1) or '').strip() or titles.get(target, target)}* (not in this build)"

        new = _DOC_ROLE.sub(plain, text)
        if new != text:
            page.write_text(new, encoding="utf-8")


def _set_hide_solutions(config_path: Path) -> None:
    data = yaml.safe_load(config_path.read_text())
    data.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    config_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def build_command(scale: str, seed: int, executor_spec: str | None = None, student: bool = False) -> str:
    """The ``rob build`` command line that makes a book of this scale, seed and executor
    (``executor_spec`` as in ``$ROB_EXECUTOR``: ``serial``, ``local:N`` or a scheduler address)."""
    words = ["rob", "build", "--scale", scale, "--seed", str(seed)]
    spec = (executor_spec or "serial").strip()
    if spec.startswith("local:"):
        words += ["--workers", spec.split(":", 1)[1]]
    elif spec not in ("", "serial"):
        words += ["--scheduler", spec]
    if student:
        words.append("--student")
    return " ".join(words)


def status_markdown(records: list[dict[str, Any]], docs: dict[str, str], scale: str, seed: int,
                    commit: str, executor_spec: str | None = None, student: bool = False) -> str:
    """The "Reproduction status" page: a summary (scale, seed, commit, the ``rob build`` command,
    the executor and number of workers that ran the sweeps) and one table row per chapter and check."""
    n_checks = sum(len(r.get("checks", [])) for r in records)
    n_passed = sum(bool(c.get("passed")) for r in records for c in r.get("checks", []))
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Reproduction status", "",
        f"**{n_passed} of {n_checks} checks passed** in {len(records)} chapter(s), "
        f"executed by `rob build` at scale `{scale}` with seed {seed}, commit `{commit}`, on {when}.", "",
        f"Built with `{build_command(scale, seed, executor_spec, student)}`.", "",
        _execution_sentence(records), "",
        "Each row is one acceptance check of a chapter: the measured value, the target and the "
        "tolerance fixed in the chapter before it ran. The build stops if a check fails, so a "
        "published book shows only passing checks; run a chapter yourself with `rob run` "
        "and see your own runs with `rob status`.", "",
    ]
    for rec in records:
        passed = sum(bool(c.get("passed")) for c in rec.get("checks", []))
        lines.append(f"- {{doc}}`{docs[rec['chapter']]}`: {passed} of {len(rec.get('checks', []))} "
                     f"checks passed, runtime {checks.format_value(rec.get('runtime_s'))} s.")
    lines += ["", "(status-table)=", "## All checks", ""]
    head = ["chapter", "check", "what", "value", "target", "tolerance", "result", "seed", "scale",
            "runtime (s)", "commit"]
    rows = ['<div class="rob-checks-wrap">', '<table class="rob-checks rob-status">',
            "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for rec in records:
        for c in rec.get("checks", []):
            cells = [rec["chapter"], c.get("id"), c.get("description"), checks.format_value(c.get("value")),
                     c.get("target"), c.get("tolerance"), "pass" if c.get("passed") else "FAIL",
                     rec.get("seed"), rec.get("scale"), checks.format_value(rec.get("runtime_s")), rec.get("git_commit")]
            tds = "".join(f'<td class="rob-col-{h.split()[0]}">{html.escape(str(v))}</td>'
                          for h, v in zip(head, cells))
            cls = "" if c.get("passed") else ' class="rob-fail"'
            rows.append(f"<tr{cls}>{tds}</tr>")
    rows += ["</tbody>", "</table>", "</div>", ""]
    return "\n".join(lines + rows)


def _execution_sentence(records: list[dict[str, Any]]) -> str:
    """Which executor, how many workers and which device ran the chapters (from their checks JSON)."""
    kinds = sorted({(str((r.get("execution") or {}).get("executor", "serial")),
                     str((r.get("execution") or {}).get("workers")),
                     str((r.get("execution") or {}).get("address")), str(r.get("device")))
                    for r in records})
    parts = []
    for kind, workers, address, device in kinds:
        how = {"serial": "serially in the kernel's process (executor `serial`, 1 worker)",
               "local": f"on a local Dask cluster (executor `local`) of {workers} workers"}.get(
            kind, f"on the Dask cluster at `{address}` (executor `scheduler`, {workers} workers)")
        parts.append(f"{how}, device `{device}`")
    return "Sweeps executed " + "; ".join(parts) + "." if parts else ""


def jupyter_book_command() -> list[str]:
    """The ``jupyter-book`` of this Python environment."""
    exe = Path(sys.executable).with_name("jupyter-book")
    return [str(exe)] if exe.exists() else [shutil.which("jupyter-book") or "jupyter-book"]


@dataclass
class BuildResult:
    html: Path
    results: list[RunResult]
    seconds_execute: float
    seconds_build: float


def build_book(root: Path, scale: str = "ci", seed: int = 0, no_cache: bool = False,
               student: bool = False, only: list[str] | None = None,
               timeout: int | None = None, edition_urls: dict[str, str] | None = None) -> BuildResult:
    """Stage, execute every chapter of ``_toc.yml``, write the status page, build the HTML.

    Every page shows the banner of the ``scale`` edition, linking to the other edition when
    ``edition_urls`` has its address (:mod:`rob.book.editions`).

    Raises :class:`ChapterFailed` on the first failing chapter (nothing is built then) and
    :class:`RuntimeError` when ``jupyter-book build`` fails.
    """
    from .params import ParameterError

    build_dir = root / "_build"
    stage = build_dir / "stage"
    in_toc = toc_chapters(root)
    if only:
        unknown = [name for name in only if name not in {c.name for c in in_toc}]
        if unknown:
            raise ParameterError(f"not a chapter of _toc.yml: {', '.join(unknown)}; "
                                 f"chapters: {', '.join(c.name for c in in_toc)}")
    selected = [c for c in in_toc if not only or c.name in only]
    params = {c.name: chapters.validate(c, {"scale": scale, "seed": seed}, root=root) for c in selected}
    timeout = DEFAULT_TIMEOUT.get(scale) if timeout is None else (timeout or None)

    stage_sources(root, stage)
    if only:
        dropped = {_strip_suffix(c.notebook) for c in in_toc if c not in selected}
        _drop_from_toc(stage / "_toc.yml", dropped)
        _unlink_dropped(stage, dropped)
    if student:
        _set_hide_solutions(stage / "_config.yml")
    from .editions import set_banner

    set_banner(stage / "_config.yml", scale, edition_urls or {})
    _kernel_env(root, no_cache)

    start = time.perf_counter()
    results = []
    for chapter in selected:
        nb = stage / chapter.notebook
        print(f"rob build: executing {chapter.name} ({scale}, seed {seed}) ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            execute_notebook(chapter.name, nb, nb, cwd=nb.parent,
                             parameters={**params[chapter.name], "out_dir": "."}, timeout=timeout)
        except KeyboardInterrupt as exc:
            record_interrupt(exc, chapter.name, scale, seed, nb.parent, nb, time.perf_counter() - t0)
            raise
        hide_injected_parameters(nb)
        checks_path = nb.parent / f"{chapter.name}.checks.json"
        result = RunResult(chapter.name, scale, seed, nb.parent, nb, checks_path,
                           round(time.perf_counter() - t0, 1), _load_checks(checks_path))
        if not result.record:
            raise ChapterFailed(f"chapter {chapter.name} ran but wrote no {checks_path.name}")
        record_run(result, chapter.name, scale, seed, nb.parent)
        print(f"rob build: {chapter.name}: {result.n_passed}/{result.n_checks} checks passed "
              f"in {result.runtime_s:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
    seconds_execute = time.perf_counter() - start

    if student:
        from .student import strip_file

        for result in results:
            strip_file(result.notebook, result.notebook, keep_outputs=True)
        for page in sorted((stage / "assignments").glob("*.ipynb")):
            strip_file(page, page)

    docs = {c.name: "/" + _strip_suffix(c.notebook) for c in selected}
    (stage / STATUS_PAGE).write_text(status_markdown(
        [{**r.record, "runtime_s": r.runtime_s} for r in results], docs, scale, seed, os.environ.get("ROB_GIT_COMMIT", "unknown"),
        executor_spec=os.environ.get("ROB_EXECUTOR"), student=student))

    for stale in (build_dir / "html", build_dir / ".doctrees", build_dir / "jupyter_execute"):
        if stale.exists():
            shutil.rmtree(stale)
    t0 = time.perf_counter()
    cmd = jupyter_book_command() + ["build", str(stage), "--path-output", str(root), "-W", "-n", "--keep-going"]
    print("rob build: " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit code {proc.returncode}); see the warnings above")
    return BuildResult(build_dir / "html", results, seconds_execute, time.perf_counter() - t0)
