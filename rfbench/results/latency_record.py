"""The ``latency`` record: one timed run per runtime, measured under one stop rule.

Method and field meanings: ``shared/spec/measurement.md``. Latencies are in ms, times in s,
throughput in inferences x batch per second; the raw samples are in ``samples_file`` and the
per-layer times (``--per-layer``) in ``layers_file``.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, ClassVar, Literal

from rfbench.results.quantize_record import Provenance
from rfbench.results.record import OpenPart, OptReal, Part, Real, ResultRecord, Tensor, shape_text


class Load(Part):
    """Other processes' load during the measured intervals (cores = CPU s per wall s)."""

    wall_s: Real
    own_cpu_cores: OptReal
    machine_busy_cores: OptReal
    other_busy_cores: OptReal
    steal_cores: OptReal
    cpu_count_usable: int | None
    loadavg_before: list[Real] | None  # 1, 5, 15 min
    loadavg_after: list[Real] | None
    method: str


class LatencyRun(OpenPart):
    """One runtime's timed run; the statistics are null when it completed no inference.

    Open (``extra="allow"``) only so that a runtime plug-in's own figures are kept.
    """

    runtime: str
    runtime_version: str | None
    device: str | None
    device_full_name: str | None
    model: str | None
    mode: Literal["latency", "throughput"]
    api: Literal["sync", "async"]
    precision_effective: str | None
    valid: bool
    invalid_reason: str | None
    interrupted: bool
    iterations: int
    chunks: int
    measured_time_s: Real
    throughput_fps: OptReal
    inferences_per_s: OptReal
    samples: int
    latency_min_ms: OptReal
    latency_mean_ms: OptReal
    latency_std_ms: OptReal  # sample std (ddof 1); null for one sample
    latency_p50_ms: OptReal
    latency_p90_ms: OptReal
    latency_p95_ms: OptReal
    latency_p99_ms: OptReal
    latency_p99_9_ms: OptReal
    latency_max_ms: OptReal
    read_time_ms: OptReal
    compile_time_ms: OptReal
    first_inference_ms: Real
    warmup_inferences: int
    warmup_latency_ms: list[Real]
    requested: dict[str, Any]  # the runtime's settings as asked (keys are the runtime's)
    effective: dict[str, Any]  # ... and as the runtime applied them, plus "batch"
    inputs: list[Tensor] | None
    load: Load
    latency_source: str
    # --input-size native / SHORT:LONG with --input-data (absent otherwise):
    input_size_policy: str | None = None
    input_data: str | None = None  # the folder of the images timed
    input_images: int | None = None
    latency_per_megapixel_ms: OptReal = None  # median latency per image / its megapixels
    megapixels_mean: OptReal = None
    input_sizes: dict[str, Any] | None = None  # counts per (W, H) and megapixel range


class Settings(Part):
    """The requested measurement settings (``LatencyOptions.settings()``)."""

    model: str
    runtimes: list[str]
    device: str
    precision: str | None
    mode: Literal["latency", "throughput"]
    threads: int | None
    streams: int | None
    requests: int | None
    batch: int
    input_shape: list[int] | None
    warmup_inferences: int
    per_layer: bool
    seed: int
    chunk_s: OptReal  # null: one chunk (a single runtime)
    chunk_iterations: int | None = None  # version 2; null: chunks end by time or one chunk
    rewarm_before_each_chunk: bool
    # version 2 additions (absent in older records):
    input_precision: Literal["u8", "f32"] | None = None  # requested; null = the model's own
    input_data: str | None = None  # --input-data folder; null = random data (seed)
    per_layer_runs: int | None = None  # profiled inferences per runtime; null without per_layer
    input_size: str | None = None  # "native" or "SHORT:LONG": --input-data images at eval's sizes


class LayerTime(Part):
    """One layer of one runtime in ``layers_top`` / ``layers.csv`` (:mod:`rfbench.runtimes.layers`).

    ``time_ms`` is the median over the ``samples`` profiled inferences (a separate
    counter-enabled session after the timed run, ``settings.per_layer_runs`` inferences after
    an untimed one); ``share`` = ``time_ms`` / the sum of the runtime's layer medians (the
    shares of all layers, in layers.csv, sum to 1). ``name`` is the model's layer, full;
    ``node`` the runtime's own node (ONNX Runtime names fused kernels after their output
    tensor); ``type`` the op (fused activation appended: ``Conv+LeakyRelu``); ``exec_type``
    the implementation that ran (OpenVINO's exec type, e.g. ``brgconv_avx512_1x1_f32``; ONNX
    Runtime ``provider:domain.op``). Version 1 rows had ``time_ms`` as a mean of 5-6
    inferences and ``share_pct`` (percent) instead of ``share``.
    """

    # (in version 1's key order, so that old records round-trip unchanged)
    name: str
    type: str
    exec_type: str
    status: str
    time_ms: Real
    cpu_time_ms: OptReal = None  # version 1 only (OpenVINO)
    samples: int
    runtime: str
    share_pct: OptReal = None  # version 1 only
    node: str | None = None
    time_mean_ms: OptReal = None
    time_min_ms: OptReal = None
    time_max_ms: OptReal = None
    share: OptReal = None


