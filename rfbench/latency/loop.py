"""The measurement loop: sync or async workloads, run in chunks, one or more interleaved.

Vocabulary:
- a *workload* runs inferences for one runtime until a stop condition says stop, recording one
  sample per completed inference; :class:`SyncWorkload` (latency mode: one request, timed with
  ``time.perf_counter_ns`` around each call) and :class:`AsyncWorkload` (throughput mode: the
  adapter's ``run_async`` keeps N requests in flight and reports each request's own latency);
- a *chunk* is one uninterrupted stretch of one workload; a single-runtime run is one chunk,
  ``--runtime all`` alternates chunks A B A B so that drift in machine load hits both alike;
- a :class:`RunMeasurement` accumulates one runtime's samples, measured wall time (the sum of
  its chunks' wall times, from the first submission to the last completion of each chunk) and
  the load on the machine during its chunks. The :class:`StopRule`'s budget ends it (per
  runtime: each runtime gets the whole budget); its validity rule judges it afterwards and
  never extends it.

A KeyboardInterrupt during a chunk ends the whole measurement: the samples taken so far are
kept and every unfinished run is marked not valid ("interrupted").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rfbench.latency.load import LoadAccumulator, loadavg, snapshot
from rfbench.latency.rules import StopRule

log = logging.getLogger(__name__)

Clock = Callable[[], int]
#: ``record(start_ns, latency_ns, request_id)``: one completed inference; request_id may be None.
Recorder = Callable[[int, int, "int | None"], None]
#: ``should_stop(completed_in_chunk, elapsed_in_chunk_ns) -> bool``, asked before each submission.
ChunkStop = Callable[[int, int], bool]


@dataclass(frozen=True)
class ChunkOutcome:
    """One chunk: inferences completed, wall time (ns) first submission -> last completion."""

    completed: int
    wall_ns: int
    interrupted: bool = False


class Workload(Protocol):
    """Something that runs inferences of one runtime until told to stop."""

    def run_chunk(self, should_stop: ChunkStop, record: Recorder) -> ChunkOutcome:
        """Run until ``should_stop`` says so; call ``record`` once per completed inference."""
        ...

    def warm(self) -> object:
        """Untimed inference(s) before a chunk that follows another runtime's chunk."""
        ...


class SyncWorkload:
    """Latency mode: one synchronous inference at a time, each timed on its own.

    ``runner``: zero-argument callable running one inference (inputs already bound).
    ``clock``: integer-nanosecond monotonic clock (injectable for tests).
    """

    def __init__(self, runner: Callable[[], object], clock: Clock = time.perf_counter_ns) -> None:
        self._runner = runner
        self._clock = clock

    def warm(self) -> None:
        """One untimed inference."""
        self._runner()

    def run_chunk(self, should_stop: ChunkStop, record: Recorder) -> ChunkOutcome:
        """Time ``runner()`` calls back to back; a KeyboardInterrupt ends the chunk, flagged."""
        clock = self._clock
        completed = 0
        start = clock()
        end = start
        try:
            while not should_stop(completed, end - start):
                t0 = clock()
                self._runner()
                t1 = clock()
                record(t0, t1 - t0, 0)
                completed += 1
                end = t1
        except KeyboardInterrupt:
            return ChunkOutcome(completed, end - start, interrupted=True)
        return ChunkOutcome(completed, end - start)


