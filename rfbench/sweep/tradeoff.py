"""The sweep's answer: per protocol setting, AP and its delta vs f32 against latency, with the
Pareto front (no other cell is at least as fast and at least as accurate, and better in one).

Rows are plain dicts (one per cell and protocol setting): the tidy CSV, the table, the plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def tradeoff_rows(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per measured cell and protocol setting.

    ``cells``: sweep cell entries with ``key``, ``model``, ``runtime``, ``precision``,
    ``baseline`` (key of the f32 cell), ``aps`` ({"omz/64px": AP in [0, 1], ...}),
    ``latency_p50_ms``, ``throughput_fps``, ``model_size_bytes``, ``latency_valid``
    (whether its latency run met the validity minimum). Deltas and speed-ups are
    vs the baseline cell (None where it did not run); ``pareto`` is per setting.
    """
    by_key = {c["key"]: c for c in cells if c.get("status") == "done"}
    rows = []
    for cell in by_key.values():
        base = by_key.get(cell["baseline"])
        for setting, ap in (cell.get("aps") or {}).items():
            base_ap = (base.get("aps") or {}).get(setting) if base else None
            p50, base_p50 = cell.get("latency_p50_ms"), base.get("latency_p50_ms") if base else None
            rows.append({
                "setting": setting, "cell": cell["key"], "model": cell["model"],
                "runtime": cell["runtime"], "precision": cell["precision"], "ap": ap,
                "delta_ap_points": (ap - base_ap) * 100 if ap is not None and base_ap is not None else None,
                "latency_p50_ms": p50,
                "speedup_vs_f32": base_p50 / p50 if p50 and base_p50 else None,
                "throughput_fps": cell.get("throughput_fps"),
                "model_size_bytes": cell.get("model_size_bytes"),
                "latency_valid": cell.get("latency_valid"),
            })
    mark_pareto(rows)
    return rows


def mark_pareto(rows: list[dict[str, Any]]) -> None:
    """Set ``pareto`` on every row: on the front of its setting (lower p50, higher AP)."""
    measured = [r for r in rows if r["ap"] is not None and r["latency_p50_ms"] is not None]
    for row in rows:
        row["pareto"] = False
    for row in measured:
        row["pareto"] = not any(
            r["latency_p50_ms"] <= row["latency_p50_ms"] and r["ap"] >= row["ap"]
            and (r["latency_p50_ms"] < row["latency_p50_ms"] or r["ap"] > row["ap"])
            for r in measured if r is not row and r["setting"] == row["setting"])


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(rows: Sequence[dict[str, Any]], skipped: Sequence[dict[str, Any]]) -> str:
    """The trade-off as text: per setting, cells by latency; '*' marks the Pareto front, and
    a cell whose latency run missed the validity minimum says so."""
    lines = [f"{'setting':12s} {'cell':44s} {'AP %':>7s} {'dAP pts':>8s} {'p50 ms':>9s} "
             f"{'speed-up':>8s} {'fps':>7s} {'MB':>7s}  pareto"]
    lines.append("-" * len(lines[0]))
    for row in sorted(rows, key=lambda r: (r["setting"], r["latency_p50_ms"] or float("inf"))):
        size = row["model_size_bytes"] / 1e6 if row["model_size_bytes"] else None
        lines.append(
            f"{row['setting']:12s} {row['cell']:44s} {_fmt(row['ap'] * 100 if row['ap'] is not None else None, '7.2f')} "
            f"{_fmt(row['delta_ap_points'], '+8.2f')} {_fmt(row['latency_p50_ms'], '9.2f')} "
            f"{_fmt(row['speedup_vs_f32'], '8.2f')} {_fmt(row['throughput_fps'], '7.1f')} "
            f"{_fmt(size, '7.1f')}  {'*' if row['pareto'] else ' '}"
            f"{'  latency NOT VALID' if row.get('latency_valid') is False else ''}")
    for skip in skipped:
        lines.append(f"skipped      {skip['key']:44s} {skip['reason']}")
    return "\n".join(lines)


def plot_tradeoff(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """AP-vs-p50 scatter, one panel per setting, the Pareto front joined; None without rows."""
    from matplotlib.figure import Figure

    settings = sorted({r["setting"] for r in rows if r["ap"] is not None and r["latency_p50_ms"]})
    if not settings:
        return None
    fig = Figure(figsize=(4.2 * len(settings), 3.6))  # no pyplot: no global figure state
    axes = fig.subplots(1, len(settings), squeeze=False)
    for ax, setting in zip(axes[0], settings, strict=True):
        points = [r for r in rows if r["setting"] == setting and r["ap"] is not None and r["latency_p50_ms"]]
        for r in points:
            ax.scatter(r["latency_p50_ms"], r["ap"] * 100, marker="o" if r["pareto"] else "x")
            ax.annotate(f"{r['runtime']}/{r['precision']}", (r["latency_p50_ms"], r["ap"] * 100),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        front = sorted((r for r in points if r["pareto"]), key=lambda r: r["latency_p50_ms"])
        ax.plot([r["latency_p50_ms"] for r in front], [r["ap"] * 100 for r in front], lw=1)
        ax.set_title(setting)
        ax.set_xlabel("p50 latency (ms)")
        ax.set_ylabel("AP (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
