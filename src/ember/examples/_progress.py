"""The examples' progress bars: tqdm on a terminal, the plain iterable without tqdm."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

try:
    from tqdm import tqdm
except ImportError:  # tqdm is a dependency, but the examples still run without it
    tqdm = None


def progress(iterable: Iterable, **kwargs: Any) -> Iterable:
    """``iterable`` in a transient tqdm bar on stdout (``kwargs`` go to tqdm), or as it is."""
    if tqdm is None:
        return iterable
    # the bar shows on a terminal only (disable=None), so logs stay readable
    return tqdm(iterable, leave=False, file=sys.stdout, disable=None, **kwargs)


def set_postfix(bar: Iterable, **values: str) -> None:
    """Show ``values`` after the bar; nothing without tqdm."""
    if tqdm is not None:
        bar.set_postfix(**values)


def write(message: str) -> None:
    """Print ``message`` without breaking the bar."""
    if tqdm is not None:
        tqdm.write(message)
    else:
        print(message)
