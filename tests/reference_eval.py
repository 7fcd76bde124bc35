"""Plain reference implementations of the two WIDER FACE evaluation protocols (tests only).

Written from ``shared/spec/evaluation.md`` alone, deliberately slow and literal so each step can be
read side by side with the spec; rfbench's vectorised evaluators are checked against these in
``tests/test_eval_agreement.py``. Nothing here imports rfbench.

Inputs are plain per-image lists, in one fixed image order:

* ``gt_boxes[i]``: ``(n_i, 4)`` GT boxes ``x y w h`` of image ``i`` (face-less images: ``(0, 4)``);
* ``gt_lists[i]``: 0-based indices into ``gt_boxes[i]`` of the faces evaluated in one setting
  (the official ``gt_list`` minus one);
* ``predictions[i]``: ``(m_i, 5)`` rows ``x y w h score`` in file order, or ``None`` when the image
  has no prediction file.

All arithmetic is float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IOU_THRESHOLD = 0.5
NUM_THRESHOLDS = 1000
OMZ_CLIP = 1024.0
OMZ_MIN_HEIGHT = 64.0
OMZ_MAX_HEIGHT = 1024.0


@dataclass
class RefResult:
    ap: float
    precision: np.ndarray
    recall: np.ndarray
    num_faces: int


def voc_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC all-points AP; NaN precisions are ignored by the envelope (spec, official step 7)."""
    prec = np.asarray(precision, dtype=np.float64)
    rec = np.asarray(recall, dtype=np.float64)
    mrec = [0.0] + [float(r) for r in rec] + [1.0]
    mpre = [0.0] + [float(p) for p in prec] + [0.0]
    # running max from the right; a NaN takes the value on its right
    for i in range(len(mpre) - 2, -1, -1):
        if np.isnan(mpre[i]) or mpre[i] < mpre[i + 1]:
            mpre[i] = mpre[i + 1]
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return ap


# ----------------------------------------------------------------------------------------------
# Protocol 1: the official WIDER evaluation (MATLAB eval_tools)
# ----------------------------------------------------------------------------------------------


