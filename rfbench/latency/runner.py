"""One ``rfbench latency`` run: open runtimes, prepare inputs, warm up, measure, describe.

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
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.latency.events import RunEvents
from rfbench.latency.loop import (
    AsyncWorkload,
    RunMeasurement,
    SyncWorkload,
    Workload,
    measure,
    verdict,
)
from rfbench.latency.rules import StopRule
from rfbench.latency.stats import PERCENTILE_METHOD, STD_DDOF, summarize_latencies_ns
from rfbench.models.files import load_onnx, model_sha256, onnx_graph_inputs, read_input_shapes

log = logging.getLogger(__name__)

MODES = ("latency", "throughput")
DEFAULT_WARMUP = 2
DEFAULT_SEED = 0
DEFAULT_TOP_LAYERS = 15
#: Inferences run by the separate per-layer profiling pass.
PROFILE_RUNS = 5
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
class Session:
    """One runtime, loaded, with its inputs bound, first inference and warm-up done."""

    name: str
    adapter: Any
    feeds: dict[str, np.ndarray]
    workload: Workload
    first_inference_ms: float
    warmup_ms: list[float]


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
# Inputs and model preparation
# ---------------------------------------------------------------------------------------------


def make_feeds(inputs: Sequence[Any], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Random inputs for ``inputs`` (TensorInfo-like: name, shape, dtype), from a fixed seed.

    Float inputs: uniform in [0, 255) like raw pixels; integer inputs: integers 0..255 (clipped
    to the type); bool: random. Shapes must be fully static. Returns ``{name: array}``.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in inputs:
        if any(d is None for d in info.shape):
            raise RfbenchError(
                f"input '{info.name}' has a dynamic shape {list(info.shape)}; "
                "give --input-shape (e.g. 1x3x640x640)"
            )
        dtype = np.dtype(info.dtype)
        shape = tuple(int(d) for d in info.shape)
        if dtype.kind == "f":
            array = rng.uniform(0.0, 255.0, size=shape).astype(dtype)
        elif dtype.kind in "iu":
            high = min(256, int(np.iinfo(dtype).max) + 1)
            array = rng.integers(0, high, size=shape).astype(dtype)
        elif dtype.kind == "b":
            array = rng.integers(0, 2, size=shape).astype(bool)
        else:
            raise RfbenchError(f"input '{info.name}': cannot make random data of type {dtype}")
        feeds[info.name] = np.ascontiguousarray(array)
    return feeds


def rebatch_onnx(model_path: Path, batch: int, out_dir: Path) -> Path:
    """Copy of an ONNX model whose inputs have a fixed batch ``batch`` (dim 0).

    Output batch dims become symbolic and intermediate shape annotations are dropped so the
    runtime re-infers them. Works for graphs whose reshapes keep the batch (e.g. ``Reshape`` with
    0 in dim 0, as the R50 reference graph); a graph with batch 1 baked in fails to load and
    the runtime's error says where.
    """
    import onnx

    model = load_onnx(model_path)
    for value in onnx_graph_inputs(model):
        dims = value.type.tensor_type.shape.dim
        if not dims:
            raise RfbenchError(f"{model_path.name}: input '{value.name}' is a scalar; no batch")
        dims[0].Clear()
        dims[0].dim_value = batch
    for value in model.graph.output:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]
    path = out_dir / f"{model_path.stem}-batch{batch}.onnx"
    onnx.save(model, str(path))
    log.info("batch %d: rewrote %s as %s", batch, model_path.name, path)
    return path


def prepare_model(
    options: LatencyOptions, workdir: Callable[[], Path]
) -> tuple[Path, tuple[int, ...] | None]:
    """The model file to load and the ``input_shape`` to give the adapters, for ``--batch``.

    ``workdir()`` returns a scratch folder (created on demand) for a re-batched copy.
    Dynamic batch dims take ``batch`` through ``input_shape``; an ONNX model with a fixed batch
    is rewritten (:func:`rebatch_onnx`); other formats with a fixed batch are an error.
    """
    path = options.model
    shape = options.input_shape
    if options.batch == 1:
        return path, shape
    if shape is not None:
        return path, (options.batch, *shape[1:])
    if path.suffix.lower() != ".onnx":
        raise RfbenchError(
            f"--batch {options.batch} with {path.name}: give --input-shape for non-ONNX models"
        )
    declared = read_input_shapes(path)
    if len(declared) != 1:
        raise RfbenchError(f"--batch needs a one-input model; {path.name} has {list(declared)}")
    (dims,) = declared.values()
    if dims and dims[0] is None:
        if any(d is None for d in dims[1:]):
            raise RfbenchError(
                f"{path.name}: input has dynamic dims {list(dims)}; give --input-shape"
            )
        return path, (options.batch, *dims[1:])
    return rebatch_onnx(path, options.batch, workdir()), None


# ---------------------------------------------------------------------------------------------
# Sessions: open, first inference, warm-up
# ---------------------------------------------------------------------------------------------


def open_adapter(
    name: str, model: Path, options: LatencyOptions, input_shape: Any, perf_counters: bool = False
) -> Any:
    """Construct runtime ``name``'s adapter with the requested settings (RfbenchError if not)."""
    from rfbench.runtimes import get_runtime

    cls = get_runtime(name)
    return cls(
        model,
        device=options.device,
        precision=options.precision,
        threads=options.threads,
        streams=options.streams,
        requests=options.requests if options.mode == "throughput" else None,
        input_shape=input_shape,
        perf_counters=perf_counters,
        performance_hint=options.mode,
    )


