"""The one timing rule of the benchmark scripts: the median wall time of ``repeats`` calls after ``warmup`` calls.

Imported by the scripts as ``from timing import median_time`` (a script's own folder is first on ``sys.path``).
"""

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], *, repeats: int, warmup: int = 0) -> float:
    """Median seconds of ``repeats`` calls of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