class StopRule(Part):
    """What ended each runtime's measurement, and what made it valid.

    Version 2: a time budget (``budget_time_s``, s) and/or an iteration budget
    (``budget_iterations``) end the measurement, whichever comes first, per runtime
    (``budget_scope``); ``min_time_s`` and ``min_iterations`` only judge validity afterwards.
    Version 1: ``min_time_s`` and ``min_iterations`` set the run length, ``max_time_s`` (s) was a
    hard cap; no budget fields.
    """

    budget_time_s: OptReal = None
    budget_iterations: int | None = None
    budget_scope: str | None = None
    min_time_s: Real
    min_iterations: int
    max_time_s: OptReal = None  # version 1 only


class Statistics(Part):
    """How the statistics were computed."""

    percentile_method: str
    std_ddof: int
    throughput: str


class RuntimeRatio(Part):
    """A runtime against the first one (the baseline): ``run / baseline``."""

    runtime: str
    baseline: str
    latency_p50_ratio: OptReal
    latency_mean_ratio: OptReal
    throughput_ratio: OptReal


#: Columns of results.csv taken as they are from a run.
_CSV_KEYS = (
    "runtime", "runtime_version", "device", "mode", "precision_effective", "valid",
    "invalid_reason", "iterations", "measured_time_s", "throughput_fps",
    "latency_min_ms", "latency_mean_ms", "latency_std_ms", "latency_p50_ms",
    "latency_p90_ms", "latency_p95_ms", "latency_p99_ms", "latency_p99_9_ms",
    "latency_max_ms", "read_time_ms", "compile_time_ms", "first_inference_ms",
)  # fmt: skip


class LatencyRecord(ResultRecord):
    """``rfbench latency``: one row of ``results.csv`` per runtime."""

    KIND: ClassVar[str] = "latency"

    kind: Literal["latency"]
    settings: Settings
    model_sha256: str
    provenance: Provenance | None = None  # the model's rfbench quantize sidecar, if it has one
    stop_rule: StopRule
    statistics: Statistics
    valid: bool  # every run valid
    interrupted: bool
    runs: list[LatencyRun]
    comparison: list[RuntimeRatio]
    notes: list[str]
    samples_file: str
    # runtime -> its slowest layers (``--top-layers``), slowest first; every layer is in
    # layers_file. Row shape: :class:`LayerTime`.
    layers_top: dict[str, list[LayerTime]] | None = None
    layers_file: str | None = None

    def csv_rows(self) -> list[dict[str, Any]]:
        """One flat row per runtime, what identifies the run first: model file name, model
        sha256 and input shape (``1x3x640x640``; ``name:shape;...`` for several inputs)."""
        rows = []
        identity = {"model": PurePath(self.settings.model).name, "model_sha256": self.model_sha256}
        for run in self.runs:
            row: dict[str, Any] = {**identity, "input_shape": _inputs_text(run.inputs)}
            row.update({key: getattr(run, key) for key in _CSV_KEYS})
            eff = run.effective
            row.update(
                threads_effective=eff.get("threads"),
                streams_effective=eff.get("streams"),
                requests_effective=eff.get("requests") if run.mode == "throughput" else 1,
                batch=eff.get("batch"),
                other_busy_cores=run.load.other_busy_cores,
            )
            rows.append(row)
        return rows


def _inputs_text(inputs: list[Tensor] | None) -> str | None:
    """``"1x3x640x640"`` for one input, ``"a:1x3x640x640;b:1x10"`` for several (None: unknown)."""
    if not inputs:
        return None
    shapes = [shape_text(t.shape) for t in inputs]
    if len(inputs) == 1:
        return shapes[0]
    return ";".join(f"{t.name}:{shape}" for t, shape in zip(inputs, shapes, strict=True))
