"""The runtime-independent half of ``run_async``: job hand-out, stop rules, completion records.

:meth:`rfbench.runtimes.base.RuntimeAdapter.run_async` creates one :class:`AsyncJobs` per call.
The adapter's request primitives then ask :meth:`AsyncJobs.next_job` before every submission
(``None`` = stop submitting: the stop condition, the iteration limit, an interrupt or an error
said so) and report every completion with :meth:`AsyncJobs.done`. Everything here is
thread-safe: OpenVINO completes requests on its callback threads, ONNX Runtime runs one worker
thread per request. Times are integer nanoseconds from ``time.perf_counter_ns``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: ``on_done(job_id, request_id, latency_ns, outputs)``: ``job_id`` is the 0-based submission
#: index (the feeds used were ``feeds[job_id % len(feeds)]``); ``request_id`` which of the
#: ``effective["requests"]`` parallel requests ran it (0-based); ``latency_ns`` that job's
#: submit-to-completion time; ``outputs`` a dict of copied output arrays when
#: ``return_outputs=True``, else None. Called from a runtime thread: keep it short and
#: thread-safe.
DoneCallback = Callable[[int, int, int, "dict[str, np.ndarray] | None"], None]

#: ``should_stop(completed, elapsed_ns) -> bool``: asked before each new submission, with the
#: number of completed inferences and the ns since the run started. True stops submitting;
#: in-flight requests are still waited for and counted. Called from the submitting thread
#: (OpenVINO) or from a worker thread (ONNX Runtime), never concurrently.
StopCondition = Callable[[int, int], bool]


@dataclass
class AsyncRunResult:
    """What :meth:`RuntimeAdapter.run_async` measured.

    ``latencies_ns``: int64 (completed,), each request's own latency, in completion order.
    ``job_ids``: int64 (completed,), the submission index of each completion (same order).
    ``wall_ns``: from just before the first submission to the last completion.
    ``requests``: infer requests actually kept in flight.
    ``stop_reason``: ``"condition"`` (should_stop said so), ``"max_iterations"`` or
    ``"interrupted"`` (KeyboardInterrupt during the run: in-flight requests were drained and the
    partial result returned; callers must report such a run as not valid).
    """

    requests: int
    completed: int
    wall_ns: int
    latencies_ns: np.ndarray
    job_ids: np.ndarray
    stop_reason: str

    @property
    def throughput_fps(self) -> float:
        """Completed inferences per second of wall time (measured, not derived from latency)."""
        return self.completed / (self.wall_ns / 1e9) if self.wall_ns > 0 else 0.0


class AsyncJobs:
    """Shared state of one ``run_async`` call (its arguments): which job comes next, and what
    completed. :meth:`start` starts the clock just before the first submission."""

    def __init__(
        self,
        should_stop: StopCondition | None,
        max_iterations: int | None,
        on_done: DoneCallback | None,
        return_outputs: bool,
    ) -> None:
        self._should_stop = should_stop
        self._max_iterations = max_iterations
        self._on_done = on_done
        self.return_outputs = return_outputs
        self._lock = threading.Lock()
        self._stopped = False
        self.reason = "condition"
        self.submitted = 0
        self.completed = 0
        self.start_ns = 0
        self.error: BaseException | None = None
        self._latencies: list[int] = []
        self._job_ids: list[int] = []
        self._last_done_ns = 0

    def start(self) -> None:
        self.start_ns = time.perf_counter_ns()

    def next_job(self) -> int | None:
        """The next job id to submit (0, 1, ...), or None for good once ``max_iterations`` jobs
        were submitted, ``should_stop`` (never called concurrently) says so, or after
        :meth:`interrupt` or a failure."""
        with self._lock:
            if self._stopped or self.error is not None:
                return None
            job = self.submitted
            if self._max_iterations is not None and job >= self._max_iterations:
                self.reason = "max_iterations"
                self._stopped = True
                return None
            if self._should_stop is not None and self._should_stop(
                self.completed, time.perf_counter_ns() - self.start_ns
            ):
                self._stopped = True
                return None
            self.submitted = job + 1
            return job

    def done(
        self,
        job_id: int,
        request_id: int,
        latency_ns: int,
        done_ns: int,
        outputs: Callable[[], dict[str, np.ndarray]] | None = None,
    ) -> None:
        """Record one completion and call ``on_done``; an exception goes to :meth:`fail`.
        ``outputs`` makes the job's copied output arrays, called only for ``return_outputs``."""
        try:
            arrays = outputs() if self.return_outputs and outputs is not None else None
            with self._lock:
                self.completed += 1
                self._latencies.append(latency_ns)
                self._job_ids.append(job_id)
                self._last_done_ns = max(self._last_done_ns, done_ns)
            if self._on_done is not None:
                self._on_done(job_id, request_id, latency_ns, arrays)
        except BaseException as exc:  # noqa: BLE001 - carried to the thread that called run_async
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """Keep the first exception raised on a runtime thread; submission stops."""
        with self._lock:
            if self.error is None:
                self.error = exc

    def interrupt(self) -> None:
        """Stop submitting because of a KeyboardInterrupt (reason ``"interrupted"``)."""
        with self._lock:
            self.reason = "interrupted"
            self._stopped = True

    @property
    def in_flight(self) -> int:
        """Jobs submitted and not completed yet."""
        return self.submitted - self.completed

    def result(self, requests: int) -> AsyncRunResult:
        """The :class:`AsyncRunResult` of the run (``requests`` kept in flight)."""
        return AsyncRunResult(
            requests=requests,
            completed=self.completed,
            wall_ns=max(self._last_done_ns - self.start_ns, 0),
            latencies_ns=np.asarray(self._latencies, dtype=np.int64),
            job_ids=np.asarray(self._job_ids, dtype=np.int64),
            stop_reason=self.reason,
        )
