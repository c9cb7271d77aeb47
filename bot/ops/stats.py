"""The one percentile definition behind every p50/p95/p99 the measuring commands print and the
README quotes: linear interpolation between the two closest ranks (numpy's and most tools'
default, Hyndman and Fan's type 7). With 20 values, p95 lies between the 19th and 20th."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], share: float) -> float:
    """The `share` (0 to 1) percentile of `values`; ValueError when there are none."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if not 0 <= share <= 1:
        raise ValueError(f"share {share} is not between 0 and 1")
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
