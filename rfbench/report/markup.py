"""HTML primitives of the report page: escaping, tables, notes, figures, sections, the CSS.

Every string that comes from outside (results.json values, folder and file names, command
lines) goes through :func:`esc`; only :class:`Html` values (built here from escaped parts)
are inserted as markup. A Content-Security-Policy meta tag forbids any network load and any
script, so the page behaves the same offline.
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable, Sequence
from typing import Any

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
.scroll { overflow-x: auto; max-width: 100%; }
td { overflow-wrap: break-word; }
.badge { white-space: nowrap; }
tr.invalid td { background: #fdecea !important; }
tr.invalid td:first-child { border-left: 4px solid #b3261e; }
table.summary { width: 100%; font-size: 12.5px; }
table.summary th, table.summary td { padding: 4px 5px; }
table.summary td:first-child { min-width: 11em; overflow-wrap: anywhere; }
table.summary .sha { width: auto; }
td.shape { white-space: nowrap; font-variant-numeric: tabular-nums; }
table.layers td.name { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11.5px;
                       word-break: break-all; min-width: 20em; }
.legend-swatch { display: inline-block; width: 12px; height: 12px; border: 3px solid; margin: 0 4px -1px 10px; }
.plots.drawn figure { max-width: 490px; }
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
    head = "".join(f"<th{_class(['num'] if i in numeric else [])}>{cell(h)}</th>"
                   for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, value in enumerate(row):
            classes = ["num"] if i in numeric else []
            if isinstance(value, tuple):
                value, extra = value
                classes.append(extra)
            cells.append(f"<td{_class(classes)}>{cell(value)}</td>")
        row_cls = row_classes[r] if row_classes and row_classes[r] else ""
        body.append(f"<tr{_class([row_cls] if row_cls else [])}>{''.join(cells)}</tr>")
    return Html(f'<div class="scroll"><table{_class([cls] if cls else [])}><thead><tr>{head}'
                f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _class(names: list[str]) -> str:
    """`` class="a b"`` of the names given (an empty one kept as given), "" for none."""
    return f' class="{" ".join(names)}"' if names else ""


def ratio_span(r: float, higher_is_better: bool | None) -> Html:
    """``×1.234``, coloured as good or bad news (not within 0.5 % of 1, nor without a
    direction: ``higher_is_better`` None)."""
    css = "" if higher_is_better is None or abs(r - 1.0) < 0.005 else (
        " better" if (r > 1) == higher_is_better else " worse")
    return Html(f'<span class="ratio{css}">\u00d7{r:.3f}</span>')


def note(text: Any, warn: bool = False) -> Html:
    return Html(f'<div class="note{" warn" if warn else ""}">{cell(text)}</div>')


def figure(uri: str, alt: str, caption: str, cls: str = "") -> Html:
    attr = f' class="{cls}"' if cls else ""
    return Html(f'<figure{attr}><img src="{esc(uri)}" alt="{esc(alt)}"><figcaption>'
                f"{esc(caption)}</figcaption></figure>")


def section(ident: str, title: str, body: Sequence[str]) -> Html:
    return Html(f'<section id="{ident}"><h2>{esc(title)}</h2>{"".join(body)}</section>')
