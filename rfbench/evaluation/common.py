"""Pieces both protocols share: pooled predictions, per-image box pairs, the result record."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rfbench.evaluation.ap import voc_ap
from rfbench.wider.ground_truth import WiderGroundTruth

log = logging.getLogger(__name__)

# Upper bound on (prediction, GT) pairs materialised at once: bounds memory on huge prediction
# sets (the OMZ layout-A recipe keeps ~10k boxes per image) while staying vectorised.
MAX_PAIRS_PER_CHUNK = 4_000_000
MAX_CURVE_POINTS = 1000


@dataclass
class ProtocolResult:
    """Summary of one protocol/setting.

    Attributes:
        protocol: ``"wider"`` (official) or ``"omz"``; ``setting``: easy/medium/hard or ``"64px"``.
        ap: VOC all-points average precision in [0, 1] (NaN when no face is counted).
        precision, recall: (K,) float64 PR curve in curve order (recall non-decreasing).
        thresholds: (K,) score threshold of each point (official: normalised score threshold;
            omz: the score of the prediction that added the point).
        num_faces: faces counted (the recall denominator); num_predictions, num_images: inputs.
    """

    protocol: str
    setting: str
    ap: float
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    num_faces: int
    num_predictions: int
    num_images: int
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Plain-typed scalars for results.json / results.csv."""
        return {
            "protocol": self.protocol,
            "setting": self.setting,
            "ap": float(self.ap),
            "num_faces": int(self.num_faces),
            "num_predictions": int(self.num_predictions),
            "num_images": int(self.num_images),
        }

    @staticmethod
    def of_curve(protocol: str, setting: str, precision: np.ndarray, recalled: np.ndarray,
                 thresholds: np.ndarray, num_faces: int, num_predictions: int, num_images: int,
                 params: dict[str, Any]) -> ProtocolResult:
        """The result of a PR curve: ``recalled`` (K,) faces found at each point; recall and AP
        are NaN when no face is counted."""
        recall = recalled / num_faces if num_faces else np.full(recalled.shape, np.nan)
        ap = voc_ap(precision, recall) if num_faces else float("nan")
        return ProtocolResult(protocol, setting, ap, precision, recall.astype(np.float64),
                              thresholds, num_faces, num_predictions, num_images, params)

    def curve(self) -> dict[str, list[float]]:
        """The PR curve, thinned to at most :data:`MAX_CURVE_POINTS` points (first and last kept)."""
        k = len(self.recall)
        index = np.unique(np.linspace(0, k - 1, min(k, MAX_CURVE_POINTS)).round().astype(int))
        return {
            "precision": self.precision[index].tolist(),
            "recall": self.recall[index].tolist(),
            "thresholds": self.thresholds[index].tolist(),
        }


@dataclass(frozen=True)
class PooledPredictions:
    """All predictions of the evaluated images, grouped by image in GT order.

    Within an image, predictions are sorted by score descending (stable: ties keep file order).
    Attributes: ``boxes_xywh`` (P, 4) float64, ``scores`` (P,) float64, ``image_index`` (P,)
    int64 into the GT's image list, ``starts`` (num_images + 1,) offsets of each image's run.
    """

    boxes_xywh: np.ndarray
    scores: np.ndarray
    image_index: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def pool_predictions(gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray]) -> PooledPredictions:
    """Concatenate per-image (N, 5) ``x y w h score`` arrays in GT image order."""
    arrays = []
    for image_id in gt.image_ids:
        rows = np.asarray(predictions.get(image_id, np.zeros((0, 5))), dtype=np.float64).reshape(-1, 5)
        arrays.append(rows[np.argsort(-rows[:, 4], kind="stable")])
    counts = np.array([len(a) for a in arrays], dtype=np.int64)
    rows = np.concatenate(arrays) if arrays else np.zeros((0, 5))
    starts = np.concatenate(([0], np.cumsum(counts)))
    image_index = np.repeat(np.arange(len(arrays), dtype=np.int64), counts)
    return PooledPredictions(rows[:, :4], rows[:, 4], image_index, starts)


@dataclass(frozen=True)
class PairChunk:
    """Candidate (prediction, GT) pairs of the same image for a contiguous run of predictions.

    ``pred`` (M,) global prediction index, ``gt`` (M,) global GT row index; pairs are grouped
    by prediction; ``seg_start`` (S,) offsets of each group and ``seg_pred`` (S,) its
    prediction. Predictions without any candidate do not appear.
    """

    pred: np.ndarray
    gt: np.ndarray
    seg_start: np.ndarray
    seg_pred: np.ndarray

    def pair_segment(self) -> np.ndarray:
        """(M,) the group (index into ``seg_start``) of each pair."""
        sizes = np.diff(np.append(self.seg_start, self.pred.size))
        return np.repeat(np.arange(self.seg_start.size), sizes)


