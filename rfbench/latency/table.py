"""Plain-text tables of a latency report, for stdout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rfbench.latency.options import LatencyReport
from rfbench.latency.records import RATIOS, comparison

# (label, run key, format) rows of the main table.
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("runtime version", "runtime_version", "s"),
    ("device", "device_full_name", "s"),
    ("mode (api)", "_mode", "s"),
    ("precision (effective)", "precision_effective", "s"),
    ("threads / streams / requests", "_tsr", "s"),
    ("batch", "_batch", "s"),
    ("valid", "_valid", "s"),
    ("iterations", "iterations", "d"),
    ("measured time s", "measured_time_s", ".2f"),
    ("throughput fps (measured)", "throughput_fps", ".2f"),
    ("latency min ms", "latency_min_ms", ".2f"),
    ("latency mean ms", "latency_mean_ms", ".2f"),
    ("latency std ms", "latency_std_ms", ".2f"),
    ("latency p50 ms", "latency_p50_ms", ".2f"),
    ("latency p90 ms", "latency_p90_ms", ".2f"),
    ("latency p95 ms", "latency_p95_ms", ".2f"),
    ("latency p99 ms", "latency_p99_ms", ".2f"),
    ("latency p99.9 ms", "latency_p99_9_ms", ".2f"),
    ("latency max ms", "latency_max_ms", ".2f"),
    ("read ms", "read_time_ms", ".1f"),
    ("compile ms", "compile_time_ms", ".1f"),
    ("first inference ms", "first_inference_ms", ".2f"),
    ("other load (cores busy)", "_other", "s"),
)


def _text(value: Any) -> str:
    """A cell's text: ``-`` for a missing value, never Python's ``None``."""
    return "-" if value is None else str(value)


def _cell(run: dict[str, Any], key: str, fmt: str) -> str:
    eff = run.get("effective") or {}
    load = run.get("load") or {}
    if key == "_mode":
        return f"{run['mode']} ({run['api']})"
    if key == "_tsr":
        requests = eff.get("requests") if run["mode"] == "throughput" else 1
        return f"{_text(eff.get('threads'))} / {_text(eff.get('streams'))} / {_text(requests)}"
    if key == "_batch":
        return _text(eff.get("batch"))
    if key == "_valid":
        return "yes" if run["valid"] else "NO"
    if key == "_other":
        other = load.get("other_busy_cores")
        before, after = load.get("loadavg_before"), load.get("loadavg_after")
        text = "n/a" if other is None else f"{other:.2f}"
        if before and after:
            text += f" (loadavg {before[0]:.2f}->{after[0]:.2f})"
        return text
    value = run.get(key)
    return _text(value) if value is None or fmt == "s" else format(value, fmt)


def format_table(rows: Sequence[Sequence[str]], left: tuple[int, ...] = (0,)) -> str:
    """Columns ``left`` left-aligned, the others right-aligned, two spaces between columns;
    a dashed line under the header row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_text(report: LatencyReport, out_dir: str | None = None) -> str:
    """The stdout summary: side-by-side table (ratios column for several runtimes), notes."""
    runs = report.runs
    ratios = {row["runtime"]: row for row in comparison(runs)}
    ratio_keys = {key: ratio for ratio, key in RATIOS.items()}
    ratio_names = [f"{name}/{runs[0]['runtime']}" for name in ratios]
    table = [["", *[run["runtime"] for run in runs], *ratio_names]]
    for label, key, fmt in _ROWS:
        row = [label, *[_cell(run, key, fmt) for run in runs]]
        for rt in ratios.values():
            value = rt.get(ratio_keys.get(key, ""))
            row.append(f"{value:.3f}" if value is not None else "")
        table.append(row)
    parts = [format_table(table)]
    if report.interrupted:
        parts.append("INTERRUPTED: samples so far were written; the runs are not valid")
    parts += [f"note: {note}" for note in report.notes]
    for name, rows in report.layers.items():
        parts.append("")
        parts.append(layers_text(name, rows[: report.options.top_layers]))
    if out_dir is not None:
        parts.append(f"results: {out_dir}")
    return "\n".join(parts)


def layers_text(name: str, rows: Sequence[dict[str, Any]]) -> str:
    """Top layers of one runtime as a table: full layer name, op type, the implementation that
    ran, median time over the profiled inferences and its share of the summed layer time."""
    table = [["#", "layer", "type", "exec type", "median ms", "share %"]]
    for i, row in enumerate(rows, 1):
        share = row.get("share")
        if share is None and row.get("share_pct") is not None:  # version 1 rows
            share = float(row["share_pct"]) / 100.0
        table.append(
            [
                str(i),
                _text(row.get("name")),
                _text(row.get("type")),
                _text(row.get("exec_type")),
                f"{float(row.get('time_ms') or 0.0):.3f}",
                "-" if share is None else f"{100.0 * float(share):.1f}",
            ]
        )
    runs = max((int(row.get("samples") or 0) for row in rows), default=0)
    title = (
        f"top {len(rows)} layers by median time, {name} (median of {runs} profiled "
        "inferences in a separate counter-enabled session after the timed run; all in layers.csv):"
    )
    return title + "\n" + format_table(table, left=(1, 2, 3))