def _time_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call of ``fn`` in ms (perf_counter_ns)."""
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def start_session(name: str, adapter: Any, options: LatencyOptions) -> Session:
    """Bind inputs, time the first inference, run the warm-up, build the workload.

    Warm-up: ``options.warmup`` sync inferences in latency mode; in throughput mode an async
    run of max(warmup, requests) inferences, so every infer request has run once.
    """
    feeds = make_feeds(adapter.inputs, options.seed)
    runner = adapter.sync_runner(feeds)
    first_ms = _time_ms(runner)
    log.info("%s: first inference %.2f ms", name, first_ms)
    warmup_ms: list[float] = []
    if options.mode == "latency":
        warmup_ms = [_time_ms(runner) for _ in range(options.warmup)]
        workload: Workload = SyncWorkload(runner)
    else:
        requests = int(adapter.effective.get("requests") or 1)
        count = max(options.warmup, requests) if options.warmup else 0
        if count:
            result = adapter.run_async(feeds, max_iterations=count)
            if result.stop_reason == "interrupted":
                raise KeyboardInterrupt
            warmup_ms = [float(v) / 1e6 for v in result.latencies_ns]
        workload = AsyncWorkload(adapter, feeds)
    return Session(name, adapter, feeds, workload, first_ms, warmup_ms)


# ---------------------------------------------------------------------------------------------
# Per-layer profile (a separate session with counters on, so the timed run stays clean)
# ---------------------------------------------------------------------------------------------


def profile_layers(
    name: str, model: Path, options: LatencyOptions, input_shape: Any
) -> list[dict[str, Any]]:
    """Per-layer times of runtime ``name`` from a separate counter-enabled session.

    Runs one untimed inference then :data:`PROFILE_RUNS` more (sync in latency mode, async in
    throughput mode) and returns the adapter's ``layer_times()`` rows sorted by ``time_ms``
    descending, each with ``share_pct`` of the summed layer time.
    """
    adapter = open_adapter(name, model, options, input_shape, perf_counters=True)
    try:
        feeds = make_feeds(adapter.inputs, options.seed)
        if options.mode == "latency":
            runner = adapter.sync_runner(feeds)
            for _ in range(1 + PROFILE_RUNS):
                runner()
        else:
            requests = int(adapter.effective.get("requests") or 1)
            adapter.run_async(feeds, max_iterations=max(PROFILE_RUNS, requests) + requests)
        rows = [dict(row) for row in adapter.layer_times()]
    finally:
        adapter.close()
    rows.sort(key=lambda row: float(row.get("time_ms") or 0.0), reverse=True)
    total = sum(float(row.get("time_ms") or 0.0) for row in rows)
    for row in rows:
        row["runtime"] = name
        row["share_pct"] = 100.0 * float(row.get("time_ms") or 0.0) / total if total else None
    return rows


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

        model, input_shape = prepare_model(options, workdir)
        sessions = []
        for name in options.runtimes:
            hooks.opening(name, model)
            adapter = open_adapter(name, model, options, input_shape)
            stack.callback(adapter.close)
            hooks.opened(name, adapter)
            hooks.warming(name)
            sessions.append(start_session(name, adapter, options))
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


def run_record(session: Session, m: RunMeasurement, options: LatencyOptions) -> dict[str, Any]:
    """The results.json entry of one runtime's run (units in the field names)."""
    desc = session.adapter.describe()
    valid, reason = verdict(m, options.rule)
    stats = summarize_latencies_ns(m.latencies_ns())
    per_s = m.throughput_per_s()
    effective = dict(desc.get("effective") or {})
    effective["batch"] = options.batch
    record: dict[str, Any] = {
        "runtime": session.name,
        "runtime_version": desc.get("runtime_version"),
        "device": desc.get("device"),
        "device_full_name": desc.get("device_full_name"),
        "model": desc.get("model"),
        "mode": options.mode,
        "api": "sync" if options.mode == "latency" else "async",
        "precision_effective": effective.get("precision"),
        "valid": valid,
        "invalid_reason": reason,
        "interrupted": m.interrupted,
        "iterations": m.completed,
        "chunks": m.chunks,
        "measured_time_s": m.wall_ns / 1e9,
        "throughput_fps": per_s * options.batch if per_s is not None else None,
        "inferences_per_s": per_s,
        **stats,
        "read_time_ms": (desc.get("timings_ms") or {}).get("read"),
        "compile_time_ms": (desc.get("timings_ms") or {}).get("compile"),
        "first_inference_ms": session.first_inference_ms,
        "warmup_inferences": len(session.warmup_ms),
        "warmup_latency_ms": session.warmup_ms,
        "requested": {**(desc.get("requested") or {}), "batch": options.batch},
        "effective": effective,
        "inputs": desc.get("inputs"),
        "load": m.load.as_dict(),
        "latency_source": "perf_counter_ns around each sync call"
        if options.mode == "latency"
        else "adapter's per-request submit-to-completion time",
    }
    return record