# Keys ``image * _IMAGE_STRIDE + x1`` sort GT by image, then x1 (pixel coordinates << stride).
_IMAGE_STRIDE = 1.0e7


def iter_pair_chunks(
    pred_image: np.ndarray,
    pred_xyxy: np.ndarray,
    gt_image: np.ndarray,
    gt_xyxy: np.ndarray,
) -> Iterator[PairChunk]:
    """Yield every same-image pair that can reach IoU >= 0.5, in chunks of
    ~:data:`MAX_PAIRS_PER_CHUNK`.

    IoU >= 0.5 needs an x-overlap of at least half of each box's width, which bounds the GT
    left edge to ``[x1_p - w_p, x1_p + w_p / 2]`` (w with the +1 convention, so both IoU
    conventions are covered); the window used is wider still (``[x1_p - 2w - 2, x1_p + w + 2]``),
    so no pair with IoU >= 0.5 is ever left out. Pairs below 0.5 change no protocol's outcome.
    ``pred_image`` (P,) / ``gt_image`` (G,) are image indices, boxes are (N, 4) ``x1 y1 x2 y2``.
    """
    order = np.lexsort((gt_xyxy[:, 0], gt_image))
    keys = gt_image[order] * _IMAGE_STRIDE + gt_xyxy[order, 0]
    width = np.maximum(pred_xyxy[:, 2] - pred_xyxy[:, 0], 0.0) + 1.0
    base = pred_image * _IMAGE_STRIDE + pred_xyxy[:, 0]
    lo = np.searchsorted(keys, base - 2.0 * width - 2.0, side="left")
    hi = np.searchsorted(keys, base + width + 2.0, side="right")
    counts = hi - lo
    cum = np.cumsum(counts)
    first = 0
    while first < len(counts):
        done = cum[first - 1] if first else 0
        last = max(int(np.searchsorted(cum, done + MAX_PAIRS_PER_CHUNK, side="right")), first + 1)
        yield _expand_pairs(first, min(last, len(counts)), lo, counts, order)
        first = last


def _expand_pairs(first: int, last: int, lo: np.ndarray, counts: np.ndarray, order: np.ndarray) -> PairChunk:
    preds = np.arange(first, last, dtype=np.int64)
    n = counts[first:last]
    keep = n > 0
    preds, n, start = preds[keep], n[keep], lo[first:last][keep]
    seg_start = (np.cumsum(n) - n).astype(np.int64)  # (no pair in the chunk: empty, not [0])
    within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(seg_start, n)
    gt = order[np.repeat(start, n) + within]
    return PairChunk(np.repeat(preds, n), gt, seg_start, preds)


def segment_best(values: np.ndarray, chunk: PairChunk) -> tuple[np.ndarray, np.ndarray]:
    """Per prediction of ``chunk``: the max of ``values`` (M,) over its pairs, and the lowest GT
    row attaining it (MATLAB's ``max`` returns the first index). Returns (best, gt) (S,)."""
    if chunk.seg_start.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    best = np.maximum.reduceat(values, chunk.seg_start)
    tied_gt = np.where(values == best[chunk.pair_segment()], chunk.gt, np.iinfo(np.int64).max)
    return best, np.minimum.reduceat(tied_gt, chunk.seg_start)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) ``x y w h`` -> (N, 4) ``x1 y1 x2 y2`` with ``x2 = x + w`` (no -1)."""
    out = np.array(boxes, dtype=np.float64, copy=True)
    out[:, 2:] += out[:, :2]
    return out


def pair_iou(a: np.ndarray, b: np.ndarray, plus_one: bool) -> np.ndarray:
    """Row-wise IoU of (M, 4) ``x1 y1 x2 y2`` arrays.

    plus_one: the official WIDER convention (widths ``x2 - x1 + 1``; IoU 0 when the
    intersection width or height is <= 0). Otherwise areas ``(x2 - x1) * (y2 - y1)``,
    intersection clamped at 0, IoU 0 where the union is 0 (the OMZ convention).
    """
    one = 1.0 if plus_one else 0.0
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + one
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + one
    if plus_one:
        inter = iw * ih
        valid = (iw > 0) & (ih > 0)
    else:
        inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
        valid = np.ones(inter.shape, dtype=bool)
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    union = area_a + area_b - inter
    valid &= union != 0
    out = np.zeros(inter.shape)
    np.divide(inter, union, out=out, where=valid)
    return out
