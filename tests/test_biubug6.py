"""The ``biubug6`` preset against a reference written here from Pytorch_Retinaface's
``test_widerface.py`` as it runs (float32 resize with fx = fy, BGR minus (104, 117, 123),
priors per input size, decode with variances 0.1/0.2, ``/ resize``, scores > 0.02, no top-k,
``py_cpu_nms`` with +1 areas keeping IoU <= 0.4 on float32 boxes, and ``int()`` truncation of
x1, y1, x2, y2 before ``x y w h``); and end to end through ``rfbench eval``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from real_inputs import DEMONSTRATION, PARADE
from test_size_policy import reference_priorbox, reference_scale

from rfbench.cli import main
from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.detections import Detections
from rfbench.decoder.layout import resolve_layout
from rfbench.decoder.postprocess import (
    PRESET_NAMES,
    ScriptPreset,
    get_preset,
    postprocess,
    submission_xywhs,
)
from rfbench.decoder.preprocess import PIXELS_LAYOUT_B
from rfbench.decoder.sizing import ImageSizer, parse_size_policy
from rfbench.wider.predictions import read_predictions

MEAN = (104, 117, 123)


# ---------------------------------------------------------------- reference code


def reference_input(image: np.ndarray, origin_size: bool) -> tuple[np.ndarray, float]:
    """The script's tensor and ``resize``: float32 image, cv2.resize(fx=fy) unless 1, minus mean."""
    img = np.float32(image)
    resize = 1.0 if origin_size else reference_scale(img.shape[:2])
    if resize != 1:
        img = cv2.resize(img, None, None, fx=resize, fy=resize, interpolation=cv2.INTER_LINEAR)
    img -= MEAN
    return img.transpose(2, 0, 1)[None], resize


def reference_nms(dets: np.ndarray, thresh: float) -> list[int]:
    """Greedy NMS with +1 areas, keeping the boxes whose IoU with the kept one is <= thresh."""
    x1, y1, x2, y2, scores = (dets[:, k] for k in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")  # the script's argsort()[::-1]; ties broken stably
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]) + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


