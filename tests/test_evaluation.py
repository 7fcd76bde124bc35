"""Hand-worked cases for both protocols: each expected value is derived in the comment."""

from __future__ import annotations

import numpy as np
import pytest

from rfbench.evaluation import evaluate_official, evaluate_omz
from rfbench.evaluation.official import NUM_THRESHOLDS
from rfbench.wider.ground_truth import WiderGroundTruth


def official_gt(boxes, lists):
    """One setting's list reused for easy/medium/hard."""
    return WiderGroundTruth.from_arrays(
        [f"e/{i}" for i in range(len(boxes))], boxes,
        {s: lists for s in ("easy", "medium", "hard")},
    )


def test_official_duplicate_hit_stays_a_proposal():
    # two listed faces; predictions: hit face 0 (score 1.0), hit face 0 again (0.5),
    # miss (0.0). Normalised scores 1, .5, 0. At t in [.5, 1): 2 proposals, 1 recalled;
    # at t = 0.001 .. 0.499: same; the 0.0 prediction never passes t >= 0.001.
    gt = official_gt([[[0, 0, 10, 10], [50, 50, 10, 10]]], [np.array([0, 1])])
    preds = {"e/0": np.array([[0, 0, 10, 10, 1.0], [0, 0, 10, 10, 0.5], [200, 200, 5, 5, 0.0]])}
    res = evaluate_official(gt, preds)["easy"]
    assert res.num_faces == 2 and res.num_predictions == 3
    # thresholds 0.999..0.501: only the top prediction -> precision 1, recall .5
    assert res.precision[0] == 1.0 and res.recall[0] == 0.5
    # threshold 0.5 (k=500) and below: two proposals, one recalled
    assert res.precision[499] == 0.5 and res.recall[499] == 0.5
    assert res.ap == pytest.approx(0.5)  # recall never exceeds 0.5, precision 1 up to it


def test_official_hit_on_unlisted_face_is_dropped():
    # face 1 is not in the setting's list: a prediction on it is not a proposal at all.
    # Normalised scores: 1.0 unlisted hit (dropped), 0.5 false positive, 0.0 real hit (passes
    # only the last threshold, t = 0): proposals 2, recalled 1 there -> p = .5 at r = 1.
    gt = official_gt([[[0, 0, 10, 10], [50, 50, 10, 10]]], [np.array([0])])
    preds = {"e/0": np.array([[50, 50, 10, 10, 1.0], [300, 0, 10, 10, 0.5], [0, 0, 10, 10, 0.0]])}
    res = evaluate_official(gt, preds)["hard"]
    assert np.isnan(res.precision[:499]).all()  # t > .5: nothing but the dropped prediction
    assert res.precision[499] == 0.0 and res.precision[-1] == 0.5 and res.recall[-1] == 1.0
    assert res.ap == pytest.approx(0.5)  # 1/3 if the unlisted hit counted as a proposal


def test_official_uses_plus_one_iou():
    # GT [0,0,10,10] is 11x11 px with +1; a 10x10 prediction shifted by 4 px overlaps 7x11:
    # IoU = 77 / (121 + 121 - 77) = 0.4667 < .5 -> miss; without +1 it would be 60/140=.43.
    # Shifted by 3 px: 8x11 = 88 / 154 = 0.571 -> hit.
    gt = official_gt([[[0, 0, 10, 10]]], [np.array([0])])
    miss = evaluate_official(gt, {"e/0": np.array([[4, 0, 10, 10, 1.0], [-50, -50, 1, 1, 0.0]])})
    hit = evaluate_official(gt, {"e/0": np.array([[3, 0, 10, 10, 1.0], [-50, -50, 1, 1, 0.0]])})
    assert miss["easy"].ap == 0.0 and hit["easy"].ap == pytest.approx(1.0)


