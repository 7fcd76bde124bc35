"""HTML reports of rfbench results folders: ``write_report(result_dirs, out_path)``.

The page (``html``: layout, runs and environment; ``sections``: accuracy, latency, complexity,
comparison; ``markup``: escaping HTML primitives), its figures (``plots``) and what its tables
say (``tables``) are built from the ``results.json`` of each folder, read through the record
definitions (:func:`rfbench.results.writer.read_results`) and, for latency runs, their
``samples.csv``. Next to the HTML a tidy CSV (same name, ``.csv``)
holds one row per run and metric.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rfbench.errors import RfbenchError
from rfbench.report.runs import Entry, Run, ScoredData, build_entries, load_runs

log = logging.getLogger(__name__)

__all__ = ["Entry", "Run", "ScoredData", "build_entries", "default_out_path", "load_runs",
           "write_report"]


def default_out_path(result_dirs: list[str | os.PathLike]) -> Path:
    """``report.html`` inside the one results folder, else ``reports/report-<time>.html``."""
    from rfbench.results.writer import unused_timestamped_path

    if len(result_dirs) == 1:
        path = Path(result_dirs[0])
        if path.is_file():
            path = path.parent
        return path / "report.html"
    return unused_timestamped_path("report", ".html")


def write_report(result_dirs: list[str | os.PathLike] | str | os.PathLike,
                 out_path: str | os.PathLike | None = None,
                 baseline: str | os.PathLike | None = None,
                 scored: dict[Path, ScoredData] | None = None) -> Path:
    """Write the HTML report of ``result_dirs`` to ``out_path`` and the tidy CSV beside it.

    ``out_path``: the .html file (an existing folder gets ``report.html`` inside; None: see
    :func:`default_out_path`). ``baseline``: the results folder ratios are taken against
    (default: the first one; added to the report when not among ``result_dirs``).
    ``scored``: results folder -> the GT and predictions its eval scored (``rfbench eval``
    hands over what it read; the drawings then read nothing again).
    Returns the HTML path. Raises RfbenchError naming a bad folder or an unwritable output.
    """
    from rfbench.report.html import Page
    from rfbench.report.pairing import pair_accuracy_latency
    from rfbench.report.tables import CSV_COLUMNS, tidy_rows
    from rfbench.results.csvsafe import csv_text
    from rfbench.results.writer import atomic_write_text

    dirs = [result_dirs] if isinstance(result_dirs, (str, os.PathLike)) else list(result_dirs)
    base_path = _baseline_dir(dirs, baseline)
    runs = load_runs(dirs)
    for run in runs:
        run.scored = next((data for path, data in (scored or {}).items() if _same(run.path, path)),
                          None)
    baseline_run = next((run for run in runs if _same(run.path, base_path)), None) if base_path else None
    entries = build_entries(runs)
    baselines, comparisons = _comparisons(entries, baseline_run)
    pairs, pair_notes = pair_accuracy_latency(entries)
    out = _out_file(out_path, dirs)
    page = Page(runs, entries, baselines, comparisons, pairs, pair_notes).render()
    table = csv_text(tidy_rows(entries, comparisons), CSV_COLUMNS)
    csv_path = out.with_suffix(".csv")
    try:
        atomic_write_text(out, page)
        atomic_write_text(csv_path, table)
    except OSError as exc:
        raise RfbenchError(f"cannot write report {out}: {exc.strerror}") from exc
    log.info("wrote %s and %s", out, csv_path)
    return out


def _baseline_dir(dirs: list[str | os.PathLike], baseline: str | os.PathLike | None) -> Path | None:
    """The ``--baseline`` folder (a results.json given: its folder), put first in ``dirs``
    when it is not among them; None without one."""
    if baseline is None:
        return None
    base_path = Path(baseline)
    if base_path.is_file():
        base_path = base_path.parent
    if not any(_same(Path(d), base_path) for d in dirs):
        dirs.insert(0, base_path)
    return base_path


def _comparisons(entries: list[Entry], baseline_run: Run | None) -> tuple[dict, dict]:
    """(the baseline entry per kind, the comparison table per kind)."""
    from rfbench.report.tables import compare_eval, compare_latency, compare_profile, pick_baselines

    baselines = pick_baselines(entries, baseline_run)
    builders = {"eval": compare_eval, "latency": compare_latency, "profile": compare_profile}
    comparisons = {kind: builders[kind]([e for e in entries if e.kind == kind], entry)
                   for kind, entry in baselines.items()}
    return baselines, comparisons


def _out_file(out_path: str | os.PathLike | None, dirs: list[str | os.PathLike]) -> Path:
    """The report's .html path (a folder gets report.html inside), its folder created."""
    out = Path(out_path) if out_path is not None else default_out_path(dirs)
    if out.is_dir():
        out = out / "report.html"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RfbenchError(f"cannot create report folder {out.parent}: {exc.strerror}") from exc
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
