"""What the report's tables say, as plain data: metrics, baselines, ratios, comparability.

Nothing here formats HTML. Values are the ones in ``results.json`` (read through the record
definitions of :mod:`rfbench.results`: fields are attributes), never recomputed;
ratios are ``run / baseline`` and are only given when the two runs measured the same thing
(same images for accuracy; same mode, batch and input for latency). Otherwise the runs are
still shown side by side, with the reason in a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfbench.report.runs import Entry, Run
from rfbench.results.eval_record import Metric, Preset

#: Latency statistics of a latency run entry: (results.json key, short label).
LATENCY_STATS = tuple((f"latency_{label.replace('.', '_')}_ms", label) for label in
                      ("min", "mean", "std", "p50", "p90", "p95", "p99", "p99.9", "max"))
#: One-off timings of a latency run entry.
LATENCY_TIMES = (
    ("read_time_ms", "model read"),
    ("compile_time_ms", "compile"),
    ("first_inference_ms", "first inference"),
)
#: Latency figures compared against the baseline (key, label).
LATENCY_COMPARED = (
    ("latency_p50_ms", "p50 ms"),
    ("latency_p90_ms", "p90 ms"),
    ("latency_p99_ms", "p99 ms"),
    ("latency_mean_ms", "mean ms"),
    ("throughput_fps", "throughput fps"),
)
#: Complexity figures of a profile run: (key, label, unit).
PROFILE_FIGURES = (
    ("params", "params", "count"),
    ("mparams", "MParams", "M"),
    ("gmacs", "GMACs", "GMAC"),
    ("gflops_omz", "GFLOPs (OMZ 2019)", "GFLOP"),
    ("gflops_2x_macs", "GFLOPs (2 x MACs)", "GFLOP"),
    ("gflops_model_analyzer_current", "GFLOPs (model_analyzer now)", "GFLOP"),
)
_EVAL_COUNTS = (("num_faces", "faces"), ("num_predictions", "boxes"), ("num_images", "images"))
_LATENCY_OTHER = (("throughput_fps", "fps"), ("iterations", "inferences"),
                  ("measured_time_s", "s"))


def ratio(value: Any, base: Any) -> float | None:
    """``value / base`` or None when either is missing or the base is 0."""
    if not isinstance(value, (int, float)) or not isinstance(base, (int, float)) or not base:
        return None
    return float(value) / float(base)


# -- accuracy -------------------------------------------------------------------------------

def eval_metrics(entry: Entry) -> dict[tuple[str, str], Metric]:
    """An eval entry's ``metrics`` keyed by (protocol, setting)."""
    return {(metric.protocol, metric.setting): metric for metric in entry.data.metrics}


def settings_order(entries: list[Entry]) -> list[tuple[str, str]]:
    """Every (protocol, setting) of the eval entries, in first-seen order."""
    order: list[tuple[str, str]] = []
    for entry in entries:
        for key in eval_metrics(entry):
            if key not in order:
                order.append(key)
    return order


def num_images(entry: Entry) -> int:
    """Images an eval entry was scored on."""
    return int(entry.data.dataset.num_images_evaluated)


def eval_differences(base: Entry, other: Entry) -> list[str]:
    """Why ``other``'s AP cannot be compared with ``base``'s (empty: comparable)."""
    reasons = []
    b_data, o_data = base.data.dataset, other.data.dataset
    for attr in ("name", "split"):
        if getattr(b_data, attr) != getattr(o_data, attr):
            reasons.append(f"dataset {attr} {getattr(o_data, attr)!s} vs {getattr(b_data, attr)!s}")
    b_n, o_n = num_images(base), num_images(other)
    if b_n != o_n:
        reasons.append(f"evaluated on {o_n} images vs {b_n} for the baseline")
    b_m, o_m = eval_metrics(base), eval_metrics(other)
    shared = [key for key in o_m if key in b_m]
    if not shared:
        reasons.append("no protocol/setting in common with the baseline")
    for key in shared:
        if b_m[key].num_faces != o_m[key].num_faces:
            reasons.append(f"{'/'.join(key)}: {o_m[key].num_faces} ground-truth faces vs "
                           f"{b_m[key].num_faces}")
    b_params, o_params = base.data.protocol_params, other.data.protocol_params
    for protocol in sorted({k[0] for k in shared}):
        if protocol in b_params and protocol in o_params and b_params[protocol] != o_params[protocol]:
            reasons.append(f"protocol {protocol} ran with other parameters")
    return reasons


def eval_side_notes(base: Entry, other: Entry) -> list[str]:
    """Differences worth knowing that do not prevent a comparison."""
    notes = []
    b_keys, o_keys = set(eval_metrics(base)), set(eval_metrics(other))
    if b_keys != o_keys:
        differ = (("only it has", o_keys - b_keys), ("it lacks", b_keys - o_keys))
        notes.append("different protocols/settings: " + "; ".join(
            f"{what} {', '.join(sorted('/'.join(k) for k in keys))}" for what, keys in differ if keys))
    notes += preset_differences(base.data.preset, other.data.preset)
    return notes


