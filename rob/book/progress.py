"""Progress bars for long sweeps: plain-text tqdm on stderr.

Plain text (not a widget) so that the bars work the same in a terminal, in Jupyter, under papermill
(``rob run`` streams them) and in the built book, which drops stderr.  ``ROB_PROGRESS=0`` turns
them off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def track(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    """Wrap ``iterable`` in a text progress bar labelled ``desc``."""
    off = os.environ.get("ROB_PROGRESS", "1") == "0"
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, disable=off,
                mininterval=1.0, ascii=True, dynamic_ncols=False, ncols=90)


def bar(total: int, desc: str, initial: int = 0) -> tqdm:
    """A progress bar over ``total`` tasks (``initial`` already done, e.g. read from the cache),
    with rate and ETA; advance it with ``.update(1)`` as tasks finish, close it with ``.close()``."""
    off = os.environ.get("ROB_PROGRESS", "1") == "0"
    return tqdm(total=total, initial=initial, desc=desc, file=sys.stderr, disable=off, unit="task",
                mininterval=1.0, ascii=True, dynamic_ncols=False, ncols=90)
