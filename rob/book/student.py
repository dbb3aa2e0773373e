"""Strip solutions from chapter notebooks, for course hand-outs and the student build.

What counts as a solution (the forms sphinx-exercise understands, plus a cell tag):

- a cell tagged ``solution`` (typically the code of a worked solution);
- in a markdown cell, a MyST ``{solution}`` directive block, fenced with backticks or colons::

      ```{solution} ex-label          :::{solution} ex-label
      ...                             ...
      ```                             :::

- a gated range ``{solution-start}`` … ``{solution-end}``, which may span several cells: every
  cell, code or markdown, between the two directives goes.

Cells left empty by the stripping are dropped.  By default outputs and execution counts are
cleared too (a hand-out starts clean); the student build of the book keeps outputs
(``keep_outputs=True``) because it strips notebooks that were already executed.

Usage: ``rob student OUTDIR`` or ``python -m rob.book.student OUTDIR`` writes every chapter notebook
of :data:`rob.book.chapters.CHAPTERS`, stripped, to ``OUTDIR/<chapter>.ipynb``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

SOLUTION_TAG = "solution"

# An opening fence: up to 3 spaces, then >= 3 backticks (any info string: a directive or a code
# block) or >= 3 colons followed by a directive {name}.
_OPEN = re.compile(r"^ {0,3}(?:(?P<ticks>`{3,})[^`]*$|(?P<colons>:{3,})\s*\{[A-Za-z0-9_:-]+\})")
_NAME = re.compile(r"^ {0,3}(?:`{3,}|:{3,})\s*\{(?P<name>[A-Za-z0-9_:-]+)\}")


class StripError(ValueError):
    """A notebook whose solution markup is malformed (e.g. a ``{solution-start}`` never ended)."""


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence`` (same character, at least as many,
    nothing after it but spaces), as in CommonMark and MyST's colon fences."""
    stripped = line.strip()
    return (len(line) - len(line.lstrip(" ")) <= 3 and len(stripped) >= len(fence)
            and set(stripped) == {fence[0]})


def _directive_end(lines: list[str], start: int, fence: str) -> int:
    """Index just after the line that closes the block opened at ``lines[start]`` (or the end
    of the text when the block is never closed, as a Markdown parser would read it)."""
    for i in range(start + 1, len(lines)):
        if _closes(lines[i], fence):
            return i + 1
    return len(lines)


def strip_markdown(text: str, gated: bool = False) -> tuple[str, bool]:
    """Remove solution blocks from one markdown cell's text.

    ``gated`` says whether the cell starts inside a ``{solution-start}`` range opened in an
    earlier cell; the second value returned says whether the cell ends inside one.
    """
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i].rstrip("\n"))
        if not match:
            if not gated:
                kept.append(lines[i])
            i += 1
            continue
        fence = match.group("ticks") or match.group("colons")
        end = _directive_end(lines, i, fence)
        name_match = _NAME.match(lines[i])
        name = name_match.group("name") if name_match else None
        if gated:
            gated = name != "solution-end"
        elif name == "solution-start":
            gated = True
        elif name != "solution":
            kept.extend(lines[i:end])  # any other block whole, so fences inside it are not misread
        i = end
    return "".join(kept), gated


def strip_solutions(nb: nbformat.NotebookNode, keep_outputs: bool = False) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` without solutions (see the module docstring)."""
    out = nbformat.from_dict(nb)  # deep copy
    cells = []
    gated = False
    for cell in out.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "markdown":
            before = cell.source
            cell.source, gated = strip_markdown(before, gated)
            if cell.source != before and not cell.source.strip():
                continue  # nothing left but a solution
        elif gated:
            continue
        if cell.cell_type == "code" and not keep_outputs:
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    if gated:
        raise StripError("a {solution-start} directive has no matching {solution-end}")
    out.cells = cells
    return out


def strip_file(src: str | Path, dst: str | Path, keep_outputs: bool = False) -> Path:
    """Read the notebook ``src``, strip its solutions and write it to ``dst``."""
    nb = nbformat.read(str(src), as_version=4)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(strip_solutions(nb, keep_outputs=keep_outputs), str(dst))
    return dst


def write_handout(out_dir: str | Path, root: Path | None = None) -> list[Path]:
    """Write every chapter notebook, stripped of solutions and outputs, into ``out_dir``."""
    from .chapters import CHAPTERS, repo_root

    root = root or repo_root()
    return [strip_file(root / ch.notebook, Path(out_dir) / Path(ch.notebook).name)
            for ch in CHAPTERS.values()]


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    """``rob student OUTDIR``: exit code 0, 1 for a malformed notebook, 2 for an ``OUTDIR`` that is
    refused (:func:`rob.book.guards.check_out_dir`: in the book's sources, a file, not writable)."""
    from .chapters import repo_root
    from .guards import check_out_dir
    from .params import ParameterError

    parser = argparse.ArgumentParser(prog="rob student",
                                     description="Write the chapter notebooks without solutions or outputs.")
    parser.add_argument("out_dir", help="folder for the stripped notebooks")
    args = parser.parse_args(argv)
    try:
        root = root or repo_root()
        out_dir = check_out_dir(args.out_dir, root, option="OUTDIR")
    except (ParameterError, FileNotFoundError) as exc:
        print(f"rob student: error: {exc}", file=sys.stderr)
        return 2
    try:
        paths = write_handout(out_dir, root)
    except (StripError, FileNotFoundError) as exc:
        print(f"rob student: error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
