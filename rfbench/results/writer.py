"""One writer for every result record: ``results.json`` plus a tidy CSV, in one output folder.

A record is a :class:`~rfbench.results.record.ResultRecord` of one of the kinds registered in
:mod:`rfbench.results.kinds` (units in field names: ``latency_p99_ms``, ``gflops_omz``). A
command builds it from its definition, starting from
:func:`~rfbench.results.record.record_header`, and writes it with :func:`write_results`;
the report reads it back with :func:`read_results`, through the same definition.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rfbench.errors import RfbenchError
from rfbench.fileio import atomic_write_text as atomic_write_text  # re-exported (one writer)
from rfbench.results.csvsafe import csv_text
from rfbench.results.record import to_jsonable as to_jsonable  # re-exported

if TYPE_CHECKING:
    from rfbench.results.record import ResultRecord

log = logging.getLogger(__name__)

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
DEFAULT_REPORTS_DIR = Path("reports")


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
    """Return ``out`` (created) or a new timestamped folder under ``reports/``.

    Only creates it. A command uses :func:`rfbench.results.outdir.prepare_output_dir` instead,
    which also checks that the folder takes files, locks it and refuses another run's results.
    """
    path = Path(out) if out is not None else unused_timestamped_path(kind)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RfbenchError(f"cannot create output folder {path}: {exc.strerror}") from exc
    return path


def write_results(out_dir: Path, record: ResultRecord) -> None:
    """Write ``results.json`` (the record) and ``results.csv`` (its ``csv_rows()``) into
    ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    json_path = out_dir / RESULTS_JSON
    atomic_write_text(json_path, record_json_text(record))
    atomic_write_text(out_dir / RESULTS_CSV, csv_text(to_jsonable(row) for row in record.csv_rows()))
    log.info("wrote %s and %s", json_path, out_dir / RESULTS_CSV)


def record_json_text(record: ResultRecord) -> str:
    """The text of ``results.json`` for ``record`` (two-space indent, trailing newline)."""
    return json.dumps(record.to_json_dict(), indent=2) + "\n"


def read_results(result_dir: str | os.PathLike) -> ResultRecord:
    """Read a results folder's ``results.json`` through its kind's definition.

    Reads every version in :data:`~rfbench.results.record.READABLE_VERSIONS`; errors name the
    folder or the file (see :func:`rfbench.results.kinds.parse_record`).
    """
    from rfbench.results.kinds import parse_record

    path = Path(result_dir) / RESULTS_JSON
    if not path.is_file():
        raise RfbenchError(f"{result_dir}: no {RESULTS_JSON} (not an rfbench results folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RfbenchError(f"{path}: cannot read results: {exc}") from exc
    return parse_record(data, str(path))
