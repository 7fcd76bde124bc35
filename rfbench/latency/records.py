"""What a latency measurement writes: its results.json record, samples.csv and layers.csv.

The record's definition is :class:`rfbench.results.latency_record.LatencyRecord`; this module
builds it from a :class:`~rfbench.latency.options.LatencyReport` (one
:class:`~rfbench.results.latency_record.LatencyRun` per runtime, notes, ratios).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rfbench.latency.loop import RunMeasurement, verdict
from rfbench.latency.stats import PERCENTILE_METHOD, STD_DDOF, summarize_latencies_ns
from rfbench.models.files import model_sha256
from rfbench.models.provenance import provenance_field
from rfbench.results.latency_record import LatencyRecord, LatencyRun
from rfbench.results.writer import to_jsonable

if TYPE_CHECKING:
    from rfbench.latency.options import LatencyOptions, LatencyReport
    from rfbench.latency.session import Session

SAMPLES_FILE = "samples.csv"
LAYERS_FILE = "layers.csv"


def run_record(session: Session, m: RunMeasurement, options: LatencyOptions) -> dict[str, Any]:
    """One runtime's run as its results.json entry (a validated :class:`LatencyRun`, as a dict)."""
    desc = session.adapter.describe()
    valid, reason = verdict(m, options.rule)
    per_s = m.throughput_per_s()
    effective = dict(desc.get("effective") or {})
    effective["batch"] = options.batch
    timings = desc.get("timings_ms") or {}
    run = LatencyRun.model_validate(to_jsonable({
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
        **summarize_latencies_ns(m.latencies_ns()),
        "read_time_ms": timings.get("read"),
        "compile_time_ms": timings.get("compile"),
        "first_inference_ms": session.first_inference_ms,
        "warmup_inferences": len(session.warmup_ms),
        "warmup_latency_ms": list(session.warmup_ms),
        "requested": {**(desc.get("requested") or {}), "batch": options.batch},
        "effective": effective,
        "inputs": desc.get("inputs"),
        "load": m.load.as_dict(),
        "latency_source": "perf_counter_ns around each sync call"
        if options.mode == "latency"
        else "adapter's per-request submit-to-completion time",
    }))
    return run.model_dump(mode="json", exclude_unset=True)


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


#: The ratio fields of a comparison row, and the run field each is the ratio of.
RATIOS = {"latency_p50_ratio": "latency_p50_ms", "latency_mean_ratio": "latency_mean_ms",
          "throughput_ratio": "throughput_fps"}


def comparison(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratios of every runtime to the first one: latency p50/mean and throughput."""
    return [
        {"runtime": run["runtime"], "baseline": runs[0]["runtime"],
         **{ratio: _ratio(run[key], runs[0][key]) for ratio, key in RATIOS.items()}}
        for run in runs[1:]
    ]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def build_record(report: LatencyReport, header: dict[str, Any]) -> LatencyRecord:
    """The results.json record of ``report``; ``header`` from ``record_header("latency")``."""
    options = report.options
    fields: dict[str, Any] = {
        "settings": options.settings(),
        "model_sha256": model_sha256(options.model),
        **provenance_field(options.model),
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
        "samples_file": SAMPLES_FILE,
    }
    if report.layers:
        fields["layers_top"] = {
            name: rows[: options.top_layers] for name, rows in report.layers.items()
        }
        fields["layers_file"] = LAYERS_FILE
    return LatencyRecord.build(header, **fields)


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


#: layers.csv columns, in order (meanings: :class:`rfbench.results.latency_record.LayerTime`).
LAYER_COLUMNS = (
    "runtime", "name", "node", "type", "exec_type", "status", "time_ms", "time_mean_ms",
    "time_min_ms", "time_max_ms", "samples", "share",
)  # fmt: skip


def layers_csv_text(layers: dict[str, list[dict[str, Any]]]) -> str:
    """layers.csv: every layer of every profiled runtime, slowest first, full names.

    Columns :data:`LAYER_COLUMNS` (then any a runtime adds); ``time_ms`` is the median over
    ``samples`` profiled inferences, ``share`` its fraction of the runtime's summed medians.
    """
    import pandas as pd

    rows = [row for name in layers for row in layers[name]]
    frame = pd.DataFrame(rows)
    ordered = [c for c in LAYER_COLUMNS if c in frame.columns]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    return frame.to_csv(index=False)
