"""The report's answer-first parts: the summary table against the records, the latency
comparability rule, the detections drawn on real fixture images (TP / FP / missed counts
against an independent count written here), the strip-plot threshold, distinguishable
curves and the per-layer table. Real runs come from ``real_runs`` (conftest.py)."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from rfbench.report import build_entries, load_runs, plots, write_report
from rfbench.report.drawings import COLOURS, SCORE_THRESHOLD, draw
from rfbench.report.outcomes import (
    GT_FOUND,
    GT_IGNORED,
    GT_MISSED,
    PRED_FP,
    PRED_TP,
    ImageOutcome,
    classify_official,
    classify_omz,
)
from rfbench.report.summary import build_summary
from rfbench.wider.ground_truth import load_ground_truth
from rfbench.wider.predictions import read_predictions


def copy_run(src: Path, dst: Path, edit=None) -> Path:
    """Copy a results folder's files (not its predictions) and edit its record."""
    dst.mkdir(parents=True)
    for name in ("results.json", "samples.csv", "layers.csv"):
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    if edit is not None:
        record = json.loads((dst / "results.json").read_text())
        edit(record)
        (dst / "results.json").write_text(json.dumps(record))
    return dst


def summary_rows(html: str) -> list[list[str]]:
    """Cell texts of the summary table (header first)."""
    block = re.search(r'<table class="summary">(.*?)</table>', html, re.S).group(1)
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", block, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return rows


# -- summary ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_summary_comes_first_and_equals_the_records(real_runs, tmp_path):
    out = write_report([real_runs["eval"], real_runs["lat"], real_runs["prof"]],
                       tmp_path / "r.html")
    html = out.read_text(encoding="utf-8")
    assert re.findall(r'<section id="(\w+)"', html)[0] == "summary"
    ev = json.loads((real_runs["eval"] / "results.json").read_text())
    lat = json.loads((real_runs["lat"] / "results.json").read_text())["runs"][0]
    prof = json.loads((real_runs["prof"] / "results.json").read_text())
    rows = summary_rows(html)
    header, body = rows[0], rows[1:]
    assert len(body) == 1  # same model, runtime, precision, input: one configuration
    row = dict(zip(header, body[0]))
    assert row["model"].startswith(ev["model"]["name"])
    assert ev["model"]["sha256"][:12] in row["model"]
    assert row["runtime"] == "onnxruntime" == lat["runtime"]
    assert row["device"] == lat["device"]
    assert row["precision"] == lat["precision_effective"]
    assert row["input"] == "x".join(map(str, lat["inputs"][0]["shape"]))
    ap = {m["setting"]: m["ap"] for m in ev["metrics"]}
    for setting in ("easy", "medium", "hard", "64px"):
        assert row[f"AP {setting} %"] == f"{ap[setting] * 100:.2f}"
    assert row["p50 ms"] == f"{lat['latency_p50_ms']:.2f}"
    assert row["throughput fps"] == f"{lat['throughput_fps']:.2f}"
    assert row["GFLOPs"] == f"{prof['gflops_omz']:.3f}"
    assert row["valid"] == ("yes" if lat["valid"] else "NOT VALID")


