"""rfbench.decoder.nms.nms must keep exactly what the plain greedy loop keeps, in the same order."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from real_inputs import PARADE as IMAGE

from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.layout import resolve_layout
from rfbench.decoder.nms import nms, nms_plain, pair_iou, score_order


def greedy_reference(boxes, scores, thr, plus_one=False, suppress_equal=False):
    """The plain greedy loop (as in OMZ / insightface cpu_nms), written independently here.

    Order: score descending, equal scores by ascending index. IoU = inter / union, 0 for a zero
    union; ``p`` = 1 adds a pixel to widths and heights.
    """
    p = 1.0 if plus_one else 0.0
    x1, y1, x2, y2 = (np.asarray(boxes, np.float64)[:, k] for k in range(4))
    areas = (x2 - x1 + p) * (y2 - y1 + p)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    order = np.array(order, dtype=np.int64)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + p)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + p)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        iou = np.zeros_like(inter)
        nz = union != 0
        iou[nz] = inter[nz] / union[nz]
        order = rest[iou < thr] if suppress_equal else rest[iou <= thr]
    return np.array(keep, dtype=np.int64)


def random_case(rng: np.random.Generator, n: int, degenerate: bool = True):
    """Clustered boxes with tied scores, exact duplicates, zero-area and inverted boxes."""
    centres = rng.uniform(0, 300, (max(n // 12, 1), 2))
    c = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 6, (n, 2))
    size = rng.uniform(4, 40, (n, 1)) * rng.uniform(0.7, 1.4, (n, 2))
    boxes = np.round(np.hstack([c - size / 2, c + size / 2]), 1)  # coarse grid: exact ties in IoU
    scores = np.round(rng.uniform(0, 1, n), 1)  # many equal scores
    dup = rng.choice(n, n // 10, replace=False)
    boxes[dup] = boxes[rng.choice(n, n // 10)]
    if degenerate:
        zero = rng.choice(n, max(n // 30, 1), replace=False)
        boxes[zero, 2] = boxes[zero, 0]  # zero width
        minus1 = rng.choice(n, max(n // 30, 1), replace=False)
        boxes[minus1, 3] = boxes[minus1, 1] - 1  # zero height under +1, inverted without
        inverted = rng.choice(n, max(n // 50, 1), replace=False)
        boxes[inverted, 0], boxes[inverted, 2] = boxes[inverted, 2] + 0.5, boxes[inverted, 0].copy()
    return boxes, scores


@pytest.mark.parametrize("plus_one", [False, True])
@pytest.mark.parametrize("suppress_equal", [False, True])
@pytest.mark.parametrize("thr", [0.3, 0.4, 0.5, 0.7])
@pytest.mark.parametrize("n", [40, 700])  # dense path and grid path
def test_random_boxes_match_plain_loop(n, thr, suppress_equal, plus_one):
    rng = np.random.default_rng(n * 1000 + int(thr * 10) + 2 * suppress_equal + plus_one)
    boxes, scores = random_case(rng, n)
    want = greedy_reference(boxes, scores, thr, plus_one, suppress_equal)
    got = nms(boxes, scores, thr, plus_one=plus_one, suppress_equal=suppress_equal)
    np.testing.assert_array_equal(got, want)
    assert 0 < len(want) < n  # the case exercises suppression
    np.testing.assert_array_equal(nms_plain(boxes, scores, thr, plus_one=plus_one,
                                            suppress_equal=suppress_equal), want)


def test_iou_exactly_at_threshold():
    # IoU of each neighbouring pair is exactly 0.5 (inter 2, union 4): only >= suppresses
    boxes = np.array([[0, 0, 3, 1], [1, 0, 4, 1], [2, 0, 5, 1]] * 120, dtype=np.float64)
    boxes += np.repeat(np.arange(120) * 10.0, 3)[:, None] * [1, 0, 1, 0]
    scores = np.tile([0.9, 0.8, 0.7], 120)
    assert pair_iou(boxes, np.array([0]), np.array([1]))[0] == 0.5
    assert len(nms(boxes, scores, 0.5)) == 360
    keep = nms(boxes, scores, 0.5, suppress_equal=True)
    np.testing.assert_array_equal(keep, greedy_reference(boxes, scores, 0.5, suppress_equal=True))
    assert len(keep) == 240  # boxes 0 and 2 of each triple (IoU 1/5) survive


def test_tie_rule_and_edge_thresholds():
    boxes = np.array([[0, 0, 10, 10]] * 300, dtype=np.float64)
    scores = np.full(300, 0.5)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0])  # ties: lowest index first
    np.testing.assert_array_equal(nms(boxes, scores, 1.0), np.arange(300))
    np.testing.assert_array_equal(nms(boxes, scores, 1.0, suppress_equal=True), [0])
    rng = np.random.default_rng(5)
    b, s = random_case(rng, 400)
    for thr, eq in ((0.0, False), (0.0, True), (-0.1, False), (1.0, True)):
        np.testing.assert_array_equal(nms(b, s, thr, suppress_equal=eq), greedy_reference(b, s, thr, False, eq))
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("axis", [0, 1])
def test_pairs_near_the_centre_distance_bound(thr, axis):
    # A box of width w / thr * (1 - e) holding a width-w box at its side has IoU just above
    # thr and the largest centre offset possible: a too-small search radius would miss it.
    rng = np.random.default_rng(int(thr * 10) + axis)
    n = 300
    w = rng.uniform(5, 50, n)
    big = w / thr * (1 - rng.uniform(1e-6, 1e-3, n))
    h = rng.uniform(5, 50, n)
    x0 = np.arange(n) * 1000.0
    small = np.column_stack([x0, np.zeros(n), x0 + w, h])
    large = np.column_stack([x0, np.zeros(n), x0 + big, h])
    if axis:
        small, large = small[:, [1, 0, 3, 2]], large[:, [1, 0, 3, 2]]
    boxes = np.vstack([small, large])
    scores = np.concatenate([np.full(n, 0.9), np.full(n, 0.8)])
    assert (pair_iou(boxes, np.arange(n), np.arange(n, 2 * n)) > thr).all()
    np.testing.assert_array_equal(nms(boxes, scores, thr), np.arange(n))
    np.testing.assert_array_equal(nms(boxes, scores[::-1].copy(), thr), np.arange(n, 2 * n))


def test_long_suppression_chain():
    # each box overlaps only its neighbours; scores fall along the chain: keep every other box
    n = 600
    x = np.arange(n) * 2.0  # IoU 8/12 with the next box, 6/14 with the one after
    boxes = np.column_stack([x, np.zeros(n), x + 10, np.full(n, 10.0)])
    scores = np.linspace(1, 0.1, n)
    keep = nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(keep, greedy_reference(boxes, scores, 0.5))
    np.testing.assert_array_equal(keep, np.arange(0, n, 2))


def test_wide_size_range_grid_path():
    rng = np.random.default_rng(11)
    n = 1500
    c = rng.uniform(0, 1000, (n, 2))
    size = np.exp(rng.uniform(np.log(2), np.log(900), (n, 1))) * rng.uniform(0.5, 2, (n, 2))
    boxes = np.hstack([c - size / 2, c + size / 2])
    scores = rng.uniform(size=n)
    for thr in (0.1, 0.45, 0.9):
        np.testing.assert_array_equal(nms(boxes, scores, thr), greedy_reference(boxes, scores, thr))


@pytest.fixture(scope="module")
def stride8(mnet_ort_outputs):
    """Decoded stride-8 level of the layout-A fixture model on a real image (12,800 boxes)."""
    outputs = mnet_ort_outputs(IMAGE)["omzlayout"]
    levels = decode_outputs(outputs, resolve_layout({k: v.shape for k, v in outputs.items()}), (640, 640))
    return levels[2]


def test_real_stride8_omz_recipe(stride8):
    keep = nms(stride8.boxes, stride8.scores, 0.5)
    want = greedy_reference(stride8.boxes, stride8.scores, 0.5)
    np.testing.assert_array_equal(keep, want)
    assert 7000 < len(keep) < 9500  # the spec's "~8,100 of 12,800"


def test_real_stride8_matches_opencv(stride8):
    keep = nms(stride8.boxes, stride8.scores, 0.5)
    xywh = np.column_stack([stride8.boxes[:, :2], stride8.boxes[:, 2:] - stride8.boxes[:, :2]])
    cv_keep = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), stride8.scores.tolist(), 0.0, 0.5)).ravel()
    assert set(cv_keep.tolist()) == set(keep.tolist())


def test_real_stride8_insightface_settings(stride8):
    boxes, scores = stride8.boxes, stride8.scores
    sel = np.flatnonzero(scores >= 0.02)
    keep = nms(boxes[sel], scores[sel], 0.4, plus_one=True, suppress_equal=True)
    np.testing.assert_array_equal(keep, greedy_reference(boxes[sel], scores[sel], 0.4, True, True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 0.5, 1.0])), max_size=300))
def test_score_order_is_numpy_stable_argsort(scores):
    scores = np.asarray(scores, dtype=np.float64)
    np.testing.assert_array_equal(score_order(scores), np.argsort(-scores, kind="stable"))


def test_score_order_real_sized_and_nan():
    rng = np.random.default_rng(3)
    for scores in (rng.random(12800), np.round(rng.random(12800), 2), rng.normal(size=4000),
                   rng.random(12800).astype(np.float32).astype(np.float64)):
        np.testing.assert_array_equal(score_order(scores), np.argsort(-scores, kind="stable"))
    with_nan = np.array([0.5, np.nan, 0.7, 0.5])
    np.testing.assert_array_equal(score_order(with_nan), np.argsort(-with_nan, kind="stable"))
