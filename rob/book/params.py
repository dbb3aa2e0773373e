"""Notebook parameters: validation and device selection.

Every chapter notebook declares, in the cell tagged ``parameters``, at least

- ``scale``: ``"ci"`` (small, about a minute on 2 CPU cores) or ``"paper"`` (the paper's sizes);
- ``seed``: a non-negative integer from which every random stream of the chapter is derived;
- ``device``: ``"auto"``, ``"cpu"`` or ``"cuda"``;

plus the chapter's own knobs.  papermill only *warns* about a parameter the notebook does not
declare, so :func:`validate` is called on every run (by ``rob run`` / ``rob build`` before any
compute, and by the notebook itself on its own values).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

SCALES = ("ci", "paper")
DEVICES = ("auto", "cpu", "cuda")


class ParameterError(ValueError):
    """A parameter name or value that a chapter does not accept."""


def check_common(scale: Any, seed: Any, device: Any) -> None:
    """Validate the three parameters every chapter has; raise :class:`ParameterError`."""
    if scale not in SCALES:
        raise ParameterError(f"scale must be one of {SCALES}, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed}")
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}, got {device!r}")


def parse_value(text: str) -> Any:
    """Parse a command-line value ``-p name=value``: a Python literal, else the plain string.

    ``"7"`` → 7, ``"0.5"`` → 0.5, ``"True"`` → True, ``"[1, 2]"`` → [1, 2], ``"paper"`` → "paper".
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _type_ok(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def validate(declared: Mapping[str, Any], given: Mapping[str, Any],
             bounds: Mapping[str, tuple[float, float]] | None = None,
             choices: Mapping[str, tuple[Any, ...]] | None = None) -> dict[str, Any]:
    """Check ``given`` against the notebook's ``declared`` parameters (name → default value).

    Raises :class:`ParameterError` for an unknown name, a value whose type differs from the
    default's, a common parameter out of range (:func:`check_common`), a given numeric knob
    outside ``bounds[name] = (lo, hi)`` or a given value not in ``choices[name]`` (defaults are
    not range-checked: they may be sentinels).  Returns the full parameter
    set (defaults updated with ``given``).
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)}; this chapter declares: {', '.join(sorted(declared))}")
    params = dict(declared)
    for name, value in given.items():
        if not _type_ok(value, declared[name]):
            raise ParameterError(
                f"parameter {name} must be of type {type(declared[name]).__name__} "
                f"(default {declared[name]!r}), got {value!r} ({type(value).__name__})")
        params[name] = value
    check_common(params.get("scale", "ci"), params.get("seed", 0), params.get("device", "auto"))
    # Ranges apply to the values a user gives: a notebook's default may be a sentinel
    # (e.g. n_test = 0 for "the scale's default").
    for name, (lo, hi) in (bounds or {}).items():
        if name in given and not lo <= params[name] <= hi:
            raise ParameterError(f"parameter {name} must lie in [{lo}, {hi}], got {params[name]!r}")
    for name, allowed in (choices or {}).items():
        if name in given and params[name] not in allowed:
            raise ParameterError(f"parameter {name} must be one of {allowed}, got {params[name]!r}")
    return params


def resolve_device(device: str) -> str:
    """Map ``"auto"`` to ``"cuda"`` when a CUDA device is visible, else ``"cpu"``.

    ``"cuda"`` without a visible CUDA device is an error, not a silent fallback.
    """
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}, got {device!r}")
    import torch

    global RESOLVED_DEVICE
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda' was asked for but torch sees no CUDA device "
                             "(install a CUDA build of torch, see the README, or use device='cpu')")
    RESOLVED_DEVICE = device
    return device


#: The device the last :func:`resolve_device` call chose (recorded in the checks JSON).
RESOLVED_DEVICE: str | None = None


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (restored afterwards).  Small batched
    problems run faster on one thread than on two, especially on shared cores."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
