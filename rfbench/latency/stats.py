"""Summary statistics of latency samples.

Percentiles use numpy's ``linear`` method (Hyndman & Fan type 7, numpy's default): the value at
rank ``(n - 1) * q`` of the sorted samples, interpolated linearly between neighbours. The
standard deviation is the sample standard deviation (``ddof=1``); it is undefined (None) for one
sample. Nothing is ever dropped: outliers are part of the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILE_METHOD = "linear (numpy default, Hyndman-Fan type 7)"
STD_DDOF = 1

#: Field-name fragment -> percentile in percent; names go into results as latency_<frag>_ms.
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}
STAT_KEYS: tuple[str, ...] = ("latency_min_ms", "latency_mean_ms", "latency_std_ms",
                              *(f"latency_{frag}_ms" for frag in PERCENTILES), "latency_max_ms")


def summarize_latencies_ns(latencies_ns: Sequence[int] | np.ndarray) -> dict[str, float | None]:
    """Min, mean, std, p50, p90, p95, p99, p99.9 and max of latencies, in milliseconds.

    ``latencies_ns``: shape (n,), integer nanoseconds (as from ``time.perf_counter_ns``).
    Returns a dict keyed by ``samples`` (n), then :data:`STAT_KEYS`. With no samples every
    statistic is None; with one sample the std is None.
    """
    values_ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    if values_ms.size == 0:
        return {"samples": 0, **dict.fromkeys(STAT_KEYS)}
    quantiles = np.percentile(values_ms, list(PERCENTILES.values()), method="linear")
    n = int(values_ms.size)
    return {
        "samples": n,
        "latency_min_ms": float(values_ms.min()),
        "latency_mean_ms": float(values_ms.mean()),
        "latency_std_ms": float(values_ms.std(ddof=STD_DDOF)) if n > STD_DDOF else None,
        **{f"latency_{frag}_ms": float(q) for frag, q in zip(PERCENTILES, quantiles, strict=True)},
        "latency_max_ms": float(values_ms.max()),
    }


def min_samples_for_percentile(percent: float) -> int:
    """Smallest sample count for which the ``percent`` percentile is not just the maximum.

    With the linear method the percentile interpolates towards the max; it is informed by at
    least one sample above it only when ``(n - 1) * (1 - q) >= 1``, i.e. n >= 1 / (1 - q) + 1.
    """
    tail = 1.0 - percent / 100.0
    return int(np.ceil(1.0 / tail + 1.0 - 1e-9))
