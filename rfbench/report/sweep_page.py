"""The sweep's page: the precision trade-off first (AP lost vs speed gained), then the rest.

One self-contained HTML file (inline CSS, figures as PNG data URIs, no script; the report's
Content-Security-Policy), built from a :class:`~rfbench.results.sweep_record.SweepRecord` with
the primitives of :mod:`rfbench.report.markup`. Per protocol setting: a table of every measured
cell (AP, delta AP vs the same model and runtime at f32, p50 latency, speed-up, throughput,
model size, Pareto front, latency validity) and an AP-vs-p50 scatter with the front joined;
then the skipped cells with their reasons and the settings every cell shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rfbench.fileio import atomic_write_text
from rfbench.report.markup import CSP, CSS, Html, esc, figure, fmt, note, section, table

if TYPE_CHECKING:
    from rfbench.results.sweep_record import SweepRecord, TradeoffRow

PAGE_CSS = """
tr.pareto td { font-weight: 600; }
td.gain { color: #1b7f3b; } td.loss { color: #b3261e; }
"""
HEADERS = ("cell", "runtime", "precision", "AP %", "\u0394AP pts vs f32", "p50 ms",
           "speed-up vs f32", "throughput fps", "model MB", "Pareto", "latency valid")
NUMERIC = (3, 4, 5, 6, 7, 8)
FRONT_COLOUR, OTHER_COLOUR = "#1f5fa8", "#9aa5b1"


def _signed(value: float | None) -> tuple[str, str] | str:
    """A delta AP cell: coloured by sign, a dash when missing."""
    if value is None:
        return fmt(None)
    text = f"{value:+.2f}"
    return (text, "gain" if value > 0 else "loss" if value < 0 else "")


def tradeoff_table(rows: Sequence[TradeoffRow]) -> Html:
    """The rows of one setting, fastest first; the Pareto front in bold with a badge."""
    ordered = sorted(rows, key=lambda r: (r.latency_p50_ms is None, r.latency_p50_ms or 0.0))
    body = []
    for r in ordered:
        size_mb = r.model_size_bytes / 1e6 if r.model_size_bytes is not None else None
        front = Html('<span class="badge">front</span>') if r.pareto else ""
        valid = {True: "yes", False: ("no", "loss"), None: fmt(None)}[r.latency_valid]
        body.append([r.cell, r.runtime, r.precision,
                     fmt(r.ap * 100 if r.ap is not None else None), _signed(r.delta_ap_points),
                     fmt(r.latency_p50_ms), fmt(r.speedup_vs_f32, "{:.2f}x"),
                     fmt(r.throughput_fps, "{:.1f}"), fmt(size_mb, "{:.1f}"), front, valid])
    return table(HEADERS, body, numeric=NUMERIC, cls="tradeoff",
                 row_classes=["pareto" if r.pareto else "" for r in ordered])


def scatter_uri(rows: Sequence[TradeoffRow], setting: str) -> str | None:
    """AP (%) against p50 latency (ms) of one setting, the Pareto front joined (PNG data URI);
    None when no row has both values."""
    from rfbench.report.plots import new_figure, to_data_uri

    points = [(r.latency_p50_ms, r.ap * 100, r) for r in rows
              if r.ap is not None and r.latency_p50_ms is not None]
    if not points:
        return None
    fig = new_figure(5.6, 3.8)
    ax = fig.add_subplot()
    for ms, ap, r in points:
        ax.scatter(ms, ap, s=36 if r.pareto else 24, marker="o" if r.pareto else "x",
                   color=FRONT_COLOUR if r.pareto else OTHER_COLOUR, zorder=3)
        ax.annotate(f"{r.runtime}/{r.precision}".replace("$", r"\$"), (ms, ap), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    front = sorted((ms, ap) for ms, ap, r in points if r.pareto)
    ax.plot([ms for ms, _ in front], [ap for _, ap in front], color=FRONT_COLOUR, lw=1.2,
            label="Pareto front")
    ax.set_xlabel("p50 latency (ms), lower is better")
    ax.set_ylabel("AP (%)")
    ax.set_title(setting.replace("$", r"\$"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(x=0.2, y=0.12)  # room for the labels right of the points
    ax.legend(fontsize=8, loc="best")
    return to_data_uri(fig)


def tradeoff_section(record: SweepRecord) -> Html:
    """The first view: per setting, the table and the scatter."""
    rows = record.tradeoff
    if not rows:
        return section("tradeoff", "Trade-off", [note("no cell was measured", warn=True)])
    body: list[str] = [note(
        "Each cell against the same model and runtime at f32: \u0394AP in AP points, speed-up = "
        "f32 p50 / p50. The Pareto front (no other cell both at least as fast and at least as "
        "accurate, and better in one) is in bold.")]
    invalid = sorted({r.cell for r in rows if r.latency_valid is False})
    if invalid:
        body.append(note(f"latency below the validity minimum for {', '.join(invalid)}: "
                         "raise --time or lower --min-iterations / --min-time", warn=True))
    for setting in dict.fromkeys(row.setting for row in rows):  # in first-seen order
        of_setting = [r for r in rows if r.setting == setting]
        uri = scatter_uri(of_setting, setting)
        body.append(f"<h3>{esc(setting)}</h3>")
        body.append(tradeoff_table(of_setting))
        if uri is not None:
            body.append(figure(uri, f"AP vs p50 latency, {setting}",
                               "AP against p50 latency; the line joins the Pareto front"))
    return section("tradeoff", "Trade-off: AP lost vs speed gained", body)


def cells_section(record: SweepRecord) -> Html:
    """Every cell's status; skipped cells with their reason."""
    rows = [[c.key, c.status, c.reason or "", c.model_run or fmt(None),
             "yes" if c.quantized_by_rfbench else "no" if c.quantized_by_rfbench is False
             else fmt(None)] for c in record.cells]
    body = [table(("cell", "status", "reason", "model run", "quantized by rfbench"), rows)]
    if not record.complete:
        body.append(note("sweep incomplete: run the same command again to finish it", warn=True))
    return section("cells", "Cells", body)


def settings_section(record: SweepRecord) -> Html:
    s = record.settings
    cal = s.int8_calibration
    rows = [
        ["data root", s.data_root], ["GT .mat folder", s.gt_mat_dir or fmt(None)],
        ["images", f"first {s.limit}" if s.limit else "all"],
        ["protocols", s.protocol], ["post-processing preset", s.preset],
        ["latency budget per cell", _budget_text(s.latency_budget_time_s,
                                                 s.latency_budget_iterations)],
        ["latency valid with", f">= {s.latency_min_iterations} inferences and "
                               f">= {s.latency_min_time_s:g} s measured"],
        ["int8 calibration", f"{cal.subset_size} images, seed {cal.seed}; ONNX Runtime "
                             f"method {cal.ort_calibration_method}"],
        ["command", Html(f'<code class="cmd">{esc(record.command_line)}</code>')],
        ["rfbench", record.rfbench_version], ["created (UTC)", record.created_utc],
        ["CPU", record.environment.cpu_model],
    ]
    return section("settings", "Settings (shared by every cell)", [table(("", ""), rows)])


def _budget_text(seconds: float | None, iterations: int | None) -> str:
    parts = []
    if seconds is not None:
        parts.append(f"{seconds:g} s")
    if iterations is not None:
        parts.append(f"{iterations} inferences")
    return " or ".join(parts) + " (the first reached ends it)"


def render_sweep_page(record: SweepRecord) -> str:
    """The page's HTML text."""
    done = sum(c.status == "done" for c in record.cells)
    title = "rfbench sweep: precision trade-off"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}{PAGE_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="sub">{done} of {len(record.cells)} cells measured, '
        f"{len(record.skipped)} skipped; {esc(record.created_utc)}</p>"
        '<nav><a href="#tradeoff">trade-off</a><a href="#cells">cells</a>'
        '<a href="#settings">settings</a></nav>'
        f"{tradeoff_section(record)}{cells_section(record)}{settings_section(record)}"
        "</body></html>\n"
    )


def write_sweep_page(record: SweepRecord, path: Path) -> None:
    """Write the page to ``path`` (atomically)."""
    atomic_write_text(Path(path), render_sweep_page(record))
