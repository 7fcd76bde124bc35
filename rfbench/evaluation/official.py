"""The official WIDER FACE evaluation (MATLAB ``eval_tools``): Easy / Medium / Hard AP.

Exact to the MATLAB semantics (spec: evaluation.md, protocol 1), vectorised:

1. match: per image, predictions sorted by score (descending); each prediction looks at its
   best-IoU GT (+1 convention, first index on ties) over *all* GT of the image. IoU >= 0.5 on
   a GT outside the setting's list drops the prediction (not a proposal); on a listed GT it
   recalls that face the first time. A face-less image keeps the official ``.mat``'s single
   all-zero placeholder box, so its predictions stay proposals, as in the MATLAB tool.
2. accumulate: scores are min-max normalised over the whole prediction set; at the 1000
   thresholds ``t_k = 1 - k/1000`` the per-image counts of the MATLAB loop equal, summed over
   images, the number of proposals / first recalls whose normalised score is >= t_k (a prefix
   of each image's sorted list), so a sort + ``searchsorted`` + cumulative sums give them.
3. summarise: precision = recalled / proposals (NaN at 0/0), recall = recalled / faces, VOC AP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.evaluation.common import (
    PooledPredictions,
    ProtocolResult,
    iter_pair_chunks,
    pair_iou,
    pool_predictions,
    segment_best,
    xywh_to_xyxy,
)
from rfbench.wider.ground_truth import SETTINGS, WiderGroundTruth

log = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5
NUM_THRESHOLDS = 1000


@dataclass(frozen=True)
class OfficialMatches:
    """Phase-1 output: per prediction (pooled order), its best GT and that IoU.

    ``best_gt`` (P,) global GT row (in the GT array with placeholders), ``best_iou`` (P,);
    ``gt_starts`` (num_images + 1,) offsets of each image's GT rows; ``placeholder`` (G,) bool.
    """

    pooled: PooledPredictions
    best_gt: np.ndarray
    best_iou: np.ndarray
    gt_starts: np.ndarray
    placeholder: np.ndarray

    def above(self, threshold: float) -> OfficialMatches:
        """The matches of the predictions scoring ``>= threshold``: what :func:`match_official`
        of those alone gives (a prediction's best GT does not depend on the others; the pooled
        order, by image and score, is kept)."""
        keep = self.pooled.scores >= threshold
        image = self.pooled.image_index[keep]
        counts = np.bincount(image, minlength=len(self.pooled.starts) - 1)
        pooled = PooledPredictions(self.pooled.boxes_xywh[keep], self.pooled.scores[keep], image,
                                   np.concatenate(([0], np.cumsum(counts))))
        return OfficialMatches(pooled, self.best_gt[keep], self.best_iou[keep], self.gt_starts,
                               self.placeholder)


def official_gt_boxes(gt: WiderGroundTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GT as the MATLAB tool sees it: (G, 4) ``x1 y1 x2 y2`` (x2 = x + w), offsets (I + 1,),
    and a (G,) mask of the all-zero placeholder rows given to face-less images."""
    blocks = [b if len(b) else np.zeros((1, 4)) for b in gt.boxes_xywh]
    counts = np.array([len(b) for b in blocks], dtype=np.int64)
    placeholder = np.repeat(np.array([len(b) == 0 for b in gt.boxes_xywh]), counts)
    boxes = xywh_to_xyxy(np.concatenate(blocks)) if blocks else np.zeros((0, 4))
    return boxes, np.concatenate(([0], np.cumsum(counts))), placeholder


def match_official(gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray]) -> OfficialMatches:
    """Phase 1: best GT per prediction (independent of the setting)."""
    pooled = pool_predictions(gt, predictions)
    gt_boxes, gt_starts, placeholder = official_gt_boxes(gt)
    gt_image = np.repeat(np.arange(gt.num_images), np.diff(gt_starts))
    pred_boxes = xywh_to_xyxy(pooled.boxes_xywh)
    best_gt = np.full(len(pooled), -1, dtype=np.int64)
    best_iou = np.zeros(len(pooled))
    for chunk in iter_pair_chunks(pooled.image_index, pred_boxes, gt_image, gt_boxes):
        iou = pair_iou(pred_boxes[chunk.pred], gt_boxes[chunk.gt], plus_one=True)
        best_iou[chunk.seg_pred], best_gt[chunk.seg_pred] = segment_best(iou, chunk)
    return OfficialMatches(pooled, best_gt, best_iou, gt_starts, placeholder)