def iou_plus_one(gt_corners: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of one ``[x1, y1, x2, y2]`` box against each GT row, with the +1 convention."""
    iw = np.minimum(gt_corners[:, 2], box[2]) - np.maximum(gt_corners[:, 0], box[0]) + 1.0
    ih = np.minimum(gt_corners[:, 3], box[3]) - np.maximum(gt_corners[:, 1], box[1]) + 1.0
    inter = iw * ih
    gt_area = (gt_corners[:, 2] - gt_corners[:, 0] + 1.0) * (
        gt_corners[:, 3] - gt_corners[:, 1] + 1.0
    )
    box_area = (box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ious = inter / (gt_area + box_area - inter)
    ious[(iw <= 0) | (ih <= 0)] = 0.0
    return ious


def official_image_evaluation(
    pred_sorted: np.ndarray, gt_xywh: np.ndarray, gt_list: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Step 5 for one image: per prediction (score order), is it a proposal, and how many GT are
    recalled by the first h predictions (cumulative)."""
    gt = np.asarray(gt_xywh, dtype=np.float64)
    gt_corners = np.column_stack([gt[:, 0], gt[:, 1], gt[:, 0] + gt[:, 2], gt[:, 1] + gt[:, 3]])
    keep = np.zeros(len(gt), dtype=bool)
    keep[np.asarray(gt_list, dtype=np.int64)] = True
    recalled = np.zeros(len(gt), dtype=bool)
    is_proposal = np.ones(len(pred_sorted), dtype=bool)
    recall_cum = np.zeros(len(pred_sorted), dtype=np.int64)
    for h, p in enumerate(pred_sorted):
        box = np.array([p[0], p[1], p[0] + p[2], p[1] + p[3]], dtype=np.float64)
        ious = iou_plus_one(gt_corners, box)
        best = int(np.argmax(ious))  # first index on ties
        if ious[best] >= IOU_THRESHOLD:
            if not keep[best]:
                is_proposal[h] = False
            else:
                recalled[best] = True
        recall_cum[h] = int(recalled.sum())
    return is_proposal, recall_cum


def official_thresholds(num_thresholds: int = NUM_THRESHOLDS) -> np.ndarray:
    return np.array([1.0 - k / num_thresholds for k in range(1, num_thresholds + 1)])


def evaluate_official_reference(
    gt_boxes: Sequence[np.ndarray],
    gt_lists: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray | None],
    num_thresholds: int = NUM_THRESHOLDS,
    faceless: str = "matlab",
) -> RefResult:
    """The official protocol, one setting (spec steps 1-7).

    ``faceless`` says what happens to predictions on an image with no GT box. MATLAB never sees
    such an image: a face-less image keeps its all-zero row in ``face_bbx_list``, so it is not
    skipped, its gt_list is empty and each prediction is a proposal (a false positive) unless its
    best IoU with the box (0, 0, 0, 0) reaches 0.5 (then it is dropped). ``"matlab"`` (default)
    evaluates against that all-zero row exactly so; ``"skip"`` takes spec step 3 literally with
    the all-zero row removed ("skip matching where GT is empty": those predictions vanish).
    """
    assert len(gt_boxes) == len(gt_lists) == len(predictions)
    assert faceless in ("matlab", "skip")
    # 1. per-image sort by score, descending (stable; tie order does not matter here)
    sorted_preds: list[np.ndarray | None] = []
    for p in predictions:
        if p is None:
            sorted_preds.append(None)
            continue
        p = np.asarray(p, dtype=np.float64).reshape(-1, 5)
        order = np.argsort(-p[:, 4], kind="stable")
        sorted_preds.append(p[order])
    # 2. min-max normalisation over the whole prediction set
    all_scores = [s for p in sorted_preds if p is not None for s in p[:, 4]]
    min_s = min(all_scores) if all_scores else 0.0
    max_s = max(all_scores) if all_scores else 1.0
    normalised: list[np.ndarray | None] = []
    for p in sorted_preds:
        if p is None:
            normalised.append(None)
            continue
        q = p.copy()
        q[:, 4] = (p[:, 4] - min_s) / (max_s - min_s)
        normalised.append(q)

    thresholds = official_thresholds(num_thresholds)
    proposals_total = np.zeros(num_thresholds, dtype=np.float64)
    recalled_total = np.zeros(num_thresholds, dtype=np.float64)
    count_face = 0
    for gt, gt_list, pred in zip(gt_boxes, gt_lists, normalised, strict=True):
        # 3. every image counts its evaluated faces, even with no predictions
        count_face += len(gt_list)
        if len(gt) == 0 and faceless == "matlab":
            gt = np.zeros((1, 4))  # the all-zero row MATLAB keeps for a face-less image
        if len(gt) == 0 or pred is None or len(pred) == 0:
            continue
        is_proposal, recall_cum = official_image_evaluation(pred, gt, gt_list)
        proposal_cum = np.cumsum(is_proposal)
        scores = pred[:, 4]
        # 6. r = the last prediction whose normalised score >= t_k (MATLAB find(..., 1, 'last'));
        # one row per threshold
        above = scores[None, :] >= thresholds[:, None]
        any_above = above.any(axis=1)
        last = len(scores) - 1 - np.argmax(above[:, ::-1], axis=1)
        proposals_total[any_above] += proposal_cum[last[any_above]]
        recalled_total[any_above] += recall_cum[last[any_above]]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = recalled_total / proposals_total  # 0/0 -> NaN
    recall = recalled_total / count_face
    return RefResult(voc_ap(precision, recall), precision, recall, count_face)


# ----------------------------------------------------------------------------------------------
# Protocol 2: the OMZ accuracy-checker recipe ("faces bigger than 64 x 64")
# ----------------------------------------------------------------------------------------------


