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

from collections.abc import Sequence

import numpy as np


def score_order(scores: np.ndarray) -> np.ndarray:
    """(N,) int64 indices sorting (N,) ``scores`` descending, equal scores by ascending index:
    ``np.argsort(-scores, kind="stable")`` (a compiled radix sort, :mod:`.radix`, unless NaN)."""
    scores = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1)
    if np.isnan(scores).any():
        return np.argsort(-scores, kind="stable").astype(np.int64)
    from rfbench.decoder.radix import descending_order  # numba: imported when used

    return descending_order(scores)


def _columns(boxes: np.ndarray, p: float) -> tuple[np.ndarray, ...]:
    """x1, y1, x2, y2 and area of (N, 4) float64 boxes, each (N,) float64 (``p``: 1.0 for +1)."""
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k]) for k in range(4))
    return x1, y1, x2, y2, (x2 - x1 + p) * (y2 - y1 + p)


def _column_iou(a: Sequence[np.ndarray], b: Sequence[np.ndarray], p: float) -> np.ndarray:
    """IoU of pairs from columns ``(x1, y1, x2, y2, area)`` of both sides, in the reference
    loop's float64 expressions (the compiled loop, :mod:`rfbench.decoder.nms_grid`, writes the
    same ones); (M,) float64, 0 where the union is 0."""
    iw = np.minimum(a[2], b[2])
    iw -= np.maximum(a[0], b[0])
    ih = np.minimum(a[3], b[3])
    ih -= np.maximum(a[1], b[1])
    if p:
        iw += p
        ih += p
    np.maximum(iw, 0.0, out=iw)
    np.maximum(ih, 0.0, out=ih)
    inter = iw
    inter *= ih
    union = a[4] + b[4]
    union -= inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)


def pair_iou(boxes: np.ndarray, i: np.ndarray, j: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """(M,) float64 IoU of the pairs ``boxes[i]``, ``boxes[j]`` ((N, 4) x1, y1, x2, y2; (M,)
    indices), as the reference loop computes it (``plus_one``: +1 widths and heights), 0 where
    the union is 0."""
    p = 1.0 if plus_one else 0.0
    cols = _columns(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), p)
    return _column_iou([np.take(c, np.asarray(i)) for c in cols],
                       [np.take(c, np.asarray(j)) for c in cols], p)


def _plain_kept(ordered: np.ndarray, thr: float, plus_one: bool, suppress_equal: bool) -> np.ndarray:
    """(K,) int64 rows kept by the plain greedy loop on boxes already in score order, ascending."""
    p = 1.0 if plus_one else 0.0
    cols = _columns(ordered, p)
    remaining = np.arange(ordered.shape[0], dtype=np.int64)
    kept = []
    while remaining.size:
        first, rest = remaining[0], remaining[1:]
        kept.append(first)
        iou = _column_iou([np.full(rest.size, c[first]) for c in cols],
                          [np.take(c, rest) for c in cols], p)
        remaining = rest[~(iou >= thr if suppress_equal else iou > thr)]
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
    if order.size == 0:
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
