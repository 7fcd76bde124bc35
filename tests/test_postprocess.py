"""Post-processing presets against independent implementations of the two reference recipes."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from real_inputs import DEMONSTRATION as IMAGE

from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.detections import Detections
from rfbench.decoder.layout import resolve_layout
from rfbench.decoder.postprocess import PRESET_NAMES, get_preset, postprocess
from rfbench.decoder.preprocess import ImageTransform
from rfbench.errors import RfbenchError


def greedy(boxes, scores, thr, plus_one=False, suppress_equal=False):
    """Plain greedy NMS loop (independent of rfbench.decoder.nms); ties: lower index first."""
    p = 1.0 if plus_one else 0.0
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1 + p) * (y2 - y1 + p)
    order = np.array(sorted(range(len(scores)), key=lambda i: (-scores[i], i)), dtype=np.int64)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        inter = (np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + p)
                 * np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + p))
        union = areas[i] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)
        order = rest[iou < thr] if suppress_equal else rest[iou <= thr]
    return np.array(keep, dtype=np.int64)


def map_back(points, orig_hw, net_hw=(640, 640)):
    """OMZ's anisotropic map back: x * W / 640, y * H / 640, for boxes (N, 4) or points (N, 5, 2)."""
    scale = np.array([orig_hw[1] / net_hw[1], orig_hw[0] / net_hw[0]])
    return points * np.tile(scale, points.shape[-1] // 2)


def by_score(boxes, scores, landmarks):
    order = np.array(sorted(range(len(scores)), key=lambda i: (-scores[i], i)), dtype=np.int64)
    return boxes[order], scores[order], landmarks[order]


def assert_same(got: Detections, boxes, scores, landmarks):
    np.testing.assert_array_equal(got.scores, scores)
    np.testing.assert_allclose(got.boxes, boxes, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.landmarks, landmarks, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def real(mnet_ort_outputs, wider_mini):
    """Decoded levels of both real models on one image, its size and its transform."""
    outputs = mnet_ort_outputs(IMAGE)
    levels = {}
    for name, kind in (("omzlayout", "A"), ("640", "B")):
        out = outputs[name]
        levels[kind] = decode_outputs(out, resolve_layout({k: v.shape for k, v in out.items()}), (640, 640))
    hw = cv2.imread(str(wider_mini / IMAGE)).shape[:2]
    return levels, hw, ImageTransform.stretch(hw, (640, 640))


# ---------------------------------------------------------------- presets and transform


def test_presets_carry_the_reference_settings():
    omz_a, omz_b = get_preset("omz", "A"), get_preset("omz", "b")
    assert (omz_a.score_threshold, omz_a.pre_nms_top_k, omz_a.nms_scope) == (None, None, "per_level")
    assert (omz_a.nms_iou_threshold, omz_a.nms_suppress_equal, omz_a.nms_plus_one) == (0.5, False, False)
    assert (omz_b.score_threshold, omz_b.score_inclusive, omz_b.pre_nms_top_k) == (0.02, False, 750)
    assert (omz_b.nms_scope, omz_b.nms_iou_threshold, omz_b.nms_suppress_equal) == ("global", 0.4, False)
    for kind in "AB":
        ins = get_preset("insightface", kind)
        assert (ins.score_threshold, ins.score_inclusive, ins.clip_to_input) == (0.02, True, True)
        assert (ins.nms_iou_threshold, ins.nms_suppress_equal, ins.nms_plus_one) == (0.4, True, True)
        assert ins.nms_scope == "global" and ins.layout_kind == kind
    record = omz_b.as_dict()
    assert record["name"] == "omz" and record["pre_nms_top_k"] == 750
    assert set(record) == {f.name for f in dataclasses.fields(omz_b)} and record["description"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        omz_a.nms_iou_threshold = 0.3
    assert PRESET_NAMES == ("omz", "insightface", "biubug6", "biubug6-fddb")
    with pytest.raises(RfbenchError, match="unknown post-processing preset 'fast'"):
        get_preset("fast", "A")
    with pytest.raises(RfbenchError, match="layout must be A or B"):
        get_preset("omz", "C")


def test_image_transform_round_trip():
    t = ImageTransform(scale_x=0.625, scale_y=0.9, offset_x=3.0, offset_y=-2.0)
    boxes = np.array([[10.0, 20.0, 30.0, 40.0], [0, 0, 1, 1]])
    net = boxes * np.tile([t.scale_x, t.scale_y], 2) + np.tile([t.offset_x, t.offset_y], 2)
    np.testing.assert_allclose(net[0], [10 * 0.625 + 3, 20 * 0.9 - 2, 30 * 0.625 + 3, 40 * 0.9 - 2])
    np.testing.assert_allclose(t.to_original(net), boxes)
    pts = np.arange(30.0).reshape(3, 5, 2)
    np.testing.assert_allclose(t.to_original(pts)[..., 0], (pts[..., 0] - 3) / 0.625)
    np.testing.assert_allclose(t.to_original(pts)[..., 1], (pts[..., 1] + 2) / 0.9)
    s = ImageTransform.stretch((683, 1024), (640, 640))
    assert (s.scale_x, s.scale_y, s.network_hw) == (640 / 1024, 640 / 683, (640, 640))
    with pytest.raises(ValueError, match="points"):
        s.to_original(np.zeros((3, 3)))


# ---------------------------------------------------------------- recipes on real outputs


def test_omz_layout_a_matches_reference(real):
    levels, hw, transform = real
    parts = [lv.take(greedy(lv.boxes, lv.scores, 0.5)) for lv in levels["A"]]  # per stride
    boxes = np.concatenate([p.boxes for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    marks = np.concatenate([p.landmarks for p in parts])
    want = by_score(map_back(boxes, hw), scores, map_back(marks, hw))
    got = postprocess(levels["A"], get_preset("omz", "A"), transform)
    assert_same(got, *want)
    assert 5000 < len(got) < 16800  # no score threshold: thousands of boxes stay


def test_omz_layout_b_matches_reference(real):
    levels, hw, transform = real
    (lv,) = levels["B"]
    sel = np.flatnonzero(lv.scores > 0.02)
    top = sel[sorted(range(len(sel)), key=lambda i: (-lv.scores[sel[i]], i))[:750]]
    det = lv.take(top)
    det = det.take(greedy(det.boxes, det.scores, 0.4))
    got = postprocess(levels["B"], get_preset("omz", "B"), transform)
    assert_same(got, map_back(det.boxes, hw), det.scores, map_back(det.landmarks, hw))
    assert len(sel) > 750 and 0 < len(got) < 750  # the cut and the NMS both act here


@pytest.mark.parametrize("kind", ["A", "B"])
def test_insightface_matches_reference(real, kind):
    levels, hw, transform = real
    boxes, scores, marks = [], [], []
    for lv in levels[kind]:
        keep = lv.scores >= 0.02
        b = lv.boxes[keep].copy()
        b[:, 0::2] = np.clip(b[:, 0::2], 0, 639)
        b[:, 1::2] = np.clip(b[:, 1::2], 0, 639)
        boxes.append(map_back(b, hw))
        scores.append(lv.scores[keep])
        marks.append(map_back(lv.landmarks[keep], hw))
    boxes, scores, marks = np.concatenate(boxes), np.concatenate(scores), np.concatenate(marks)
    keep = greedy(boxes, scores, 0.4, plus_one=True, suppress_equal=True)
    got = postprocess(levels[kind], get_preset("insightface", kind), transform)
    assert_same(got, boxes[keep], scores[keep], marks[keep])
    assert np.all(np.diff(got.scores) <= 0)
    assert got.boxes[:, 2].max() <= 639 * hw[1] / 640 + 1e-9 and got.boxes.min() >= 0


def test_threshold_inclusivity_and_clip_needs_size():
    boxes = np.array([[0, 0, 10, 10], [100, 100, 120, 120], [200, 200, 230, 230]], dtype=np.float64)
    det = Detections(boxes, np.array([0.02, 0.5, 0.01]), np.zeros((3, 5, 2)))
    t = ImageTransform(1.0, 1.0, 0.0, 0.0, (640, 640))
    assert postprocess([det], get_preset("insightface", "B"), t).scores.tolist() == [0.5, 0.02]
    assert postprocess([det], get_preset("omz", "B"), t).scores.tolist() == [0.5]
    with pytest.raises(ValueError, match="network_hw"):
        postprocess([det], get_preset("insightface", "B"), ImageTransform(1.0, 1.0))
    got = postprocess([det], get_preset("insightface", "B"), ImageTransform(2.0, 2.0), network_hw=(110, 110))
    np.testing.assert_allclose(got.boxes[0], [50, 50, 54.5, 54.5])  # clipped to 109, then / 2


def test_omz_b_cuts_to_750_before_nms():
    n = 1000  # disjoint boxes: NMS removes nothing, so exactly the 750 best remain
    x = np.arange(n) * 20.0
    boxes = np.column_stack([x, np.zeros(n), x + 10, np.full(n, 10.0)])
    scores = np.random.default_rng(3).permutation(np.linspace(0.03, 0.99, n))
    det = Detections(boxes, scores, np.zeros((n, 5, 2)))
    got = postprocess([det], get_preset("omz", "B"), ImageTransform(1.0, 1.0))
    np.testing.assert_array_equal(got.scores, np.sort(scores)[::-1][:750])
    np.testing.assert_array_equal(got.boxes, boxes[np.argsort(-scores)[:750]])


def test_detections_take_by_index_mask_and_nothing():
    from rfbench.decoder.detections import Detections

    dets = Detections(np.arange(12.0).reshape(3, 4), np.array([0.1, 0.5, 0.9]), np.arange(30.0).reshape(3, 5, 2))
    picked = dets.take([2, 0])
    np.testing.assert_array_equal(picked.boxes, dets.boxes[[2, 0]])
    np.testing.assert_array_equal(picked.landmarks, dets.landmarks[[2, 0]])
    masked = dets.take(dets.scores > 0.3)
    np.testing.assert_array_equal(masked.scores, [0.5, 0.9])
    none = dets.take([])
    assert len(none) == 0 and none.boxes.shape == (0, 4) and none.landmarks.shape == (0, 5, 2)
