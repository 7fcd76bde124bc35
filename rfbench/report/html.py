"""The report page: one self-contained HTML file (inline CSS, plots as data URIs, no scripts).

:class:`Page` lays out the sections: the runs (header) and the environment here, the result
sections in :mod:`rfbench.report.sections`, built from the primitives (and under the
Content-Security-Policy) of :mod:`rfbench.report.markup`.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfbench import __version__
from rfbench.report.drawings import detections_parts
from rfbench.report.fddb_roc import fddb_parts
from rfbench.report.markup import CSP, CSS, DASH, Html, esc, fmt, note, section, table
from rfbench.report.runs import Run
from rfbench.report.sections import (
    PageData,
    accuracy_section,
    comparison_section,
    complexity_section,
    latency_section,
)
from rfbench.report.summary import summary_section
from rfbench.results.eval_record import EvalRecord, RuntimeInfo
from rfbench.results.latency_record import LatencyRecord, LatencyRun
from rfbench.results.profile_record import ProfileRecord
from rfbench.results.record import Environment


class Page(PageData):
    """Builds the report page from :class:`~rfbench.report.sections.PageData`."""

    def render(self) -> str:
        # the answer first (summary, results); where it comes from (runs, environment) last
        sections = [("summary", "Summary", summary_section(self.entries))]
        if self.of_kind("eval"):
            sections.append(("accuracy", "Accuracy", accuracy_section(self)))
            detections = detections_parts(self.of_kind("eval"))
            if detections:
                sections.append(("detections", "Detections", detections))
        if self.fddb_entries():
            sections.append(("fddb", "FDDB", fddb_parts([(e.label, e.data) for e in self.fddb_entries()])))
        if self.of_kind("latency"):
            sections.append(("latency", "Latency", latency_section(self)))
        if self.of_kind("profile"):
            sections.append(("complexity", "Complexity", complexity_section(self)))
        comparison = comparison_section(self)
        if comparison:
            sections.append(("comparison", "Comparison", comparison))
        sections.append(("runs", "Runs", self.runs_section()))
        sections.append(("environment", "Environment", self.environment_section()))
        nav = "".join(f'<a href="#{ident}">{esc(title)}</a>' for ident, title, _ in sections)
        models = sorted({e.model_name for e in self.entries if e.model_name})
        title = "rfbench report" + (f": {', '.join(models)}" if models else "")
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        kinds = ", ".join(sorted({run.record.kind for run in self.runs}))
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
                str(i), name, rec.kind, model_cell, _run_protocol(run),
                rec.created_utc or DASH, rec.rfbench_version or DASH,
                Html(f'<code class="cmd">{esc(rec.command_line or DASH)}</code>'),
            ])
        header = ["#", "run (folder)", "kind", "model", "protocol / preset / mode",
                  "created (UTC)", "rfbench", "command line"]
        parts: list[str] = [table(header, rows, cls="runs")]
        if kinds_compared:
            parts.append(note("Ratios in this report are run / baseline. Baseline: " + "; ".join(
                f"{kind}: {entry.label}" for kind, entry in self.baselines.items()
                if kind in kinds_compared) + "."))
        return parts

    # -- environment ---------------------------------------------------------------------

    def environment_section(self) -> list[str]:
        fields: list[tuple[str, Callable[[Environment], Any]]] = [
            ("host", lambda env: env.hostname),
            ("CPU", lambda env: env.cpu_model),
            ("cores (logical / usable)", lambda env: _pair_text(env.cpu_count_logical,
                                                                env.cpu_count_usable)),
            ("OS", lambda env: env.os),
            ("Python", lambda env: env.python_version),
        ]
        for name in dict.fromkeys(n for run in self.runs for n in run.record.environment.packages):
            fields.append((name, functools.partial(_package_version, name=name)))
        groups: list[tuple[list[Run], Environment]] = []
        for run in self.runs:
            env = run.record.environment
            same = env.model_dump(exclude={"loadavg_1min"})
            for members, group_env in groups:
                if group_env.model_dump(exclude={"loadavg_1min"}) == same:
                    members.append(run)
                    break
            else:
                groups.append(([run], env))
        rows = []
        for label, getter in fields:
            values = [getter(env) for _members, env in groups]
            texts = [DASH if value is None else value for value in values]
            rows.append([label, *[(text, "diff") if value != values[0] else text
                                  for value, text in zip(values, texts)]])
        rows.append(["load avg (1 min) at start", *[", ".join(
            f"{fmt(run.record.environment.loadavg_1min)}"
            + (f" ({run.name})" if len(members) > 1 else "") for run in members)
            for members, _env in groups]])
        headers = ["", *[", ".join(run.name for run in members) for members, _env in groups]]
        parts: list[str] = [table(headers, rows, cls="env")]
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
            runtime: RuntimeInfo | LatencyRun
            if entry.kind == "latency":
                runtime, mode = entry.data, f"{entry.data.mode} / {entry.data.api}"
            elif entry.kind == "eval" and entry.data.runtime is not None:
                runtime, mode = entry.data.runtime, "sync (eval)"
            else:
                continue
            req, eff = runtime.requested, runtime.effective
            rows.append([entry.label, runtime.runtime or DASH,
                         runtime.runtime_version or DASH, runtime.device or DASH,
                         mode, *[_req_eff(req, eff, key) for key in
                                 ("precision", "threads", "streams", "requests",
                                  "performance_hint")]])
        return rows


def _package_version(env: Environment, name: str) -> str | None:
    return env.packages.get(name)


def _pair_text(a: Any, b: Any) -> str:
    if a is None and b is None:
        return DASH
    return f"{DASH if a is None else a} / {DASH if b is None else b}"


def _req_eff(requested: dict[str, Any], effective: dict[str, Any], key: str) -> str:
    req, eff = requested.get(key), effective.get(key)
    if req is None and eff is None:
        return DASH
    return f"{'default' if req is None else req} \u2192 {DASH if eff is None else eff}"


def _run_model(run: Run) -> tuple[str | None, str | None]:
    """(model file name, sha256) of a run; scored prediction files name their folder."""
    rec = run.record
    if isinstance(rec, EvalRecord):
        if rec.model is not None:
            return rec.model.name, rec.model.sha256
        return f"predictions: {rec.predictions.dir}", None
    if isinstance(rec, LatencyRecord):
        return Path(rec.settings.model).name, rec.model_sha256
    if isinstance(rec, ProfileRecord):
        return Path(rec.model_path).name, rec.model_sha256
    return None, None


def _run_protocol(run: Run) -> str:
    rec = run.record
    if isinstance(rec, EvalRecord):
        protocols = list(rec.protocols) or sorted({m.protocol for m in rec.metrics})
        preset = rec.preset.name if rec.preset else None
        return f"{', '.join(protocols) or DASH} / preset {preset or DASH}"
    if isinstance(rec, LatencyRecord):
        settings = rec.settings
        return (f"mode {settings.mode}, batch {settings.batch}, "
                f"device {settings.device}, min {rec.stop_rule.min_time_s} s")
    return "complexity (counting rules)"
