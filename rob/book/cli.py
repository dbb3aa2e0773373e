"""The ``rob`` command: list, run and check the book's chapters, and build the book.

    rob list                                   the chapters
    rob run CHAPTER [--scale ci|paper] [--seed N] [--device auto|cpu|cuda]
                    [-p name=value ...] [--out DIR] [--no-cache] [--timeout S]
                    [--workers N|auto | --scheduler ADDRESS]
    rob status                                 the last run of each chapter and scale
    rob build [--student] [--scale ci] [--seed 0] [--no-cache] [--chapters a,b]
              [--workers N|auto | --scheduler ADDRESS]
              [--edition-url-ci URL] [--edition-url-paper URL]
    rob student OUTDIR                         notebooks without solutions, for a course
    rob plan CHAPTER [--scale paper] [--workers N|auto] [--calibrate K]
                                               tasks, CPU time per kind, predicted wall time

Exit codes: 0 success, 1 a chapter or the build failed, 2 a usage or parameter error (reported
on one line before anything is computed: bad parameters, an output folder in the book's sources or
not writable, an unusable cache folder), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM (the
run is recorded as interrupted).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path
from typing import Any

from . import build, chapters, guards
from .params import ParameterError, parse_value

#: Parameters that have their own option and may not be given with ``-p``.
OWN_OPTIONS = {"scale": "--scale", "seed": "--seed", "device": "--device", "out_dir": "--out"}


class UsageError(Exception):
    """A command-line mistake: reported on one line, exit code 2."""


def _table(rows: list[list[str]], head: list[str]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, row)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["n_test=5000", "alpha=0.5"]`` → ``{"n_test": 5000, "alpha": 0.5}``."""
    given: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError(f"-p expects name=value, got {item!r}")
        if name in OWN_OPTIONS:
            raise UsageError(f"set {name} with {OWN_OPTIONS[name]}, not with -p")
        given[name] = parse_value(text)
    return given


# -- executor options (--workers, --scheduler; rob.book.executor) --------------------------------

def _add_executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", metavar="N|auto",
                   help="run the sweeps' tasks on a local Dask cluster of N single-threaded worker processes "
                        "(auto: one per core); default: serially in the kernel")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the sweeps' tasks on an existing Dask cluster, e.g. tcp://127.0.0.1:8786 "
                        "(default: $ROB_SCHEDULER)")


def executor_option(args: argparse.Namespace) -> str:
    """Validate ``--workers``/``--scheduler`` (and ``$ROB_SCHEDULER``) before anything is computed,
    and hand the choice to the kernel through ``$ROB_EXECUTOR`` (inherited by the papermill
    kernel, read by :func:`rob.book.executor.current`; not a notebook parameter, so the cache keys
    and the results do not depend on it).  Returns the executor's text form."""
    import os

    from . import executor

    scheduler = args.scheduler if args.scheduler is not None else os.environ.get("ROB_SCHEDULER") or None
    try:
        if args.workers is not None and scheduler:
            source = "--scheduler" if args.scheduler is not None else "ROB_SCHEDULER"
            raise UsageError(f"give either --workers or {source}, not both")
        if scheduler:
            if not executor.check_reachable(scheduler).get("n_workers"):
                print(f"rob: note: the scheduler at {scheduler.strip()} has no workers yet; the tasks wait "
                      "until workers join it", file=sys.stderr)
            spec = executor.Executor("scheduler", 0, scheduler.strip()).spec()
        elif args.workers is not None:
            spec = executor.Executor("local", executor.parse_workers(args.workers, _gpus_for_auto(args))).spec()
        else:
            spec = "serial"
    except executor.ExecutorError as exc:
        raise UsageError(str(exc)) from None
    os.environ["ROB_EXECUTOR"] = spec
    return spec


def _gpus_for_auto(args: argparse.Namespace) -> int:
    """GPUs for ``--workers auto`` (one worker per GPU) when the chapters may run on CUDA (``--device``
    auto or cuda; `rob build` runs them on auto); 0 otherwise."""
    if str(args.workers).strip().lower() != "auto" or getattr(args, "device", "auto") not in ("auto", "cuda"):
        return 0
    from .executor import visible_gpus

    return visible_gpus()


