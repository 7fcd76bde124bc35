"""Exact, fast greedy non-maximum suppression.

The reference is the plain greedy loop (OMZ's ``nms``, insightface's ``cpu_nms``)::

    order = boxes sorted by score, descending (ties: lower index first)
    while order: take the first box i, keep it, drop every remaining box j with
                 IoU(i, j) > thr   (>= thr when suppress_equal)

with ``p = 1 if plus_one else 0``, ``area = (x2 - x1 + p) * (y2 - y1 + p)``,
``inter = max(0, min(x2) - max(x1) + p) * max(0, min(y2) - max(y1) + p)``,
``IoU = inter / (area_i + area_j - inter)``, and IoU = 0 where that union is 0.

:func:`nms` returns exactly the boxes that loop keeps, in the same order, computing the IoUs with
the same float64 expressions. It avoids the loop's O(n * kept) cost in two steps:

1. *Candidate pairs.* IoU > t bounds the centre distance: ``|cx_i - cx_j| < (1 - t) / (2t) * w_k``
   for *both* boxes k = i, j, and the same along y with heights (see
   :func:`rfbench.decoder.nms_grid._radius_factor`).
   Box centres are bucketed into a grid stored cell by cell; each box scans the cells its own
   (slightly inflated) search window reaches, forward in storage order only, so every pair is
   generated once, and the exact IoU is computed for those pairs only, in small chunks.
2. *Greedy resolution* over the sparse "i precedes j and IoU(i, j) exceeds the threshold" graph,
   in vectorised rounds: an undecided box with no undecided predecessor is kept, the successors
   of boxes kept in that round are suppressed, decided boxes leave the graph. This reproduces the
   sequential loop exactly; the number of rounds is the depth of the suppression chains (5 or 6
   on real RetinaFace outputs; a contrived chain of n boxes needs about n/2).

Boxes with a non-positive (effective) width or height have IoU 0 with every box, so for
``iou_threshold > 0`` they are always kept. A threshold < 0 (or 0 with ``suppress_equal``) keeps
only the top box; a threshold of exactly 0 runs the plain loop (:func:`nms_plain`).
"""

from __future__ import annotations

import numpy as np

from rfbench.decoder.nms_grid import grid_edges
from rfbench.decoder.nms_iou import Columns, column_iou, exceeds

_DENSE_MAX = 256  # up to this many boxes all pairs are checked (cheaper than the grid)


def score_order(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` descending; equal scores keep ascending index order.

    Args:
        scores: (N,) float.
    Returns:
        (N,) int64 permutation.
    """
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable").astype(np.int64)


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


def _dense_edges(cols: Columns, thr: float, suppress_equal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Suppression edges (src < dst, score-order rows) from all pairs."""
    a, b = np.triu_indices(cols.x1.size, k=1)
    hit = exceeds(column_iou(cols.take(a), cols.take(b), cols.p), thr, suppress_equal)
    return a[hit].astype(np.int64), b[hit].astype(np.int64)


def _resolve(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Greedy resolution of a suppression graph.

    Args:
        n: number of boxes, in score order; src, dst: (E,) int64 edges with src < dst meaning
            "src suppresses dst if src is kept".
    Returns:
        (n,) bool: kept, exactly as the sequential greedy loop decides.
    """
    undecided = np.ones(n, dtype=bool)
    kept = np.zeros(n, dtype=bool)
    while src.size:
        has_pred = np.zeros(n, dtype=bool)
        has_pred[dst] = True
        new_kept = undecided & ~has_pred
        kept |= new_kept
        undecided &= ~new_kept
        undecided[dst[new_kept[src]]] = False  # suppressed by a box kept in this round
        live = undecided[src] & undecided[dst]
        src, dst = src[live], dst[live]
    kept |= undecided
    return kept


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
    ordered = boxes[order]
    if thr == 0.0 and n > _DENSE_MAX:
        return order[_plain_kept(ordered, thr, plus_one, suppress_equal)]
    cols = Columns(ordered, plus_one)
    edges = _dense_edges if n <= _DENSE_MAX else grid_edges
    src, dst = edges(cols, thr, suppress_equal)
    return order[_resolve(n, src, dst)]
