"""One runtime's latency session: random inputs, the adapter, first inference, warm-up, profile.

Used by :func:`rfbench.latency.runner.run_benchmark`. Inputs are random data with a fixed seed,
made before any timing; the first inference and the warm-up are timed apart from the
measurement (``shared/spec/measurement.md``). The per-layer profile runs in a separate
counter-enabled session so that the timed run stays clean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.latency.loop import AsyncWorkload, SyncWorkload, Workload
from rfbench.models.opening import RuntimeSettings, open_adapter

if TYPE_CHECKING:
    from rfbench.latency.runner import LatencyOptions

log = logging.getLogger(__name__)

DEFAULT_SEED = 0
#: Inferences run by the separate per-layer profiling pass.
PROFILE_RUNS = 5


@dataclass
class Session:
    """One runtime, loaded, with its inputs bound, first inference and warm-up done."""

    name: str
    adapter: Any
    feeds: dict[str, np.ndarray]
    workload: Workload
    first_inference_ms: float
    warmup_ms: list[float]


def make_feeds(inputs: Sequence[Any], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Random inputs for ``inputs`` (TensorInfo-like: name, shape, dtype), from a fixed seed.

    Float inputs: uniform in [0, 255) like raw pixels; integer inputs: integers 0..255 (clipped
    to the type); bool: random. Shapes must be fully static. Returns ``{name: array}``.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in inputs:
        if any(d is None for d in info.shape):
            raise RfbenchError(
                f"input '{info.name}' has a dynamic shape {list(info.shape)}; "
                "give --input-shape (e.g. 1x3x640x640)"
            )
        dtype = np.dtype(info.dtype)
        shape = tuple(int(d) for d in info.shape)
        if dtype.kind == "f":
            array = rng.uniform(0.0, 255.0, size=shape).astype(dtype)
        elif dtype.kind in "iu":
            high = min(256, int(np.iinfo(dtype).max) + 1)
            array = rng.integers(0, high, size=shape).astype(dtype)
        elif dtype.kind == "b":
            array = rng.integers(0, 2, size=shape).astype(bool)
        else:
            raise RfbenchError(f"input '{info.name}': cannot make random data of type {dtype}")
        feeds[info.name] = np.ascontiguousarray(array)
    return feeds


def runtime_settings(
    name: str, options: LatencyOptions, perf_counters: bool = False
) -> RuntimeSettings:
    """Runtime ``name`` with the run's settings; requests only in throughput mode, mode as hint."""
    return RuntimeSettings(
        runtime=name,
        device=options.device,
        precision=options.precision,
        threads=options.threads,
        streams=options.streams,
        requests=options.requests if options.mode == "throughput" else None,
        performance_hint=options.mode,
        perf_counters=perf_counters,
    )


def open_session_adapter(
    name: str, model: Path, options: LatencyOptions, input_shape: Any, perf_counters: bool = False
) -> Any:
    """Construct runtime ``name``'s adapter with the requested settings (RfbenchError if not)."""
    return open_adapter(model, runtime_settings(name, options, perf_counters), input_shape)


def _time_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call of ``fn`` in ms (perf_counter_ns)."""
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def start_session(name: str, adapter: Any, options: LatencyOptions, sized: Any = None) -> Session:
    """Bind inputs, time the first inference, run the warm-up, build the workload.

    Warm-up: ``options.warmup`` sync inferences in latency mode; in throughput mode an async
    run of max(warmup, requests) inferences, so every infer request has run once. ``sized``:
    :class:`rfbench.latency.sized.SizedInputs` (``--input-data``): images at the eval's sizes.
    """
    if sized is not None:  # the eval's sizes hook (rfbench.latency.sized)
        from rfbench.latency.sized import SizedSyncWorkload

        sized_workload = SizedSyncWorkload(adapter, sized)
        first_ms = _time_ms(sized_workload.warm)
        return Session(name, adapter, {sized.input_name: sized.tensors[0]}, sized_workload, first_ms,
                       [_time_ms(sized_workload.warm) for _ in range(options.warmup)])
    feeds = make_feeds(adapter.inputs, options.seed)
    runner = adapter.sync_runner(feeds)
    first_ms = _time_ms(runner)
    log.info("%s: first inference %.2f ms", name, first_ms)
    warmup_ms: list[float] = []
    if options.mode == "latency":
        warmup_ms = [_time_ms(runner) for _ in range(options.warmup)]
        workload: Workload = SyncWorkload(runner)
    else:
        requests = int(adapter.effective.get("requests") or 1)
        count = max(options.warmup, requests) if options.warmup else 0
        if count:
            result = adapter.run_async(feeds, max_iterations=count)
            if result.stop_reason == "interrupted":
                raise KeyboardInterrupt
            warmup_ms = [float(v) / 1e6 for v in result.latencies_ns]
        workload = AsyncWorkload(adapter, feeds)
    return Session(name, adapter, feeds, workload, first_ms, warmup_ms)


def profile_layers(
    name: str, model: Path, options: LatencyOptions, input_shape: Any
) -> list[dict[str, Any]]:
    """Per-layer times of runtime ``name`` from a separate counter-enabled session.

    Runs one untimed inference then :data:`PROFILE_RUNS` more (sync in latency mode, async in
    throughput mode) and returns the adapter's ``layer_times()`` rows sorted by ``time_ms``
    descending, each with ``share_pct`` of the summed layer time.
    """
    adapter = open_session_adapter(name, model, options, input_shape, perf_counters=True)
    try:
        feeds = make_feeds(adapter.inputs, options.seed)
        if options.mode == "latency":
            runner = adapter.sync_runner(feeds)
            for _ in range(1 + PROFILE_RUNS):
                runner()
        else:
            requests = int(adapter.effective.get("requests") or 1)
            adapter.run_async(feeds, max_iterations=max(PROFILE_RUNS, requests) + requests)
        rows = [dict(row) for row in adapter.layer_times()]
    finally:
        adapter.close()
    rows.sort(key=lambda row: float(row.get("time_ms") or 0.0), reverse=True)
    total = sum(float(row.get("time_ms") or 0.0) for row in rows)
    for row in rows:
        row["runtime"] = name
        row["share_pct"] = 100.0 * float(row.get("time_ms") or 0.0) / total if total else None
    return rows
