"""FDDB in the report: the discrete and continuous ROC curves (TPR against false positives, as
FDDB's own runEvaluate.pl plots them) and the TPR at the ``--fp-at`` points.

:func:`fddb_parts` is the report page's FDDB section for any eval entries with an ``fddb``
part; :func:`write_fddb_report` the self-contained page of one ``eval --dataset fddb`` run.
The plot is a small SVG (lines, grid, ticks, legend), shown through ``<img>``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from rfbench import __version__
from rfbench.fileio import atomic_write_text
from rfbench.report.markup import CSP, CSS, esc, figure, section, table
from rfbench.report.svg_plot import svg_data_uri

WIDTH, HEIGHT = 560, 400
LEFT, TOP, RIGHT, BOTTOM = 60, 30, 540, 350
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _axes(max_fp: float) -> list[str]:
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" '
             'fill="white" stroke="#444"/>']
    for k in range(6):
        tpr = k / 5
        y = BOTTOM - tpr * (BOTTOM - TOP)
        parts.append(f'<line x1="{LEFT}" x2="{RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tpr:.1f}</text>')
        fp = max_fp * k / 5
        x = LEFT + k / 5 * (RIGHT - LEFT)
        label = f"{fp:,.0f}" if max_fp >= 50 else f"{fp:.3g}"
        parts.append(f'<text x="{x:.1f}" y="{BOTTOM + 16}" text-anchor="middle" '
                     f'font-size="11">{label}</text>')
    parts.append(f'<text x="{(LEFT + RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
                 'font-size="12">false positives</text>'
                 f'<text x="14" y="{(TOP + BOTTOM) / 2}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {(TOP + BOTTOM) / 2})">true positive rate</text>')
    return parts


def roc_svg(title: str, curves: Sequence[tuple[str, Sequence[float], Sequence[float], bool]]) -> str:
    """``curves``: (label, fp, tpr, dashed) each; the x axis runs to the largest FP shown."""
    max_fp = max([max(fp, default=0.0) for _, fp, _, _ in curves] + [1.0])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="DejaVu Sans, Arial, sans-serif"><text x="{LEFT}" y="20" '
             f'font-size="13">{escape(title)}</text>', *_axes(max_fp)]
    for index, (label, fp, tpr, dashed) in enumerate(curves):
        colour = COLOURS[(index // 2) % len(COLOURS)]
        points = " ".join(f"{LEFT + f / max_fp * (RIGHT - LEFT):.1f},"
                          f"{BOTTOM - t * (BOTTOM - TOP):.1f}" for f, t in zip(fp, tpr))
        dash = ' stroke-dasharray="6,3"' if dashed else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6"{dash} points="{points}"/>')
        y = BOTTOM - 16 - 16 * index
        parts.append(f'<line x1="{RIGHT - 190}" x2="{RIGHT - 166}" y1="{y}" y2="{y}" stroke="{colour}"'
                     f' stroke-width="1.6"{dash}/><text x="{RIGHT - 160}" y="{y + 4}" '
                     f'font-size="11">{escape(label[:34])}</text>')
    return "".join(parts) + "</svg>"


def fddb_parts(entries: Sequence[tuple[str, Any]]) -> list[str]:
    """The FDDB section's body for (label, eval record) pairs that have an ``fddb`` part."""
    rows, curves = [], []
    for label, record in entries:
        result = record.fddb
        for point in result.tpr_at_fp:
            rows.append([label, f"{result.num_images:,}", f"{result.num_faces:,}", f"{point.fp:g}",
                         f"{point.tpr_discrete_step * 100:.2f}",
                         f"{point.tpr_discrete_interpolated * 100:.2f}",
                         f"{point.tpr_continuous_step * 100:.2f}"])
        curves.append((f"{label} discrete", result.roc_discrete.fp, result.roc_discrete.tpr, False))
        curves.append((f"{label} continuous", result.roc_continuous.fp, result.roc_continuous.tpr, True))
    headers = ["run", "images", "faces", "at FP", "discrete TPR %", "discrete, interpolated %",
               "continuous TPR %"]
    uri = svg_data_uri(roc_svg("FDDB ROC (official evaluate)", curves))
    return [table(headers, rows, numeric=range(1, 7)),
            figure(uri, "FDDB ROC curves", "discrete (overlap > 0.5) and continuous (summed overlap) "
                   "ROC, one point per score threshold, as FDDB's evaluate program computes them")]


def write_fddb_report(record: Any, path: Path) -> None:
    """The self-contained page of one FDDB run."""
    label = Path(record.predictions.dir).name or "detections"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = section("fddb", "FDDB", fddb_parts([(label, record)]))
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>rfbench fddb report</title><style>{CSS}</style></head><body>"
            f"<header><h1>rfbench report: fddb</h1><p class=\"sub\">Generated {esc(now)} by rfbench "
            f"{esc(__version__)}; {esc(record.dataset.split)}.</p></header>{body}</body></html>\n")
    atomic_write_text(path, page)
