"""``rfbench latency`` on stderr: the steps of a run, the forecast, and a progress display.

:class:`LatencyConsole` implements :class:`rfbench.latency.events.RunEvents`: per runtime it
prints reading/compiling (with the times), the effective settings and the warm-up; then the
forecast of each runtime's run from its warm-up latency ("about 490 ms per inference: --time
20 gives about 41 ..."; a WARNING when the budget cannot meet the validity rule), the expected
measuring time, and a progress display of the measured time (or inferences, for an iteration
budget) fed by a :class:`~rfbench.console.progress.Ticker` between and during chunks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rfbench.console.progress import Steps, Ticker, make_progress
from rfbench.latency.events import RunEvents
from rfbench.latency.rules import duration_text


def _warm_latency_s(session: Any) -> float:
    """Median warm-up latency of ``session`` in s (the first inference when there was no warm-up)."""
    return statistics.median(list(session.warmup_ms) or [session.first_inference_ms]) / 1e3


def seconds_per_inference(session: Any, mode: str) -> float:
    """Estimated wall seconds per completed inference of a warmed-up ``session``.

    Latency mode: :func:`_warm_latency_s`. Throughput mode: that / requests in flight.
    """
    per = _warm_latency_s(session)
    if mode == "throughput":
        per /= max(1, int((session.adapter.effective or {}).get("requests") or 1))
    return max(per, 1e-9)


def _fmt_ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} ms"


class LatencyConsole(RunEvents):
    """Steps and progress of one ``rfbench latency`` run on ``stream`` (default stderr).

    ``options``: the LatencyOptions; ``enabled`` None = on unless ``-q``; ``tty`` None = ask
    the stream; ``period_s``: line period on a non-terminal (None = env or 10 s).
    """

    def __init__(self, options: Any, stream: TextIO | None = None, enabled: bool | None = None,
                 tty: bool | None = None, period_s: float | None = None) -> None:  # fmt: skip
        self.options = options
        n = len(options.runtimes)
        self.steps = Steps(3 * n + 1 + (n if options.per_layer else 0), stream, enabled)
        self.stream, self.tty, self.period_s = stream, tty, period_s
        self.runs: dict[str, Any] = {}
        self.current: tuple[Any, int] | None = None
        self.ticker: Ticker | None = None
        self.expected_s, self.started_ns = 0.0, 0

    # -- per runtime -------------------------------------------------------------------------

    def opening(self, runtime: str, model: Path) -> None:
        o = self.options
        precision = o.precision or "runtime default"
        self.steps.step(f"Reading and compiling {model.name} with {runtime} on {o.device} "
                        f"({o.mode} hint, precision {precision})")  # fmt: skip

    def opened(self, runtime: str, adapter: Any) -> None:
        desc = adapter.describe()
        timings = desc.get("timings_ms") or {}
        if timings.get("read") is None:
            self.steps.info(f"read + compile model (one step) took {_fmt_ms(timings.get('compile'))}")
        else:
            self.steps.info(f"read model took {_fmt_ms(timings.get('read'))}, "
                            f"compile model took {_fmt_ms(timings.get('compile'))}")  # fmt: skip
        eff = desc.get("effective") or {}
        keys = ("precision", "threads", "streams", "requests", "performance_hint")
        shown = ", ".join(f"{k} {eff.get(k)}" for k in keys if eff.get(k) is not None)
        inputs = "; ".join(f"{i.name} {list(i.shape)} {i.dtype}" for i in adapter.inputs)
        self.steps.step(f"Effective settings ({runtime}): {shown}; input {inputs}")

    def warming(self, runtime: str) -> None:
        self.steps.step(f"Warming up {runtime}: first inference + {self.options.warmup} untimed")

    def warmed(self, session: Any) -> None:
        warm = ", ".join(f"{v:.1f}" for v in session.warmup_ms[:5])
        more = ", ..." if len(session.warmup_ms) > 5 else ""
        text = f"first inference took {session.first_inference_ms:.1f} ms"
        self.steps.info(text + (f"; warm-up {warm}{more} ms" if warm else ""))

    # -- the measurement ---------------------------------------------------------------------

    def measuring(self, sessions: Sequence[Any], options: Any) -> None:
        rule = options.rule
        names = ", ".join(s.name for s in sessions)
        self.steps.step(f"Measuring {names} ({options.mode} mode): budget {rule.budget_text()} "
                        f"per runtime, valid with >= {rule.minimum_text()}")  # fmt: skip
        expected = 0.0
        for session in sessions:
            per = seconds_per_inference(session, options.mode)
            plan = rule.plan(per)
            (self.steps.info if plan.valid else self.steps.warning)(f"{session.name}: {plan.text}")
            expected += plan.time_s + self._rewarm_s(plan, session, options, len(sessions))
        self.steps.info(f"expected measuring time: about {duration_text(expected)}")
        self.expected_s, self.started_ns = expected, time.perf_counter_ns()
        self._start_display(len(sessions), rule)

    def _rewarm_s(self, plan: Any, session: Any, options: Any, n: int) -> float:
        """Seconds of untimed re-warm before each chunk when several runtimes are interleaved:
        one inference (latency mode) or one wave of requests (throughput), ~one latency."""
        if n < 2:
            return 0.0
        chunk_s, chunk_n = options.effective_chunk_s(), options.effective_chunk_iterations()
        per_chunk = [chunk_n] if chunk_n else []
        if chunk_s:  # a chunk ends at the first completion at or after chunk_s
            per_chunk.append(max(1, math.ceil(chunk_s / plan.seconds_per_inference - 1e-9)))
        chunks = math.ceil(plan.iterations / min(per_chunk)) if per_chunk else 1
        return chunks * _warm_latency_s(session)

    def _start_display(self, n: int, rule: Any) -> None:
        by_time = rule.budget_time_s is not None
        total = n * (rule.budget_time_s if by_time else rule.budget_iterations)
        bar = make_progress(total, desc="measuring", unit="s" if by_time else "inferences",
                            stream=self.stream, enabled=self.steps.enabled, tty=self.tty,
                            period_s=self.period_s, precision=1 if by_time else 0)  # fmt: skip
        self.ticker = Ticker(bar, lambda: self._poll(by_time, total)).start()

    def _poll(self, by_time: bool, total: float) -> tuple[float, str]:
        """(measured seconds or inferences so far, "N inferences, R/s")."""
        measured_ns = sum(run.wall_ns for run in self.runs.values())
        current = self.current
        if current is not None:
            measured_ns += time.perf_counter_ns() - current[1]
        count = sum(len(run.samples) for run in self.runs.values())
        seconds = measured_ns / 1e9
        rate = f", {count / seconds:.3g}/s" if seconds > 0 else ""
        value = min(seconds, total) if by_time else min(count, total)
        return round(value, 1) if by_time else value, f"{count} inferences{rate}"

    def chunk_started(self, run: Any) -> None:
        self.runs[run.label] = run
        self.current = (run, time.perf_counter_ns())

    def chunk_ended(self, run: Any) -> None:
        self.current = None

    def measured(self) -> None:
        self.current = None
        if self.ticker is not None:
            self.ticker.stop()
            self.ticker = None
        for run in self.runs.values():
            self.steps.info(f"{run.label}: {run.completed} inferences in {run.wall_ns / 1e9:.2f} s "
                            f"measured, {run.chunks} chunk(s)")  # fmt: skip
        if self.started_ns:
            took = (time.perf_counter_ns() - self.started_ns) / 1e9
            self.steps.info(f"measuring took {took:.1f} s wall (expected about "
                            f"{duration_text(self.expected_s)})")  # fmt: skip

    def profiling(self, runtime: str) -> None:
        self.steps.step(f"Profiling per-layer times of {runtime} (separate session, not timed)")
