"""Load results folders for a report and split them into comparable entries.

A *run* is one results folder (one ``results.json``, read through its kind's definition in
:mod:`rfbench.results`). An *entry* is one measured configuration inside it: an ``eval`` run
is one entry (its :class:`EvalRecord`), a ``latency`` run has one entry per runtime it
measured (each :class:`LatencyRun`), a ``profile`` run is one entry (its
:class:`ProfileRecord`). Tables and plots work on entries; the environment and header on runs.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.errors import RfbenchError
from rfbench.results.eval_record import EvalRecord
from rfbench.results.latency_record import LatencyRecord
from rfbench.results.profile_record import ProfileRecord
from rfbench.results.record import ResultRecord
from rfbench.results.writer import RESULTS_JSON, read_results

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

    from rfbench.evaluation.official import OfficialMatches
    from rfbench.wider.ground_truth import WiderGroundTruth

log = logging.getLogger(__name__)

#: The kinds a report shows (a kind the report has no section for is refused with its name).
KINDS = ("eval", "latency", "profile")


@dataclass(frozen=True)
class ScoredData:
    """What an eval already holds when it writes its report: the ground truth it scored
    (after ``--limit``) and the predictions it read (image id -> (m, 5) x y w h score), so that
    the report's drawings do not read the GT and the 3,226 prediction files a second time."""

    gt: WiderGroundTruth
    predictions: Mapping[str, np.ndarray]
    #: the official protocol's matches of those predictions, when the eval scored it
    official_matches: OfficialMatches | None = None


@dataclass
class Run:
    """One results folder: its path, its ``results.json`` record and a short unique name;
    ``scored``: an eval's :class:`ScoredData` when the command that wrote it hands it over."""

    path: Path
    record: ResultRecord
    name: str = ""
    scored: ScoredData | None = None


@dataclass
class Entry:
    """One measured configuration (see the module docstring); ``data`` is its (sub-)record."""

    run: Run
    kind: str
    data: Any  # EvalRecord, LatencyRun or ProfileRecord, by kind
    model_name: str | None = None
    model_sha256: str | None = None
    runtime: str | None = None
    precision: str | None = None
    label: str = ""
    samples: Any = None  # pandas.DataFrame of this entry's latency samples, or None
    samples_note: str | None = None

    @property
    def device(self) -> str | None:
        """The device it ran on (None: a profile, or an eval of prediction files)."""
        if self.kind == "latency":
            return self.data.device
        runtime = self.data.runtime if self.kind == "eval" else None
        return runtime.device if runtime else None


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
        kind = record.kind
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
    for run, name in zip(runs, names):
        parent = run.path.resolve().parent.name
        run.name = f"{parent}/{name}" if names.count(name) > 1 and parent else name
    taken: Counter[str] = Counter()
    for run in runs:
        taken[run.name] += 1
        if taken[run.name] > 1:
            run.name = f"{run.name} #{taken[run.name]}"


def build_entries(runs: list[Run]) -> list[Entry]:
    """Entries of all runs, in run order, with unique labels (model / runtime / precision)."""
    entries: list[Entry] = []
    for run in runs:
        record = run.record
        if isinstance(record, EvalRecord):
            model, runtime = record.model, record.runtime
            entries.append(Entry(
                run=run, kind="eval", data=record, model_name=model.name if model else None,
                model_sha256=model.sha256 if model else None,
                runtime=runtime.runtime if runtime else None,
                precision=runtime.effective.get("precision") if runtime else None,
            ))
        elif isinstance(record, LatencyRecord):
            entries.extend(_latency_entries(run, record))
        elif isinstance(record, ProfileRecord):
            entries.append(Entry(run=run, kind="profile", data=record,
                                 model_name=Path(record.model_path).name,
                                 model_sha256=record.model_sha256))
    _label_entries(entries)
    return entries


def _latency_entries(run: Run, record: LatencyRecord) -> list[Entry]:
    samples, samples_note = _read_samples(run, record)
    entries = []
    for sub in record.runs:
        model_path = sub.model or record.settings.model
        entry = Entry(
            run=run, kind="latency", data=sub,
            model_name=Path(model_path).name if model_path else None,
            model_sha256=record.model_sha256, runtime=sub.runtime,
            precision=sub.precision_effective or sub.effective.get("precision"),
            samples_note=samples_note,
        )
        if samples is not None:
            if "runtime" in samples.columns:
                entry.samples = samples[samples["runtime"] == sub.runtime]
            elif len(record.runs) == 1:
                entry.samples = samples
            if entry.samples is not None and entry.samples.empty:
                entry.samples = None
                entry.samples_note = f"{run.name}: no samples of {sub.runtime} in samples.csv"
        entries.append(entry)
    return entries


def _read_samples(run: Run, record: LatencyRecord) -> tuple[Any, str | None]:
    """The latency run's raw samples (DataFrame) or None with a note saying why."""
    import pandas as pd

    name = record.samples_file or "samples.csv"
    path = run.path / name
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


def _label_entries(entries: list[Entry]) -> None:
    for entry in entries:
        if entry.kind == "profile":
            entry.label = f"{entry.model_name or '?'} (profile)"
        elif entry.model_name is None and entry.kind == "eval":  # scored prediction files
            pred_dir = Path(str(entry.data.predictions.dir or entry.run.path))
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
