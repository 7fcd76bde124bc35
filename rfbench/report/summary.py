"""The report's first table: one row per measured configuration, the answer before the detail.

A row is a (model, runtime, device, precision, input shape) configuration: the accuracy run
and the latency run of that configuration share the row (never runs of another precision,
model or input), and the complexity of the same model file (sha256) fills its GFLOPs. Ratios
to the reference row (the first one with a latency) are given only between *comparable* runs:
the same model (sha256), input shape, mode and batch; otherwise the row says why not.
Plain data here; :func:`summary_section` turns it into HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rfbench.report.markup import DASH, Html, esc, fmt, note, ratio_span, table
from rfbench.report.runs import Entry
from rfbench.report.tables import eval_metrics, ratio

#: AP columns of the summary: (protocol, setting, header).
AP_COLUMNS = (("wider", "easy", "easy"), ("wider", "medium", "medium"),
              ("wider", "hard", "hard"), ("omz", "64px", "64px"))

Shape = tuple[Any, ...]


@dataclass
class SummaryRow:
    """One configuration: its eval, latency and profile entries (any may be missing)."""

    model_name: str | None
    model_sha256: str | None
    runtime: str | None
    device: str | None
    precision: str | None
    input_shape: Shape | None
    eval_entry: Entry | None = None
    latency_entry: Entry | None = None
    profile_entry: Entry | None = None
    p50_ratio: float | None = None
    throughput_ratio: float | None = None
    no_ratio_reasons: list[str] = field(default_factory=list)
    is_reference: bool = False

    def ap(self, protocol: str, setting: str) -> float | None:
        """AP (fraction) of the eval entry for a protocol/setting, None when not scored."""
        if self.eval_entry is None:
            return None
        metric = eval_metrics(self.eval_entry).get((protocol, setting))
        return None if metric is None else metric.ap

    def latency(self, key: str) -> float | None:
        """``key`` (``latency_p50_ms``, ``throughput_fps``) of the latency entry, if any."""
        return getattr(self.latency_entry.data, key) if self.latency_entry else None

    def invalid_reasons(self) -> list[str]:
        """Why the row's runs are not valid (empty: valid, or nothing to judge)."""
        reasons = []
        if self.latency_entry is not None and self.latency_entry.data.valid is False:
            reasons.append("latency NOT VALID: "
                           + str(self.latency_entry.data.invalid_reason or "no reason recorded"))
        if self.eval_entry is not None:
            run, dataset = self.eval_entry.data.prediction_run, self.eval_entry.data.dataset
            if run is not None and run.images_failed:
                reasons.append(f"accuracy: {run.images_failed} image(s) failed")
            if dataset.num_images_without_predictions:
                reasons.append(f"accuracy: {dataset.num_images_without_predictions} image(s) "
                               "without predictions")
        return reasons

    def valid(self) -> bool | None:
        """False when a run is not valid; None when the row has only a complexity profile."""
        if self.eval_entry is None and self.latency_entry is None:
            return None
        return not self.invalid_reasons()


def input_shape(entry: Entry) -> Shape | None:
    """The first model input's shape as run (eval, latency) or profiled; None if unknown."""
    if entry.kind == "profile":
        shapes = list(entry.data.input_shapes.values())
        return tuple(shapes[0]) if shapes else None
    tensors = entry.data.inputs if entry.kind == "latency" else (
        entry.data.runtime.inputs if entry.data.runtime else None)
    if tensors:
        return tuple(tensors[0].shape)
    model = entry.data.model if entry.kind == "eval" else None
    return (1, 3, model.input_height, model.input_width) if model else None


def shape_text(shape: Shape | None) -> str:
    return DASH if shape is None else "x".join("?" if d is None else str(d) for d in shape)


def _same_model(a: SummaryRow, entry: Entry) -> bool:
    return bool(a.model_sha256) and a.model_sha256 == entry.model_sha256


def build_summary(entries: list[Entry]) -> list[SummaryRow]:
    """Rows in entry order: each eval and latency entry opens a row unless a row of the same
    configuration is waiting for it; profiles fill the GFLOPs of rows of the same model."""
    rows: list[SummaryRow] = []
    for entry in entries:
        if entry.kind == "profile":
            continue
        key = (entry.runtime, entry.device, entry.precision, input_shape(entry))
        slot = "eval_entry" if entry.kind == "eval" else "latency_entry"
        row = next((r for r in rows if getattr(r, slot) is None and _same_model(r, entry)
                    and (r.runtime, r.device, r.precision, r.input_shape) == key), None)
        if row is None:
            row = SummaryRow(entry.model_name or entry.label, entry.model_sha256, *key)
            rows.append(row)
        setattr(row, slot, entry)
    for entry in entries:
        if entry.kind != "profile":
            continue
        shape = input_shape(entry)
        matched = [r for r in rows if _same_model(r, entry)
                   and (r.input_shape is None or shape is None or r.input_shape == shape)]
        for row in matched:
            row.profile_entry = row.profile_entry or entry
        if not matched:
            rows.append(SummaryRow(entry.model_name, entry.model_sha256, None, None, None, shape,
                                   profile_entry=entry))
    _set_ratios(rows)
    return rows