def omz_ground_truth(gt_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-4 for one image: rounded, clipped GT corners and the ignored flags."""
    gt = np.asarray(gt_xywh, dtype=np.float64).reshape(-1, 4)
    corners = np.column_stack([gt[:, 0], gt[:, 1], gt[:, 0] + gt[:, 2], gt[:, 1] + gt[:, 3]])
    corners = np.rint(corners)
    corners = np.clip(corners, 0.0, OMZ_CLIP)
    ignored = np.zeros(len(corners), dtype=bool)
    for j, (x1, y1, x2, y2) in enumerate(corners):
        height = y2 - y1
        if not (OMZ_MIN_HEIGHT <= height < OMZ_MAX_HEIGHT):
            ignored[j] = True
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            ignored[j] = True
    return corners, ignored


def iou_no_plus_one(gt_corners: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of one ``[x1, y1, x2, y2]`` box against each GT row, no +1; 0 where nothing overlaps."""
    iw = np.minimum(gt_corners[:, 2], box[2]) - np.maximum(gt_corners[:, 0], box[0])
    ih = np.minimum(gt_corners[:, 3], box[3]) - np.maximum(gt_corners[:, 1], box[1])
    inter = iw * ih
    gt_area = (gt_corners[:, 2] - gt_corners[:, 0]) * (gt_corners[:, 3] - gt_corners[:, 1])
    box_area = (box[2] - box[0]) * (box[3] - box[1])
    union = gt_area + box_area - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        ious = inter / union
    ious[(iw <= 0) | (ih <= 0) | (union <= 0)] = 0.0
    return ious


def evaluate_omz_reference(
    gt_boxes: Sequence[np.ndarray], predictions: Sequence[np.ndarray | None]
) -> RefResult:
    """The OMZ protocol (spec steps 1-6). Pooled predictions are ordered by score descending,
    stable with respect to (image order, file order).

    Exact IoU ties (common: integer boxes, near-duplicate annotations) follow the OMZ accuracy
    checker, which the spec's step 5 describes but does not spell out for ties: all GT at the best
    IoU m form "the best GT"; the prediction is TP only if none of them is used, is handled as an
    ignored hit if any of them is ignored, and marks all of them used. Precision at 0/0 (only
    ignored hits so far) is NaN here; the accuracy checker reports 0 (AP is the same).
    """
    assert len(gt_boxes) == len(predictions)
    gts = [omz_ground_truth(g) for g in gt_boxes]
    num_faces = int(sum((~ign).sum() for _, ign in gts))

    pooled = []  # (score, image index, box corners rounded)
    for i, p in enumerate(predictions):
        if p is None:
            continue
        for row in np.asarray(p, dtype=np.float64).reshape(-1, 5):
            box = np.rint(np.array([row[0], row[1], row[0] + row[2], row[1] + row[3]]))
            pooled.append((float(row[4]), i, box))
    order = sorted(range(len(pooled)), key=lambda n: -pooled[n][0])  # sorted() is stable

    used = [np.zeros(len(ign), dtype=bool) for _, ign in gts]
    tp = np.zeros(len(pooled), dtype=np.float64)
    fp = np.zeros(len(pooled), dtype=np.float64)
    for pos, n in enumerate(order):
        _, i, box = pooled[n]
        corners, ignored = gts[i]
        if len(corners) == 0:
            fp[pos] = 1  # an image with no GT at all
            continue
        ious = iou_no_plus_one(corners, box)
        m = -np.inf
        for j in range(len(corners)):  # best IoU over the non-ignored GT
            if not ignored[j] and ious[j] > m:
                m = ious[j]
        if m < IOU_THRESHOLD and ignored.any():
            m = -np.inf
            for j in range(len(corners)):  # best over the ignored ones
                if ignored[j] and ious[j] > m:
                    m = ious[j]
        if m < IOU_THRESHOLD:
            fp[pos] = 1
            continue
        # "the best GT" is every GT (ignored or not) whose IoU equals m: on an exact tie the
        # accuracy checker takes them all together (np.where(overlaps == max_overlap))
        best = [j for j in range(len(corners)) if ious[j] == m]
        any_used = any(used[i][j] for j in best)
        if not any(ignored[j] for j in best):
            if any_used:
                fp[pos] = 1  # a second hit on a counted face (nothing newly marked)
            else:
                tp[pos] = 1
                for j in best:
                    used[i][j] = True
        else:
            if any_used:
                fp[pos] = 1  # an ignored face hit again; the first hit is neither TP nor FP
            for j in best:
                used[i][j] = True
    cum_tp = np.cumsum(tp)
    cum_fp = np.cumsum(fp)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = cum_tp / (cum_tp + cum_fp)  # 0/0 (only ignored hits so far) -> NaN
    recall = cum_tp / num_faces if num_faces else np.zeros_like(cum_tp)
    return RefResult(voc_ap(precision, recall), precision, recall, num_faces)
