"""Timing shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``, so this
directory is on the import path)."""
import time


def best_time(fn, repeats=3):
    """The fastest of ``repeats`` calls of ``fn`` in seconds, after one untimed call that traces,
    compiles and warms up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
