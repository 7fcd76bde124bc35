"""Test-time augmentation (``--flip``, ``--scales``, ``--merge vote``): the flip mapping and
insightface's box voting on hand-worked cases, reference code for the voting written here from
its description, the pyramid of insightface's test script, a real flipped view against the
unflipped one, and the bad inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from real_inputs import PARADE

from rfbench.cli import main
from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.detections import Detections
from rfbench.decoder.layout import resolve_layout
from rfbench.decoder.nms import pair_iou
from rfbench.decoder.postprocess import candidates, get_preset
from rfbench.decoder.preprocess import PIXELS_LAYOUT_B, ImageTransform, preprocess_scaled
from rfbench.decoder.sizing import parse_size_policy
from rfbench.decoder.tta import INSIGHTFACE_SCALES, TtaPlan, box_vote, parse_scales


def dets(boxes, scores):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    points = np.repeat(boxes[:, None, :2], 5, axis=1) + np.arange(5)[None, :, None]
    return Detections(boxes, np.asarray(scores, dtype=np.float64), points)


def reference_vote(det: np.ndarray, thresh: float) -> np.ndarray:
    """insightface's bbox_vote as described: rows sorted by score; the top row and every row with
    IoU (+1) >= thresh leave together; two or more -> score-weighted mean box, max score; a lone
    row is kept only when nothing is left after it; at most 750 rows."""
    det = det[np.argsort(-det[:, 4], kind="stable")]
    out = []
    while det.shape[0] > 0:
        area = (det[:, 2] - det[:, 0] + 1) * (det[:, 3] - det[:, 1] + 1)
        xx1, yy1 = np.maximum(det[0, 0], det[:, 0]), np.maximum(det[0, 1], det[:, 1])
        xx2, yy2 = np.minimum(det[0, 2], det[:, 2]), np.minimum(det[0, 3], det[:, 3])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        o = inter / (area[0] + area - inter)
        idx = np.where(o >= thresh)[0]
        group, det = det[idx], np.delete(det, idx, 0)
        if idx.shape[0] <= 1:
            if det.shape[0] == 0:
                out.append(group[0])
            continue
        box = (group[:, :4] * group[:, 4:5]).sum(axis=0) / group[:, 4].sum()
        out.append(np.r_[box, group[:, 4].max()])
    return np.array(out).reshape(-1, 5)[:750]


# ---------------------------------------------------------------- voting


def test_vote_hand_worked():
    # a box, a shifted copy and an equal copy form one group; two far boxes are alone
    d = dets([[0, 0, 20, 20], [2, 0, 22, 20], [100, 100, 110, 110], [0, 0, 20, 20], [200, 200, 210, 210]],
             [0.9, 0.6, 0.8, 0.3, 0.2])
    out = box_vote(d, 0.4)
    # group of the 0.9 box: itself, the 0.6 box (IoU 19*21 / (2*441 - 399) = 0.826) and the 0.3 box
    w = np.array([0.9, 0.6, 0.3])
    x1 = (0 * 0.9 + 2 * 0.6 + 0 * 0.3) / w.sum()
    x2 = (20 * 0.9 + 22 * 0.6 + 20 * 0.3) / w.sum()
    # the lone 0.8 box is not the last one left: dropped, as insightface does; the lone 0.2 box is
    assert len(out) == 2 and out.scores.tolist() == [0.9, 0.2]
    np.testing.assert_allclose(out.boxes, [[x1, 0, x2, 20], [200, 200, 210, 210]])
    # a lone box that is the last one left is kept
    last = box_vote(dets([[0, 0, 20, 20], [1, 0, 21, 20], [100, 100, 110, 110]], [0.9, 0.8, 0.1]), 0.4)
    assert len(last) == 2 and last.scores.tolist() == [0.9, 0.1]
    assert len(box_vote(Detections.empty(), 0.4)) == 0


def test_vote_matches_reference_on_random_boxes():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(1, 60))
        xy = rng.uniform(0, 80, (n, 2))
        wh = rng.uniform(2, 40, (n, 2))
        boxes, scores = np.c_[xy, xy + wh], rng.permutation(n) / n + 0.01
        out = box_vote(dets(boxes, scores), 0.4)
        ref = reference_vote(np.c_[boxes, scores], 0.4)
        np.testing.assert_allclose(np.c_[out.boxes, out.scores], ref, rtol=1e-12)


# ---------------------------------------------------------------- flip mapping and the pyramid


def test_flip_mapping_hand_worked():
    # one detection in a flipped 100-wide network view at scale 0.5 (layout B: x -> W - x)
    view = dets([[10, 20, 30, 40]], [0.9])
    transform = ImageTransform(0.5, 0.5, 0.0, 0.0, (80, 100))
    out = candidates([view], get_preset("insightface", "B"), transform, unflip_width=100.0)
    np.testing.assert_allclose(out.boxes, [[140, 40, 180, 80]])  # [70, 20, 90, 40] / 0.5
    # landmarks mirrored and left/right swapped: point k of the flipped view (x = 10 + k) ends as
    # point [1, 0, 2, 4, 3][k] ... i.e. new point 0 is old point 1 mirrored
    old_x = view.landmarks[0, :, 0]
    np.testing.assert_allclose(out.landmarks[0, :, 0], (100 - old_x[[1, 0, 2, 4, 3]]) / 0.5)
    # layout A (insightface, inclusive pixels): x -> W - 1 - x
    a = candidates([view], get_preset("insightface", "A"), transform, unflip_width=99.0)
    np.testing.assert_allclose(a.boxes, [[138, 40, 178, 80]])


def test_insightface_pyramid_scales():
    # test_widerface.py mode 1: TEST_SCALES [500, 800, 1100, 1400, 1700] / 800 times the
    # 800:1200 scale of the image
    assert INSIGHTFACE_SCALES == tuple(s / 800 for s in (500, 800, 1100, 1400, 1700))
    base = parse_size_policy("800:1200").scale_for((681, 1024))
    assert base == 1200 / 1024  # 800/681 * 1024 = 1203 > 1200
    plan = TtaPlan(scales=INSIGHTFACE_SCALES, flip=True, merge="vote")
    assert plan.views()[:3] == [(0.625, False), (0.625, True), (1.0, False)] and len(plan.views()) == 10


def test_real_flipped_view_finds_the_same_faces(models_dir, wider_mini):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(models_dir / "retinaface-mnet025-dynamic.onnx"),
                                   providers=["CPUExecutionProvider"])
    image = cv2.imread(str(wider_mini / PARADE))
    preset = get_preset("insightface", "B")
    views = []
    for flipped in (False, True):
        view = np.ascontiguousarray(image[:, ::-1]) if flipped else image
        tensor, transform = preprocess_scaled(view, 1.0, PIXELS_LAYOUT_B)
        out = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, {session.get_inputs()[0].name: tensor})))
        levels = decode_outputs(out, resolve_layout({k: v.shape for k, v in out.items()}), transform.network_hw)
        views.append(candidates(levels, preset, transform, float(image.shape[1]) if flipped else None))
    plain, mirrored = (v.take(v.scores > 0.8) for v in views)
    assert len(plain) >= 15
    best = np.array([pair_iou(np.r_[plain.boxes, mirrored.boxes], np.full(len(mirrored), i),
                              len(plain) + np.arange(len(mirrored))).max() for i in range(len(plain))])
    assert np.median(best) > 0.85  # without the mapping back the flipped faces would not overlap


# ---------------------------------------------------------------- options and bad input


@pytest.mark.parametrize("text", ["", " , ", "0", "1,-2", "a,b", "nan", "inf"])
def test_bad_scales(text):
    with pytest.raises(ValueError):
        parse_scales(text)
    assert parse_scales("0.625, 1,1.375") == (0.625, 1.0, 1.375)


@pytest.mark.slow
def test_bad_tta_options_are_one_line_errors(tmp_path, capsys, wider_mini, val_gt_dir, models_dir):
    base = ["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir)]
    dynamic = str(models_dir / "retinaface-mnet025-dynamic.onnx")
    cases = [
        (["--model", dynamic, "--input-size", "native", "--scales", "0,1"], "--scales '0,1'"),
        (["--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--flip", "--preset", "biubug6"],
         "native or S:L"),  # a static model runs at its fixed size: no per-image views
        (["--model", dynamic, "--input-size", "640x640", "--flip", "--preset", "insightface"], "native or S:L"),
    ]
    for i, (extra, message) in enumerate(cases):
        code = main([*base, *extra, "--out", str(tmp_path / f"x{i}")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err


@pytest.mark.slow
def test_tta_end_to_end_recorded(tmp_path, wider_mini, val_gt_dir, models_dir):
    out = tmp_path / "tta"
    assert main(["-q", "eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--model", str(models_dir / "retinaface-mnet025-dynamic.onnx"), "--runtime", "onnxruntime",
                 "--preset", "insightface", "--input-size", "800:1200", "--scales", "0.625,1", "--flip",
                 "--merge", "vote", "--protocol", "wider", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    tta = record["test_time_augmentation"]
    assert (tta["scales"], tta["flip"], tta["merge"], tta["views"]) == ([0.625, 1.0], True, "vote", 4)
    assert record["input_sizes"]["images"] == 5 * 4
    assert all(m["ap"] > 0.5 for m in record["metrics"])
