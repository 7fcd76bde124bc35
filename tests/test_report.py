"""``rfbench report``: the HTML's structure and values against results.json, escaping, CSV,
comparisons and errors. Real results folders are made once per session from the fixtures
(``real_runs`` in conftest.py: eval on ONNX Runtime, a short latency run, a profile); variants
are edited copies of them."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.errors import RfbenchError
from rfbench.report import load_runs, write_report

XSS = "<script>alert(1)</script>\"&'"
SETTINGS = {"wider/easy", "wider/medium", "wider/hard", "omz/64px"}


class Doc(HTMLParser):
    """Just enough structure: every start tag, sections, tables (class, section, cell texts)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: list[str] = []
        self.tables: list[dict] = []
        self.notes: list[str] = []
        self._section = None
        self._cell: list[str] | None = None
        self._note: list[str] | None = None
        self._note_depth = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        classes = (attrs.get("class") or "").split()
        if tag == "section":
            self._section = attrs.get("id")
            self.sections.append(self._section)
        elif tag == "table":
            self.tables.append({"class": classes, "section": self._section, "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
        if tag == "div" and "note" in classes:
            self._note, self._note_depth = [], 0
        if self._note is not None and tag == "div":
            self._note_depth += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        if tag == "div" and self._note is not None:
            self._note_depth -= 1
            if self._note_depth == 0:
                self.notes.append(" ".join(" ".join(self._note).split()))
                self._note = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._note is not None:
            self._note.append(data)

    def table(self, cls: str) -> list[list[str]]:
        found = [t for t in self.tables if cls in t["class"]]
        assert len(found) == 1, f"expected one table.{cls}, found {len(found)}"
        return found[0]["rows"]

    def images(self) -> list[dict]:
        return [a for t, a in self.tags if t == "img"]


def parse(path: Path) -> tuple[str, Doc]:
    text = path.read_text(encoding="utf-8")
    return text, Doc(text)


def run_cli(*argv: str) -> int:
    return main(list(argv))


def variant(src: Path, dst: Path, edit) -> Path:
    """Copy a results folder (results.json, samples.csv) and edit its record."""
    dst.mkdir(parents=True)
    for name in ("results.json", "samples.csv"):
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    record = json.loads((dst / "results.json").read_text())
    edit(record)
    (dst / "results.json").write_text(json.dumps(record))
    return dst


def _scale_ap(factor: float, runtime: str):
    def edit(record):
        record["runtime"]["runtime"] = runtime
        # same preset name, the layout-A recipe (as a nine-head export of the model would get)
        record["preset"].update(layout_kind="A", score_threshold=None, nms_scope="per_level")
        for metric in record["metrics"]:
            metric["ap"] *= factor
    return edit


def _subset(record):
    record["dataset"]["num_images_evaluated"] = 3
    for metric in record["metrics"]:
        metric["num_images"] = 3
        metric["num_faces"] -= 7


@pytest.fixture(scope="session")
def multi(real_runs, tmp_path_factory):
    """A report of eval + an AP x0.9 variant + a 3-image subset + latency + profile."""
    root = tmp_path_factory.mktemp("multi")
    other = variant(real_runs["eval"], root / "eval-other", _scale_ap(0.9, "openvino"))
    subset = variant(real_runs["eval"], root / "eval-subset", _subset)
    dirs = [real_runs["eval"], other, subset, real_runs["lat"], real_runs["prof"]]
    out = write_report(dirs, root / "out" / "cmp.html")
    return {"out": out, "other": other, "subset": subset, **real_runs}


def test_single_eval_report_structure_and_values(real_runs):
    out = write_report([real_runs["eval"]])
    assert out == real_runs["eval"] / "report.html"
    text, doc = parse(out)
    record = json.loads((real_runs["eval"] / "results.json").read_text())
    assert doc.sections == ["summary", "accuracy", "detections", "runs", "environment"]
    # header: version, command line, model name + sha256, protocol and preset
    runs = doc.table("runs")
    header, row = runs[0], runs[1]
    assert record["command_line"] in row[header.index("command line")]
    assert record["model"]["sha256"] in row[header.index("model")]
    assert record["model"]["name"] in row[header.index("model")]
    assert "preset omz" in row[header.index("protocol / preset / mode")]
    assert record["rfbench_version"] in row[header.index("rfbench")]
    # environment: CPU and runtime versions
    env = {r[0]: r[1] for r in doc.table("env")[1:]}
    assert env["CPU"] == record["environment"]["cpu_model"]
    assert env["onnxruntime"] == record["environment"]["packages"]["onnxruntime"]
    # AP values equal results.json's, formatted
    ap_rows = doc.table("ap")
    heads = [h.split()[0] for h in ap_rows[0]]
    for metric in record["metrics"]:
        col = heads.index(f"{metric['protocol']}/{metric['setting']}")
        assert ap_rows[1][col] == f"{metric['ap'] * 100:.2f}"
        assert f"{metric['num_faces']} faces" in ap_rows[0][col]
    # one PR plot per setting, embedded and decodable
    imgs = doc.images()
    drawn = [a["alt"] for a in imgs if a["alt"].startswith("detections on ")]
    assert len(drawn) == 3  # the three images with the most missed faces
    assert sorted(a["alt"] for a in imgs if a["alt"] not in drawn) == sorted(
        f"precision-recall curve {s}" for s in SETTINGS)
    check_images(imgs)
    check_offline(text, doc)


def check_images(imgs: list[dict]) -> None:
    assert imgs
    for attrs in imgs:
        # PR curves are SVG, the other plots PNG; the drawn detections (photos) JPEG
        alt = attrs["alt"]
        kind = ("jpeg" if alt.startswith("detections on ") else
                "svg+xml" if alt.startswith("precision-recall curve") else "png")
        match = re.fullmatch(rf"data:image/{re.escape(kind)};base64,([A-Za-z0-9+/=]+)", attrs["src"])
        assert match, attrs["src"][:60]
        data = base64.b64decode(match.group(1), validate=True)
        if kind == "svg+xml":
            check_svg(data)
            continue
        magic = b"\xff\xd8\xff" if kind == "jpeg" else b"\x89PNG\r\n\x1a\n"
        assert data[:len(magic)] == magic and len(data) > 2000


def check_svg(data: bytes) -> None:
    """A well-formed SVG document with curves, and nothing that could load or run anything."""
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert "polyline" in tags and not tags & {"script", "image", "foreignObject", "a", "use"}
    assert b"http://" not in data.replace(b'xmlns="http://www.w3.org/2000/svg"', b"")


def check_offline(text: str, doc: Doc) -> None:
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "action", "data"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value[:80])
            if name == "href" and name in attrs:
                assert value.startswith("#"), value
    assert "@import" not in text and "url(" not in text


@pytest.mark.slow
def test_multi_report_sections_comparison_and_notes(multi):
    text, doc = parse(multi["out"])
    assert doc.sections == ["summary", "accuracy", "detections", "latency", "complexity",
                            "comparison", "runs", "environment"]
    check_offline(text, doc)
    check_images(doc.images())
    alts = [a["alt"] for a in doc.images()]
    assert sum(a.startswith("precision-recall curve") for a in alts) == len(SETTINGS)
    assert sum(a.startswith("latency strip plot and timeline") for a in alts) == 1  # < 100 samples
    assert "accuracy vs latency scatter" in alts

    # comparison: AP ratios against the baseline (the first run)
    rows = doc.table("compare-eval")
    heads = rows[0]
    by_run = {r[0]: r for r in rows[1:]}
    base = next(r for k, r in by_run.items() if "baseline" in k)
    other = next(r for k, r in by_run.items() if "openvino" in k)
    subset = next(r for k, r in by_run.items() if "not comparable" in k)
    col = heads.index("wider/hard")
    assert base[col].endswith("baseline")
    assert other[col].split()[1] == "\u00d70.900"
    assert subset[col].endswith("no ratio")

    # same preset name, another recipe: a side note names what differs
    recipe = [n for n in doc.notes if "another recipe" in n]
    assert len(recipe) == 1 and "/ openvino /" in recipe[0], doc.notes
    assert "preset omz for layout A vs layout B" in recipe[0]
    assert "nms_scope per_level vs global" in recipe[0]
    assert "score_threshold None vs 0.02" in recipe[0]
    acc = doc.table("ap")
    assert {r[acc[0].index("preset")] for r in acc[1:]} == {"omz (A)", "omz (B)"}

    # the incompatibility is a visible note naming the difference
    notes = [n for n in doc.notes if "not comparable" in n]
    assert any("evaluated on 3 images vs 5" in n and "eval-subset" in n for n in notes), doc.notes
    # the accuracy-latency pairing is stated
    pairs = doc.table("pairs")
    assert len(pairs) == 3 and {p[2] for p in pairs[1:]} == {"sha256"}  # eval + subset (ORT)

    # latency percentiles equal results.json
    lat = json.loads((multi["lat"] / "results.json").read_text())["runs"][0]
    lat_rows = doc.table("lat")
    assert lat_rows[1][lat_rows[0].index("p50 ms")] == f"{lat['latency_p50_ms']:.2f}"
    assert lat_rows[1][lat_rows[0].index("p99 ms")] == f"{lat['latency_p99_ms']:.2f}"
    # complexity names its rules
    prof = json.loads((multi["prof"] / "results.json").read_text())
    cx = doc.table("cx")
    cell = cx[1][cx[0].index("GFLOPs (OMZ 2019)")]
    assert cell.startswith(f"{prof['gflops_omz']:.4f}") and prof["gflops_omz_rule"] in cell


@pytest.mark.slow
def test_report_csv_matches_results_json(multi):
    table = pd.read_csv(multi["out"].with_suffix(".csv"))
    assert {"run", "kind", "metric", "value", "unit", "protocol", "setting"} <= set(table.columns)
    record = json.loads((multi["eval"] / "results.json").read_text())
    evals = table[(table.kind == "eval") & (table.metric == "ap")]
    assert len(evals) == 3 * len(SETTINGS)
    base = evals[evals.is_baseline]
    for metric in record["metrics"]:
        row = base[(base.protocol == metric["protocol"]) & (base.setting == metric["setting"])]
        assert row.value.item() == pytest.approx(metric["ap"], rel=1e-12)
        assert row.unit.item() == "fraction"
    other = evals[evals.result_dir == str(multi["other"])]
    assert other.ratio_to_baseline.to_numpy() == pytest.approx([0.9] * len(SETTINGS))
    subset = evals[evals.result_dir == str(multi["subset"])]
    assert subset.ratio_to_baseline.isna().all()
    lat = json.loads((multi["lat"] / "results.json").read_text())["runs"][0]
    lat_rows = table[table.kind == "latency"].set_index("metric")
    for key in ("latency_p50_ms", "latency_p99_ms", "compile_time_ms", "throughput_fps"):
        assert lat_rows.loc[key, "value"] == pytest.approx(lat[key], rel=1e-12)
    assert lat_rows.loc["latency_p50_ms", "unit"] == "ms"
    prof = json.loads((multi["prof"] / "results.json").read_text())
    prof_rows = table[table.kind == "profile"].set_index("metric")
    assert prof_rows.loc["gflops_omz", "value"] == pytest.approx(prof["gflops_omz"])
    assert prof_rows.loc["gflops_omz", "rule"] == prof["gflops_omz_rule"]


@pytest.mark.slow
def test_cli_baseline_option_and_default_path(multi, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = run_cli("report", str(multi["eval"]), str(multi["other"]),
                   "--baseline", str(multi["other"]))
    out = capsys.readouterr().out
    assert code == 0
    written = list((tmp_path / "reports").glob("report-*.html"))
    assert len(written) == 1 and f"reports/{written[0].name}" in out
    assert written[0].with_suffix(".csv").is_file()
    _, doc = parse(written[0])
    rows = doc.table("compare-eval")
    base = next(r for r in rows[1:] if "baseline" in r[0])
    assert "openvino" in base[0]
    other = next(r for r in rows[1:] if "baseline" not in r[0])
    col = rows[0].index("wider/easy")
    assert other[col].split()[1] == f"\u00d7{1 / 0.9:.3f}"


def test_strings_from_results_are_escaped(real_runs, tmp_path):
    def edit(record):
        record["model"]["name"] = XSS
        record["command_line"] = f"rfbench eval {XSS}"
        record["preset"]["name"] = XSS
        record["environment"]["cpu_model"] = XSS
        record["protocols"]["wider"] = XSS
    folder = variant(real_runs["eval"], tmp_path / "x<b>&\"'", edit)
    out = write_report([folder, real_runs["eval"]], tmp_path / "xss.html")
    text, doc = parse(out)
    assert "<script" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#x27;" in text
    allowed = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p",
               "nav", "a", "section", "div", "table", "thead", "tbody", "tr", "th", "td", "span",
               "code", "figure", "img", "figcaption", "dl", "dt", "dd"}
    assert {tag for tag, _ in doc.tags} <= allowed
    runs = doc.table("runs")
    assert any(f"rfbench eval {XSS}" in cell for row in runs for cell in row)
    row = next(r for r in runs[1:] if "x<b>" in r[1])
    assert row[1].startswith("x<b>&\"'") and row[3].startswith(XSS)
    check_images(doc.images())


def test_latency_without_samples_is_reported_with_a_note(real_runs, tmp_path):
    folder = variant(real_runs["lat"], tmp_path / "lat", lambda record: None)
    (folder / "samples.csv").unlink()
    _, doc = parse(write_report([folder], tmp_path / "r.html"))
    assert "latency" in doc.sections
    assert any("samples.csv not found" in n for n in doc.notes)
    assert not doc.images()


@pytest.mark.parametrize("case", ["missing", "empty", "schema", "file"])
def test_bad_results_folders_are_named_in_errors(real_runs, tmp_path, case, capsys):
    if case == "missing":
        bad = tmp_path / "nope"
    elif case == "empty":
        bad = tmp_path / "empty"
        bad.mkdir()
    elif case == "file":
        bad = tmp_path / "notes.txt"
        bad.write_text("x")
    else:
        bad = variant(real_runs["eval"], tmp_path / "old",
                      lambda record: record.update(schema_version=99))
    with pytest.raises(RfbenchError, match=re.escape(str(bad))):
        load_runs([real_runs["eval"], bad])
    assert run_cli("report", str(real_runs["eval"]), str(bad), "--out",
                   str(tmp_path / "r.html")) == 2
    err = capsys.readouterr().err
    assert err.startswith("rfbench: error: ") and str(bad) in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()

