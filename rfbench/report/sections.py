"""The report's result sections: accuracy, latency, complexity and the comparison.

Each is a function of the :class:`PageData` (runs, entries, comparisons, colours; the
:class:`~rfbench.report.html.Page` that draws the sections extends it) returning the section's
HTML parts; values come from the record definitions of :mod:`rfbench.results` (attributes, not
string keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rfbench.decoder.recipe import layout_recipe_line
from rfbench.report import plots
from rfbench.report.layers import layers_parts
from rfbench.report.markup import DASH, Html, esc, figure, fmt, note, ratio_span, table
from rfbench.report.pairing import Pair
from rfbench.report.runs import Entry, Run
from rfbench.report.tables import (
    LATENCY_STATS,
    LATENCY_TIMES,
    PROFILE_FIGURES,
    Comparison,
    eval_metrics,
    num_images,
    settings_order,
)
from rfbench.results.eval_record import Preset
from rfbench.results.latency_record import LatencyRecord


class PageData:
    """What the report page shows: the loaded runs, their entries, baselines, comparisons
    and pairs, one colour per entry. The sections read it; :class:`rfbench.report.html.Page`
    renders it."""

    def __init__(self, runs: list[Run], entries: list[Entry], baselines: dict[str, Entry],
                 comparisons: dict[str, Comparison], pairs: list[Pair], pair_notes: list[str]):
        self.runs = runs
        self.entries = entries
        self.baselines = baselines
        self.comparisons = comparisons
        self.pairs = pairs
        self.pair_notes = pair_notes
        self.colours = {id(entry): plots.colour(i) for i, entry in enumerate(entries)}

    def of_kind(self, kind: str) -> list[Entry]:
        """The entries of ``kind``; ``eval`` means WIDER evals (FDDB ones: :meth:`fddb_entries`)."""
        return [entry for entry in self.entries if entry.kind == kind
                and not (kind == "eval" and getattr(entry.data, "fddb", None) is not None)]

    def fddb_entries(self) -> list[Entry]:
        """The ``eval --dataset fddb`` entries (their ROC section)."""
        return [e for e in self.entries if e.kind == "eval" and getattr(e.data, "fddb", None) is not None]


# -- accuracy --------------------------------------------------------------------------------------

def accuracy_section(page: PageData) -> list[str]:
    evals = page.of_kind("eval")
    keys = settings_order(evals)
    comparison = page.comparisons.get("eval")
    rows, classes = [], []
    faces = {key: {eval_metrics(e)[key].num_faces for e in evals
                   if key in eval_metrics(e)} for key in keys}
    for entry in evals:
        metrics = eval_metrics(entry)
        row = next((r for r in comparison.rows if r.entry is entry), None) if comparison else None
        is_base = row is not None and row.is_baseline and len(evals) > 1
        preset = _preset_label(entry.data.preset)
        if preset is not None:  # size policy / test-time augmentation of the run, when any
            preset += _size_and_tta_label(entry.data)
        boxes = {m.num_predictions for m in metrics.values()}
        cells: list[Any] = [entry.label, fmt(num_images(entry), "{:d}"), preset or DASH,
                            fmt(boxes.pop(), "{:,d}") if len(boxes) == 1 else "varies"]
        for key in keys:
            metric = metrics.get(key)
            ap = metric.ap if metric else None
            text = esc(fmt(ap * 100) if isinstance(ap, (int, float)) else DASH)
            if metric and len(faces[key]) > 1:
                text = Html(f'{text}<span class="ratio">{esc(metric.num_faces)} faces</span>')
            cells.append(Html(text))
        if len(evals) > 1:  # the status against the baseline
            cells.append(Html('<span class="badge warn">not comparable</span>')
                         if row is not None and not row.comparable
                         else Html('<span class="badge">baseline</span>') if is_base else DASH)
        rows.append(cells)
        classes.append("baseline" if is_base else "")
    headers: list[Any] = ["run", "images", "preset", "boxes"]
    for key in keys:
        count = faces[key].pop() if len(faces[key]) == 1 else None
        sub = f"{count} faces" if count is not None else "faces differ"
        headers.append(Html(f'{esc("/".join(key))}<span class="ratio">AP %, {esc(sub)}</span>'))
    if len(evals) > 1:
        headers.append("vs baseline")
    parts: list[str] = [table(headers, rows, numeric=range(1, 4 + len(keys)),
                              row_classes=classes, cls="ap")]
    protocols = _first_texts(entry.data.protocols for entry in evals)
    parts.append(Html('<p class="sub">AP in percent, as in results.json (fraction x 100, two '
                      'decimals). Protocols: ' + esc("; ".join(
                          f"{k}: {v}" for k, v in protocols.items())) + "</p>"))
    recipes = dict.fromkeys(filter(None, (layout_recipe_line(e.data.preset) for e in evals
                                          if e.data.preset is not None)))
    parts += [Html(f'<p class="sub recipe">{esc(line)}</p>') for line in recipes]
    if comparison:
        parts += [note(text, warn) for warn, text in comparison.notes() if warn]
    parts.append(Html("<h3>Precision-recall curves</h3>"))
    parts.append(pr_plots(page, evals, keys, comparison))
    return parts

def _first_texts(mappings: Iterable[Mapping[Any, Any]]) -> dict[str, str]:
    """Name -> text over ``mappings``, the first text of each name, in first-seen order."""
    texts: dict[str, str] = {}
    for mapping in mappings:
        for name, text in mapping.items():
            texts.setdefault(str(name), str(text))
    return texts

def pr_plots(page: PageData, evals: list[Entry], keys: list[tuple[str, str]],
             comparison: Comparison | None) -> Html:
    figures: list[str] = []
    missing: dict[str, list[str]] = {}
    for key in keys:
        curves = []
        for entry in evals:
            curve = entry.data.pr_curves.get("/".join(key))
            metric = eval_metrics(entry).get(key)
            if not curve or not curve.precision or not curve.recall:
                if metric:
                    missing.setdefault(entry.label, []).append("/".join(key))
                continue
            row = next((r for r in comparison.rows if r.entry is entry), None) if comparison else None
            label = entry.label
            if row is not None and not row.comparable:
                label += f" [{num_images(entry)} images, not comparable]"
            curves.append({"label": label, "precision": curve.precision,
                           "recall": curve.recall, "ap": metric.ap if metric else None,
                           "colour": page.colours[id(entry)],
                           "dashed": row is not None and not row.comparable})
        if curves:
            title = "/".join(key)
            uri = plots.pr_curve_plot(title, curves)
            figures.append(figure(uri, f"precision-recall curve {title}",
                                  f"{title}: {len(curves)} run(s)"))
    parts: list[str] = [Html(f'<div class="plots pr">{"".join(figures)}</div>')]
    if missing:
        parts.append(note("no PR curve in results.json for: " + "; ".join(
            f"{label} ({', '.join(keys)})" for label, keys in missing.items()), True))
    return Html("".join(parts))

# -- latency ---------------------------------------------------------------------------------------

def latency_section(page: PageData) -> list[str]:
    lats = page.of_kind("latency")
    rows = []
    for entry in lats:
        data = entry.data
        valid = "yes" if data.valid else Html(
            f'<span class="badge warn">NOT VALID</span> {esc(data.invalid_reason or "")}')
        rows.append([entry.label, data.mode or DASH, fmt(data.iterations, "{:d}"),
                     *[fmt(getattr(data, key)) for key, _ in LATENCY_STATS],
                     fmt(data.throughput_fps), valid])
    stats = len(LATENCY_STATS)
    headers = ["run", "mode", "samples", *[f"{label} ms" for _, label in LATENCY_STATS],
               "throughput fps", "valid"]
    parts: list[str] = [table(headers, rows, numeric=range(2, 4 + stats), cls="lat")]
    statistics = next((e.run.record.statistics.model_dump() for e in lats
                       if isinstance(e.run.record, LatencyRecord)), None)
    if statistics:
        parts.append(Html('<p class="sub">' + esc("; ".join(
            f"{k.replace('_', ' ')}: {v}" for k, v in statistics.items())) + "</p>"))
    parts.append(Html("<h3>Model read, compile and first inference</h3>"))
    time_rows = []
    for entry in lats:
        warm = entry.data.warmup_latency_ms
        time_rows.append([entry.label, *[fmt(getattr(entry.data, key)) for key, _ in LATENCY_TIMES],
                          ", ".join(fmt(v) for v in warm) if warm else DASH])
    parts.append(table(["run", *[f"{label} ms" for _, label in LATENCY_TIMES],
                        "warm-up ms (not counted)"], time_rows, numeric=range(1, 4)))
    for run in page.runs:
        if isinstance(run.record, LatencyRecord):
            for text in run.record.notes:
                warn = "NOT VALID" in str(text) or "inflated" in str(text)
                parts.append(note(f"{run.name}: {text}", warn))
    parts.append(Html("<h3>Latency distribution and timeline</h3>"))
    for entry in lats:
        if entry.samples is None:
            parts.append(note(entry.samples_note or f"{entry.label}: no samples", True))
            continue
        kind = plots.distribution_kind(len(entry.samples))
        uri = plots.to_data_uri(plots.latency_figure(entry.label, entry.data, entry.samples,
                                                    page.colours[id(entry)]))
        parts.append(figure(uri, f"latency {kind} and timeline of {entry.label}",
                            f"{entry.label}: {kind} of {len(entry.samples)} samples; dashed "
                            "lines are the run's percentiles"))
    parts.append(Html(f'<p class="sub">Distributions of {plots.HISTOGRAM_MIN_SAMPLES} samples '
                      "or more are histograms; fewer are strip plots (one dot per sample).</p>"))
    parts += layers_parts(lats)
    return parts

# -- complexity ------------------------------------------------------------------------------------

def complexity_section(page: PageData) -> list[str]:
    profiles = page.of_kind("profile")
    rows = []
    for entry in profiles:
        data = entry.data
        shapes = ", ".join(f"{k} {'x'.join(map(str, v))}"
                           for k, v in data.input_shapes.items())
        cells: list[Any] = [Html(f'{esc(entry.label)}<span class="sha">sha256 '
                                 f'{esc(entry.model_sha256 or DASH)}</span>'), shapes or DASH]
        for key, _label, _unit in PROFILE_FIGURES:
            spec = "{:,.0f}" if key == "params" else "{:.4f}"
            value, rule = data.figure(key)
            cells.append(Html(esc(fmt(value, spec)) + (
                Html(f'<span class="ratio">rule: {esc(rule)}</span>') if rule else "")))
        rows.append(cells)
    headers = ["model", "input", *[label for _, label, _ in PROFILE_FIGURES]]
    parts: list[str] = [table(headers, rows, numeric=range(2, 2 + len(PROFILE_FIGURES)),
                              cls="cx")]
    rules = _first_texts(entry.data.rules for entry in profiles)
    if rules:
        parts.append(Html("<h3>Counting rules</h3><dl class=\"rules\">" + "".join(
            f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rules.items()) + "</dl>"))
    for entry in profiles:
        breakdown = entry.data.breakdown
        if breakdown:
            parts.append(Html(f"<h3>Per operation type: {esc(entry.label)}</h3>"))
            parts.append(table(
                ["operation", "count", "GFLOPs OMZ", "GFLOPs now", "GMACs", "params"],
                [[r.op_type, fmt(r.count, "{:d}"), fmt(r.gflops_omz, "{:.4f}"),
                  fmt(r.gflops_model_analyzer_current, "{:.4f}"),
                  fmt(r.gmacs, "{:.4f}"), fmt(r.params, "{:,d}")]
                 for r in breakdown], numeric=range(1, 6)))
        not_counted = entry.data.not_counted
        if not_counted:
            parts.append(note(f"{entry.label}: not counted (no rule): " + ", ".join(
                f"{k} x{v}" for k, v in sorted(not_counted.items())), True))
    return parts

# -- comparison ------------------------------------------------------------------------------------

def comparison_section(page: PageData) -> list[str]:
    parts: list[str] = []
    titles = {"eval": "Accuracy (AP %)", "latency": "Latency and throughput",
              "profile": "Complexity"}
    for kind in ("eval", "latency", "profile"):
        comparison = page.comparisons.get(kind)
        if comparison is None or len(comparison.rows) < 2:
            continue
        parts.append(Html(f"<h3>{esc(titles[kind])} vs baseline "
                          f"{esc(comparison.baseline.label)}</h3>"))
        parts.append(comparison_table(comparison))
        parts += [note(text, warn) for warn, text in comparison.notes()]
    if page.pairs:
        parts.append(Html("<h3>Accuracy vs latency</h3>"))
        keys = settings_order([p.eval_entry for p in page.pairs])
        points = []
        for pair in page.pairs:
            lat = pair.latency_entry
            points.append({
                "label": f"{pair.eval_entry.model_name} / {lat.runtime} / {lat.precision}",
                "colour": page.colours[id(lat)], "p50": lat.data.latency_p50_ms,
                "p99": lat.data.latency_p99_ms,
                "ap": {k: m.ap for k, m in eval_metrics(pair.eval_entry).items()},
            })
        uri = plots.scatter_plot(keys, points)
        parts.append(figure(uri, "accuracy vs latency scatter",
                            "AP of the accuracy run against p50 latency of the latency run "
                            "of the same model and runtime"))
        pair_rows = [[p.eval_entry.label, p.latency_entry.label, p.basis,
                      "; ".join(p.notes) or DASH] for p in page.pairs]
        parts.append(table(["accuracy run", "latency run", "paired by", "note"], pair_rows,
                           cls="pairs"))
    parts += [note(text, True) for text in page.pair_notes]
    return parts

def comparison_table(comparison: Comparison) -> Html:
    rows, classes = [], []
    for row in comparison.rows:
        cells: list[Any] = [Html(esc(row.entry.label) + (
            Html('<span class="badge">baseline</span>') if row.is_baseline else Html(
                '<span class="badge warn">not comparable</span>') if not row.comparable else ""))]
        for key, _label in comparison.columns:
            text = _compare_value(comparison.kind, key, row.values.get(key))
            r = row.ratios.get(key)
            if row.is_baseline:
                suffix = Html('<span class="ratio">baseline</span>')
            elif r is None:
                suffix = Html('<span class="ratio">no ratio</span>')
            else:
                suffix = ratio_span(r, None if comparison.kind == "profile"
                                    else comparison.kind == "eval" or key == "throughput_fps")
            cells.append(Html(esc(text) + suffix))
        rows.append(cells)
        classes.append("baseline" if row.is_baseline else "")
    headers = ["run", *[label for _, label in comparison.columns]]
    return table(headers, rows, numeric=range(1, 1 + len(comparison.columns)),
                 row_classes=classes, cls=f"compare compare-{comparison.kind}")


def _compare_value(kind: str, key: Any, value: Any) -> str:
    if kind == "eval":
        return fmt(value * 100) if isinstance(value, (int, float)) else DASH
    if kind == "profile":
        return fmt(value, "{:,.0f}" if key == "params" else "{:.4f}")
    return fmt(value)


def _size_and_tta_label(data: Any) -> str:
    """`` @ native, flip, scales 0.625/1, vote``: the per-image size policy and test-time
    augmentation of an eval record ("" for a fixed input size without augmentation)."""
    parts = []
    sizes = getattr(data, "input_sizes", None)
    if sizes is not None:
        parts.append(sizes.policy)
    tta = getattr(data, "test_time_augmentation", None)
    if tta is not None:
        if tta.flip:
            parts.append("flip")
        if list(tta.scales) != [1.0]:
            parts.append("scales " + "/".join(f"{s:g}" for s in tta.scales))
        parts.append(tta.merge)
    return f" @ {', '.join(parts)}" if parts else ""


def _preset_label(preset: Preset | None) -> str | None:
    """``omz (A)``: the preset name and the layout its recipe is for (None: not recorded)."""
    if preset is None:
        return None
    return f"{preset.name} ({preset.layout_kind})" if preset.layout_kind else preset.name
