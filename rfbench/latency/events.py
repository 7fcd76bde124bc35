"""Hooks that :func:`rfbench.latency.runner.run_benchmark` calls at each step of a run.

The base class does nothing, so the library stays silent; ``rfbench latency`` passes a console
implementation (:mod:`rfbench.commands.latency_progress`) that prints benchmark_app-style steps
and a progress display on stderr. Hooks are called outside the timed region (between chunks,
never per inference); a hook must not raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class RunEvents:
    """No-op hooks, in the order they are called for a run."""

    def opening(self, runtime: str, model: Path) -> None:
        """Before runtime ``runtime`` reads and compiles ``model``."""

    def opened(self, runtime: str, adapter: Any) -> None:
        """After compiling: ``adapter.describe()`` has the read/compile times and settings."""

    def warming(self, runtime: str) -> None:
        """Before the first inference and the warm-up of ``runtime``."""

    def warmed(self, session: Any) -> None:
        """After warm-up: ``session`` (runner.Session) has first_inference_ms and warmup_ms."""

    def measuring(self, sessions: Sequence[Any], options: Any) -> None:
        """Before the timed loop: every session is warm; ``options`` is the LatencyOptions."""

    def chunk_started(self, run: Any) -> None:
        """A chunk of ``run`` (loop.RunMeasurement) is about to start."""

    def chunk_ended(self, run: Any) -> None:
        """A chunk of ``run`` ended (its wall_ns and completed are updated)."""

    def measured(self) -> None:
        """The timed loop is over (also after an interrupt or an error)."""

    def profiling(self, runtime: str) -> None:
        """Before the separate per-layer profiling session of ``runtime``."""
