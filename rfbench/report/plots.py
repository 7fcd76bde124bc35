"""The report's figures as data URIs: PR curves as SVG, the latency figures with matplotlib's Agg.

PR curves (the only figures of an accuracy report) are written as SVG by
:mod:`rfbench.report.svg_plot`, so that ``rfbench eval`` never imports matplotlib.

No pyplot: each figure is a :class:`matplotlib.figure.Figure` of its own, so nothing global
is touched (safe inside other commands and in tests). Text from results files goes through
:func:`plain` so that a ``$`` in a model name is not read as mathtext.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rfbench.report.svg_plot import pr_curve_svg, svg_data_uri

if TYPE_CHECKING:
    from rfbench.results.latency_record import LatencyRun


PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
DPI = 100
#: Longer PR curves are thinned to this many evenly spaced points (invisible at plot size).
MAX_CURVE_POINTS = 4000
#: A latency histogram needs at least this many samples; fewer are drawn as a strip plot
#: (every sample a dot), where a histogram's bins would hold a handful of samples each.
HISTOGRAM_MIN_SAMPLES = 100
#: Per-run line styles and markers of overlaid curves, so identical curves stay apart.
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Percentiles marked on the latency histogram: (results.json key, label, colour).
MARKED_PERCENTILES = (
    ("latency_p50_ms", "p50", "#2ca02c"),
    ("latency_p90_ms", "p90", "#ff7f0e"),
    ("latency_p99_ms", "p99", "#d62728"),
    ("latency_p99_9_ms", "p99.9", "#9467bd"),
)


def shortened(text: Any, limit: int = 70) -> str:
    """``text`` as a string of at most ``limit`` characters (an ellipsis ends a cut one)."""
    text = str(text)
    return text[: limit - 1] + "\u2026" if len(text) > limit else text


def plain(text: Any, limit: int = 70) -> str:
    """``text`` safe for a matplotlib label: no mathtext, not hidden by a leading '_'."""
    text = shortened(text, limit).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def new_figure(width: float, height: float):
    """A pyplot-free :class:`matplotlib.figure.Figure` of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def to_data_uri(fig) -> str:
    """Render ``fig`` as PNG and return ``data:image/png;base64,...``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(ax) -> None:
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def pr_curve_plot(title: str, curves: Sequence[dict[str, Any]]) -> str:
    """One protocol/setting's precision-recall curves overlaid, as an SVG data URI.

    ``curves``: dicts with ``label``, ``precision``, ``recall``, ``ap`` (fraction or None),
    ``colour`` and ``dashed`` (a run not comparable with the baseline).
    """
    return svg_data_uri(pr_curve_svg(title, pr_curve_lines(curves)))


def pr_curve_lines(curves: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The drawn lines of :func:`pr_curve_plot`: each curve thinned to
    :data:`MAX_CURVE_POINTS`, in recall order, with its legend label, width and style.

    Earlier runs are drawn wider, each with its own line style (always dashed for a run not
    comparable with the baseline) and markers (at staggered positions), so that identical
    curves stay distinguishable.
    """
    widths = np.linspace(3.6, 1.4, num=len(curves)) if len(curves) > 1 else [1.8]
    lines = []
    for index, (curve, width) in enumerate(zip(curves, widths)):
        recall = np.asarray(curve["recall"], dtype=float)
        precision = np.asarray(curve["precision"], dtype=float)
        if len(recall) > MAX_CURVE_POINTS:  # e.g. an omz curve with a point per prediction
            keep = np.unique(np.linspace(0, len(recall) - 1, MAX_CURVE_POINTS).astype(int))
            recall, precision = recall[keep], precision[keep]
        order = np.argsort(recall, kind="stable")
        ap = curve.get("ap")
        label = shortened(curve["label"], 60) + (f"  AP {ap * 100:.2f}" if ap is not None else "")
        lines.append({"label": label, "recall": recall[order], "precision": precision[order],
                      "colour": curve["colour"], "width": float(width),
                      "style": {"linestyle": "--" if curve.get("dashed")
                                else LINE_STYLES[index % len(LINE_STYLES)],
                                "marker": MARKERS[index % len(MARKERS)]}})
    return lines


def distribution_kind(num_samples: int) -> str:
    """``"histogram"`` from :data:`HISTOGRAM_MIN_SAMPLES` samples on, else ``"strip plot"``."""
    return "histogram" if num_samples >= HISTOGRAM_MIN_SAMPLES else "strip plot"


