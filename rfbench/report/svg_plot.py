"""Precision-recall curves as a small SVG document: no matplotlib for an accuracy report.

A PR plot is lines, a grid, ticks and a legend, which SVG states directly and the browser
draws crisply at any zoom. Writing it as text takes ~1 ms per plot where matplotlib's import,
layout and PNG encoding took ~0.4 s for the four plots of an eval report
(``benchmarks/bench_scoring.py``). Every string from a results file is XML-escaped, and the
document has no scripts, links or external references (it is shown through ``<img>``, where a
browser would not run them anyway).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

#: Plot size in CSS pixels (the matplotlib figures were 5.4 x 4.1 in at 100 dpi).
WIDTH, HEIGHT = 540, 410
#: The axes box: left, top, right, bottom edges in pixels.
LEFT, TOP, RIGHT, BOTTOM = 58, 34, 528, 362
Y_MAX = 1.02
TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
#: SVG stroke-dasharray per matplotlib line style of :func:`rfbench.report.plots.pr_curve_lines`.
DASHES = {"-": "", "--": "7,3.5", "-.": "7,3,1.5,3", ":": "1.5,3"}
#: Marker outlines on a unit square centred at 0 (scaled by the marker size).
MARKER_SHAPES = {
    "s": ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)),
    "^": ((0.0, -0.6), (0.55, 0.45), (-0.55, 0.45)),
    "v": ((0.0, 0.6), (0.55, -0.45), (-0.55, -0.45)),
    "D": ((0.0, -0.6), (0.5, 0.0), (0.0, 0.6), (-0.5, 0.0)),
    "P": ((-0.17, -0.5), (0.17, -0.5), (0.17, -0.17), (0.5, -0.17), (0.5, 0.17), (0.17, 0.17),
          (0.17, 0.5), (-0.17, 0.5), (-0.17, 0.17), (-0.5, 0.17), (-0.5, -0.17), (-0.17, -0.17)),
    "X": ((-0.5, -0.3), (-0.3, -0.5), (0.0, -0.2), (0.3, -0.5), (0.5, -0.3), (0.2, 0.0),
          (0.5, 0.3), (0.3, 0.5), (0.0, 0.2), (-0.3, 0.5), (-0.5, 0.3), (-0.2, 0.0)),
    "*": tuple((0.6 * r * np.sin(a), -0.6 * r * np.cos(a))
               for a, r in zip(np.arange(10) * np.pi / 5, (1.0, 0.4) * 5)),
}


def to_x(recall: np.ndarray | float) -> np.ndarray:
    """Recall (0..1) -> SVG x pixel."""
    return LEFT + np.asarray(recall, dtype=float) * (RIGHT - LEFT)


def to_y(precision: np.ndarray | float) -> np.ndarray:
    """Precision (0..Y_MAX) -> SVG y pixel (up is smaller y)."""
    return BOTTOM - np.asarray(precision, dtype=float) / Y_MAX * (BOTTOM - TOP)


def points_text(xs: np.ndarray, ys: np.ndarray) -> str:
    """``x,y x,y ...`` with 0.1 px precision (what a polyline's ``points`` takes)."""
    pairs = np.column_stack([np.round(xs, 1), np.round(ys, 1)])
    return " ".join(f"{x:g},{y:g}" for x, y in pairs.tolist())


def marker(kind: str, x: float, y: float, size: float, stroke: str, fill: str) -> str:
    """One marker of matplotlib kind ``kind`` (``o s ^ D v P X *``) centred at (x, y) pixels."""
    style = f'fill="{fill}" stroke="{stroke}" stroke-width="1"'
    if kind not in MARKER_SHAPES:  # "o"
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size / 2:.2f}" {style}/>'
    shape = np.asarray(MARKER_SHAPES[kind]) * size + (x, y)
    return f'<polygon points="{points_text(shape[:, 0], shape[:, 1])}" {style}/>'