def test_official_face_less_image_predictions_are_proposals():
    # As in the official .mat (a face-less image has one all-zero box), predictions on it
    # are proposals: image 1's prediction (score .5) halves precision at t <= .5.
    gt = official_gt([[[0, 0, 10, 10]], np.zeros((0, 4))], [np.array([0]), np.array([], dtype=int)])
    preds = {"e/0": np.array([[0, 0, 10, 10, 1.0]]), "e/1": np.array([[30, 30, 10, 10, 0.5], [1, 1, 1, 1, 0.0]])}
    res = evaluate_official(gt, preds)["easy"]
    assert res.precision[0] == 1.0 and res.precision[499] == 0.5
    assert res.ap == pytest.approx(1.0)  # recall 1 is reached at precision 1 first


def test_official_is_invariant_to_file_order_and_counts_faces_without_predictions():
    gt = official_gt([[[0, 0, 10, 10], [40, 0, 10, 10]], [[0, 0, 20, 20]]],
                     [np.array([0, 1]), np.array([0])])
    rows = np.array([[0, 0, 10, 10, 0.9], [40, 0, 10, 10, 0.2], [100, 0, 9, 9, 0.7], [0, 0, 10, 10, 0.1]])
    a = evaluate_official(gt, {"e/0": rows})["medium"]
    b = evaluate_official(gt, {"e/0": rows[::-1].copy()})["medium"]
    assert a.num_faces == 3
    assert a.ap == b.ap and np.array_equal(a.recall, b.recall)
    assert len(a.recall) == NUM_THRESHOLDS


def omz_gt(boxes):
    return WiderGroundTruth.from_arrays([f"e/{i}" for i in range(len(boxes))], boxes)


def test_omz_counts_only_faces_64px_and_up_and_ignored_faces_are_neutral_once():
    # face 0: 100 px high (counted); face 1: 30 px (ignored); face 2: height 1024 (ignored: < 1024 fails)
    gt = omz_gt([[[0, 0, 100, 100], [300, 300, 30, 30], [500, 0, 80, 1100]]])
    preds = {"e/0": np.array([
        [300, 300, 30, 30, 0.9],   # ignored face, first time: neither TP nor FP
        [0, 0, 100, 100, 0.8],     # TP
        [300, 300, 30, 30, 0.7],   # ignored face again: FP
        [0, 0, 100, 100, 0.6],     # counted face again: FP
    ])}
    res = evaluate_omz(gt, preds)
    assert res.num_faces == 1
    # points: (p=0 [0/eps], r=0), (1, 1), (.5, 1), (1/3, 1)
    assert res.precision.tolist() == pytest.approx([0.0, 1.0, 0.5, 1 / 3])
    assert res.recall.tolist() == [0.0, 1.0, 1.0, 1.0]
    assert res.ap == pytest.approx(1.0)


def test_omz_rounds_clips_gt_and_prefers_counted_faces():
    # GT clipped to 1024: a face at y 1000..1100 becomes 1000..1024 (24 px -> ignored).
    # A prediction with IoU .6 on a counted face and 1.0 on an overlapping ignored one is TP.
    gt = omz_gt([[[0, 1000, 100, 100], [0, 0, 100, 100], [0, 0, 100, 40]]])
    preds = {"e/0": np.array([[0.4, -0.4, 100.2, 100.4, 0.9]])}  # rints to [0, 0, 100, 100]
    res = evaluate_omz(gt, preds)
    assert res.num_faces == 1 and res.ap == pytest.approx(1.0)


def test_omz_tied_iou_marks_every_tied_face_used():
    # two identical counted GT boxes: the first prediction uses both, the second is a FP
    gt = omz_gt([[[0, 0, 100, 100], [0, 0, 100, 100]]])
    preds = {"e/0": np.array([[0, 0, 100, 100, 0.9], [0, 0, 100, 100, 0.8]])}
    res = evaluate_omz(gt, preds)
    assert res.recall.tolist() == [0.5, 0.5]
    assert res.precision.tolist() == [1.0, 0.5]


def test_omz_prediction_on_image_without_gt_is_a_false_positive():
    gt = omz_gt([[[0, 0, 100, 100]], np.zeros((0, 4))])
    preds = {"e/0": np.array([[0, 0, 100, 100, 0.5]]), "e/1": np.array([[0, 0, 100, 100, 0.9]])}
    res = evaluate_omz(gt, preds)
    assert res.precision.tolist() == [0.0, 0.5]
    assert res.ap == pytest.approx(0.5)