_NOT_RECIPE_KEYS = {"name", "layout_kind", "description"}  # every other preset key is a setting


def preset_differences(base_preset: Preset | None, other_preset: Preset | None) -> list[str]:
    """Post-processing differences: another preset, or the same name with another recipe.

    ``base_preset``/``other_preset``: the ``preset`` of two eval records (None: scored
    prediction files). One preset name can stand for two recipes (``omz`` is per-stride NMS
    0.5 for layout A, threshold + top 750 + NMS 0.4 for B).
    """
    base = base_preset.model_dump() if base_preset else {}
    other = other_preset.model_dump() if other_preset else {}
    b_name, o_name = base.get("name"), other.get("name")
    if b_name != o_name:
        return [f"post-processing preset {o_name or 'not recorded'} vs {b_name or 'not recorded'}"]
    changed = [f"{key} {other[key]} vs {base[key]}" for key in base
               if key not in _NOT_RECIPE_KEYS and key in other and base[key] != other[key]]
    if not changed:
        return []
    return [f"preset {o_name} for layout {other.get('layout_kind')} vs layout "
            f"{base.get('layout_kind')} is another recipe: " + ", ".join(changed)]


# -- latency --------------------------------------------------------------------------------

def latency_differences(base: Entry, other: Entry) -> list[str]:
    """Why ``other``'s latency cannot be compared with ``base``'s (empty: comparable)."""
    reasons = []
    b_req, o_req = base.data.requested, other.data.requested
    if base.model_sha256 != other.model_sha256:
        reasons.append(f"another model file {other.model_name} (sha256 "
                       f"{(other.model_sha256 or '?')[:12]} vs {(base.model_sha256 or '?')[:12]})")
    if base.data.mode != other.data.mode:
        reasons.append(f"mode {other.data.mode} vs {base.data.mode}")
    if b_req.get("batch", 1) != o_req.get("batch", 1):
        reasons.append(f"batch {o_req.get('batch', 1)} vs {b_req.get('batch', 1)}")
    b_shapes = [i.shape for i in base.data.inputs or []]
    o_shapes = [i.shape for i in other.data.inputs or []]
    if b_shapes and o_shapes and b_shapes != o_shapes:
        reasons.append(f"input shape {_shapes(o_shapes)} vs {_shapes(b_shapes)}")
    return reasons


def _shapes(shapes: list[Any]) -> str:
    return ", ".join("x".join(str(d) for d in shape or []) for shape in shapes)


def latency_side_notes(base: Entry, other: Entry) -> list[str]:
    """Differences in machine, device and precision (the ratio still stands, read it so)."""
    notes = []
    b_env, o_env = base.run.record.environment, other.run.record.environment
    if (b_env.hostname, b_env.cpu_model) != (o_env.hostname, o_env.cpu_model):
        notes.append(f"another machine: {o_env.cpu_model} on {o_env.hostname} vs "
                     f"{b_env.cpu_model} on {b_env.hostname}")
    if base.data.device != other.data.device:
        notes.append(f"device {other.data.device} vs {base.data.device}")
    if base.precision != other.precision:
        notes.append(f"precision {other.precision} vs {base.precision}")
    if other.data.valid is False:
        notes.append(f"NOT VALID: {other.data.invalid_reason}")
    return notes


# -- comparisons ----------------------------------------------------------------------------

@dataclass
class Row:
    """One entry in a comparison table: its values, ratios to the baseline, and why not."""

    entry: Entry
    values: dict[Any, Any]
    ratios: dict[Any, float | None]
    comparable: bool
    reasons: list[str] = field(default_factory=list)
    side_notes: list[str] = field(default_factory=list)
    is_baseline: bool = False


@dataclass
class Comparison:
    """A comparison table: the baseline entry, one row per entry, the columns compared."""

    kind: str
    baseline: Entry
    columns: list[tuple[Any, str]]
    rows: list[Row]

    def notes(self) -> list[tuple[bool, str]]:
        """(blocking, text) of every row's differences, for the visible notes."""
        out = []
        for row in self.rows:
            if row.reasons:
                out.append((True, f"{row.entry.label}: not comparable with the baseline "
                                  f"{self.baseline.label}: {'; '.join(row.reasons)}. "
                                  "Shown side by side, no ratios."))
            if row.side_notes:
                out.append((False, f"{row.entry.label}: {'; '.join(row.side_notes)}."))
        return out