class AsyncWorkload:
    """Throughput mode: the adapter's ``run_async`` keeps its infer requests busy.

    Each sample's latency is the request's own submit-to-completion time as reported by the
    adapter; its start is placed at (clock at the completion callback) - latency.
    """

    def __init__(
        self,
        adapter: Any,
        feeds: Mapping[str, np.ndarray],
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        self._adapter = adapter
        self._feeds = feeds
        self._clock = clock

    def warm(self, count: int = 0) -> list[float]:
        """``count`` untimed inferences, and at least one per infer request; their latencies
        in ms."""
        requests = int((getattr(self._adapter, "effective", None) or {}).get("requests") or 1)
        result = self._adapter.run_async(self._feeds, max_iterations=max(count, requests))
        if result.stop_reason == "interrupted":
            raise KeyboardInterrupt
        return [float(v) / 1e6 for v in result.latencies_ns]

    def run_chunk(self, should_stop: ChunkStop, record: Recorder) -> ChunkOutcome:
        """One ``run_async`` call; its ``stop_reason == "interrupted"`` flags the chunk.

        Should the adapter let a KeyboardInterrupt escape instead, the chunk is still closed
        with the completions recorded so far (wall time = first start to last end seen).
        """
        clock = self._clock
        lock = threading.Lock()
        count = 0
        span: list[int] = []  # [first start, last end] once a request completed

        def on_done(_job_id: int, request_id: int, latency_ns: int, _outputs: object) -> None:
            nonlocal count
            end = clock()
            start = end - latency_ns
            with lock:
                record(start, latency_ns, request_id)
                count += 1
                if span:
                    span[0], span[1] = min(span[0], start), max(span[1], end)
                else:
                    span.extend((start, end))

        try:
            result = self._adapter.run_async(self._feeds, should_stop=should_stop, on_done=on_done)
        except KeyboardInterrupt:
            with lock:
                wall = span[1] - span[0] if span else 0
                return ChunkOutcome(count, wall, interrupted=True)
        return ChunkOutcome(
            int(result.completed), int(result.wall_ns), result.stop_reason == "interrupted"
        )


@dataclass
class RunMeasurement:
    """Everything measured for one runtime: samples, wall time, load, and the verdict.

    ``samples``: rows ``(start_ns, latency_ns, request_id, chunk)`` in completion order;
    ``start_ns`` is on the measurement clock.
    """

    label: str
    samples: list[tuple[int, int, int | None, int]] = field(default_factory=list)
    wall_ns: int = 0
    completed: int = 0
    chunks: int = 0
    finished: bool = False
    ended_by: str | None = None  # "time" / "iterations" once the budget is spent
    interrupted: bool = False
    load: LoadAccumulator = field(default_factory=LoadAccumulator)

    def recorder(self, chunk: int) -> Recorder:
        """A :data:`Recorder` appending to this run's samples, tagged with ``chunk``."""
        def record(start_ns: int, latency_ns: int, request_id: int | None) -> None:
            self.samples.append((int(start_ns), int(latency_ns), request_id, chunk))

        return record

    def latencies_ns(self) -> np.ndarray:
        """int64 (completed,): latencies in completion order."""
        return np.array([row[1] for row in self.samples], dtype=np.int64)

    def throughput_per_s(self) -> float | None:
        """Completed inferences per second of measured wall time (None before any)."""
        return self.completed / (self.wall_ns / 1e9) if self.wall_ns > 0 else None


def run_chunk(
    run: RunMeasurement,
    workload: Workload,
    rule: StopRule,
    chunk_ns: int | None,
    chunk_iterations: int | None = None,
) -> ChunkOutcome:
    """Run one chunk of ``workload`` for ``run`` until the rule's budget is spent, or the chunk
    has lasted ``chunk_ns`` or completed ``chunk_iterations`` (None: no such chunk limit)."""
    base_wall, base_count = run.wall_ns, run.completed

    def should_stop(completed: int, elapsed_ns: int) -> bool:
        ended = rule.ended_by(base_wall + elapsed_ns, base_count + completed)
        if ended is not None:  # the budget is spent (rule.decide is DONE)
            run.finished, run.ended_by = True, ended
            return True
        if chunk_iterations is not None and completed >= chunk_iterations:
            return True
        return chunk_ns is not None and elapsed_ns >= chunk_ns

    before = snapshot()
    outcome = workload.run_chunk(should_stop, run.recorder(run.chunks))
    run.load.add(before, snapshot())
    run.chunks += 1
    run.wall_ns += outcome.wall_ns
    run.completed += outcome.completed
    if outcome.interrupted:
        run.interrupted = True
        run.finished = True
    return outcome


def measure(
    workloads: Sequence[tuple[str, Workload]],
    rule: StopRule,
    *,
    chunk_s: float | None = None,
    chunk_iterations: int | None = None,
    rewarm: bool = False,
    progress: Callable[[RunMeasurement], None] | None = None,
    chunk_started: Callable[[RunMeasurement], None] | None = None,
) -> list[RunMeasurement]:
    """Run every ``(label, workload)`` until its budget is spent, alternating chunks; one
    :class:`RunMeasurement` per workload, in order.

    A chunk ends after ``chunk_s`` seconds or ``chunk_iterations`` inferences (None: no limit).
    ``rewarm``: ``workload.warm()`` (untimed) before every chunk, so the first timed inference
    after a switch of runtime does not pay for caches the other runtime left cold.
    ``chunk_started(run)`` / ``progress(run)`` are called (outside the timed region) just
    before / after each chunk. A KeyboardInterrupt stops everything (module docstring).
    """
    runs = [RunMeasurement(label) for label, _ in workloads]
    chunk_ns = None if chunk_s is None else max(1, int(chunk_s * 1e9))
    avg_before = loadavg()
    interrupted = False
    try:
        while not all(run.finished for run in runs):
            for run, (_, workload) in zip(runs, workloads, strict=True):
                if run.finished:
                    continue
                if rewarm:
                    workload.warm()
                if chunk_started is not None:
                    chunk_started(run)
                outcome = run_chunk(run, workload, rule, chunk_ns, chunk_iterations)
                if progress is not None:
                    progress(run)
                if outcome.interrupted:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
    avg_after = loadavg()
    for run in runs:
        if interrupted and not run.finished:
            run.interrupted = True
            run.finished = True
        run.load.loadavg_before, run.load.loadavg_after = avg_before, avg_after
    return runs


def verdict(run: RunMeasurement, rule: StopRule) -> tuple[bool, str | None]:
    """``(valid, invalid_reason)`` of a finished run under ``rule``'s validity rule."""
    return rule.validity(run.wall_ns, run.completed, run.interrupted)