def latency_comparability(base: SummaryRow, other: SummaryRow) -> list[str]:
    """Why ``other``'s latency cannot be divided by ``base``'s (empty: comparable): another
    model file (sha256), input shape, mode or batch."""
    reasons = []
    if not (base.model_sha256 and base.model_sha256 == other.model_sha256):
        reasons.append(f"another model ({other.model_name}, sha256 "
                       f"{(other.model_sha256 or DASH)[:12]} vs {base.model_name}, "
                       f"{(base.model_sha256 or DASH)[:12]})")
    if base.input_shape != other.input_shape:
        reasons.append(f"input {shape_text(other.input_shape)} vs {shape_text(base.input_shape)}")
    b, o = base.latency_entry, other.latency_entry
    if b is not None and o is not None:
        if b.data.mode != o.data.mode:
            reasons.append(f"mode {o.data.mode} vs {b.data.mode}")
        b_batch, o_batch = b.data.effective.get("batch", 1), o.data.effective.get("batch", 1)
        if b_batch != o_batch:
            reasons.append(f"batch {o_batch} vs {b_batch}")
    return reasons


def _set_ratios(rows: list[SummaryRow]) -> None:
    with_latency = [r for r in rows if r.latency_entry is not None]
    if len(with_latency) < 2:
        return
    base = with_latency[0]
    base.is_reference = True
    for row in with_latency[1:]:
        row.no_ratio_reasons = latency_comparability(base, row)
        if not row.no_ratio_reasons:
            p50, fps = "latency_p50_ms", "throughput_fps"
            row.p50_ratio = ratio(row.latency(p50), base.latency(p50))
            row.throughput_ratio = ratio(row.latency(fps), base.latency(fps))


# -- HTML ------------------------------------------------------------------------------------

SUMMARY_HEADERS = ("model", "runtime", "device", "precision", "input",
                   *[Html(f'AP {esc(label)}<span class="ratio">%</span>')
                     for _p, _s, label in AP_COLUMNS],
                   "p50 ms", Html('throughput<span class="ratio">fps</span>'), "GFLOPs", "valid")


def _ratio_cell(value: float | None, r: float | None, row: SummaryRow, lower_better: bool) -> Html:
    text = esc(fmt(value))
    if value is None:
        return text
    if row.is_reference:
        return Html(f'{text}<span class="ratio">reference</span>')
    if r is not None:
        return Html(text + ratio_span(r, not lower_better))
    if row.no_ratio_reasons:
        return Html(f'{text}<span class="ratio">no ratio</span>')
    return text


def summary_section(entries: list[Entry]) -> list[str]:
    """The summary table and its notes (comparability, invalid runs, what the columns are)."""
    rows = build_summary(entries)
    cells, classes = [], []
    for row in rows:
        model = Html(f'{esc(row.model_name or DASH)}<span class="sha">sha256 '
                     f'{esc((row.model_sha256 or DASH)[:12])}</span>')
        valid = row.valid()
        valid_cell: Any = DASH if valid is None else "yes" if valid else Html(
            '<span class="badge warn">NOT VALID</span>')
        cells.append([
            model, row.runtime or DASH, row.device or DASH, row.precision or DASH,
            (shape_text(row.input_shape), "shape"),
            *[fmt(ap * 100) if isinstance(ap, (int, float)) else DASH
              for ap in (row.ap(p, s) for p, s, _l in AP_COLUMNS)],
            _ratio_cell(row.latency("latency_p50_ms"), row.p50_ratio, row, True),
            _ratio_cell(row.latency("throughput_fps"), row.throughput_ratio, row, False),
            fmt(row.profile_entry.data.gflops_omz if row.profile_entry else None, "{:.3f}"),
            valid_cell,
        ])
        classes.append("invalid" if valid is False else "")
    numeric = range(5, len(SUMMARY_HEADERS) - 1)
    parts: list[str] = [table(SUMMARY_HEADERS, cells, numeric=numeric, row_classes=classes,
                              cls="summary")]
    parts.append(Html(
        '<p class="sub">One row per model, runtime, device, precision and input shape: the '
        "accuracy and latency runs of the same configuration share a row. AP in percent "
        "(official WIDER easy/medium/hard; 64px: the OMZ protocol, faces of 64 px and up); "
        "GFLOPs as OMZ counts them, from a profile of the same model file (sha256).</p>"))
    reference = next((r for r in rows if r.is_reference), None)
    if reference is not None:
        parts.append(note(f"Latency ratios (\u00d7) are run / reference "
                          f"({reference.model_name} / {reference.runtime} / "
                          f"{reference.precision}), given only for the same model file, input "
                          "shape, mode and batch."))
    for row in rows:
        label = f"{row.model_name} / {row.runtime} / {row.precision}"
        if row.no_ratio_reasons:
            parts.append(note(f"{label}: no latency ratio to the reference: "
                              + "; ".join(row.no_ratio_reasons) + ".", True))
        for reason in row.invalid_reasons():
            parts.append(note(f"{label}: {reason}", True))
    return parts