def _frame(title: str) -> list[str]:
    """The axes: grid, ticks and their labels, spines, axis labels and the title."""
    parts = [f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    for tick in TICKS:
        x, y = float(to_x(tick)), float(to_y(tick))
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{BOTTOM}" stroke="#e5e5e5"/>')
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<line x1="{x:.1f}" y1="{BOTTOM}" x2="{x:.1f}" y2="{BOTTOM + 4}" stroke="black"/>')
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="black"/>')
        parts.append(f'<text x="{x:.1f}" y="{BOTTOM + 17}" text-anchor="middle">{tick:.1f}</text>')
        parts.append(f'<text x="{LEFT - 7}" y="{y + 4:.1f}" text-anchor="end">{tick:.1f}</text>')
    parts.append(f'<path d="M{LEFT},{TOP}V{BOTTOM}H{RIGHT}" fill="none" stroke="black"/>')
    middle_x, middle_y = (LEFT + RIGHT) / 2, (TOP + BOTTOM) / 2
    parts.append(f'<text x="{middle_x:.1f}" y="{BOTTOM + 36}" text-anchor="middle">recall</text>')
    parts.append(f'<text transform="translate(16 {middle_y:.1f}) rotate(-90)" '
                 f'text-anchor="middle">precision</text>')
    parts.append(f'<text x="{middle_x:.1f}" y="{TOP - 12}" text-anchor="middle" '
                 f'font-size="14">{escape(title)}</text>')
    return parts


def _dash_attr(style: dict[str, str]) -> str:
    dash = DASHES.get(style["linestyle"], "")
    return f' stroke-dasharray="{dash}"' if dash else ""


def _curve(curve: dict[str, Any], index: int) -> str:
    """The ``index``-th run's curve (see :func:`pr_curve_svg`): a clipped polyline and its
    markers at staggered positions."""
    width, style = curve["width"], curve["style"]
    xs, ys = to_x(curve["recall"]), to_y(curve["precision"])
    colour = escape(curve["colour"])
    parts = [f'<polyline class="curve" data-style="{escape(style["linestyle"])} {escape(style["marker"])}"'
             f' points="{points_text(xs, ys)}" fill="none" stroke="{colour}" stroke-width="{width:.2f}"'
             f' stroke-linejoin="round"{_dash_attr(style)} clip-path="url(#axes)"/>']
    count = max(len(xs), 1)
    every = max(count // 8, 1)
    fill = "white" if index % 2 else colour
    for i in range(min(index * max(every // 4, 1), count - 1), len(xs), every):
        parts.append(marker(style["marker"], float(xs[i]), float(ys[i]), 7.5, colour, fill))
    return "".join(parts)


def _legend(curves: Sequence[dict[str, Any]]) -> list[str]:
    """Lower-left legend: a line sample with its marker and the label per run."""
    row_h, pad = 15, 6
    height = row_h * len(curves) + pad
    width = min(RIGHT - LEFT - 16, 16 + 36 + 6.2 * max(len(c["label"]) for c in curves))
    x0, y0 = LEFT + 8, BOTTOM - 8 - height
    parts = [f'<rect x="{x0}" y="{y0}" width="{width:.0f}" height="{height}" fill="white" '
             f'fill-opacity="0.9" stroke="#cccccc" rx="3"/>']
    for row, curve in enumerate(curves):
        style = curve["style"]
        y = y0 + pad / 2 + row_h * row + row_h / 2
        colour = escape(curve["colour"])
        parts.append(f'<line x1="{x0 + 6}" y1="{y:.1f}" x2="{x0 + 36}" y2="{y:.1f}" stroke="{colour}" '
                     f'stroke-width="{min(curve["width"], 3.0):.2f}"{_dash_attr(style)}/>')
        parts.append(marker(style["marker"], x0 + 21, y, 6.5, colour, "white" if row % 2 else colour))
        label = escape(curve["label"])
        parts.append(f'<text x="{x0 + 42}" y="{y + 3.5:.1f}" font-size="10">{label}</text>')
    return parts


def pr_curve_svg(title: str, curves: Sequence[dict[str, Any]]) -> str:
    """One protocol/setting's PR curves overlaid, as an SVG document (text).

    ``curves``: dicts with ``label`` (text shown in the legend, AP included), ``precision`` and
    ``recall`` ((n,) fractions in recall order), ``colour``, ``width`` (stroke px) and ``style``
    (``linestyle`` and ``marker`` as :func:`rfbench.report.plots.pr_curve_lines` gives them).
    """
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}" font-size="11">',
             f'<defs><clipPath id="axes"><rect x="{LEFT}" y="{TOP - 2}" width="{RIGHT - LEFT + 2}" '
             f'height="{BOTTOM - TOP + 2}"/></clipPath></defs>', *_frame(title)]
    parts += [_curve(curve, index) for index, curve in enumerate(curves)]
    if curves:
        parts += _legend(curves)
    parts.append("</svg>")
    return "".join(parts)


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...`` of an SVG document."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
