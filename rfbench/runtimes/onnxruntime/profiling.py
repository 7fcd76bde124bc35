"""ONNX Runtime's profiling JSON reduced to per-node rows (:meth:`RuntimeAdapter.layer_times`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def parse_ort_profile(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """ORT profile events -> per-node rows (see :meth:`RuntimeAdapter.layer_times`).

    Uses the ``Node`` events named ``<node>_kernel_time``; ``dur`` is in microseconds.
    Rows keep the order in which nodes first ran.
    """
    suffix = "_kernel_time"
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        name = str(event.get("name", ""))
        if event.get("cat") != "Node" or not name.endswith(suffix):
            continue
        node = name[: -len(suffix)]
        args = event.get("args", {})
        row = rows.setdefault(
            node,
            {
                "name": node,
                "type": args.get("op_name", ""),
                "exec_type": args.get("provider", ""),
                "status": "EXECUTED",
                "time_ms": 0.0,
                "samples": 0,
            },
        )
        row["time_ms"] += float(event.get("dur", 0)) / 1e3
        row["samples"] += 1
    for row in rows.values():
        row["time_ms"] /= row["samples"]
    return list(rows.values())
