"""Per-layer times, collected one inference at a time and aggregated to one row per layer.

An adapter created with ``perf_counters=True`` keeps every profiled inference's per-layer
times (OpenVINO: ``get_profiling_info()`` read after each inference; ONNX Runtime: the
``Node`` events of its profiler JSON) in a :class:`LayerSamples`. :func:`aggregate_layers`
turns them into the rows of :meth:`rfbench.runtimes.base.RuntimeAdapter.layer_times`:

``name`` (the layer, full; for ONNX Runtime the model node a fused kernel ends with),
``node`` (the runtime's own node name), ``type`` (operation type, fused activation appended,
e.g. ``Conv+LeakyRelu``), ``exec_type`` (the implementation that ran: OpenVINO's exec type
such as ``brgconv_avx512_amx_1x1_bf16``; ONNX Runtime ``provider:domain.op``),
``status`` (``EXECUTED`` / ``NOT_RUN`` / ``OPTIMIZED_OUT``), ``time_ms`` (median over the
profiled inferences of the layer's real time, ms), ``time_mean_ms``, ``time_min_ms``,
``time_max_ms``, ``samples`` (inferences the statistics cover) and ``share`` (``time_ms`` /
the sum of every layer's ``time_ms``; the shares sum to 1, None when everything is 0).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Keys describing a layer (the rest of a row are its statistics).
INFO_KEYS = ("name", "node", "type", "exec_type", "status")


@dataclass
class LayerSamples:
    """Per-inference per-layer times of one profiled adapter.

    ``info``: ``{node: {name, node, type, exec_type, status}}`` in the order nodes first ran.
    ``times_ms``: ``{node: [real time in ms of each profiled inference, in run order]}``.
    ``totals_ms``: each profiled inference's whole time as the runtime measured it (ms).
    """

    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    times_ms: dict[str, list[float]] = field(default_factory=dict)
    totals_ms: list[float] = field(default_factory=list)

    def add(self, node: str, info: Mapping[str, Any], time_ms: float) -> None:
        """One layer's time in one inference (``info`` is kept from its first inference)."""
        if node not in self.info:
            self.info[node] = {key: info.get(key, "") for key in INFO_KEYS}
            self.times_ms[node] = []
        self.times_ms[node].append(float(time_ms))

    @property
    def inferences(self) -> int:
        """Profiled inferences recorded (the most any layer was seen)."""
        return max((len(v) for v in self.times_ms.values()), default=0)


def aggregate_layers(samples: LayerSamples, skip: int = 0) -> list[dict[str, Any]]:
    """One row per layer (module docstring), the first ``skip`` inferences of each left out."""
    rows = []
    for node, info in samples.info.items():
        times = samples.times_ms[node][skip:]
        if not times:
            continue
        rows.append({
            **info,
            "time_ms": statistics.median(times),
            "time_mean_ms": statistics.fmean(times),
            "time_min_ms": min(times),
            "time_max_ms": max(times),
            "samples": len(times),
        })  # fmt: skip
    total = sum(row["time_ms"] for row in rows)
    for row in rows:
        row["share"] = row["time_ms"] / total if total > 0 else None
    return rows


def profile_summary(samples: LayerSamples, skip: int = 0) -> dict[str, Any]:
    """``inferences`` covered, ``total_ms`` (median whole-inference time as the runtime saw
    it, None if not reported) and ``layers_sum_ms`` (sum of the per-layer medians)."""
    totals = samples.totals_ms[skip:]
    rows = aggregate_layers(samples, skip)
    return {
        "inferences": max((row["samples"] for row in rows), default=0),
        "total_ms": statistics.median(totals) if totals else None,
        "layers_sum_ms": sum(row["time_ms"] for row in rows),
    }