def report_notes(runs: Sequence[dict[str, Any]], options: LatencyOptions) -> list[str]:
    """Human notes for the report: default bf16, invalid runs, thin tails, noisy machine."""
    notes = []
    for run in runs:
        if options.precision is None and run["precision_effective"] == "bf16":
            notes.append(
                f"{run['runtime']} picked bf16 by default on this CPU (~2x faster than f32, "
                "outputs differ ~1-2%); use --precision f32 to compare with ONNX Runtime"
            )
        if not run["valid"]:
            notes.append(f"{run['runtime']}: NOT VALID: {run['invalid_reason']}")
        other = (run.get("load") or {}).get("other_busy_cores")
        if other is not None and other >= 0.25:
            notes.append(
                f"{run['runtime']}: other processes kept {other:.2f} cores busy during the run; "
                "timings are inflated"
            )
    n = min((run["iterations"] for run in runs), default=0)
    if 0 < n < 1001:
        notes.append(
            f"p99.9 with {n} samples is interpolated towards the max (needs >= 1001 samples "
            "to be informed by a sample above it)"
        )
    return notes


def comparison(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratios of every runtime to the first one: latency p50/mean and throughput."""
    if len(runs) < 2:
        return []
    base = runs[0]
    rows = []
    for run in runs[1:]:
        rows.append(
            {
                "runtime": run["runtime"],
                "baseline": base["runtime"],
                "latency_p50_ratio": _ratio(run["latency_p50_ms"], base["latency_p50_ms"]),
                "latency_mean_ratio": _ratio(run["latency_mean_ms"], base["latency_mean_ms"]),
                "throughput_ratio": _ratio(run["throughput_fps"], base["throughput_fps"]),
            }
        )
    return rows


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def build_record(report: LatencyReport, base: dict[str, Any]) -> dict[str, Any]:
    """Complete results.json record: ``base`` (from ``base_record``) plus this run."""
    options = report.options
    record = dict(base)
    record.update(
        {
            "settings": options.settings(),
            "model_sha256": model_sha256(options.model),
            "stop_rule": options.rule.as_dict(),
            "statistics": {
                "percentile_method": PERCENTILE_METHOD,
                "std_ddof": STD_DDOF,
                "throughput": "completed inferences x batch / measured wall time",
            },
            "valid": report.valid,
            "interrupted": report.interrupted,
            "runs": report.runs,
            "comparison": comparison(report.runs),
            "notes": report.notes,
            "samples_file": "samples.csv",
        }
    )
    if report.layers:
        record["layers_top"] = {
            name: rows[: options.top_layers] for name, rows in report.layers.items()
        }
        record["layers_file"] = "layers.csv"
    return record


def csv_rows(report: LatencyReport) -> list[dict[str, Any]]:
    """One flat results.csv row per runtime."""
    keys = (
        "runtime", "runtime_version", "device", "mode", "precision_effective", "valid",
        "invalid_reason", "iterations", "measured_time_s", "throughput_fps",
        "latency_min_ms", "latency_mean_ms", "latency_std_ms", "latency_p50_ms",
        "latency_p90_ms", "latency_p95_ms", "latency_p99_ms", "latency_p99_9_ms",
        "latency_max_ms", "read_time_ms", "compile_time_ms", "first_inference_ms",
    )  # fmt: skip
    rows = []
    for run in report.runs:
        row = {key: run.get(key) for key in keys}
        eff = run["effective"]
        row.update(
            threads_effective=eff.get("threads"),
            streams_effective=eff.get("streams"),
            requests_effective=eff.get("requests") if run["mode"] == "throughput" else 1,
            batch=eff.get("batch"),
            other_busy_cores=run["load"].get("other_busy_cores"),
        )
        rows.append(row)
    return rows


def samples_csv_text(measurements: Sequence[RunMeasurement]) -> str:
    """samples.csv: one row per inference, every runtime, in completion order per runtime.

    Columns: iteration (0-based per runtime), runtime, request_id (empty when the runtime does
    not say), chunk, start_offset_ms (from the earliest start of any sample), latency_ms
    (exact: integer ns / 1e6 with 6 decimals).
    """
    starts = [row[0] for m in measurements for row in m.samples]
    origin = min(starts) if starts else 0
    lines = ["iteration,runtime,request_id,chunk,start_offset_ms,latency_ms"]
    for m in measurements:
        for i, (start, latency, request_id, chunk) in enumerate(m.samples):
            rid = "" if request_id is None else str(request_id)
            lines.append(
                f"{i},{m.label},{rid},{chunk},{_ns_to_ms_text(start - origin)},"
                f"{_ns_to_ms_text(latency)}"
            )
    return "\n".join(lines) + "\n"


def _ns_to_ms_text(ns: int) -> str:
    """Integer ns as ms with exactly 6 decimals, no float rounding."""
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    return f"{sign}{ns // 1_000_000}.{ns % 1_000_000:06d}"


def layers_csv_text(layers: dict[str, list[dict[str, Any]]]) -> str:
    """layers.csv: every layer of every profiled runtime, slowest first."""
    import pandas as pd

    rows = [row for name in layers for row in layers[name]]
    return pd.DataFrame(rows).to_csv(index=False)


def with_runtimes(options: LatencyOptions, runtimes: Sequence[str]) -> LatencyOptions:
    """``options`` for another runtime list (used by the benchmark script)."""
    return replace(options, runtimes=tuple(runtimes))