def test_invalid_run_is_marked(real_runs, tmp_path):
    def invalid(record):
        record["valid"] = False
        record["runs"][0].update(valid=False, invalid_reason="only 3 samples (minimum 30)")

    bad = copy_run(real_runs["lat"], tmp_path / "bad", invalid)
    html = write_report([bad], tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<tr class="invalid">' in html
    assert summary_rows(html)[1][-1] == "NOT VALID"
    assert "latency NOT VALID: only 3 samples (minimum 30)" in html


def _other_model(record):
    record["model_sha256"] = "f" * 64
    record["settings"]["model"] = "/models/retinaface-r50.onnx"
    for run in record["runs"]:
        run["model"] = "/models/retinaface-r50.onnx"


def _other_shape(record):
    for run in record["runs"]:
        run["inputs"][0]["shape"] = [1, 3, 480, 640]


def _slower(record):
    for run in record["runs"]:
        run["latency_p50_ms"] *= 2
        run["throughput_fps"] /= 2


@pytest.mark.slow
def test_latency_ratios_only_between_comparable_runs(real_runs, tmp_path):
    dirs = [real_runs["lat"],
            copy_run(real_runs["lat"], tmp_path / "slower", _slower),
            copy_run(real_runs["lat"], tmp_path / "r50", _other_model),
            copy_run(real_runs["lat"], tmp_path / "shape", _other_shape)]
    rows = build_summary(build_entries(load_runs(dirs)))
    assert [r.is_reference for r in rows] == [True, False, False, False]
    base, slower, r50, shape = rows
    assert slower.no_ratio_reasons == []
    assert slower.p50_ratio == pytest.approx(2.0) and slower.throughput_ratio == pytest.approx(0.5)
    assert r50.p50_ratio is None and r50.throughput_ratio is None
    assert len(r50.no_ratio_reasons) == 1 and "another model" in r50.no_ratio_reasons[0]
    assert shape.p50_ratio is None
    assert shape.no_ratio_reasons == ["input 1x3x480x640 vs 1x3x640x640"]
    # the page says why, and the comparison section gives no ratio across model files either
    html = write_report(dirs, tmp_path / "r.html").read_text(encoding="utf-8")
    table = summary_rows(html)
    p50 = table[0].index("p50 ms")
    assert table[1][p50].endswith("reference") and table[2][p50].endswith("\u00d72.000")
    assert table[3][p50].endswith("no ratio") and table[4][p50].endswith("no ratio")
    assert "no latency ratio to the reference: another model (retinaface-r50.onnx" in html
    compare = re.search(r'<table class="compare compare-latency">(.*?)</table>', html, re.S)
    r50_row = [r for r in compare.group(1).split("<tr") if "retinaface-r50.onnx" in r]
    assert len(r50_row) == 1 and "not comparable" in r50_row[0] and "\u00d7" not in r50_row[0]


def test_accuracy_and_latency_of_other_precisions_are_not_merged(real_runs, tmp_path):
    def bf16(record):
        for run in record["runs"]:
            run["precision_effective"] = "bf16"

    dirs = [real_runs["eval"], copy_run(real_runs["lat"], tmp_path / "bf16", bf16)]
    rows = build_summary(build_entries(load_runs(dirs)))
    assert len(rows) == 2
    assert rows[0].eval_entry is not None and rows[0].latency_entry is None
    assert rows[1].eval_entry is None and rows[1].precision == "bf16"


# -- detections: outcomes against an independent count ---------------------------------------

def _iou(a, b, plus_one: bool) -> float:
    """IoU of two ``x1 y1 x2 y2`` boxes, written out (not the package's pair_iou)."""
    one = 1.0 if plus_one else 0.0
    iw = min(a[2], b[2]) - max(a[0], b[0]) + one
    ih = min(a[3], b[3]) - max(a[1], b[1]) + one
    if plus_one and (iw <= 0 or ih <= 0):
        return 0.0
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = ((a[2] - a[0] + one) * (a[3] - a[1] + one) + (b[2] - b[0] + one) * (b[3] - b[1] + one)
             - inter)
    return inter / union if union else 0.0


def independent_official(gt_xywh, listed, preds):
    """(TP, FP, missed) of one image under the official matching, by plain loops: predictions
    by score, each to its best GT (+1 IoU, first on ties); listed GT recalled once."""
    gts = [(x, y, x + w, y + h) for x, y, w, h in gt_xywh]
    listed, recalled = set(int(i) for i in listed), set()
    tp = fp = 0
    for p in sorted(preds.tolist(), key=lambda r: -r[4]):
        if p[4] < SCORE_THRESHOLD:
            continue
        box = (p[0], p[1], p[0] + p[2], p[1] + p[3])
        ious = [_iou(box, g, True) for g in gts]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= 0.5:
            if best not in listed:
                continue  # matches a face outside the list: not a proposal
            if best not in recalled:
                recalled.add(best)
                tp += 1
                continue
        fp += 1
    return tp, fp, len(listed) - len(recalled)


def independent_omz(gt_xywh, preds):
    """(TP, FP, missed) of one image under the OMZ rule (rounded boxes, faces 64..1024 px)."""
    gts = [np.clip(np.rint([x, y, x + w, y + h]), 0, 1024) for x, y, w, h in gt_xywh]
    counted = [(g[3] - g[1] >= 64) and (g[3] - g[1] < 1024) and g[2] > g[0] for g in gts]
    used, tp, fp = set(), 0, 0
    for p in sorted(preds.tolist(), key=lambda r: -r[4]):
        if p[4] < SCORE_THRESHOLD:
            continue
        box = np.rint([p[0], p[1], p[0] + p[2], p[1] + p[3]])
        ious = [_iou(box, g, False) for g in gts]
        best_c = max([v for v, c in zip(ious, counted) if c], default=-1.0)
        best_i = max([v for v, c in zip(ious, counted) if not c], default=-1.0)
        m = best_i if best_c < 0.5 and best_i >= 0 else best_c
        if m < 0.5:
            fp += 1
            continue
        members = {k for k, v in enumerate(ious) if v == m}  # every tied box, any group
        if not all(counted[k] for k in members):  # an ignored hit: neither, then FP
            fp += bool(members & used)
            used |= members
        elif members & used:
            fp += 1
        else:
            tp += 1
            used |= members
    return tp, fp, sum(1 for k, c in enumerate(counted) if c and k not in used)


@pytest.fixture(scope="module")
def eval_data(real_runs):
    record = json.loads((real_runs["eval"] / "results.json").read_text())
    dataset = record["dataset"]
    gt = load_ground_truth(dataset["data_root"], gt_text=dataset["gt_text"],
                           mat_dir=dataset["setting_lists"])
    predictions, _missing = read_predictions(real_runs["eval"] / "predictions", gt.image_ids)
    return gt, predictions


def test_official_outcomes_equal_an_independent_count(eval_data):
    gt, predictions = eval_data
    outcomes = classify_official(gt, predictions, SCORE_THRESHOLD, "hard")
    totals = np.zeros(3, dtype=int)
    for image, outcome in enumerate(outcomes):
        expected = independent_official(gt.boxes_xywh[image], gt.setting_indices["hard"][image],
                                        predictions[outcome.image_id])
        got = (outcome.count(PRED_TP), outcome.count(PRED_FP), outcome.count(GT_MISSED))
        assert got == expected, outcome.image_id
        assert outcome.count(GT_FOUND) == outcome.count(PRED_TP)
        assert outcome.faces_counted == len(gt.setting_indices["hard"][image])
        # the counts the report picks its drawn images by, known before any image is built
        assert (outcomes.missed[image], outcomes.counted[image]) == (got[2], outcome.faces_counted)
        totals += got
    assert totals[0] > 100 and totals[2] > 0  # real detections and real misses were counted
    parade = next(o for o in outcomes if o.image_id.startswith("0--Parade"))
    assert parade.count(PRED_TP) == 24 and parade.count(GT_MISSED) == 0  # fixtures README


def test_omz_outcomes_equal_an_independent_count(eval_data):
    gt, predictions = eval_data
    outcomes = classify_omz(gt, predictions, SCORE_THRESHOLD)
    for image, outcome in enumerate(outcomes):
        expected = independent_omz(gt.boxes_xywh[image], predictions[outcome.image_id])
        got = (outcome.count(PRED_TP), outcome.count(PRED_FP), outcome.count(GT_MISSED))
        assert got == expected, outcome.image_id
    assert sum(o.faces_counted for o in outcomes) == 43  # fixtures README: 43 faces >= 64 px


def test_outcomes_on_a_made_up_image_cover_every_case():
    """Every branch: a found face, a duplicate (FP), a detection on a face outside the list /
    under 64 px (ignored), one on nothing (FP), one below the threshold (not kept), a miss."""
    from rfbench.wider.ground_truth import WiderGroundTruth

    gt_boxes = [[100, 100, 80, 80], [300, 100, 80, 80], [500, 100, 30, 30], [700, 100, 80, 80]]
    preds = np.array([[101, 101, 80, 80, 0.95],   # face 0: TP
                      [103, 99, 80, 82, 0.90],    # face 0 again: FP (duplicate)
                      [500, 100, 30, 31, 0.85],   # face 2: outside the list / under 64 px
                      [900, 400, 60, 60, 0.80],   # nothing there: FP
                      [300, 100, 80, 80, 0.30]])  # face 1, below the threshold: not kept
    gt = WiderGroundTruth.from_arrays(["e/img"], [gt_boxes], {"hard": [[0, 1, 3]]})
    official = classify_official(gt, {"e/img": preds}, SCORE_THRESHOLD, "hard")[0]
    omz = classify_omz(gt, {"e/img": preds}, SCORE_THRESHOLD)[0]
    for outcome in (official, omz):
        assert len(outcome.pred_xywhs) == 4
        assert list(outcome.pred_outcome) == [PRED_TP, PRED_FP, "ignored", PRED_FP]
        assert list(outcome.gt_outcome) == [GT_FOUND, GT_MISSED, GT_IGNORED, GT_MISSED]
    assert (official.count(PRED_TP), official.count(PRED_FP), official.count(GT_MISSED)) == \
        independent_official(gt_boxes, [0, 1, 3], preds) == (1, 2, 2)
    assert (omz.count(PRED_TP), omz.count(PRED_FP), omz.count(GT_MISSED)) == \
        independent_omz(gt_boxes, preds) == (1, 2, 2)


@pytest.mark.slow
def test_page_counts_equal_the_independent_count(real_runs, eval_data, tmp_path):
    gt, predictions = eval_data
    html = write_report([real_runs["eval"]], tmp_path / "r.html").read_text(encoding="utf-8")
    block = re.search(r'<table class="missed">(.*?)</table>', html, re.S).group(1)
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", block, re.S)][1:]
    assert len(rows) == len(gt.image_ids)
    missed = []
    for row in rows:
        image = gt.image_ids.index(row[0])
        tp, fp, miss = independent_official(gt.boxes_xywh[image],
                                            gt.setting_indices["hard"][image],
                                            predictions[row[0]])
        assert (int(row[3]), int(row[4]), int(row[5])) == (miss, tp, fp), row
        missed.append(miss)
    assert missed == sorted(missed, reverse=True)  # most missed first
    drawn = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)" alt="detections on ([^"]+)"',
                       html)
    assert [name for _, name in drawn] == [row[0] for row in rows[:3]]
    import cv2

    for data, _name in drawn:
        image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[1] == 480
    assert "landmarks dotted" in html  # the eval run kept them in landmarks/


def test_landmark_sidecars_hold_the_confident_prediction_rows(real_runs, eval_data):
    """Each model-run image has a sidecar whose boxes and scores are exactly the prediction
    file's rows scoring >= 0.5, with five landmark points inside (or at) each box."""
    from rfbench.accuracy.landmarks import MIN_SCORE, read_landmarks_file

    gt, predictions = eval_data
    folder = real_runs["eval"] / "landmarks"
    for image_id in gt.image_ids:
        rows = read_landmarks_file(folder, image_id)
        preds = predictions[image_id]
        confident = preds[preds[:, 4] >= MIN_SCORE]
        assert len(rows) == len(confident) > 0, image_id
        np.testing.assert_array_equal(rows[:, :5], confident)
        points = rows[:, 5:].reshape(-1, 5, 2)
        x, y, w, h = (rows[:, k, None] for k in range(4))
        inside = ((points[..., 0] >= x - 0.25 * w) & (points[..., 0] <= x + 1.25 * w)
                  & (points[..., 1] >= y - 0.25 * h) & (points[..., 1] <= y + 1.25 * h))
        assert inside.mean() > 0.95, image_id


def test_drawings_are_skipped_with_a_note_when_the_data_root_is_gone(real_runs, tmp_path):
    def moved(record):
        record["dataset"]["data_root"] = str(tmp_path / "gone")

    run = copy_run(real_runs["eval"], tmp_path / "eval", moved)
    html = write_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "detections not drawn: data root not found: " in html
    assert "data:image/jpeg" not in html


def test_draw_uses_one_colour_per_outcome():
    image = np.full((200, 480, 3), 255, np.uint8)
    outcome = ImageOutcome(
        "e/x", np.array([[10, 10, 40, 40, 0.9], [200, 10, 40, 40, 0.8]]),
        np.array([PRED_TP, PRED_FP], dtype=object),
        np.array([[10, 10, 40, 40], [300, 100, 50, 50], [400, 20, 30, 30]]),
        np.array([GT_FOUND, GT_MISSED, GT_IGNORED], dtype=object))
    out = draw(image, outcome, np.zeros((0, 15)))
    for what, (x, y) in ((PRED_TP, (10, 30)), (PRED_FP, (200, 30)), (GT_MISSED, (300, 125)),
                         (GT_IGNORED, (400, 35))):
        assert np.abs(out[y, x].astype(int) - COLOURS[what][0]).max() < 60, (what, out[y, x])


# -- plots -----------------------------------------------------------------------------------

def test_histogram_only_from_the_threshold_on(real_runs):
    entry = next(e for e in build_entries(load_runs([real_runs["lat"]])))
    assert plots.HISTOGRAM_MIN_SAMPLES == 100
    for n, kind in ((99, "strip plot"), (100, "histogram")):
        samples = pd.DataFrame({"iteration": range(n),
                                "latency_ms": np.linspace(10, 20, n)})
        assert plots.distribution_kind(n) == kind
        ax = plots.latency_figure("x", entry.data, samples, "#1f77b4").axes[0]
        bars, dots = len(ax.patches), sum(len(c.get_offsets()) for c in ax.collections)
        assert (bars > 0, dots) == ((True, 0) if kind == "histogram" else (False, n))
        assert ax.get_title() == f"{kind} ({n} samples)"


def _svg_curves(uri: str) -> list:
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    root = ElementTree.fromstring(base64.b64decode(uri[len(prefix):]))
    return [e for e in root.iter("{http://www.w3.org/2000/svg}polyline") if e.get("class") == "curve"]


def test_identical_curves_differ_in_style():
    curve = {"precision": [1.0, 0.8, 0.5], "recall": [0.1, 0.5, 0.9], "ap": 0.6}
    curves = [{**curve, "label": f"run {i}", "colour": plots.colour(i)} for i in range(3)]
    lines = _svg_curves(plots.pr_curve_plot("wider/hard", curves))
    styles = {(line.get("data-style"), line.get("stroke-dasharray")) for line in lines}
    widths = [float(line.get("stroke-width")) for line in lines]
    assert len(lines) == 3 and len(styles) == 3 and widths == sorted(widths, reverse=True)


def test_pr_curve_svg_draws_the_points_in_recall_order():
    """The polyline is the curve: x = recall and y = precision mapped linearly to the axes box,
    sorted by recall; a long curve is thinned to MAX_CURVE_POINTS; text is escaped."""
    from rfbench.report import svg_plot

    rng = np.random.default_rng(3)
    recall = rng.uniform(0, 1, 9000)
    precision = rng.uniform(0, 1, 9000)
    uri = plots.pr_curve_plot("wider/<easy>", [{"label": "a & $b$", "precision": precision,
                                                "recall": recall, "ap": 0.5, "colour": "#123456"}])
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert "wider/&lt;easy&gt;" in svg and "a &amp; $b$  AP 50.00" in svg
    (line,) = _svg_curves(uri)
    xy = np.array([p.split(",") for p in line.get("points").split()], dtype=float)
    keep = np.unique(np.linspace(0, 8999, plots.MAX_CURVE_POINTS).astype(int))
    order = np.argsort(recall[keep], kind="stable")
    want_x = svg_plot.LEFT + recall[keep][order] * (svg_plot.RIGHT - svg_plot.LEFT)
    want_y = svg_plot.BOTTOM - precision[keep][order] / svg_plot.Y_MAX * (svg_plot.BOTTOM - svg_plot.TOP)
    assert len(xy) == plots.MAX_CURVE_POINTS
    assert np.abs(xy[:, 0] - want_x).max() <= 0.05 + 1e-9
    assert np.abs(xy[:, 1] - want_y).max() <= 0.05 + 1e-9


# -- per-layer times -------------------------------------------------------------------------

def test_per_layer_table_shows_full_names_slowest_first(real_runs, tmp_path):
    runtime = json.loads((real_runs["lat"] / "results.json").read_text())["runs"][0]["runtime"]
    long_name = "/body/stage1/" + "very_long_layer_name/" * 6 + "Conv"
    layers = pd.DataFrame([
        {"name": "fast", "type": "Relu", "exec_type": "jit", "status": "EXECUTED",
         "time_ms": 0.25, "samples": 30, "runtime": runtime, "share_pct": 5.0},
        {"name": long_name, "type": "Conv", "exec_type": "brgconv", "status": "EXECUTED",
         "time_ms": 4.5, "samples": 30, "runtime": runtime, "share_pct": 90.0},
    ])

    def per_layer(record):
        record["settings"]["per_layer"] = True
        record["layers_file"] = "layers.csv"

    run = copy_run(real_runs["lat"], tmp_path / "layers", per_layer)
    layers.to_csv(run / "layers.csv", index=False)
    html = write_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    block = re.search(r'<table class="layers">(.*?)</table>', html, re.S).group(1)
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", block, re.S)]
    assert rows[0] == ["#", "name", "type", "exec type", "status", "time ms", "samples", "share %"]
    assert rows[1] == ["1", long_name, "Conv", "brgconv", "EXECUTED", "4.500", "30", "90.0"]
    assert rows[2][1] == "fast"
    assert "The 2 slowest of 2 layers, from layers.csv" in html


def _detections_section(html: str) -> str:
    start = html.index('id="detections"')
    return html[start:html.index("<section", start)]


def test_eval_hands_its_gt_and_predictions_to_the_report(capsys, tmp_path, monkeypatch, real_runs,
                                                         wider_mini, val_gt_dir):
    """``eval --predictions`` reads the GT and the prediction files once: its report draws from
    what it scored, and draws the same as a report reading the folder back from disk."""
    import rfbench.wider.ground_truth as ground_truth
    import rfbench.wider.predictions as predictions_module
    from rfbench.cli import main

    calls = {"gt": 0, "predictions": 0}

    def counted(name, original):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(ground_truth, "load_ground_truth",
                        counted("gt", ground_truth.load_ground_truth))
    monkeypatch.setattr(predictions_module, "read_prediction_folder",
                        counted("predictions", predictions_module.read_prediction_folder))
    out = tmp_path / "scored"
    assert main(["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--predictions", str(real_runs["eval"] / "predictions"), "--out", str(out)]) == 0
    assert calls == {"gt": 1, "predictions": 1}
    from_eval = _detections_section((out / "report.html").read_text(encoding="utf-8"))
    assert from_eval.count('<figure class="drawn">') == 3
    capsys.readouterr()
    again = write_report([out], tmp_path / "again.html")  # a folder from disk: read afresh
    assert calls == {"gt": 2, "predictions": 2}
    assert _detections_section(again.read_text(encoding="utf-8")) == from_eval


def test_official_outcomes_from_the_evals_matches_are_the_same(eval_data):
    """The report reuses the eval's matches of all predictions (filtered at the threshold):
    the same outcomes as matching the kept predictions afresh."""
    from rfbench.evaluation.official import match_official

    gt, predictions = eval_data
    fresh = classify_official(gt, predictions, SCORE_THRESHOLD, "hard")
    reused = classify_official(gt, predictions, SCORE_THRESHOLD, "hard", match_official(gt, predictions))
    assert fresh.missed.tolist() == reused.missed.tolist() and len(fresh) == len(reused)
    for a, b in zip(fresh, reused):
        np.testing.assert_array_equal(a.pred_xywhs, b.pred_xywhs)
        assert a.pred_outcome.tolist() == b.pred_outcome.tolist()
        assert a.gt_outcome.tolist() == b.gt_outcome.tolist()
