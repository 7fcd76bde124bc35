"""One ``rfbench latency`` run: open runtimes, prepare inputs, warm up, measure, describe.

Each runtime's session (adapter, random inputs, first inference, warm-up, per-layer profile)
is set up by :mod:`rfbench.latency.session`; a ``--batch`` other than 1 goes through
:func:`rfbench.models.rebatch.model_for_batch`.

The method (``shared/spec/measurement.md``): inputs are random data with a fixed seed, made
before any timing; model read, compile and the first inference are timed apart; warm-up
inferences are run and not counted; then the :mod:`rfbench.latency.loop` measures until the
budget (time and/or count, per runtime) is spent, and the validity rule judges the run.
Latency mode = synchronous inference with one request (OpenVINO latency hint); throughput
mode = the adapter's async runner with N requests (throughput hint). Several runtimes are
measured interleaved (A B A B chunks) in this process.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.latency.events import RunEvents
from rfbench.latency.feeds import FeedOptions
from rfbench.latency.loop import RunMeasurement, measure
from rfbench.latency.records import report_notes, run_record
from rfbench.latency.rules import StopRule
from rfbench.latency.session import (
    DEFAULT_LAYER_RUNS,
    DEFAULT_SEED,
    open_session_adapter,
    profile_layers,
    start_session,
)
from rfbench.models.rebatch import model_for_batch

log = logging.getLogger(__name__)

MODES = ("latency", "throughput")
DEFAULT_WARMUP = 2
DEFAULT_TOP_LAYERS = 15
#: With several runtimes, each one's budget is split into this many alternating chunks.
INTERLEAVE_CHUNKS = 5


@dataclass(frozen=True)
class LatencyOptions:
    """Everything one ``rfbench latency`` run needs (None = the runtime's default).

    ``input_shape``: full input shape for a model with dynamic dims (batch dim is then taken
    from it unless ``batch`` > 1). ``chunk_s``: chunk length when interleaving several
    runtimes (None = the time budget / ``INTERLEAVE_CHUNKS``; an iteration budget is split the
    same way, see :meth:`effective_chunk_iterations`).
    """

    model: Path
    runtimes: tuple[str, ...] = ("openvino",)
    device: str = "CPU"
    precision: str | None = None
    mode: str = "latency"
    rule: StopRule = field(default_factory=StopRule)
    threads: int | None = None
    streams: int | None = None
    requests: int | None = None
    batch: int = 1
    input_shape: tuple[int, ...] | None = None
    warmup: int = DEFAULT_WARMUP
    per_layer: bool = False
    top_layers: int = DEFAULT_TOP_LAYERS
    seed: int = DEFAULT_SEED
    chunk_s: float | None = None
    feed: FeedOptions = field(default_factory=FeedOptions)  # input precision and data
    layer_runs: int = DEFAULT_LAYER_RUNS  # profiled inferences per runtime (--per-layer)
    input_size: Any = None  # SizePolicy native / SHORT:LONG: feed.input_data at the eval's sizes

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RfbenchError(f"--mode '{self.mode}' is not one of {', '.join(MODES)}")
        if self.batch < 1:
            raise RfbenchError(f"--batch must be >= 1, got {self.batch}")
        if self.warmup < 0:
            raise RfbenchError(f"--warmup must be >= 0, got {self.warmup}")
        if self.mode == "latency" and self.requests not in (None, 1):
            raise RfbenchError(
                "--requests applies to --mode throughput; latency mode runs 1 sync request"
            )
        if not self.runtimes:
            raise RfbenchError("no runtime selected")
        if self.input_size is not None and (self.mode != "latency" or self.batch != 1 or self.per_layer):
            raise RfbenchError(f"--input-size {self.input_size.text} times sync inferences one image at a "
                               "time: it needs --mode latency, --batch 1 and no --per-layer")

    def settings(self) -> dict[str, Any]:
        """The requested settings as a JSON-ready dict."""
        return {
            "model": str(self.model),
            "runtimes": list(self.runtimes),
            "device": self.device,
            "precision": self.precision,
            "mode": self.mode,
            "threads": self.threads,
            "streams": self.streams,
            "requests": self.requests,
            "batch": self.batch,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "warmup_inferences": self.warmup,
            "per_layer": self.per_layer,
            "seed": self.seed,
            "chunk_s": self.effective_chunk_s(),
            "chunk_iterations": self.effective_chunk_iterations(),
            "rewarm_before_each_chunk": len(self.runtimes) > 1,
            **self.feed.settings(),
            "per_layer_runs": self.layer_runs if self.per_layer else None,
            **({"input_size": self.input_size.text} if self.input_size is not None else {}),
        }

    def effective_chunk_s(self) -> float | None:
        """Chunk length used: None (one chunk) for a single runtime."""
        if len(self.runtimes) < 2:
            return None
        return self.chunk_s or self.rule.chunk_limits(INTERLEAVE_CHUNKS)[0]

    def effective_chunk_iterations(self) -> int | None:
        """Inferences per chunk with several runtimes and an iteration budget, else None."""
        if len(self.runtimes) < 2:
            return None
        return self.rule.chunk_limits(INTERLEAVE_CHUNKS)[1]


@dataclass
class LatencyReport:
    """The outcome of :func:`run_benchmark`: per-runtime records, samples, layers."""

    options: LatencyOptions
    runs: list[dict[str, Any]]
    measurements: list[RunMeasurement]
    layers: dict[str, list[dict[str, Any]]]
    interrupted: bool
    notes: list[str]

    @property
    def valid(self) -> bool:
        """True when every runtime's run is valid."""
        return all(run["valid"] for run in self.runs)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def run_benchmark(
    options: LatencyOptions,
    progress: Callable[[RunMeasurement], None] | None = None,
    events: RunEvents | None = None,
) -> LatencyReport:
    """Measure every runtime of ``options`` (interleaved when several) and describe the runs.

    ``progress(run)``: called after each chunk. ``events``: step hooks (default: none), e.g.
    the console display of ``rfbench latency``. A KeyboardInterrupt during measurement returns
    a report with ``interrupted=True`` and the runs marked not valid; one before measurement
    (compile, warm-up) propagates.
    """
    hooks = events or RunEvents()

    def chunk_ended(run: RunMeasurement) -> None:
        hooks.chunk_ended(run)
        if progress is not None:
            progress(run)

    with ExitStack() as stack:
        scratch: list[Path] = []

        def workdir() -> Path:
            if not scratch:
                scratch.append(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            return scratch[0]

        model, input_shape = model_for_batch(
            options.model, options.batch, options.input_shape, workdir
        )
        sized = None
        if options.input_size is not None:  # the eval's sizes (rfbench.latency.sized)
            from rfbench.latency.sized import load_sized_inputs

            if options.feed.input_data is None:
                raise RfbenchError(f"--input-size {options.input_size.text} needs --input-data DIR")
            sized = load_sized_inputs(model, options.input_size, Path(options.feed.input_data))
            input_shape = sized.adapter_shape
        sessions = []
        for name in options.runtimes:
            hooks.opening(name, model)
            adapter = open_session_adapter(name, model, options, input_shape)
            stack.callback(adapter.close)
            hooks.opened(name, adapter)
            hooks.warming(name)
            sessions.append(start_session(name, adapter, options, sized=sized))
            hooks.warmed(sessions[-1])
        hooks.measuring(sessions, options)
        try:
            measurements = measure(
                [(s.name, s.workload) for s in sessions],
                options.rule,
                chunk_s=options.effective_chunk_s(),
                chunk_iterations=options.effective_chunk_iterations(),
                rewarm=len(sessions) > 1,
                progress=chunk_ended,
                chunk_started=hooks.chunk_started,
            )
        finally:
            hooks.measured()
        interrupted = any(m.interrupted for m in measurements)
        runs = [
            run_record(s, m, options) for s, m in zip(sessions, measurements, strict=True)
        ]
        if sized is not None:
            from rfbench.latency.sized import sized_run_fields

            for run, s, m in zip(runs, sessions, measurements, strict=True):
                run.update(sized_run_fields(s.workload, m.latencies_ns()))  # type: ignore[arg-type]
        layers: dict[str, list[dict[str, Any]]] = {}
        if options.per_layer and not interrupted:
            try:
                for name in options.runtimes:
                    hooks.profiling(name)
                    layers[name] = profile_layers(name, model, options, input_shape)
            except KeyboardInterrupt:
                log.warning("per-layer profiling interrupted; the timed runs are kept")
                interrupted = True
    notes = report_notes(runs, options)
    return LatencyReport(options, runs, measurements, layers, interrupted, notes)
