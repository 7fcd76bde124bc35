"""Per-image outcomes of an eval run for the report: which detections are true or false
positives and which faces were missed, at one score threshold.

The classification is the protocols' own matching (:mod:`rfbench.evaluation`), run on the
predictions scoring at least the threshold: the official one (``match_official`` +
``setting_flags``, a setting such as ``hard``) when the ground truth has the setting lists,
else the OMZ one (``match_omz``). Both rank an image's predictions by score, so keeping only
the predictions above a threshold gives every kept prediction the outcome it has at that
point of the PR curve. GT the protocol does not count (outside the setting's list; under
64 px for OMZ) is *ignored*, and so is a prediction matching only such GT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from rfbench.evaluation.common import PooledPredictions, pair_iou, pool_predictions, xywh_to_xyxy
from rfbench.evaluation.official import OfficialMatches, match_official, setting_flags
from rfbench.evaluation.omz import FP, TP, match_omz, omz_ground_truth
from rfbench.wider.ground_truth import WiderGroundTruth

#: Prediction outcomes.
PRED_TP, PRED_FP, PRED_IGNORED = "tp", "fp", "ignored"
#: GT outcomes.
GT_FOUND, GT_MISSED, GT_IGNORED = "found", "missed", "ignored"


@dataclass
class ImageOutcome:
    """One image at a threshold. ``pred_xywhs`` (P, 5) ``x y w h score`` (score >= threshold,
    highest first) with ``pred_outcome`` (P,) of PRED_*; ``gt_xywh`` (G, 4) with
    ``gt_outcome`` (G,) of GT_*."""

    image_id: str
    pred_xywhs: np.ndarray
    pred_outcome: np.ndarray
    gt_xywh: np.ndarray
    gt_outcome: np.ndarray

    def count(self, what: str) -> int:
        """Count of one outcome: ``tp``/``fp`` (predictions), ``found``/``missed`` (faces),
        ``ignored`` is ambiguous and not accepted (use the arrays)."""
        if what in (PRED_TP, PRED_FP):
            return int((self.pred_outcome == what).sum())
        if what in (GT_FOUND, GT_MISSED):
            return int((self.gt_outcome == what).sum())
        raise ValueError(f"unknown outcome {what!r}")

    @property
    def faces_counted(self) -> int:
        return int((self.gt_outcome != GT_IGNORED).sum())


def above(predictions: Mapping[str, np.ndarray], threshold: float) -> dict[str, np.ndarray]:
    """Each image's (N, 5) rows with score >= ``threshold``."""
    rows = {k: np.asarray(v, dtype=np.float64).reshape(-1, 5) for k, v in predictions.items()}
    return {k: v[v[:, 4] >= threshold] for k, v in rows.items()}


def _image_outcome(image_id: str, pooled: PooledPredictions, lo: int, hi: int, tp: np.ndarray,
                   fp: np.ndarray, gt_xywh: np.ndarray, gt_outcome: np.ndarray) -> ImageOutcome:
    """The outcome of pooled predictions ``lo:hi`` (one image's); ``tp``/``fp``: (hi - lo,)."""
    outcome = np.where(tp, PRED_TP, np.where(fp, PRED_FP, PRED_IGNORED)).astype(object)
    return ImageOutcome(image_id, np.c_[pooled.boxes_xywh[lo:hi], pooled.scores[lo:hi]], outcome,
                        gt_xywh, gt_outcome)


class LazyOutcomes(Sequence[ImageOutcome]):
    """Every image's :class:`ImageOutcome`, built when first read (the report draws a few), with
    ``missed`` and ``counted`` (per image: faces missed, faces counted) known up front."""

    def __init__(self, build: Callable[[int], ImageOutcome], missed: np.ndarray, counted: np.ndarray) -> None:
        self._build = build
        self._built: dict[int, ImageOutcome] = {}
        self.missed, self.counted = missed, counted

    def __len__(self) -> int:
        return len(self.missed)

    @overload
    def __getitem__(self, index: int) -> ImageOutcome: ...

    @overload
    def __getitem__(self, index: slice) -> list[ImageOutcome]: ...

    def __getitem__(self, index: int | slice) -> ImageOutcome | list[ImageOutcome]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        if index not in self._built:
            self._built[index] = self._build(index)
        return self._built[index]


