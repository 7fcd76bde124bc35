"""Load results folders for a report and split them into comparable entries.

A *run* is one results folder (one ``results.json``). An *entry* is one measured
configuration inside it: an ``eval`` run is one entry, a ``latency`` run has one entry per
runtime it measured (``runs`` list), a ``profile`` run is one entry. Tables and plots work on
entries; the environment and header work on runs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.results.writer import RESULTS_JSON, read_results

log = logging.getLogger(__name__)

KINDS = ("eval", "latency", "profile")


@dataclass
class Run:
    """One results folder: its path, its ``results.json`` record and a short unique name."""

    path: Path
    record: dict[str, Any]
    name: str = ""

    @property
    def kind(self) -> str:
        return str(self.record.get("kind"))


@dataclass
class Entry:
    """One measured configuration (see the module docstring); ``data`` is its sub-record."""

    run: Run
    kind: str
    data: dict[str, Any]
    model_name: str | None = None
    model_sha256: str | None = None
    runtime: str | None = None
    precision: str | None = None
    label: str = ""
    samples: Any = None  # pandas.DataFrame of this entry's latency samples, or None
    samples_note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_runs(result_dirs: list[str | os.PathLike]) -> list[Run]:
    """Read each folder's ``results.json`` (via :func:`rfbench.results.writer.read_results`).

    A path to a ``results.json`` file is accepted for its folder. Raises RfbenchError naming
    the folder when it is missing, has no results, has another schema version or an unknown
    kind. The same folder given twice is read once.
    """
    if not result_dirs:
        raise RfbenchError("no results folder given")
    runs: list[Run] = []
    seen: set[Path] = set()
    for given in result_dirs:
        path = Path(given)
        if path.is_file() and path.name == RESULTS_JSON:
            path = path.parent
        if not path.exists():
            raise RfbenchError(f"{given}: no such results folder")
        if not path.is_dir():
            raise RfbenchError(f"{given}: not a folder (expected an rfbench results folder)")
        resolved = path.resolve()
        if resolved in seen:
            log.warning("%s given twice; reported once", given)
            continue
        seen.add(resolved)
        record = read_results(path)
        kind = record.get("kind")
        if kind not in KINDS:
            raise RfbenchError(
                f"{path / RESULTS_JSON}: unknown results kind {kind!r} (expected one of "
                f"{', '.join(KINDS)})"
            )
        runs.append(Run(path=path, record=record))
    _name_runs(runs)
    return runs


def _name_runs(runs: list[Run]) -> None:
    """Folder names, made unique with the parent folder or a number when they collide."""
    names = [run.path.resolve().name or str(run.path) for run in runs]
    for i, run in enumerate(runs):
        name = names[i]
        if names.count(name) > 1:
            parent = run.path.resolve().parent.name
            name = f"{parent}/{name}" if parent else name
        run.name = name
    taken: dict[str, int] = {}
    for run in runs:
        count = taken.get(run.name, 0)
        taken[run.name] = count + 1
        if count:
            run.name = f"{run.name} #{count + 1}"


def build_entries(runs: list[Run]) -> list[Entry]:
    """Entries of all runs, in run order, with unique labels (model / runtime / precision)."""
    entries: list[Entry] = []
    for run in runs:
        if run.kind == "eval":
            entries.append(_eval_entry(run))
        elif run.kind == "latency":
            entries.extend(_latency_entries(run))
        else:
            entries.append(_profile_entry(run))
    _label_entries(entries)
    return entries


def _eval_entry(run: Run) -> Entry:
    record = run.record
    model = record.get("model") or {}
    runtime = record.get("runtime") or {}
    effective = runtime.get("effective") or {}
    entry = Entry(
        run=run, kind="eval", data=record, model_name=model.get("name"),
        model_sha256=model.get("sha256"), runtime=runtime.get("runtime"),
        precision=effective.get("precision"),
    )
    if not model:  # scored prediction files: no model, name them by their folder
        pred_dir = (record.get("predictions") or {}).get("dir")
        entry.extra["predictions_dir"] = pred_dir
    return entry


def _latency_entries(run: Run) -> list[Entry]:
    record = run.record
    settings = record.get("settings") or {}
    samples, samples_note = _read_samples(run)
    entries = []
    for sub in record.get("runs") or []:
        model_path = sub.get("model") or settings.get("model")
        entry = Entry(
            run=run, kind="latency", data=sub,
            model_name=Path(str(model_path)).name if model_path else None,
            model_sha256=sub.get("model_sha256") or record.get("model_sha256"),
            runtime=sub.get("runtime"),
            precision=sub.get("precision_effective") or (sub.get("effective") or {}).get("precision"),
            samples_note=samples_note,
        )
        if samples is not None:
            if "runtime" in samples.columns:
                entry.samples = samples[samples["runtime"] == sub.get("runtime")]
            elif len(record.get("runs") or []) == 1:
                entry.samples = samples
            if entry.samples is not None and entry.samples.empty:
                entry.samples = None
                entry.samples_note = f"{run.name}: no samples of {sub.get('runtime')} in samples.csv"
        entries.append(entry)
    return entries


def _read_samples(run: Run) -> tuple[Any, str | None]:
    """The latency run's raw samples (DataFrame) or None with a note saying why."""
    import pandas as pd

    name = run.record.get("samples_file") or "samples.csv"
    path = run.path / str(name)
    if not path.is_file():
        return None, f"{run.name}: {name} not found; no histogram or timeline"
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read samples: %s", path, exc)
        return None, f"{run.name}: {name} cannot be read; no histogram or timeline"
    if "latency_ms" not in frame.columns:
        return None, f"{run.name}: {name} has no latency_ms column; no histogram or timeline"
    return frame, None


def _profile_entry(run: Run) -> Entry:
    record = run.record
    path = record.get("model_path")
    return Entry(
        run=run, kind="profile", data=record,
        model_name=Path(str(path)).name if path else None,
        model_sha256=record.get("model_sha256"),
    )


def _label_entries(entries: list[Entry]) -> None:
    for entry in entries:
        if entry.kind == "profile":
            entry.label = f"{entry.model_name or '?'} (profile)"
        elif entry.model_name is None and entry.kind == "eval":
            pred_dir = Path(str(entry.extra.get("predictions_dir") or entry.run.path))
            name = pred_dir.name
            if name == "predictions" and pred_dir.parent.name:
                name = f"{pred_dir.parent.name}/{name}"
            entry.label = f"prediction files {name}"
        else:
            parts = [entry.model_name or "?", entry.runtime or "?", entry.precision or "?"]
            entry.label = " / ".join(parts)
    labels = [(e.kind, e.label) for e in entries]
    for entry in entries:
        if labels.count((entry.kind, entry.label)) > 1:
            entry.label = f"{entry.label} [{entry.run.name}]"
