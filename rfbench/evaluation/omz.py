"""The OMZ accuracy-checker recipe behind the model card's "AP 87.30%" (faces >= 64 px).

Spec: evaluation.md, protocol 2. GT from the text file as ``(x, y, x+w, y+h)``; GT and
predictions rounded half-to-even; GT clipped to [0, 1024]; a GT box is *ignored* (kept for
matching, not counted) unless ``64 <= y2 - y1 < 1024`` and it is non-empty. All predictions
are pooled and sorted by score (descending; ties in image order, then file order).

1. match: per prediction, m = best IoU (no +1) over counted GT; if m < 0.5 and the image has
   ignored GT, m = best IoU over the ignored ones. All GT whose IoU equals m form the matched
   set (OMZ marks every tied box). m < 0.5 -> FP. A set of counted GT: TP if none is used yet
   (all become used), else FP. A set holding an ignored GT: neither the first time (all
   become used), FP after. An image without GT: FP.
2. accumulate: every prediction is a PR point: precision = cumTP / max(cumTP + cumFP, eps),
   recall = cumTP / counted faces.
3. summarise: VOC all-points AP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rfbench.evaluation.common import (
    PairChunk,
    PooledPredictions,
    ProtocolResult,
    iter_pair_chunks,
    pair_iou,
    pool_predictions,
    xywh_to_xyxy,
)
from rfbench.wider.ground_truth import WiderGroundTruth

log = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5
MIN_HEIGHT = 64
MAX_HEIGHT = 1024
CLIP_SIZE = 1024
SETTING = "64px"

TP, FP, NEUTRAL = 1, 2, 0


@dataclass(frozen=True)
class OmzGroundTruth:
    """GT as the OMZ recipe sees it: (G, 4) rounded, clipped ``x1 y1 x2 y2``, (G,) ignored
    mask, (I + 1,) per-image offsets."""

    boxes: np.ndarray
    ignored: np.ndarray
    starts: np.ndarray

    @property
    def num_faces(self) -> int:
        return int((~self.ignored).sum())


def omz_ground_truth(gt: WiderGroundTruth) -> OmzGroundTruth:
    """Round, clip and mark ignored GT (steps 1-4 of the spec)."""
    counts = np.array([len(b) for b in gt.boxes_xywh], dtype=np.int64)
    raw = np.concatenate(gt.boxes_xywh) if gt.boxes_xywh else np.zeros((0, 4))
    boxes = np.clip(np.rint(xywh_to_xyxy(raw)), 0, CLIP_SIZE)
    height = boxes[:, 3] - boxes[:, 1]
    empty = (boxes[:, 2] - boxes[:, 0] <= 0) | (height <= 0)
    ignored = empty | ~((height >= MIN_HEIGHT) & (height < MAX_HEIGHT))
    return OmzGroundTruth(boxes, ignored, np.concatenate(([0], np.cumsum(counts))))


def _chunk_best_sets(iou: np.ndarray, ignored: np.ndarray, chunk: PairChunk) -> np.ndarray:
    """Per pair: whether its GT is in its prediction's matched set (the GT at the IoU m the
    prediction settles on). ``ignored`` is per pair."""
    counted_iou = np.where(ignored, -np.inf, iou)
    ignored_iou = np.where(ignored, iou, -np.inf)
    best_counted = np.maximum.reduceat(counted_iou, chunk.seg_start)
    best_ignored = np.maximum.reduceat(ignored_iou, chunk.seg_start)
    fallback = (best_counted < IOU_THRESHOLD) & np.isfinite(best_ignored)
    m_pair = np.where(fallback, best_ignored, best_counted)[chunk.pair_segment()]
    return (iou == m_pair) & (m_pair >= IOU_THRESHOLD)


def match_omz(omz_gt: OmzGroundTruth, pooled: PooledPredictions) -> np.ndarray:
    """Phase 1: (P,) outcome per prediction (TP, FP or NEUTRAL), pooled order."""
    pred_boxes = np.rint(xywh_to_xyxy(pooled.boxes_xywh))
    outcome = np.full(len(pooled), FP, dtype=np.int8)  # no GT or m < 0.5: FP
    rank = np.empty(len(pooled), dtype=np.int64)
    rank[np.argsort(-pooled.scores, kind="stable")] = np.arange(len(pooled))
    gt_image = np.repeat(np.arange(len(omz_gt.starts) - 1), np.diff(omz_gt.starts))
    for chunk in iter_pair_chunks(pooled.image_index, pred_boxes, gt_image, omz_gt.boxes):
        iou = pair_iou(pred_boxes[chunk.pred], omz_gt.boxes[chunk.gt], plus_one=False)
        in_set = _chunk_best_sets(iou, omz_gt.ignored[chunk.gt], chunk)
        _resolve_sets(chunk, in_set, omz_gt.ignored, rank, outcome)
    return outcome


def _resolve_sets(chunk: PairChunk, in_set: np.ndarray, ignored: np.ndarray, rank: np.ndarray,
                  outcome: np.ndarray) -> None:
    """Apply the 'used' rule. Predictions whose set is one GT resolve vectorised (first in
    pooled order wins); images where some set holds several tied GT run the exact loop."""
    set_pred, set_gt = chunk.pred[in_set], chunk.gt[in_set]
    if set_pred.size == 0:
        return
    set_size = np.bincount(set_pred - chunk.pred[0], minlength=int(chunk.pred[-1] - chunk.pred[0] + 1))
    multi_gt = np.unique(set_gt[set_size[set_pred - chunk.pred[0]] > 1])
    tangled = np.isin(set_gt, multi_gt)
    single = ~tangled
    _resolve_single(set_pred[single], set_gt[single], ignored, rank, outcome)
    if tangled.any():
        _resolve_loop(set_pred[tangled], set_gt[tangled], ignored, rank, outcome)


def _resolve_single(pred: np.ndarray, gt: np.ndarray, ignored: np.ndarray, rank: np.ndarray,
                    outcome: np.ndarray) -> None:
    order = np.argsort(rank[pred], kind="stable")
    pred, gt = pred[order], gt[order]
    _, first = np.unique(gt, return_index=True)
    outcome[pred] = FP
    first_pred, first_gt = pred[first], gt[first]
    outcome[first_pred] = np.where(ignored[first_gt], NEUTRAL, TP)


def _resolve_loop(pred: np.ndarray, gt: np.ndarray, ignored: np.ndarray, rank: np.ndarray,
                  outcome: np.ndarray) -> None:
    """Exact sequential rule for predictions whose matched sets share GT (IoU ties)."""
    sets: dict[int, list[int]] = {}
    for p, g in zip(pred.tolist(), gt.tolist()):
        sets.setdefault(p, []).append(g)
    used: set[int] = set()
    for p in sorted(sets, key=lambda q: rank[q]):
        members = sets[p]
        was_used = any(g in used for g in members)
        if any(ignored[g] for g in members):  # an ignored hit marks its set whatever it is
            outcome[p] = FP if was_used else NEUTRAL
            used.update(members)
        elif was_used:  # a false positive on counted faces marks nothing
            outcome[p] = FP
        else:
            outcome[p] = TP
            used.update(members)


def evaluate_omz(gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray],
                 pooled: PooledPredictions | None = None) -> ProtocolResult:
    """AP on faces of 64 px and up, the model card's protocol. ``predictions``: image id ->
    (N, 5) ``x y w h score``; ``pooled``: :func:`pool_predictions` of them, when already made.
    The PR curve has one point per prediction."""
    omz_gt = omz_ground_truth(gt)
    pooled = pool_predictions(gt, predictions) if pooled is None else pooled
    outcome = match_omz(omz_gt, pooled)
    order = np.argsort(-pooled.scores, kind="stable")
    tp = np.cumsum(outcome[order] == TP)
    fp = np.cumsum(outcome[order] == FP)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if not omz_gt.num_faces:
        log.warning("no face of %d px or taller in the ground truth: OMZ AP is undefined", MIN_HEIGHT)
    params = {"iou_threshold": IOU_THRESHOLD, "min_height_px": MIN_HEIGHT,
              "max_height_px": MAX_HEIGHT, "gt_clip_px": CLIP_SIZE, "iou_plus_one": False}
    return ProtocolResult.of_curve("omz", SETTING, precision, tp, pooled.scores[order],
                                   omz_gt.num_faces, len(pooled), gt.num_images, params)
