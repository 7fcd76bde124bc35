"""One runtime's latency session: inputs, the adapter, first inference, warm-up, profile.

Inputs (:mod:`rfbench.latency.feeds`; with several feed dicts the sync runner swaps the bound
tensors before each timed call, a few microseconds) are made before any timing; the first
inference and the warm-up are timed apart from the measurement (``shared/spec/measurement.md``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from rfbench.decoder.finite import check_finite_outputs
from rfbench.latency.feeds import image_feeds, make_feeds
from rfbench.latency.loop import AsyncWorkload, SyncWorkload, Workload
from rfbench.models.opening import RuntimeSettings, open_adapter

if TYPE_CHECKING:
    from rfbench.latency.options import LatencyOptions

log = logging.getLogger(__name__)


@dataclass
class Session:
    """One runtime, loaded, with its inputs bound, first inference and warm-up done."""

    name: str
    adapter: Any
    workload: Workload
    first_inference_ms: float
    warmup_ms: list[float]


def build_feeds(
    adapter: Any, options: LatencyOptions
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """The run's feed dicts for ``adapter`` (one random, or one per image group) and a record
    of them: ``source`` ("random" / "images"), ``seed`` or the image-folder details."""
    feed = options.feed
    if feed.input_data is None:
        return [make_feeds(adapter.inputs, options.seed)], {"source": "random", "seed": options.seed}
    hw = None
    if options.input_shape is not None and len(options.input_shape) == 4:
        shape = options.input_shape
        hw = (shape[1], shape[2]) if shape[3] == 3 and shape[1] != 3 else (shape[2], shape[3])
    feeds, info = image_feeds(Path(feed.input_data), options.model, adapter, hw)
    return feeds, {"source": "images", **info}


def open_session_adapter(
    name: str, model: Path, options: LatencyOptions, input_shape: Any, perf_counters: bool = False
) -> Any:
    """Construct runtime ``name``'s adapter with the run's settings (RfbenchError if not):
    requests only in throughput mode, the mode as the performance hint."""
    settings = RuntimeSettings(
        runtime=name,
        device=options.device,
        precision=options.precision,
        threads=options.threads,
        streams=options.streams,
        requests=options.requests if options.mode == "throughput" else None,
        performance_hint=options.mode,
        perf_counters=perf_counters,
        input_precision=options.feed.input_precision,
    )
    return open_adapter(model, settings, input_shape)


def _time_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call of ``fn`` in ms (perf_counter_ns)."""
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def start_session(name: str, adapter: Any, options: LatencyOptions, sized: Any = None) -> Session:
    """Bind inputs, time the first inference, check outputs, run the warm-up, build the workload.

    One untimed inference after the first one checks that the outputs are finite: a model
    producing NaN or inf is refused with a one-line error naming the model and the output
    (timing a model whose answer is garbage gives numbers nobody should compare).

    Warm-up: ``options.warmup`` sync inferences in latency mode; in throughput mode an async
    run of max(warmup, requests) inferences, so every infer request has run once. The feeds
    are recorded in the runtime's effective settings (``effective["feeds"]``). ``sized``:
    :class:`rfbench.latency.sized.SizedInputs` (``--input-size native|S:L``): each image at
    the size eval feeds it.
    """
    if sized is not None:
        return _start_sized_session(name, adapter, options, sized)
    feed_list, feed_info = build_feeds(adapter, options)
    adapter.effective["feeds"] = feed_info  # what ran is part of the run's effective settings
    runner = adapter.sync_runner(feed_list)
    first_ms = _time_ms(runner)
    log.info("%s: first inference %.2f ms", name, first_ms)
    what = (f"random input (seed {options.seed})" if feed_info["source"] == "random"
            else f"the first image of {feed_info.get('folder', options.feed.input_data)}")
    check_finite_outputs(adapter.infer(feed_list[0]), options.model, f"{what} on {name}")
    runner = adapter.sync_runner(feed_list)  # bound again: infer may have used the same request
    if options.mode == "latency":
        warmup_ms = [_time_ms(runner) for _ in range(options.warmup)]
        workload: Workload = SyncWorkload(runner)
    else:  # run_async cycles over a sequence of feed dicts (AsyncWorkload passes them through)
        async_workload = AsyncWorkload(adapter, cast(Any, feed_list))
        warmup_ms = async_workload.warm(options.warmup) if options.warmup else []
        workload = async_workload
    return Session(name, adapter, workload, first_ms, warmup_ms)


def _start_sized_session(name: str, adapter: Any, options: LatencyOptions, sized: Any) -> Session:
    """:func:`start_session` over images at their own sizes (:mod:`rfbench.latency.sized`)."""
    from rfbench.latency.sized import SizedSyncWorkload

    workload = SizedSyncWorkload(adapter, sized)
    first_ms = _time_ms(workload.warm)
    first = {sized.input_name: sized.tensors[0]}
    check_finite_outputs(adapter.infer(first), options.model, f"the first --input-data image on {name}")
    warmup_ms = [_time_ms(workload.warm) for _ in range(options.warmup)]
    return Session(name, adapter, workload, first_ms, warmup_ms)


def profile_layers(
    name: str, model: Path, options: LatencyOptions, input_shape: Any
) -> list[dict[str, Any]]:
    """Per-layer times of runtime ``name``: medians over ``options.layer_runs`` inferences.

    A separate counter-enabled session after the timed run (the counters add overhead, so
    they never run during the measurement), fed as the timed run was; the first inference (one
    per request in throughput mode) is not counted. Rows (:mod:`rfbench.runtimes.layers`)
    sorted by median ``time_ms`` descending, each with ``runtime``; ``share`` sums to 1.
    """
    adapter = open_session_adapter(name, model, options, input_shape, perf_counters=True)
    runs = options.layer_runs
    try:
        feed_list, _ = build_feeds(adapter, options)
        if options.mode == "latency":
            skip = 1
            runner = adapter.sync_runner(feed_list)
            for _ in range(skip + runs):
                runner()
        else:
            skip = int(adapter.effective.get("requests") or 1)
            adapter.run_async(feed_list, max_iterations=skip + runs)
        rows = adapter.layer_times(skip=skip)
    finally:
        adapter.close()
    rows.sort(key=lambda row: float(row.get("time_ms") or 0.0), reverse=True)
    return [{"runtime": name, **row} for row in rows]
