"""Honest latency and throughput measurement (``rfbench latency``).

The run is :mod:`~rfbench.latency.runner`'s; the method is ``shared/spec/measurement.md``.
"""

from rfbench.latency.feeds import make_feeds
from rfbench.latency.loop import AsyncWorkload, RunMeasurement, SyncWorkload, measure, verdict
from rfbench.latency.options import LatencyOptions
from rfbench.latency.records import build_record, layers_csv_text, samples_csv_text
from rfbench.latency.rules import Decision, StopRule
from rfbench.latency.runner import run_benchmark
from rfbench.latency.stats import summarize_latencies_ns

__all__ = [
    "AsyncWorkload",
    "Decision",
    "LatencyOptions",
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
