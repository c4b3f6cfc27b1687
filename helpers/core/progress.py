"""Progress bars that stay readable in saved notebooks as well as terminals."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    """``tqdm`` over ``items``; away from a terminal (papermill, CI logs) it redraws every 15 s, not 10x a second.

    With ``total=0`` (nothing to do, e.g. every embedding cached) no bar is drawn.
    """
    interval = 0.1 if sys.stderr.isatty() else 15.0
    return tqdm(items, desc=desc, total=total, mininterval=interval, maxinterval=4 * interval, dynamic_ncols=sys.stderr.isatty(), disable=total == 0)