# -- commands ------------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    rows = [[c.name, c.title, c.paper, c.runtime.get("ci", "?"), c.runtime.get("paper", "?")]
            for c in chapters.CHAPTERS.values()]
    print(_table(rows, ["chapter", "title", "paper", "ci", "paper scale"]))
    print()
    for c in chapters.CHAPTERS.values():
        print(f"{c.name}: {c.theorem}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    chapter = chapters.get(args.chapter)
    root = guards.find_root("run")
    spec = executor_option(args)
    given = parse_assignments(args.param)
    given.update(scale=args.scale, seed=args.seed, device=args.device)
    params = chapters.validate(chapter, given, root=root)
    if params["device"] == "cuda":
        from .params import resolve_device

        resolve_device("cuda")  # no CUDA device: a clear error now rather than in the kernel
    if args.timeout is not None and args.timeout < 0:
        raise UsageError(f"--timeout must be >= 0 seconds (0: no limit), got {args.timeout}")
    timeout = build.DEFAULT_TIMEOUT.get(params["scale"]) if args.timeout is None else (args.timeout or None)
    guards.check_cache_dir()
    default = build.default_out_dir(root, chapter.name, params["scale"], params["seed"])
    out_dir = guards.check_out_dir(str(default) if args.out is None else args.out, root)
    print(f"rob run: {chapter.name} (scale {params['scale']}, seed {params['seed']}, "
          f"device {params['device']}, executor {spec}) -> {out_dir}", file=sys.stderr, flush=True)
    try:
        result = build.run_chapter(chapter, params, out_dir, root, timeout, no_cache=args.no_cache)
    except build.ChapterFailed as exc:
        print(f"rob run: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"\n{chapter.name}: checks passed {result.n_passed}/{result.n_checks}, "
          f"runtime {result.runtime_s:.1f} s (scale {result.scale}, seed {result.seed})")
    print(f"written to {result.out_dir}:")
    for path in result.written():
        print(f"  {path.name}")
    return 0


def _ago(created: str | None) -> str:
    if not created:
        return "?"
    try:
        when = _dt.datetime.fromisoformat(created)
    except ValueError:
        return created
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def _result(record: dict[str, Any]) -> str:
    if record.get("interrupted"):
        return "INTERRUPTED"
    return "FAILED" if record.get("error") or not record.get("passed") else "ok"


def cmd_status(args: argparse.Namespace) -> int:
    runs, malformed = build.read_runs_checked()
    for path, problem in malformed:
        print(f"rob status: skipped the malformed record {path}: {problem}", file=sys.stderr)
    if not runs:
        print(f"no runs recorded yet (in {build.runs_dir()}); try: rob run {next(iter(chapters.CHAPTERS))}")
        return 0
    rows = []
    for r in runs:
        result = _result(r)
        runtime = f"{r['runtime_s']:.0f} s" if r.get("runtime_s") is not None else "?"
        rows.append([r.get("chapter"), r.get("scale"), r.get("seed"),
                     f"{r.get('n_passed', 0)}/{r.get('n_checks', 0)}", result, runtime,
                     _ago(r.get("created")), r.get("git_commit", "?"), r.get("out_dir", "?")])
    print(_table(rows, ["chapter", "scale", "seed", "checks", "result", "runtime", "when", "commit", "where"]))
    never = [name for name in chapters.CHAPTERS if name not in {r.get("chapter") for r in runs}]
    if never:
        print(f"\nnever run: {', '.join(never)}")
    for r in runs:
        if r.get("error"):
            print(f"\n{r['chapter']} ({r['scale']}): {r['error'].splitlines()[0]}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    root = guards.find_root("build")
    guards.check_cache_dir()
    executor_option(args)
    from .editions import EditionError, edition_urls

    try:
        urls = edition_urls(args.edition_url_ci, args.edition_url_paper)
    except EditionError as exc:
        raise UsageError(str(exc)) from None
    only = [name.strip() for name in args.chapters.split(",") if name.strip()] if args.chapters else None
    start = time.perf_counter()
    try:
        result = build.build_book(root, scale=args.scale, seed=args.seed, no_cache=args.no_cache,
                                  student=args.student, only=only, timeout=args.timeout, edition_urls=urls)
    except build.ChapterFailed as exc:
        print(f"rob build: FAILED, the book was not built: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"rob build: FAILED: {exc}", file=sys.stderr)
        return 1
    passed = sum(r.n_passed for r in result.results)
    total = sum(r.n_checks for r in result.results)
    print(f"\nrob build: {len(result.results)} chapter(s) executed in {result.seconds_execute:.0f} s, "
          f"checks passed {passed}/{total}; HTML built in {result.seconds_build:.0f} s "
          f"(total {time.perf_counter() - start:.0f} s)")
    print(f"open {result.html / 'index.html'}")
    return 0


def cmd_student(args: argparse.Namespace) -> int:
    from . import student

    return student.main([args.out_dir], root=guards.find_root("student"))


# -- assignments and grading (otter-grader; the logic is in rob.book.assignments) ------------------

def cmd_assignments(args: argparse.Namespace) -> int:
    from . import assignments

    only = [n.strip() for n in args.chapters.split(",") if n.strip()] if args.chapters else None
    root = chapters.repo_root()
    out = guards.check_out_dir(str(root / assignments.DEFAULT_OUT) if args.out_dir is None else args.out_dir,
                               root, option="rob assignments OUTDIR")
    try:
        built = assignments.build(out, only=only)
    except assignments.AssignmentError as exc:
        raise UsageError(str(exc)) from None
    except RuntimeError as exc:
        print(f"rob assignments: FAILED: {exc}", file=sys.stderr)
        return 1
    for b in built:
        print(f"{b.chapter}: {b.student}  {b.autograder}  {b.solution}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from . import assignments

    root = chapters.repo_root()
    submission = Path(args.submission)
    if not submission.is_file():
        raise UsageError(f"submission {submission} does not exist")
    try:
        if args.autograder:
            zip_path = assignments.check_autograder(Path(args.autograder))
        else:
            chapter = args.chapter or assignments.submission_chapter(submission)
            if chapter is None:
                raise UsageError(f"cannot tell the chapter of {submission}; pass --chapter or --autograder")
            assignments.source_path(chapter, root)
            zip_path = Path(args.assignments or root / assignments.DEFAULT_OUT) / chapter / f"{chapter}-autograder.zip"
            if not zip_path.is_file():
                print(f"rob grade: building the autograder of {chapter} into {zip_path.parent}", file=sys.stderr)
                assignments.build_one(chapter, zip_path.parent.parent, root)
        result = assignments.grade(submission, zip_path)
    except assignments.AssignmentError as exc:
        raise UsageError(str(exc)) from None
    print(assignments.report(result))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Tasks, CPU time per task kind and predicted wall time on N workers (rob.book.plan)."""
    from . import executor, plan
    from .params import check_common

    chapter = chapters.get(args.chapter)
    check_common(args.scale, args.seed, "cpu")
    try:
        workers = executor.parse_workers(args.workers)
    except executor.ExecutorError as exc:
        raise UsageError(str(exc)) from None
    if args.calibrate < 0:
        raise UsageError(f"--calibrate must be >= 0, got {args.calibrate}")
    if not plan.has_tasks(chapter.name):
        raise UsageError(f"chapter {chapter.name} has no task list for rob plan")
    result = plan.make_plan(chapter.name, args.scale, workers, args.seed, args.calibrate,
                            progress=lambda msg: print(f"rob plan: {msg}", file=sys.stderr, flush=True))
    print(plan.format_plan(result))
    return 0


# -- parser --------------------------------------------------------------------------------------

def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rob", description="Run and build the companion book on "
                                     "adversarial robustness of two-layer networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the chapters")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="execute one chapter notebook",
                       description="Execute one chapter notebook with papermill; write the executed "
                                   "notebook, its figures and <chapter>.checks.json to the output folder.")
    p.add_argument("chapter", help="a chapter name from `rob list`")
    p.add_argument("--scale", default="ci", help="ci (about a minute) or paper (the paper's sizes); default ci")
    p.add_argument("--seed", type=int, default=0, help="non-negative integer seed; default 0")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda; default auto")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a chapter parameter (repeatable); the value is read as a Python literal")
    p.add_argument("--out", metavar="DIR", help="output folder; default results/<chapter>-<scale>-seed<N>")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    p.add_argument("--timeout", type=int, metavar="S",
                   help="per-cell time limit in seconds (0: none); default 1800 at ci, none at paper")
    _add_executor_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="show the last run of each chapter and scale")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("build", help="execute every chapter and build the HTML book into _build/html")
    p.add_argument("--student", action="store_true", help="hide and strip the solutions")
    p.add_argument("--scale", default="ci", help="ci or paper; default ci")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    p.add_argument("--chapters", metavar="A,B", help="only these chapters (the others leave the book)")
    p.add_argument("--timeout", type=int, metavar="S", help="per-cell time limit in seconds (0: none)")
    _add_executor_options(p)
    p.add_argument("--edition-url-ci", metavar="URL",
                   help="address of the published ci edition, linked from every page of the paper edition "
                        "(default: $ROB_EDITION_URL_CI; none: no link)")
    p.add_argument("--edition-url-paper", metavar="URL",
                   help="address of the published paper edition, linked from every page of the ci edition "
                        "(default: $ROB_EDITION_URL_PAPER; none: no link)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("plan", help="predict a chapter's sweep time on N workers",
                       description="List a chapter's tasks, their CPU time per kind (recorded by earlier runs, "
                                   "or calibrated now) and the predicted wall time on N workers.")
    p.add_argument("chapter", help="a chapter name from `rob list`")
    p.add_argument("--scale", default="paper", help="ci or paper; default paper")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    p.add_argument("--workers", default="1", metavar="N|auto", help="number of workers; default 1")
    p.add_argument("--calibrate", type=int, default=0, metavar="K",
                   help="run K tasks of each kind that has no recorded time (serially, now); default 0")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("student", help="write the chapter notebooks without solutions (course hand-out)")
    p.add_argument("out_dir", metavar="OUTDIR")
    p.set_defaults(func=cmd_student)

    p = sub.add_parser("assignments", help="build the student notebooks and autograder zips (otter assign)",
                       description="Run otter assign on assignments/<chapter>.ipynb; write per chapter "
                                   "OUTDIR/<chapter>/student/<chapter>.ipynb, <chapter>-autograder.zip "
                                   "and solution/<chapter>.ipynb.")
    p.add_argument("out_dir", metavar="OUTDIR", nargs="?",
                   help="default _build/assignments in the repository")
    p.add_argument("--chapters", metavar="A,B", help="only these chapters")
    p.set_defaults(func=cmd_assignments)

    p = sub.add_parser("grade", help="grade a submitted assignment notebook (otter run)",
                       description="Grade SUBMISSION with otter run and print the score of each question.")
    p.add_argument("submission", metavar="SUBMISSION", help="the student's notebook")
    p.add_argument("--autograder", metavar="ZIP", help="the autograder zip (default: the chapter's, "
                   "from --assignments, built if missing)")
    p.add_argument("--chapter", help="the chapter (default: read from the notebook's metadata or name)")
    p.add_argument("--assignments", metavar="DIR", help="where rob assignments wrote its output; "
                   "default _build/assignments")
    p.set_defaults(func=cmd_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rob`` command; returns the exit code."""
    args = make_parser().parse_args(argv)
    build.interrupt_on_sigterm()
    try:
        return args.func(args)
    except (ParameterError, UsageError, FileNotFoundError) as exc:
        print(f"rob {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        name = build.signal_name(exc)
        print(f"rob {args.command}: interrupted ({name})", file=sys.stderr)
        return 143 if name == "SIGTERM" else 130


if __name__ == "__main__":
    sys.exit(main())
