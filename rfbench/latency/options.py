"""What one ``rfbench latency`` run is asked to do (:class:`LatencyOptions`) and what it found
(:class:`LatencyReport`): plain records that the runner, the sessions and the record builder
share, so that none of them imports another to know them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.latency.feeds import DEFAULT_SEED, FeedOptions
from rfbench.latency.loop import RunMeasurement
from rfbench.latency.rules import StopRule

#: Profiled inferences per runtime of the separate per-layer pass (``--per-layer-runs``).
DEFAULT_LAYER_RUNS = 20

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