def classify_official(gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray],
                      threshold: float, setting: str = "hard",
                      all_matches: OfficialMatches | None = None) -> LazyOutcomes:
    """Outcomes under the official protocol's ``setting`` (needs ``gt.setting_indices``);
    ``all_matches``: :func:`match_official` of all ``predictions``, when the eval has it."""
    matches = (match_official(gt, above(predictions, threshold)) if all_matches is None
               else all_matches.above(threshold))
    indices = gt.setting_indices[setting]
    proposal, first_recall, _faces = setting_flags(matches, indices)
    pooled = matches.pooled
    counted_gt = np.zeros(len(matches.placeholder), bool)
    for image, rows in enumerate(indices):
        counted_gt[matches.gt_starts[image] + rows] = True
    found_gt = np.zeros_like(counted_gt)
    found_gt[matches.best_gt[first_recall]] = True  # a first recall is of a counted face
    gt_image = np.repeat(np.arange(gt.num_images), np.diff(matches.gt_starts))
    missed = np.bincount(gt_image[counted_gt & ~found_gt], minlength=gt.num_images)
    counted = np.bincount(gt_image[counted_gt], minlength=gt.num_images)

    def build(image: int) -> ImageOutcome:
        lo, hi = int(pooled.starts[image]), int(pooled.starts[image + 1])
        boxes = gt.boxes_xywh[image]
        gt_outcome = np.full(len(boxes), GT_IGNORED, dtype=object)
        gt_outcome[indices[image]] = GT_MISSED
        recalled = matches.best_gt[lo:hi][first_recall[lo:hi]] - matches.gt_starts[image]
        gt_outcome[recalled[(recalled >= 0) & (recalled < len(boxes))]] = GT_FOUND
        return _image_outcome(gt.image_ids[image], pooled, lo, hi, first_recall[lo:hi],
                              proposal[lo:hi], boxes, gt_outcome)

    return LazyOutcomes(build, missed, counted)


def classify_omz(gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray],
                 threshold: float) -> list[ImageOutcome]:
    """Outcomes under the OMZ protocol (faces of 64 px and up counted).

    A face is found when a true positive's matched set holds it: the counted GT at the
    prediction's best IoU (OMZ's matched set, every tied box), from ``match_omz``'s outcome.
    """
    omz_gt = omz_ground_truth(gt)
    pooled = pool_predictions(gt, above(predictions, threshold))
    result = match_omz(omz_gt, pooled)
    pred_xyxy = np.rint(xywh_to_xyxy(pooled.boxes_xywh))
    out = []
    for image, image_id in enumerate(gt.image_ids):
        lo, hi = int(pooled.starts[image]), int(pooled.starts[image + 1])
        g_lo, g_hi = int(omz_gt.starts[image]), int(omz_gt.starts[image + 1])
        ignored = omz_gt.ignored[g_lo:g_hi]
        gt_outcome = np.where(ignored, GT_IGNORED, GT_MISSED).astype(object)
        counted = np.flatnonzero(~ignored)
        for p in np.flatnonzero(result[lo:hi] == TP) + lo:
            iou = pair_iou(np.repeat(pred_xyxy[p:p + 1], len(counted), axis=0),
                           omz_gt.boxes[g_lo:g_hi][counted], plus_one=False)
            gt_outcome[counted[iou == iou.max()]] = GT_FOUND
        out.append(_image_outcome(image_id, pooled, lo, hi, result[lo:hi] == TP,
                                  result[lo:hi] == FP, gt.boxes_xywh[image], gt_outcome))
    return out


def most_missed(outcomes: Sequence[ImageOutcome], count: int) -> list[ImageOutcome]:
    """The ``count`` images with the most missed faces (ties: more faces first, then GT order)."""
    if isinstance(outcomes, LazyOutcomes):
        missed, counted = outcomes.missed.tolist(), outcomes.counted.tolist()
    else:
        missed = [o.count(GT_MISSED) for o in outcomes]
        counted = [o.faces_counted for o in outcomes]
    order = sorted(range(len(outcomes)), key=lambda i: (-missed[i], -counted[i], i))
    return [outcomes[i] for i in order[:count]]