def reference_rows(loc, conf, net_hw, resize) -> np.ndarray:
    """The script from decode to the prediction-file rows ``x y w h score`` (ints for x y w h)."""
    dets = reference_dets(loc, conf, net_hw, resize)
    rows = [[int(b[0]), int(b[1]), int(b[2]) - int(b[0]), int(b[3]) - int(b[1]), b[4]] for b in dets]
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def reference_dets(loc, conf, net_hw, resize) -> np.ndarray:
    """The script from decode through NMS: float32 ``(N, 5)`` x1 y1 x2 y2 score, kept order."""
    priors = reference_priorbox(net_hw).astype(np.float32)
    loc, scores = loc[0].astype(np.float32), conf[0][:, 1].astype(np.float32)
    centre = priors[:, :2] + loc[:, :2] * np.float32(0.1) * priors[:, 2:]
    size = priors[:, 2:] * np.exp(loc[:, 2:] * np.float32(0.2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    h, w = net_hw
    boxes = boxes * np.array([w, h, w, h], np.float32) / np.float32(resize)
    inds = np.where(scores > 0.02)[0]
    boxes, scores = boxes[inds], scores[inds]
    order = np.argsort(-scores, kind="stable")
    dets = np.hstack((boxes[order], scores[order, None])).astype(np.float32)
    return dets[reference_nms(dets, 0.4)]


# ---------------------------------------------------------------- the preset


def test_biubug6_preset_settings():
    assert "biubug6" in PRESET_NAMES
    for kind in "AB":
        p = get_preset("biubug6", kind)
        assert isinstance(p, ScriptPreset) and p.layout_kind == kind
        assert (p.score_threshold, p.score_inclusive, p.pre_nms_top_k, p.clip_to_input) == (0.02, False, None, False)
        assert (p.nms_scope, p.nms_iou_threshold, p.nms_plus_one, p.nms_suppress_equal) == ("global", 0.4, True, False)
        assert (p.nms_in_original_pixels, p.float32_boxes, p.prediction_boxes) == (True, True, "truncated")
        assert (p.resize_float32, p.default_input_size) == (True, "native")
    record = get_preset("biubug6", "B").as_dict()
    assert record["prediction_boxes"] == "truncated" and record["default_input_size"] == "native"
    assert "prediction_boxes" not in get_preset("omz", "B").as_dict()  # other presets unchanged


def test_truncation_is_int_of_float32_boxes():
    boxes = np.array([[10.9, 20.2, 30.99, 40.5], [-0.7, -1.2, 5.5, 3.0], [1e-9, 2.9999999999, 7.0, 7.5]])
    dets = Detections(boxes, np.array([0.9, 0.5, 0.3]), np.zeros((3, 5, 2)))
    rows = submission_xywhs(dets, get_preset("biubug6", "B"))
    expected = [[int(b[0]), int(b[1]), int(b[2]) - int(b[0]), int(b[3]) - int(b[1])]
                for b in boxes.astype(np.float32)]
    np.testing.assert_array_equal(rows[:, :4], expected)
    assert rows[1, :4].tolist() == [0, -1, 5, 4]  # toward zero: -0.7 -> 0, -1.2 -> -1
    assert rows[2, 1] == 3  # 2.9999999999 is 3.0 in float32
    np.testing.assert_array_equal(submission_xywhs(dets, get_preset("omz", "B"))[:, 2],
                                  boxes[:, 2] - boxes[:, 0])


@pytest.mark.parametrize("image", [PARADE, DEMONSTRATION])
@pytest.mark.parametrize("origin_size", [True, False])
def test_biubug6_resize_is_the_scripts(wider_mini, image, origin_size):
    raw = cv2.imread(str(wider_mini / image))
    expected, resize = reference_input(raw, origin_size)
    sizer = ImageSizer(parse_size_policy("native" if origin_size else "1600:2150"), PIXELS_LAYOUT_B,
                       float32_resize=True)
    tensor, transform = sizer(raw)
    np.testing.assert_array_equal(tensor, expected)
    assert (transform.scale_x, transform.scale_y) == (resize, resize)
    if not origin_size:  # the float32 resize is not the uint8 one
        uint8 = ImageSizer(sizer.policy, PIXELS_LAYOUT_B)(raw)[0]
        assert uint8.shape == tensor.shape and not np.array_equal(uint8, tensor)


@pytest.mark.parametrize("origin_size", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_biubug6_detections_are_the_scripts(models_dir, wider_mini, origin_size):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(models_dir / "retinaface-mnet025-dynamic.onnx"),
                                   providers=["CPUExecutionProvider"])
    raw = cv2.imread(str(wider_mini / PARADE))
    feed, resize = reference_input(raw, origin_size)
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {session.get_inputs()[0].name: feed})))
    net_hw = feed.shape[2:]
    expected = reference_rows(outputs["loc"], outputs["conf"], net_hw, resize)

    preset = get_preset("biubug6", "B")
    tensor, transform = ImageSizer(parse_size_policy("native" if origin_size else "1600:2150"),
                                   PIXELS_LAYOUT_B, float32_resize=True)(raw)
    layout = resolve_layout({k: v.shape for k, v in outputs.items()})
    dets = postprocess(decode_outputs(outputs, layout, transform.network_hw), preset, transform)
    rows = submission_xywhs(dets, preset)
    assert len(expected) > 50 and rows.shape == expected.shape
    np.testing.assert_array_equal(rows[:, 4], expected[:, 4])  # same scores, same order
    # decode in float64 here vs float32 there: a truncated coordinate may differ by 1 px, rarely
    diff = np.abs(rows[:, :4] - expected[:, :4])
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.slow
def test_eval_biubug6_end_to_end(tmp_path, wider_mini, val_gt_dir, models_dir):
    out = tmp_path / "b6"
    assert main(["-q", "eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--model", str(models_dir / "retinaface-mnet025-dynamic.onnx"), "--runtime",
                 "onnxruntime", "--preset", "biubug6", "--protocol", "wider", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["preset"]["name"] == "biubug6" and record["preset"]["prediction_boxes"] == "truncated"
    assert record["model"]["input_size_policy"] == "native"  # the preset's default
    assert record["preprocessing"]["resize_dtype"] == "float32"
    sizes = {(s["height"], s["width"]): s["images"] for s in record["input_sizes"]["sizes"]}
    shapes = [cv2.imread(str(p)).shape[:2] for p in sorted((wider_mini / "WIDER_val/images").rglob("*.jpg"))]
    assert sizes == {hw: shapes.count(hw) for hw in set(shapes)}
    preds, missing = read_predictions(out / "predictions", [PARADE[len("WIDER_val/images/"):-4]])
    assert not missing
    rows = next(iter(preds.values()))
    assert len(rows) > 50 and np.array_equal(rows[:, :4], np.round(rows[:, :4]))  # integer boxes
