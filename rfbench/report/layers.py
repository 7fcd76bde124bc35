"""Per-layer times of a latency run (``--per-layer``) in the report: the slowest layers per runtime.

Read from the run's ``layers.csv`` (every layer, the ``layers_file`` of the record) when it is
there, else from the record's ``layers_top``. Columns are shown as the run wrote them (known
ones first: name, type, exec type, status, times, share), so new per-layer fields appear
without a change here; full layer names, wrapped.
"""

from __future__ import annotations

import logging
from typing import Any

from rfbench.report.markup import DASH, Html, esc, fmt, note, table
from rfbench.report.runs import Entry
from rfbench.results.latency_record import LatencyRecord

log = logging.getLogger(__name__)

#: Layers shown per runtime (the slowest first); the rest stay in layers.csv.
TOP_LAYERS = 20
_FIRST = ("name", "type", "exec_type", "status")


def layer_rows(entry: Entry) -> tuple[list[dict[str, Any]], str]:
    """(rows of this entry's runtime, slowest first, and where they came from)."""
    record = entry.run.record
    if not isinstance(record, LatencyRecord):
        return [], ""
    if record.layers_file and (entry.run.path / record.layers_file).is_file():
        import pandas as pd

        path = entry.run.path / record.layers_file
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read per-layer times: %s", path, exc)
        else:
            if "runtime" in frame.columns:
                frame = frame[frame["runtime"] == entry.runtime]
            # an empty CSV cell (NaN) is a missing value
            rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            return _slowest_first(rows), record.layers_file
    rows = [row.model_dump(exclude_unset=True) for row in (record.layers_top or {}).get(entry.runtime or "", [])]
    return _slowest_first(rows), "results.json layers_top"


def _slowest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` by their (median) time, slowest first; unsorted without a ``_ms`` column."""
    keys = [k for k in (rows[0] if rows else {}) if k.endswith("_ms")]
    key = next((k for k in keys if "median" in k or k == "time_ms"), keys[0] if keys else None)
    if key is None:
        return rows

    def slowness(row: dict[str, Any]) -> float:
        value = row.get(key)
        return -float(value) if isinstance(value, (int, float)) else float("inf")

    return sorted(rows, key=slowness)


def layers_parts(entries: list[Entry]) -> list[str]:
    """A table of the slowest layers for each latency entry that has per-layer times."""
    parts: list[str] = []
    for entry in entries:
        rows, source = layer_rows(entry)
        if not rows:
            continue
        columns = [k for k in _FIRST if k in rows[0]]
        columns += [k for k in rows[0] if k not in columns and k != "runtime"]
        shown = rows[:TOP_LAYERS]
        cells = []
        for i, row in enumerate(shown, 1):
            cells.append([str(i), *[_cell(key, row.get(key)) for key in columns]])
        headers = ["#", *[key.replace("_pct", " %").replace("_ms", " ms").replace("_", " ")
                          for key in columns]]
        numeric = [i + 1 for i, key in enumerate(columns) if key.endswith(("_ms", "_pct"))
                   or key == "samples"]
        parts.append(Html(f"<h3>Per-layer times: {esc(entry.label)}</h3>"))
        parts.append(table(headers, cells, numeric=numeric, cls="layers"))
        parts.append(Html(f'<p class="sub">The {len(shown)} slowest of {len(rows)} layers, '
                          f"from {esc(source)}.</p>"))
    if not parts and any(e.run.record.settings.per_layer for e in entries
                         if isinstance(e.run.record, LatencyRecord)):
        parts.append(note("per-layer times were requested but none are in the results", True))
    return parts


def _cell(key: str, value: Any) -> Any:
    if value is None:
        return DASH
    if key == "name":
        return (esc(value), "name")
    if key.endswith("_pct"):
        return fmt(value, "{:.1f}")
    if key.endswith("_ms"):
        return fmt(value, "{:.3f}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