def _strip(ax, latencies: np.ndarray, colour_hex: str) -> None:
    """Every sample a dot along the latency axis, jittered vertically (fixed seed)."""
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=len(latencies))
    ax.scatter(latencies, jitter, s=22, color=colour_hex, alpha=0.7, edgecolors="none")
    ax.set_ylim(-1, 1)
    ax.set_yticks([])


def latency_figure(label: str, run: LatencyRun, samples, colour_hex: str):
    """Histogram of one run's latency samples (a strip plot under
    :data:`HISTOGRAM_MIN_SAMPLES`) with percentiles marked, and latency over iterations.
    Percentile values are the run's own (results.json), not recomputed."""
    latencies = samples["latency_ms"].to_numpy(dtype=float)
    latencies = latencies[np.isfinite(latencies)]
    fig = new_figure(10.5, 3.3)
    hist_ax, time_ax = fig.subplots(1, 2, width_ratios=(1, 1.4))
    kind = distribution_kind(len(latencies))
    if kind == "histogram":
        bins = min(60, max(10, int(np.sqrt(len(latencies)) * 2)))
        hist_ax.hist(latencies, bins=bins, color=colour_hex, alpha=0.75)
        hist_ax.set_ylabel("inferences")
    else:
        _strip(hist_ax, latencies, colour_hex)
    for key, name, line_colour in MARKED_PERCENTILES:
        value = getattr(run, key)
        if isinstance(value, (int, float)):
            hist_ax.axvline(value, color=line_colour, linewidth=1.4, linestyle="--",
                            label=f"{name} {value:.2f} ms")
    hist_ax.set_xlabel("latency (ms)")
    hist_ax.set_title(f"{kind} ({len(latencies)} samples)", fontsize=10)
    if hist_ax.get_legend_handles_labels()[0]:
        hist_ax.legend(fontsize=7.5)
    _style(hist_ax)

    x = (samples["iteration"].to_numpy() if "iteration" in samples.columns
         else np.arange(len(samples)))
    y = samples["latency_ms"].to_numpy(dtype=float)
    time_ax.plot(x, y, color=colour_hex, linewidth=0.8, marker="o", markersize=2.2)
    p50 = run.latency_p50_ms
    if isinstance(p50, (int, float)):
        time_ax.axhline(p50, color="#2ca02c", linewidth=1.2, linestyle="--", label="p50")
        time_ax.legend(fontsize=7.5, loc="upper right")
    time_ax.set_xlabel("iteration (after warm-up)")
    time_ax.set_ylabel("latency (ms)")
    time_ax.set_title("latency over iterations", fontsize=10)
    time_ax.set_ylim(bottom=0)
    _style(time_ax)
    fig.suptitle(plain(label, 100), fontsize=11)
    return fig


def scatter_plot(settings: Sequence[tuple[str, str]], points: Sequence[dict[str, Any]]) -> str:
    """Accuracy (AP %) against latency p50 (ms), one panel per protocol/setting.

    ``points``: dicts with ``label``, ``colour``, ``p50``, ``p99`` (whisker end, may be None)
    and ``ap``: {(protocol, setting): fraction}.
    """
    count = max(1, len(settings))
    fig = new_figure(min(3.4 * count, 13.0), 3.6)
    axes = np.atleast_1d(fig.subplots(1, count, sharex=True))
    for ax, key in zip(axes, settings):
        for index, point in enumerate(points):
            ap = point["ap"].get(key)
            if ap is None or point.get("p50") is None:
                continue
            y = ap * 100
            if point.get("p99") is not None:
                ax.plot([point["p50"], point["p99"]], [y, y], color=point["colour"], linewidth=1,
                        alpha=0.6)
            ax.plot([point["p50"]], [y], marker=MARKERS[index % len(MARKERS)],
                    markersize=9 - 1.5 * (index % 3), linestyle="none", alpha=0.85,
                    color=point["colour"], label=plain(point["label"], 60))
        ax.set_title("/".join(key), fontsize=10)
        ax.set_xlabel("latency p50 ms (line to p99)")
        ax.set_xlim(left=0)
        _style(ax)
    axes[0].set_ylabel("AP %")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", fontsize=8,
                   ncol=min(3, len(labels)), frameon=False)
    return to_data_uri(fig)
