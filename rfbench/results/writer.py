"""One writer for every result record: ``results.json`` plus a tidy CSV, in one output folder.

A result record is a flat-ish, versioned dict (see ``SCHEMA_VERSION``) with units in field
names (``latency_p99_ms``, ``gflops``). Every command builds one with :func:`base_record` and
writes it with :func:`write_results`.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rfbench import __version__
from rfbench.errors import RfbenchError
from rfbench.fileio import atomic_write_text as atomic_write_text  # re-exported (one writer)
from rfbench.results.csvsafe import neutralise_frame

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
DEFAULT_REPORTS_DIR = Path("reports")


def base_record(kind: str) -> dict[str, Any]:
    """Start a result record of ``kind`` ('eval', 'latency', 'profile') with its context."""
    from rfbench.results.environment import describe_environment

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "rfbench_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command_line": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "environment": describe_environment(),
    }


def unused_timestamped_path(prefix: str, extension: str = "") -> Path:
    """``reports/<prefix>-<local time>[-N]<extension>``, numbered until nothing exists there."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = DEFAULT_REPORTS_DIR / f"{prefix}-{stamp}{extension}"
    number = 1
    while path.exists():
        number += 1
        path = DEFAULT_REPORTS_DIR / f"{prefix}-{stamp}-{number}{extension}"
    return path


def new_output_dir(out: str | os.PathLike | None, kind: str) -> Path:
    """Return ``out`` (created) or a new timestamped folder under ``reports/``."""
    path = Path(out) if out is not None else unused_timestamped_path(kind)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RfbenchError(f"cannot create output folder {path}: {exc.strerror}") from exc
    return path


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and paths to plain JSON types; NaN and inf become None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_results(out_dir: Path, record: dict[str, Any], csv_rows: list[dict[str, Any]]) -> Path:
    """Write ``results.json`` (the record) and ``results.csv`` (the rows) into ``out_dir``.

    Returns the path of ``results.json``. Both files are written atomically.
    """
    import pandas as pd

    out_dir = Path(out_dir)
    json_path = out_dir / RESULTS_JSON
    atomic_write_text(json_path, json.dumps(to_jsonable(record), indent=2) + "\n")
    frame = neutralise_frame(pd.DataFrame([to_jsonable(row) for row in csv_rows]))
    atomic_write_text(out_dir / RESULTS_CSV, frame.to_csv(index=False))
    log.info("wrote %s and %s", json_path, out_dir / RESULTS_CSV)
    return json_path


def read_results(result_dir: str | os.PathLike) -> dict[str, Any]:
    """Read a results folder's ``results.json``; errors name the folder."""
    path = Path(result_dir) / RESULTS_JSON
    if not path.is_file():
        raise RfbenchError(f"{result_dir}: no {RESULTS_JSON} (not an rfbench results folder)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RfbenchError(f"{path}: cannot read results: {exc}") from exc
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        found = record.get("schema_version") if isinstance(record, dict) else None
        raise RfbenchError(
            f"{path}: results schema version {found!r}, this rfbench reads {SCHEMA_VERSION}"
        )
    return record
