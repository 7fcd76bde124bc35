"""The report page: one self-contained HTML file (inline CSS, plots as data URIs, no scripts).

Every string that comes from outside (results.json values, folder and file names, command
lines) goes through :func:`esc`; only :class:`Html` values (built here from escaped parts)
are inserted as markup. A Content-Security-Policy meta tag forbids any network load and any
script, so the page behaves the same offline.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rfbench import __version__
from rfbench.report import plots
from rfbench.report.runs import Entry, Run
from rfbench.report.tables import (
    LATENCY_STATS,
    LATENCY_TIMES,
    PROFILE_FIGURES,
    Comparison,
    Pair,
    eval_metrics,
    num_images,
    settings_order,
)

log = logging.getLogger(__name__)

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
DASH = "\u2014"

CSS = """
:root { --fg:#1d232b; --muted:#5f6b7a; --line:#d9dee5; --zebra:#f6f8fa; --accent:#1f5fa8;
        --warn-bg:#fff4e0; --warn-line:#e0a030; --info-bg:#eef4fb; --info-line:#8fb3dc; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); margin: 0 auto; padding: 18px 28px 40px; max-width: 1240px; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
p.sub { color: var(--muted); margin: 0 0 10px; }
nav { margin: 8px 0 4px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
tbody tr:nth-child(even) td { background: var(--zebra); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.diff { background: #fff1c9 !important; }
tr.baseline td { font-weight: 600; }
.ratio { display: block; color: var(--muted); font-size: 11.5px; font-weight: 400; }
.ratio.better { color: #1b7f3b; } .ratio.worse { color: #b3261e; }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px;
         background: var(--accent); color: #fff; margin-left: 4px; font-weight: 600; }
.badge.warn { background: #b76e00; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
code.cmd { word-break: break-all; white-space: pre-wrap; }
.sha { display: block; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 10.5px;
       color: var(--muted); word-break: break-all; width: 36ch; max-width: 100%; }
.path { display: block; color: var(--muted); font-size: 11.5px; word-break: break-all; }
th .ratio { font-weight: 400; }
table.ap td:first-child, table.compare td:first-child { min-width: 15em; }
table.lat th, table.lat td { padding: 4px 6px; }
table.runs td:nth-child(8) { min-width: 22em; }
.note { border-left: 4px solid var(--info-line); background: var(--info-bg); padding: 6px 10px;
        margin: 6px 0; font-size: 13px; }
.note.warn { border-left-color: var(--warn-line); background: var(--warn-bg); }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 4px 0; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); }
dl.rules dt { font-weight: 600; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
dl.rules dd { margin: 0 0 6px 18px; font-size: 13px; }
.scroll { overflow-x: auto; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, .note { break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  tbody tr:nth-child(even) td { background: none; }
}
"""


class Html(str):
    """Markup built from escaped parts; inserted as is."""


def esc(value: Any) -> Html:
    """Escape any outside value for HTML text and attribute values."""
    return Html(_html.escape("" if value is None else str(value), quote=True))


def cell(value: Any) -> Html:
    return value if isinstance(value, Html) else esc(value)


def fmt(value: Any, spec: str = "{:.2f}") -> str:
    """Format a number; missing values are a dash."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return DASH if value is None else str(value)
    try:
        return spec.format(value)
    except ValueError:  # e.g. an integer format given a float
        return f"{value:g}"


def table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = (),
          row_classes: Sequence[str] | None = None, cls: str = "") -> Html:
    """A table; ``numeric``: column indexes right-aligned; a cell may be (content, class)."""
    numeric = set(numeric)
    num_attr = ' class="num"'
    head = "".join(
        f"<th{num_attr if i in numeric else ''}>{cell(h)}</th>" for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, value in enumerate(row):
            classes = ["num"] if i in numeric else []
            if isinstance(value, tuple):
                value, extra = value
                classes.append(extra)
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{cell(value)}</td>")
        row_cls = row_classes[r] if row_classes and row_classes[r] else ""
        row_attr = f' class="{row_cls}"' if row_cls else ""
        body.append(f"<tr{row_attr}>{''.join(cells)}</tr>")
    cls_attr = f' class="{cls}"' if cls else ""
    return Html(f'<div class="scroll"><table{cls_attr}><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table></div>')


def note(text: Any, warn: bool = False) -> Html:
    return Html(f'<div class="note{" warn" if warn else ""}">{cell(text)}</div>')


def figure(uri: str, alt: str, caption: str | None = None) -> Html:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return Html(f'<figure><img src="{esc(uri)}" alt="{esc(alt)}">{cap}</figure>')


def section(ident: str, title: str, body: Sequence[str]) -> Html:
    return Html(f'<section id="{ident}"><h2>{esc(title)}</h2>{"".join(body)}</section>')


# -- the page ------------------------------------------------------------------------------

class Page:
    """Builds the report for loaded runs, their entries and the comparisons."""

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
        return [entry for entry in self.entries if entry.kind == kind]

    def render(self) -> str:
        sections = [("runs", "Runs", self.runs_section())]
        sections.append(("environment", "Environment", self.environment_section()))
        if self.of_kind("eval"):
            sections.append(("accuracy", "Accuracy", self.accuracy_section()))
        if self.of_kind("latency"):
            sections.append(("latency", "Latency", self.latency_section()))
        if self.of_kind("profile"):
            sections.append(("complexity", "Complexity", self.complexity_section()))
        comparison = self.comparison_section()
        if comparison:
            sections.append(("comparison", "Comparison", comparison))
        nav = "".join(f'<a href="#{ident}">{esc(title)}</a>' for ident, title, _ in sections)
        models = sorted({e.model_name for e in self.entries if e.model_name})
        title = "rfbench report" + (f": {', '.join(models)}" if models else "")
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        kinds = ", ".join(sorted({run.kind for run in self.runs}))
        body = "".join(section(ident, name, parts) for ident, name, parts in sections)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1>"
            f'<p class="sub">Generated {esc(now)} by rfbench {esc(__version__)} from '
            f"{len(self.runs)} results folder{'s' if len(self.runs) != 1 else ''} ({esc(kinds)}).</p>"
            f"<nav>{nav}</nav></header>{body}</body></html>\n"
        )

    # -- runs / header -------------------------------------------------------------------

    def runs_section(self) -> list[str]:
        kinds_compared = {kind for kind, c in self.comparisons.items() if len(c.rows) > 1}
        base_runs = {id(entry.run) for kind, entry in self.baselines.items()
                     if kind in kinds_compared}
        rows = []
        for i, run in enumerate(self.runs, 1):
            rec = run.record
            badge = Html('<span class="badge">baseline</span>') if id(run) in base_runs else ""
            path = Html(f'<span class="path">{esc(run.path)}</span>') \
                if str(run.path) != run.name else ""
            name = Html(f"{esc(run.name)}{badge}{path}")
            model, sha = _run_model(run)
            model_cell = Html(f"{esc(model or DASH)}<span class=\"sha\">sha256 {esc(sha or DASH)}</span>")
            rows.append([
                str(i), name, rec.get("kind"), model_cell, _run_protocol(run),
                rec.get("created_utc") or DASH, rec.get("rfbench_version") or DASH,
                Html(f'<code class="cmd">{esc(rec.get("command_line") or DASH)}</code>'),
            ])
        header = ["#", "run (folder)", "kind", "model", "protocol / preset / mode",
                  "created (UTC)", "rfbench", "command line"]
        parts = [table(header, rows, cls="runs")]
        if kinds_compared:
            parts.append(note("Ratios in this report are run / baseline. Baseline: " + "; ".join(
                f"{kind}: {entry.label}" for kind, entry in self.baselines.items()
                if kind in kinds_compared) + "."))
        return parts

    # -- environment ---------------------------------------------------------------------

    def environment_section(self) -> list[str]:
        fields = [
            ("host", lambda env: env.get("hostname")),
            ("CPU", lambda env: env.get("cpu_model")),
            ("cores (logical / usable)", lambda env: _pair_text(env.get("cpu_count_logical"),
                                                                env.get("cpu_count_usable"))),
            ("OS", lambda env: env.get("os")),
            ("Python", lambda env: env.get("python_version")),
        ]
        packages: list[str] = []
        for run in self.runs:
            for name in (run.record.get("environment") or {}).get("packages") or {}:
                if name not in packages:
                    packages.append(name)
        fields += [(name, lambda env, name=name: (env.get("packages") or {}).get(name))
                   for name in packages]
        fields.append(("load avg (1 min) at start", lambda env: fmt(env.get("loadavg_1min"))))
        groups: list[tuple[list[Run], dict[str, Any]]] = []
        for run in self.runs:
            env = dict(run.record.get("environment") or {})
            same = {k: v for k, v in env.items() if k != "loadavg_1min"}
            for members, group_env in groups:
                if {k: v for k, v in group_env.items() if k != "loadavg_1min"} == same:
                    members.append(run)
                    break
            else:
                groups.append(([run], env))
        rows = []
        for label, getter in fields[:-1]:
            values = [getter(env) for _members, env in groups]
            row: list[Any] = [label]
            for value in values:
                text = DASH if value is None else value
                row.append((text, "diff") if value != values[0] else text)
            rows.append(row)
        rows.append(["load avg (1 min) at start", *[", ".join(
            f"{fmt((run.record.get('environment') or {}).get('loadavg_1min'))}"
            + (f" ({run.name})" if len(members) > 1 else "") for run in members)
            for members, _env in groups]])
        headers = ["", *[", ".join(run.name for run in members) for members, _env in groups]]
        parts = [table(headers, rows, cls="env")]
        if len(groups) > 1:
            parts.append(note("The runs come from different environments; highlighted cells "
                              "differ from the first column.", True))
        settings = self.settings_rows()
        if settings:
            parts.append(Html("<h3>Runtime settings (requested \u2192 effective)</h3>"))
            parts.append(table(["run", "runtime", "version", "device", "mode / API", "precision",
                                "threads", "streams", "requests", "hint"], settings))
        return parts

    def settings_rows(self) -> list[list[Any]]:
        rows = []
        for entry in self.entries:
            if entry.kind == "eval":
                runtime = entry.data.get("runtime") or {}
                if not runtime:
                    continue
                mode = "sync (eval)"
            elif entry.kind == "latency":
                runtime = entry.data
                mode = f"{runtime.get('mode', DASH)} / {runtime.get('api', DASH)}"
            else:
                continue
            req, eff = runtime.get("requested") or {}, runtime.get("effective") or {}
            rows.append([entry.label, runtime.get("runtime") or DASH,
                         runtime.get("runtime_version") or DASH, runtime.get("device") or DASH,
                         mode, *[_req_eff(req, eff, key) for key in
                                 ("precision", "threads", "streams", "requests",
                                  "performance_hint")]])
        return rows

    # -- accuracy ------------------------------------------------------------------------

    def accuracy_section(self) -> list[str]:
        evals = self.of_kind("eval")
        keys = settings_order(evals)
        comparison = self.comparisons.get("eval")
        rows, classes = [], []
        faces = {key: {(eval_metrics(e).get(key) or {}).get("num_faces") for e in evals
                       if key in eval_metrics(e)} for key in keys}
        for entry in evals:
            metrics = eval_metrics(entry)
            row = next((r for r in comparison.rows if r.entry is entry), None) if comparison else None
            status = DASH
            if row is not None and not row.comparable:
                status = Html('<span class="badge warn">not comparable</span>')
            elif row is not None and row.is_baseline and len(evals) > 1:
                status = Html('<span class="badge">baseline</span>')
            preset = _preset_label(entry.data.get("preset") or {})
            boxes = {m.get("num_predictions") for m in metrics.values()}
            cells: list[Any] = [entry.label, fmt(num_images(entry), "{:d}"), preset or DASH,
                                fmt(boxes.pop(), "{:,d}") if len(boxes) == 1 else "varies"]
            for key in keys:
                metric = metrics.get(key)
                ap = metric.get("ap") if metric else None
                text = esc(fmt(ap * 100) if isinstance(ap, (int, float)) else DASH)
                if metric and len(faces[key]) > 1:
                    text = Html(f'{text}<span class="ratio">{esc(metric.get("num_faces"))} faces</span>')
                cells.append(Html(text))
            if len(evals) > 1:
                cells.append(status)
            rows.append(cells)
            classes.append("baseline" if row is not None and row.is_baseline and len(evals) > 1 else "")
        headers: list[Any] = ["run", "images", "preset", "boxes"]
        for key in keys:
            count = faces[key].pop() if len(faces[key]) == 1 else None
            sub = f"{count} faces" if count is not None else "faces differ"
            headers.append(Html(f'{esc("/".join(key))}<span class="ratio">AP %, {esc(sub)}</span>'))
        if len(evals) > 1:
            headers.append("vs baseline")
        parts = [table(headers, rows, numeric=range(1, 4 + len(keys)),
                       row_classes=classes, cls="ap")]
        parts.append(Html('<p class="sub">AP in percent, as in results.json (fraction x 100, two '
                          'decimals). Protocols: ' + esc("; ".join(
                              f"{k}: {v}" for k, v in self._protocol_texts().items())) + "</p>"))
        if comparison:
            parts += [note(text, warn) for warn, text in comparison.notes() if warn]
        parts.append(Html("<h3>Precision-recall curves</h3>"))
        parts.append(self.pr_plots(evals, keys, comparison))
        return parts

    def _protocol_texts(self) -> dict[str, str]:
        texts: dict[str, str] = {}
        for entry in self.of_kind("eval"):
            for name, text in (entry.data.get("protocols") or {}).items():
                texts.setdefault(str(name), str(text))
        return texts

    def pr_plots(self, evals: list[Entry], keys: list[tuple[str, str]],
                 comparison: Comparison | None) -> Html:
        figures: list[str] = []
        missing: dict[str, list[str]] = {}
        for key in keys:
            curves = []
            for entry in evals:
                curve = (entry.data.get("pr_curves") or {}).get("/".join(key))
                metric = eval_metrics(entry).get(key) or {}
                if not curve or not curve.get("precision") or not curve.get("recall"):
                    if metric:
                        missing.setdefault(entry.label, []).append("/".join(key))
                    continue
                row = next((r for r in comparison.rows if r.entry is entry), None) if comparison else None
                label = entry.label
                if row is not None and not row.comparable:
                    label += f" [{num_images(entry)} images, not comparable]"
                curves.append({"label": label, "precision": curve["precision"],
                               "recall": curve["recall"], "ap": metric.get("ap"),
                               "colour": self.colours[id(entry)],
                               "dashed": row is not None and not row.comparable})
            if curves:
                title = "/".join(key)
                uri = plots.pr_curve_plot(title, curves)
                figures.append(figure(uri, f"precision-recall curve {title}",
                                      f"{title}: {len(curves)} run(s)"))
        parts = [Html(f'<div class="plots pr">{"".join(figures)}</div>')]
        if missing:
            parts.append(note("no PR curve in results.json for: " + "; ".join(
                f"{label} ({', '.join(keys)})" for label, keys in missing.items()), True))
        return Html("".join(parts))

    # -- latency -------------------------------------------------------------------------

    def latency_section(self) -> list[str]:
        lats = self.of_kind("latency")
        rows = []
        for entry in lats:
            data = entry.data
            valid = "yes" if data.get("valid") else Html(
                f'<span class="badge warn">NOT VALID</span> {esc(data.get("invalid_reason") or "")}')
            rows.append([entry.label, data.get("mode") or DASH, fmt(data.get("iterations"), "{:d}"),
                         *[fmt(data.get(key)) for key, _ in LATENCY_STATS],
                         fmt(data.get("throughput_fps")), valid])
        stats = len(LATENCY_STATS)
        parts = [table(["run", "mode", "samples", *[f"{label} ms" for _, label in LATENCY_STATS],
                        "throughput fps", "valid"], rows, numeric=range(2, 4 + stats), cls="lat")]
        statistics = next((e.run.record.get("statistics") for e in lats
                           if e.run.record.get("statistics")), None)
        if statistics:
            parts.append(Html('<p class="sub">' + esc("; ".join(
                f"{k.replace('_', ' ')}: {v}" for k, v in statistics.items())) + "</p>"))
        parts.append(Html("<h3>Model read, compile and first inference</h3>"))
        time_rows = []
        for entry in lats:
            warm = entry.data.get("warmup_latency_ms") or []
            time_rows.append([entry.label, *[fmt(entry.data.get(key)) for key, _ in LATENCY_TIMES],
                              ", ".join(fmt(v) for v in warm) if warm else DASH])
        parts.append(table(["run", *[f"{label} ms" for _, label in LATENCY_TIMES],
                            "warm-up ms (not counted)"], time_rows, numeric=range(1, 4)))
        for run in self.runs:
            if run.kind == "latency":
                for text in run.record.get("notes") or []:
                    warn = "NOT VALID" in str(text) or "inflated" in str(text)
                    parts.append(note(f"{run.name}: {text}", warn))
        parts.append(Html("<h3>Latency distribution and timeline</h3>"))
        for entry in lats:
            if entry.samples is None:
                parts.append(note(entry.samples_note or f"{entry.label}: no samples", True))
                continue
            uri = plots.latency_plot(entry.label, entry.data, entry.samples, self.colours[id(entry)])
            parts.append(figure(uri, f"latency histogram and timeline of {entry.label}",
                                f"{entry.label}: dashed lines are the run's percentiles"))
        return parts

    # -- complexity ----------------------------------------------------------------------

    def complexity_section(self) -> list[str]:
        profiles = self.of_kind("profile")
        rows = []
        for entry in profiles:
            data = entry.data
            shapes = ", ".join(f"{k} {'x'.join(map(str, v))}"
                               for k, v in (data.get("input_shapes") or {}).items())
            cells: list[Any] = [Html(f'{esc(entry.label)}<span class="sha">sha256 '
                                     f'{esc(entry.model_sha256 or DASH)}</span>'), shapes or DASH]
            for key, _label, _unit in PROFILE_FIGURES:
                spec = "{:,.0f}" if key == "params" else "{:.4f}"
                rule = data.get(f"{key}_rule")
                cells.append(Html(esc(fmt(data.get(key), spec)) + (
                    Html(f'<span class="ratio">rule: {esc(rule)}</span>') if rule else "")))
            rows.append(cells)
        headers = ["model", "input", *[label for _, label, _ in PROFILE_FIGURES]]
        parts = [table(headers, rows, numeric=range(2, 2 + len(PROFILE_FIGURES)), cls="cx")]
        rules: dict[str, str] = {}
        for entry in profiles:
            for name, text in (entry.data.get("rules") or {}).items():
                rules.setdefault(str(name), str(text))
        if rules:
            parts.append(Html("<h3>Counting rules</h3><dl class=\"rules\">" + "".join(
                f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rules.items()) + "</dl>"))
        for entry in profiles:
            breakdown = entry.data.get("breakdown") or []
            if breakdown:
                parts.append(Html(f"<h3>Per operation type: {esc(entry.label)}</h3>"))
                parts.append(table(
                    ["operation", "count", "GFLOPs OMZ", "GFLOPs now", "GMACs", "params"],
                    [[r.get("op_type"), fmt(r.get("count"), "{:d}"), fmt(r.get("gflops_omz"), "{:.4f}"),
                      fmt(r.get("gflops_model_analyzer_current"), "{:.4f}"),
                      fmt(r.get("gmacs"), "{:.4f}"), fmt(r.get("params"), "{:,d}")]
                     for r in breakdown], numeric=range(1, 6)))
            not_counted = entry.data.get("not_counted")
            if not_counted:
                parts.append(note(f"{entry.label}: not counted (no rule): " + ", ".join(
                    f"{k} x{v}" for k, v in sorted(not_counted.items())), True))
        return parts

    # -- comparison ----------------------------------------------------------------------

    def comparison_section(self) -> list[str]:
        parts: list[str] = []
        titles = {"eval": "Accuracy (AP %)", "latency": "Latency and throughput",
                  "profile": "Complexity"}
        for kind in ("eval", "latency", "profile"):
            comparison = self.comparisons.get(kind)
            if comparison is None or len(comparison.rows) < 2:
                continue
            parts.append(Html(f"<h3>{esc(titles[kind])} vs baseline "
                              f"{esc(comparison.baseline.label)}</h3>"))
            parts.append(self.comparison_table(comparison))
            parts += [note(text, warn) for warn, text in comparison.notes()]
        if self.pairs:
            parts.append(Html("<h3>Accuracy vs latency</h3>"))
            keys = settings_order([p.eval_entry for p in self.pairs])
            points = []
            for pair in self.pairs:
                lat = pair.latency_entry
                points.append({
                    "label": f"{pair.eval_entry.model_name} / {lat.runtime} / {lat.precision}",
                    "colour": self.colours[id(lat)], "p50": lat.data.get("latency_p50_ms"),
                    "p99": lat.data.get("latency_p99_ms"),
                    "ap": {k: m.get("ap") for k, m in eval_metrics(pair.eval_entry).items()},
                })
            uri = plots.scatter_plot(keys, points)
            parts.append(figure(uri, "accuracy vs latency scatter",
                                "AP of the accuracy run against p50 latency of the latency run "
                                "of the same model and runtime"))
            pair_rows = [[p.eval_entry.label, p.latency_entry.label, p.basis,
                          "; ".join(p.notes) or DASH] for p in self.pairs]
            parts.append(table(["accuracy run", "latency run", "paired by", "note"], pair_rows,
                               cls="pairs"))
        parts += [note(text, True) for text in self.pair_notes]
        return parts

    def comparison_table(self, comparison: Comparison) -> Html:
        rows, classes = [], []
        for row in comparison.rows:
            cells: list[Any] = [Html(esc(row.entry.label) + (
                Html('<span class="badge">baseline</span>') if row.is_baseline else Html(
                    '<span class="badge warn">not comparable</span>') if not row.comparable else ""))]
            for key, _label in comparison.columns:
                value = row.values.get(key)
                text = _compare_value(comparison.kind, key, value)
                r = row.ratios.get(key)
                if row.is_baseline:
                    suffix = Html('<span class="ratio">baseline</span>')
                elif r is None:
                    suffix = Html('<span class="ratio">no ratio</span>')
                else:
                    good = _is_better(comparison.kind, key, r)
                    css = "" if good is None else (" better" if good else " worse")
                    suffix = Html(f'<span class="ratio{css}">\u00d7{r:.3f}</span>')
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


def _is_better(kind: str, key: Any, r: float) -> bool | None:
    """Whether a ratio is good news (None: about equal, or no direction)."""
    if abs(r - 1.0) < 0.005 or kind == "profile":
        return None
    if kind == "eval" or key == "throughput_fps":
        return r > 1
    return r < 1


def _pair_text(a: Any, b: Any) -> str:
    if a is None and b is None:
        return DASH
    return f"{DASH if a is None else a} / {DASH if b is None else b}"


def _preset_label(preset: dict[str, Any]) -> str | None:
    """``omz (A)``: the preset name and the layout its recipe is for (None: not recorded)."""
    name = preset.get("name")
    if name is None:
        return None
    layout = preset.get("layout_kind")
    return f"{name} ({layout})" if layout else str(name)


def _req_eff(requested: dict[str, Any], effective: dict[str, Any], key: str) -> str:
    req = requested.get(key)
    eff = effective.get(key)
    if req is None and eff is None:
        return DASH
    return f"{'default' if req is None else req} \u2192 {DASH if eff is None else eff}"


def _run_model(run: Run) -> tuple[str | None, str | None]:
    rec = run.record
    if run.kind == "eval":
        model = rec.get("model") or {}
        if model:
            return model.get("name"), model.get("sha256")
        pred = (rec.get("predictions") or {}).get("dir")
        return (f"predictions: {pred}" if pred else None), None
    if run.kind == "latency":
        path = (rec.get("settings") or {}).get("model")
        return (Path(str(path)).name if path else None), rec.get("model_sha256")
    path = rec.get("model_path")
    return (Path(str(path)).name if path else None), rec.get("model_sha256")


def _run_protocol(run: Run) -> str:
    rec = run.record
    if run.kind == "eval":
        protocols = list((rec.get("protocols") or {}).keys()) or sorted(
            {str(m.get("protocol")) for m in rec.get("metrics") or [] if isinstance(m, dict)})
        preset = (rec.get("preset") or {}).get("name")
        return f"{', '.join(protocols) or DASH} / preset {preset or DASH}"
    if run.kind == "latency":
        settings = rec.get("settings") or {}
        rule = rec.get("stop_rule") or {}
        return (f"mode {settings.get('mode', DASH)}, batch {settings.get('batch', DASH)}, "
                f"device {settings.get('device', DASH)}, min {rule.get('min_time_s', DASH)} s")
    return "complexity (counting rules)"
