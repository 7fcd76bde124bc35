"""Honest latency and throughput measurement (``rfbench latency``).

Modules: :mod:`~rfbench.latency.stats` (summary statistics), :mod:`~rfbench.latency.rules`
(budget and validity rule), :mod:`~rfbench.latency.events` (step hooks),
:mod:`~rfbench.latency.load` (load from other processes),
:mod:`~rfbench.latency.loop` (sync/async workloads, interleaved chunks, Ctrl-C),
:mod:`~rfbench.latency.session` (adapter, inputs, warm-up, per-layer profile),
:mod:`~rfbench.latency.runner` (the run),
:mod:`~rfbench.latency.records` (the results.json record, samples.csv, layers.csv) and
:mod:`~rfbench.latency.table` (stdout tables). Method: ``shared/spec/measurement.md``.
"""

from rfbench.latency.events import RunEvents
from rfbench.latency.loop import (
    AsyncWorkload,
    ChunkOutcome,
    RunMeasurement,
    SyncWorkload,
    measure,
    verdict,
)
from rfbench.latency.records import build_record, layers_csv_text, samples_csv_text
from rfbench.latency.rules import (
    DEFAULT_MIN_ITERATIONS,
    DEFAULT_MIN_TIME_S,
    DEFAULT_TIME_S,
    Decision,
    Plan,
    StopRule,
)
from rfbench.latency.runner import (
    DEFAULT_WARMUP,
    MODES,
    LatencyOptions,
    LatencyReport,
    run_benchmark,
)
from rfbench.latency.session import make_feeds
from rfbench.latency.stats import PERCENTILE_METHOD, summarize_latencies_ns

__all__ = [
    "DEFAULT_MIN_ITERATIONS",
    "DEFAULT_MIN_TIME_S",
    "DEFAULT_TIME_S",
    "DEFAULT_WARMUP",
    "MODES",
    "PERCENTILE_METHOD",
    "AsyncWorkload",
    "ChunkOutcome",
    "Decision",
    "LatencyOptions",
    "LatencyReport",
    "Plan",
    "RunEvents",
    "RunMeasurement",
    "StopRule",
    "SyncWorkload",
    "build_record",
    "layers_csv_text",
    "make_feeds",
    "measure",
    "run_benchmark",
    "samples_csv_text",
    "summarize_latencies_ns",
    "verdict",
]
