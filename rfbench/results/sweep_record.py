"""The ``sweep`` record: every cell of a model x runtime x precision matrix, and the trade-off.

A cell's AP comes from its own ``eval`` folder (``cells/<key>/eval``) and its latency from
``cells/<key>/latency.json`` (a :class:`CellLatency`), measured interleaved with the other
cells. ``tradeoff`` has one :class:`TradeoffRow` per measured cell and protocol setting (the
tidy ``results.csv``). AP values are fractions, AP deltas points (x 100), latencies ms,
throughput inferences per s, sizes bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rfbench.results.latency_record import Load
from rfbench.results.record import OptReal, Part, Real, ResultRecord


class SweepCalibration(Part):
    """Calibration of the int8 cells (with the source sha256, the cache key of their models).

    ``subset_size`` is the size asked for; a data root with fewer images calibrates on all of
    them (a warning; each int8 cell's ``calibration_images`` is the size used)."""

    subset_size: int
    seed: int
    ort_calibration_method: str


class SweepSettings(Part):
    """What every cell shares: data, protocols, preset, latency budget and validity minimum.

    Each cell's latency run ends at ``latency_budget_time_s`` of measured time or
    ``latency_budget_iterations`` inferences, whichever first; it is valid only with at least
    ``latency_min_time_s`` and ``latency_min_iterations`` (see ``latency_record.StopRule``).
    """

    data_root: str
    gt_mat_dir: str | None
    limit: int | None
    protocol: str
    preset: str
    latency_budget_time_s: OptReal
    latency_budget_iterations: int | None
    latency_min_time_s: Real
    latency_min_iterations: int
    int8_calibration: SweepCalibration
    ray: dict[str, Any] | None = None  # --ray: address, cluster_start_s, nodes, ship_images


class CellLatency(Part):
    """One cell's sync latency (``cells/<key>/latency.json``), measured in rounds with the
    cells of ``interleaved_with``; statistics null when no inference completed."""

    samples: int
    latency_min_ms: OptReal
    latency_mean_ms: OptReal
    latency_std_ms: OptReal
    latency_p50_ms: OptReal
    latency_p90_ms: OptReal
    latency_p95_ms: OptReal
    latency_p99_ms: OptReal
    latency_p99_9_ms: OptReal
    latency_max_ms: OptReal
    iterations: int
    measured_time_s: Real
    throughput_fps: OptReal
    interrupted: bool
    valid: bool
    invalid_reason: str | None
    precision_effective: str | None
    load: Load
    interleaved_with: list[str]  # cell keys measured in the same rounds
    node: dict[str, Any] | None = None  # where it was measured: host, cpu, cpus (one node for all)
    # preset biubug6 on a dynamic model: timed at the eval's per-image sizes ("native") over the
    # first input_images images of the data root (None: the model's one fixed size)
    input_size_policy: str | None = None
    input_images: int | None = None


class SweepCell(Part):
    """One cell: its configuration, what ran, and its outcome.

    ``status``: "done" (AP and latency), "skipped" (``reason`` says why) or "pending" (not
    finished: an interrupted latency run; the same command finishes it). ``model_run``: the
    file evaluated and timed (the int8 model for an int8 cell). Absent fields: not reached.
    """

    key: str
    model: str
    runtime: str
    precision: str
    baseline: str  # key of the same model and runtime at f32
    model_run: str | None = None
    model_size_bytes: int | None = None
    quantized_by_rfbench: bool | None = None
    calibration_images: int | None = None  # int8: images calibrated on (all of a smaller root)
    aps: dict[str, OptReal] | None = None  # "protocol/setting" -> AP
    status: Literal["done", "skipped", "pending"]
    reason: str | None
    latency_p50_ms: OptReal = None
    latency_min_ms: OptReal = None
    throughput_fps: OptReal = None
    other_busy_cores: OptReal = None
    latency_valid: bool | None = None
    latency_invalid_reason: str | None = None


class TradeoffRow(Part):
    """One measured cell at one protocol setting, against its f32 baseline cell."""

    setting: str
    cell: str
    model: str
    runtime: str
    precision: str
    ap: OptReal
    delta_ap_points: OptReal  # (AP - AP of the baseline) x 100
    latency_p50_ms: OptReal
    speedup_vs_f32: OptReal  # baseline p50 / p50
    throughput_fps: OptReal
    model_size_bytes: int | None
    latency_valid: bool | None  # the cell's latency run met the validity minimum
    pareto: bool  # on the front of its setting (no cell faster and at least as accurate)


class SweepRecord(ResultRecord):
    """``rfbench sweep``: one row of ``results.csv`` per measured cell and protocol setting."""

    KIND: ClassVar[str] = "sweep"

    kind: Literal["sweep"]
    settings: SweepSettings
    cells: list[SweepCell]
    skipped: list[SweepCell]
    tradeoff: list[TradeoffRow]
    complete: bool  # no cell pending

    def csv_rows(self) -> list[dict[str, Any]]:
        """The trade-off rows as they are."""
        return [row.model_dump(mode="json") for row in self.tradeoff]
