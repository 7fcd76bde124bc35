"""Exact, fast greedy non-maximum suppression.

The reference is the plain greedy loop (OMZ's ``nms``, insightface's ``cpu_nms``)::

    order = boxes sorted by score, descending (ties: lower index first)
    while order: take the first box i, keep it, drop every remaining box j with
                 IoU(i, j) > thr   (>= thr when suppress_equal)

with ``p = 1 if plus_one else 0``, ``area = (x2 - x1 + p) * (y2 - y1 + p)``,
``inter = max(0, min(x2) - max(x1) + p) * max(0, min(y2) - max(y1) + p)``,
``IoU = inter / (area_i + area_j - inter)``, and IoU = 0 where that union is 0.

:func:`nms` returns exactly the boxes that loop keeps, in the same order, computing the IoUs with
the same float64 expressions. It runs that same loop, compiled (:mod:`rfbench.decoder.nms_grid`),
and avoids its O(n * kept) cost by comparing each kept box only with the later boxes that could
reach the threshold:

1. *The centre-distance bound.* IoU > t bounds the centre distance: ``|cx_i - cx_j| < (1 - t) /
   (2t) * w_k`` for *both* boxes k = i, j, and the same along y with heights (see
   :func:`rfbench.decoder.nms_grid.radius_factor`).
2. *A grid of centres.* Box centres are bucketed into a grid stored cell by cell; a kept box scans
   only the cells its own (slightly inflated) search window reaches, and suppresses the later,
   not yet suppressed boxes there whose exact IoU exceeds the threshold.

Boxes with a non-positive (effective) width or height have IoU 0 with every box, so for
``iou_threshold > 0`` they are always kept. A threshold < 0 (or 0 with ``suppress_equal``) keeps
only the top box; a threshold of exactly 0 runs the plain loop (:func:`nms_plain`).
"""

from __future__ import annotations

import numpy as np

from rfbench.decoder.nms_iou import Columns, column_iou, exceeds


def score_order(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` descending; equal scores keep ascending index order.

    Args:
        scores: (N,) float.
    Returns:
        (N,) int64 permutation, ``np.argsort(-scores, kind="stable")`` (a compiled radix sort,
        :mod:`rfbench.decoder.radix`, unless a score is NaN).
    """
    scores = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1)
    if np.isnan(scores).any():
        return np.argsort(-scores, kind="stable").astype(np.int64)
    from rfbench.decoder.radix import descending_order  # numba: imported when used

    return descending_order(scores)


def pair_iou(boxes: np.ndarray, i: np.ndarray, j: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """IoU of box pairs, computed as the reference loop computes it.

    Args:
        boxes: (N, 4) float64 x1, y1, x2, y2; i, j: (M,) int indices into ``boxes``.
        plus_one: add 1 to widths and heights (inclusive pixel convention).
    Returns:
        (M,) float64 IoU, 0 where the union is 0.
    """
    cols = Columns(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), plus_one)
    return column_iou(cols.take(np.asarray(i)), cols.take(np.asarray(j)), cols.p)


def _plain_kept(ordered: np.ndarray, thr: float, plus_one: bool, suppress_equal: bool) -> np.ndarray:
    """The plain greedy loop on boxes already in score order.

    Returns:
        (K,) int64 row indices of the kept boxes, ascending (= score order).
    """
    cols = Columns(ordered, plus_one)
    remaining = np.arange(ordered.shape[0], dtype=np.int64)
    kept = []
    while remaining.size:
        first, rest = remaining[0], remaining[1:]
        kept.append(first)
        iou = column_iou(cols.take(np.full(rest.size, first)), cols.take(rest), cols.p)
        remaining = rest[~exceeds(iou, thr, suppress_equal)]
    return np.asarray(kept, dtype=np.int64)


def nms_plain(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    *,
    plus_one: bool = False,
    suppress_equal: bool = False,
) -> np.ndarray:
    """The plain greedy loop itself, O(N * kept): the slow reference :func:`nms` must equal."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = score_order(scores)
    return order[_plain_kept(boxes[order], float(iou_threshold), plus_one, suppress_equal)]


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    *,
    plus_one: bool = False,
    suppress_equal: bool = False,
) -> np.ndarray:
    """Greedy NMS, exactly the kept set and order of the plain loop (see the module docstring).

    Args:
        boxes: (N, 4) x1, y1, x2, y2 (finite).
        scores: (N,) (not NaN); order: descending, equal scores by ascending index.
        iou_threshold: suppress IoU > threshold (>= with ``suppress_equal``).
        plus_one: widths/heights are ``x2 - x1 + 1`` (insightface ``cpu_nms``); else ``x2 - x1``.
        suppress_equal: also suppress IoU == threshold (insightface ``cpu_nms`` uses >=).
    Returns:
        (K,) int64 indices of the kept boxes, in descending score order.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"nms: {boxes.shape[0]} boxes but {scores.shape[0]} scores")
    if np.isnan(scores).any():
        raise ValueError("nms: scores contain NaN")
    order = score_order(scores)
    n = order.size
    if n == 0:
        return order
    thr = float(iou_threshold)
    if thr > 1.0 or (thr == 1.0 and not suppress_equal):
        return order  # IoU never exceeds 1
    if thr < 0.0 or (thr == 0.0 and suppress_equal):
        return order[:1]  # every IoU (>= 0) reaches the threshold: the first box takes all
    if thr == 0.0:
        return order[_plain_kept(boxes[order], thr, plus_one, suppress_equal)]
    from rfbench.decoder.nms_grid import greedy_kept, radius_factor  # numba: imported when used

    kept = greedy_kept(np.ascontiguousarray(boxes), order, 1.0 if plus_one else 0.0, thr,
                       bool(suppress_equal), radius_factor(thr))
    return order[kept]