def normalised_scores(scores: np.ndarray) -> np.ndarray:
    """``(s - min) / (max - min)`` over all predictions, as MATLAB computes it (0/0 -> NaN)."""
    if scores.size == 0:
        return scores.copy()
    low, high = scores.min(), scores.max()
    if high == low:
        log.warning(
            "all %d prediction scores are equal (%g): the official tool's min-max normalisation "
            "divides by zero and no prediction passes any threshold (AP 0), as in MATLAB",
            scores.size, high,
        )
        return np.full(scores.shape, np.nan)
    return (scores - low) / (high - low)


def setting_flags(matches: OfficialMatches, indices: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """Per prediction: is it a proposal, does it recall a face first; and the face count.

    ``indices``: per image, 0-based rows of the faces evaluated in the setting.
    """
    kept = np.zeros(matches.placeholder.shape[0], dtype=bool)
    for image, rows in enumerate(indices):
        kept[matches.gt_starts[image] + rows] = True
    hit = (matches.best_iou >= IOU_THRESHOLD) & (matches.best_gt >= 0)
    hit_kept = hit & kept[np.maximum(matches.best_gt, 0)]
    proposal = ~(hit & ~hit_kept)
    first_recall = np.zeros_like(hit_kept)
    hits = np.flatnonzero(hit_kept)
    _, first = np.unique(matches.best_gt[hits], return_index=True)
    first_recall[hits[first]] = True
    num_faces = int(sum(len(rows) for rows in indices))
    return proposal, first_recall, num_faces


def accumulate_official(
    norm_scores: np.ndarray, proposal: np.ndarray, first_recall: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase 2: (thresholds (T,), proposals (T,), recalled (T,)) counts at each threshold."""
    thresholds = 1.0 - np.arange(1, NUM_THRESHOLDS + 1, dtype=np.float64) / NUM_THRESHOLDS
    valid = ~np.isnan(norm_scores)
    order = np.argsort(norm_scores[valid], kind="stable")
    sorted_scores = norm_scores[valid][order]
    cum_prop = np.concatenate(([0], np.cumsum(proposal[valid][order])))
    cum_rec = np.concatenate(([0], np.cumsum(first_recall[valid][order])))
    below = np.searchsorted(sorted_scores, thresholds, side="left")  # scores < t
    return thresholds, cum_prop[-1] - cum_prop[below], cum_rec[-1] - cum_rec[below]


def evaluate_official(
    gt: WiderGroundTruth,
    predictions: Mapping[str, np.ndarray],
    matches: OfficialMatches | None = None,
) -> dict[str, ProtocolResult]:
    """Official Easy/Medium/Hard AP of ``predictions`` (image id -> (N, 5) ``x y w h score``).

    Returns ``{setting: ProtocolResult}``; PR arrays have one point per threshold (1000).
    ``matches``: :func:`match_official` of these predictions, when already computed.
    """
    missing = [s for s in SETTINGS if s not in gt.setting_indices]
    if missing:
        raise RfbenchError(
            "the official protocol needs the easy/medium/hard .mat lists, which were not loaded "
            f"(missing: {', '.join(missing)})"
        )
    matches = match_official(gt, predictions) if matches is None else matches
    norm = normalised_scores(matches.pooled.scores)
    params = {"iou_threshold": IOU_THRESHOLD, "num_thresholds": NUM_THRESHOLDS,
              "iou_plus_one": True}
    results = {}
    for setting in SETTINGS:
        proposal, first_recall, num_faces = setting_flags(matches, gt.setting_indices[setting])
        thresholds, proposals, recalled = accumulate_official(norm, proposal, first_recall)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = recalled / proposals
        results[setting] = ProtocolResult.of_curve(
            "wider", setting, precision, recalled, thresholds, num_faces, len(matches.pooled),
            gt.num_images, dict(params))
    return results