def pick_baselines(entries: list[Entry], baseline_run: Run | None) -> dict[str, Entry]:
    """Per kind, the baseline entry: the baseline run's first entry of that kind, else the
    first entry of that kind."""
    chosen: dict[str, Entry] = {}
    if baseline_run is not None:
        for entry in entries:
            if entry.run is baseline_run and entry.kind not in chosen:
                chosen[entry.kind] = entry
    for entry in entries:
        chosen.setdefault(entry.kind, entry)
    return chosen


def _compare(kind: str, entries: list[Entry], baseline: Entry, columns: list[tuple[Any, str]],
             value: Callable[[Entry, Any], Any],
             differences: Callable[[Entry, Entry], list[str]] | None = None,
             side_notes: Callable[[Entry, Entry], list[str]] | None = None) -> Comparison:
    """Each entry's ``value(entry, key)`` per column, with ratios to the baseline's unless
    ``differences(baseline, entry)`` names a reason they are not comparable."""
    rows = []
    for entry in entries:
        is_base = entry is baseline
        reasons = [] if is_base or differences is None else differences(baseline, entry)
        values = {key: value(entry, key) for key, _ in columns}
        ratios = {} if reasons else {key: ratio(values[key], value(baseline, key))
                                     for key, _ in columns}
        notes = [] if is_base or side_notes is None else side_notes(baseline, entry)
        rows.append(Row(entry, values, ratios, not reasons, reasons, notes, is_base))
    return Comparison(kind, baseline, columns, rows)


def _ap(entry: Entry, key: tuple[str, str]) -> float | None:
    metric = eval_metrics(entry).get(key)
    return None if metric is None else metric.ap


def compare_eval(entries: list[Entry], baseline: Entry) -> Comparison:
    """AP of every eval entry per (protocol, setting), with ratios to the baseline's AP."""
    columns = [(key, "/".join(key)) for key in settings_order(entries)]
    return _compare("eval", entries, baseline, columns, _ap, eval_differences, eval_side_notes)


def compare_latency(entries: list[Entry], baseline: Entry) -> Comparison:
    """Latency percentiles and throughput of every latency entry, with ratios."""
    columns = list(LATENCY_COMPARED)
    return _compare("latency", entries, baseline, columns, lambda e, key: getattr(e.data, key),
                    latency_differences, latency_side_notes)


def compare_profile(entries: list[Entry], baseline: Entry) -> Comparison:
    """Complexity figures of every profile entry, with ratios (always comparable)."""
    columns = [(key, label) for key, label, _ in PROFILE_FIGURES]
    return _compare("profile", entries, baseline, columns, lambda e, key: getattr(e.data, key))


# -- tidy CSV -------------------------------------------------------------------------------

CSV_COLUMNS = ("run", "kind", "metric", "value", "unit", "protocol", "setting", "rule",
               "ratio_to_baseline", "is_baseline", "runtime", "precision", "device", "model",
               "model_sha256", "result_dir")


def tidy_rows(entries: list[Entry], comparisons: dict[str, Comparison]) -> list[dict[str, Any]]:
    """One row per entry and metric; values exactly as in results.json."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        comparison = comparisons.get(entry.kind)
        row = next((r for r in comparison.rows if r.entry is entry), None) if comparison else None
        common = {
            "run": entry.label, "kind": entry.kind, "runtime": entry.runtime,
            "precision": entry.precision, "model": entry.model_name,
            "model_sha256": entry.model_sha256, "result_dir": str(entry.run.path),
            "is_baseline": bool(row and row.is_baseline),
            "device": entry.device,
        }

        def add(metric: str, value: Any, unit: str, ratio_key: Any = None, _common=common,
                _row=row, **extra: Any) -> None:
            ratio_value = _row.ratios.get(ratio_key) if _row and ratio_key is not None else None
            out.append({**_common, "metric": metric, "value": value, "unit": unit,
                        "ratio_to_baseline": ratio_value, **extra})

        if entry.kind == "eval":
            for (protocol, setting), metric in eval_metrics(entry).items():
                where = {"protocol": protocol, "setting": setting}
                add("ap", metric.ap, "fraction", (protocol, setting), **where)
                for key, unit in _EVAL_COUNTS:
                    add(key, getattr(metric, key), unit, **where)
            run = entry.data.prediction_run
            if run is not None and run.images_per_s is not None:
                add("images_per_s", run.images_per_s, "images/s")
        elif entry.kind == "latency":
            for key, _label in LATENCY_STATS + LATENCY_TIMES:  # every key ends in _ms
                add(key, getattr(entry.data, key), "ms", key)
            for key, unit in _LATENCY_OTHER:
                add(key, getattr(entry.data, key), unit, key)
        else:
            for key, _label, unit in PROFILE_FIGURES:
                value, rule = entry.data.figure(key)
                add(key, value, unit, key, rule=rule)
    return [{col: row.get(col) for col in CSV_COLUMNS} for row in out]
