"""One ``rfbench latency`` run: open runtimes, prepare inputs, warm up, measure, describe.

The method (``shared/spec/measurement.md``): each runtime's session (:mod:`.session`: inputs
made before any timing, read, compile and first inference timed apart, warm-up not counted),
then :mod:`.loop` measures until each runtime's budget is spent and the validity rule judges
the run. Several runtimes are measured interleaved (A B A B chunks) in this process; a
``--batch`` other than 1 goes through :func:`rfbench.models.rebatch.model_for_batch`.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.latency.events import RunEvents
from rfbench.latency.loop import measure
from rfbench.latency.options import DEFAULT_WARMUP, INTERLEAVE_CHUNKS, LatencyOptions, LatencyReport
from rfbench.latency.records import report_notes, run_record
from rfbench.latency.session import open_session_adapter, profile_layers, start_session
from rfbench.models.rebatch import model_for_batch

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_WARMUP", "INTERLEAVE_CHUNKS", "LatencyOptions", "LatencyReport",
           "run_benchmark"]


def run_benchmark(options: LatencyOptions, events: RunEvents | None = None) -> LatencyReport:
    """Measure every runtime of ``options`` (interleaved when several) and describe the runs.

    ``events``: step hooks (default: none), e.g. the console display of ``rfbench latency``.
    A KeyboardInterrupt during measurement returns a report with ``interrupted=True`` and the
    runs marked not valid; one before measurement (compile, warm-up) propagates.
    """
    hooks = events or RunEvents()
    with ExitStack() as stack:
        model, input_shape, sized = _prepare_model(options, stack)
        sessions = _start_sessions(options, model, input_shape, sized, hooks, stack)
        hooks.measuring(sessions, options)
        try:
            measurements = measure(
                [(s.name, s.workload) for s in sessions],
                options.rule,
                chunk_s=options.effective_chunk_s(),
                chunk_iterations=options.effective_chunk_iterations(),
                rewarm=len(sessions) > 1,
                progress=hooks.chunk_ended,
                chunk_started=hooks.chunk_started,
            )
        finally:
            hooks.measured()
        interrupted = any(m.interrupted for m in measurements)
        runs = [run_record(s, m, options) for s, m in zip(sessions, measurements, strict=True)]
        if sized is not None:
            from rfbench.latency.sized import sized_run_fields

            for run, s, m in zip(runs, sessions, measurements, strict=True):
                run.update(sized_run_fields(s.workload, m.latencies_ns()))
        layers: dict[str, list[dict[str, Any]]] = {}
        if options.per_layer and not interrupted:
            interrupted = _profile_layers(options, model, input_shape, hooks, layers)
    notes = report_notes(runs, options)
    return LatencyReport(options, runs, measurements, layers, interrupted, notes)


def _prepare_model(options: LatencyOptions, stack: ExitStack) -> tuple[Path, Any, Any]:
    """The model at ``--batch`` (a re-batched copy in a scratch folder when needed), its input
    shape, and the eval-sized inputs of ``--input-size native|S:L`` (or None)."""
    workdir = functools.cache(lambda: Path(stack.enter_context(tempfile.TemporaryDirectory())))
    model, input_shape = model_for_batch(options.model, options.batch, options.input_shape, workdir)
    sized = None
    if options.input_size is not None:  # the eval's sizes (rfbench.latency.sized)
        from rfbench.latency.sized import load_sized_inputs

        if options.feed.input_data is None:
            raise RfbenchError(f"--input-size {options.input_size.text} needs --input-data DIR")
        sized = load_sized_inputs(model, options.input_size, Path(options.feed.input_data))
        input_shape = sized.adapter_shape
    return model, input_shape, sized


def _start_sessions(options: LatencyOptions, model: Path, input_shape: Any, sized: Any,
                    hooks: RunEvents, stack: ExitStack) -> list[Any]:
    """Open, first-infer and warm up each runtime (adapters closed when ``stack`` ends)."""
    sessions = []
    for name in options.runtimes:
        hooks.opening(name, model)
        adapter = open_session_adapter(name, model, options, input_shape)
        stack.callback(adapter.close)
        hooks.opened(name, adapter)
        hooks.warming(name)
        sessions.append(start_session(name, adapter, options, sized=sized))
        hooks.warmed(sessions[-1])
    return sessions


def _profile_layers(options: LatencyOptions, model: Path, input_shape: Any, hooks: RunEvents,
                    layers: dict[str, list[dict[str, Any]]]) -> bool:
    """``--per-layer``: each runtime's profiled pass into ``layers``; True if interrupted
    (the timed runs are kept)."""
    try:
        for name in options.runtimes:
            hooks.profiling(name)
            layers[name] = profile_layers(name, model, options, input_shape)
    except KeyboardInterrupt:
        log.warning("per-layer profiling interrupted; the timed runs are kept")
        return True
    return False
