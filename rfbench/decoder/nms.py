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
   for *both* boxes k = i, j, and the same along y with heights (see :func:`_radius_factor`).
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

from dataclasses import dataclass

import numpy as np

_DENSE_MAX = 256  # up to this many boxes all pairs are checked (cheaper than the grid)
_CELL_FACTOR = 0.25  # grid cell size relative to the mean search radius
_CELLS_PER_BOX = 2.0  # at most this many grid cells per box
_BLOCK = 2048  # boxes whose searches are expanded together
_CHUNK = 8192  # candidate pairs whose IoU is computed together (64 KiB per float64 temporary)


def score_order(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` descending; equal scores keep ascending index order.

    Args:
        scores: (N,) float.
    Returns:
        (N,) int64 permutation.
    """
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable").astype(np.int64)


class _Columns:
    """Box columns of boxes in score order: x1, y1, x2, y2, area; each (N,) float64."""

    def __init__(self, ordered: np.ndarray, plus_one: bool):
        self.p = 1.0 if plus_one else 0.0
        self.x1, self.y1, self.x2, self.y2 = (np.ascontiguousarray(ordered[:, k]) for k in range(4))
        self.w = self.x2 - self.x1 + self.p
        self.h = self.y2 - self.y1 + self.p
        self.area = self.w * self.h

    def take(self, index: np.ndarray) -> tuple[np.ndarray, ...]:
        """x1, y1, x2, y2, area of the rows ``index``."""
        return tuple(np.take(c, index) for c in (self.x1, self.y1, self.x2, self.y2, self.area))


def _iou(
    a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...], p: float, positive: bool = False
) -> np.ndarray:
    """IoU of pairs from columns ``(x1, y1, x2, y2, area)`` of both sides, reference expressions.

    ``positive=True`` promises that every box has a positive width and height: then the union
    (>= the larger area, also in floating point) is never 0 and the zero guard is skipped.

    Returns:
        (M,) float64 ``inter / union``, 0 where the union is 0.
    """
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
    if positive:
        inter /= union
        return inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)


def pair_iou(boxes: np.ndarray, i: np.ndarray, j: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """IoU of box pairs, computed as the reference loop computes it.

    Args:
        boxes: (N, 4) float64 x1, y1, x2, y2; i, j: (M,) int indices into ``boxes``.
        plus_one: add 1 to widths and heights (inclusive pixel convention).
    Returns:
        (M,) float64 IoU, 0 where the union is 0.
    """
    cols = _Columns(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), plus_one)
    return _iou(cols.take(np.asarray(i)), cols.take(np.asarray(j)), cols.p)


def _exceeds(iou: np.ndarray, thr: float, suppress_equal: bool) -> np.ndarray:
    """Mask of IoUs that suppress: > thr, or >= thr with ``suppress_equal``."""
    return iou >= thr if suppress_equal else iou > thr


def _expand_ranges(
    starts: np.ndarray, stops: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Flatten integer ranges [starts[k], stops[k]) (empty where stop <= start).

    Built with one cumulative sum per output (no per-range Python or ``np.repeat`` work).

    Args:
        starts, stops: (K,) int64; labels: (K,) int64 value attached to each range.
    Returns:
        (values, owners): the concatenated range values and, for each, its range's label.
    """
    counts = stops - starts
    nonempty = counts > 0
    s, c, lab = starts[nonempty], counts[nonempty], labels[nonempty]
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.cumsum(c) - c
    total = int(first[-1] + c[-1])
    step = np.ones(total, np.int64)
    step[0] = s[0]
    step[first[1:]] = s[1:] - (s[:-1] + c[:-1] - 1)
    mark = np.zeros(total, np.int64)
    mark[0] = lab[0]
    mark[first[1:]] = np.diff(lab)
    return np.cumsum(step), np.cumsum(mark)


def _radius_factor(thr: float) -> float:
    """Bound f with ``|cx_i - cx_j| < f * w_k`` for k = i and k = j, for any pair with IoU > thr.

    IoU > t means ``inter * (1 + t) > t * (A_i + A_j)``; with ``inter <= iw * min(h)`` and
    ``A >= w * min(h)`` this gives ``iw > t * (w_i + w_j) / (1 + t)``. As ``iw <= min(w_i, w_j)``
    the widths differ by less than a factor 1/t, and as ``iw <= (w_i + w_j) / 2 - |cx_i - cx_j|``,
    ``|cx_i - cx_j| < (w_i + w_j) * (1 - t) / (2 * (1 + t)) < w_k * (1 - t) / (2 * t)``.
    The same holds along y with heights. The bound is tight: a box of width ``w / t * (1 - e)``
    containing one of width w at its side comes arbitrarily close (0 < t <= 1).
    """
    return (1.0 - thr) / (2.0 * thr)


def _dense_edges(cols: _Columns, thr: float, suppress_equal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Suppression edges (src < dst, score-order rows) from all pairs."""
    a, b = np.triu_indices(cols.x1.size, k=1)
    hit = _exceeds(_iou(cols.take(a), cols.take(b), cols.p), thr, suppress_equal)
    return a[hit].astype(np.int64), b[hit].astype(np.int64)


@dataclass(frozen=True)
class _Grid:
    """Box centres bucketed into grid cells, stored row-major with each cell's boxes contiguous.

    Per stored box k (all (M,) arrays, M = boxes with positive width and height): ``rows[k]`` its
    score-order row; ``gy[k]`` its cell row; ``gx_lo, gx_hi, gy_hi`` the cell columns and last
    cell row its search window reaches. ``start`` ((nx*ny + 1,)) is the first stored box of each
    cell; ``nx`` the number of cell columns.
    """

    rows: np.ndarray
    gy: np.ndarray
    gx_lo: np.ndarray
    gx_hi: np.ndarray
    gy_hi: np.ndarray
    start: np.ndarray
    nx: int


def _build_grid(cols: _Columns, thr: float) -> _Grid | None:
    """The search grid for threshold ``0 < thr <= 1``; None when fewer than two boxes count.

    Boxes of non-positive width or height are left out (their IoU with any box is 0). Search
    radii are the centre-distance bound of :func:`_radius_factor`, inflated by a relative 1e-9
    so that float rounding can never hide a pair; cells are :data:`_CELL_FACTOR` times the
    mean radius (at most :data:`_CELLS_PER_BOX` cells per box and 60,000 cells).
    """
    idx = np.flatnonzero((cols.w > 0) & (cols.h > 0))
    if idx.size < 2:
        return None
    p = cols.p
    cx = 0.5 * (cols.x1[idx] + cols.x2[idx] + p)
    cy = 0.5 * (cols.y1[idx] + cols.y2[idx] + p)
    w, h = cols.w[idx], cols.h[idx]
    slack = 1e-9 * (1.0 + max(float(np.abs(cx).max()), float(np.abs(cy).max()),
                              float(w.max()), float(h.max())))
    f = _radius_factor(thr) * (1.0 + 1e-9)
    rx, ry = f * w + slack, f * h + slack
    x0, y0 = float(cx.min()), float(cy.min())
    span_x, span_y = float(cx.max()) - x0, float(cy.max()) - y0
    sx, sy = _CELL_FACTOR * float(rx.mean()), _CELL_FACTOR * float(ry.mean())
    max_cells = min(_CELLS_PER_BOX * idx.size + 16.0, 60000.0)  # < 2**16: radix-sortable ids
    grow = max(1.0, np.sqrt((span_x / sx + 1.0) * (span_y / sy + 1.0) / max_cells))
    ix, iy = 1.0 / (sx * grow), 1.0 / (sy * grow)  # cells per pixel
    nx, ny = int(span_x * ix) + 1, int(span_y * iy) + 1

    def cell_of(v: np.ndarray, v0: float, inv: float, count: int) -> np.ndarray:
        # monotone in v, so a box inside a window is inside the window's cells
        return np.clip((v - v0) * inv, 0, count - 1).astype(np.int64)

    gy = cell_of(cy, y0, iy, ny)
    cell = gy * nx + cell_of(cx, x0, ix, nx)
    perm = np.argsort(cell.astype(np.uint16 if nx * ny <= 65535 else np.int64), kind="stable")
    start = np.zeros(nx * ny + 1, np.int64)
    np.cumsum(np.bincount(cell, minlength=nx * ny), out=start[1:])
    cx, cy, rx, ry = cx[perm], cy[perm], rx[perm], ry[perm]
    return _Grid(
        rows=idx[perm],
        gy=gy[perm],
        gx_lo=cell_of(cx - rx, x0, ix, nx),
        gx_hi=cell_of(cx + rx, x0, ix, nx),
        gy_hi=cell_of(cy + ry, y0, iy, ny),
        start=start,
        nx=nx,
    )


def _block_ranges(grid: _Grid, block: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Storage ranges the stored boxes ``block`` must pair with, one per reached cell row.

    Only boxes stored after the searching box are included, so each pair is generated once.

    Returns:
        (lo, hi, query): (Q,) range bounds into storage and the searching box's storage index.
    """
    first = block.start
    query_box = np.arange(first, first + grid.gy[block].size, dtype=np.int64)
    cell_row, query = _expand_ranges(grid.gy[block], grid.gy_hi[block] + 1, query_box)
    base = cell_row * grid.nx
    lo = grid.start[base + grid.gx_lo[query]]
    hi = grid.start[base + grid.gx_hi[query] + 1]
    own = cell_row == grid.gy[query]
    lo[own] = np.maximum(lo[own], query[own] + 1)
    return lo, hi, query


def _range_hits(
    stored: tuple[np.ndarray, ...], p: float, grid: _Grid, lo: np.ndarray, hi: np.ndarray,
    query: np.ndarray, thr: float, suppress_equal: bool,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pairs (query[q], every box stored in [lo[q], hi[q])) whose IoU reaches the threshold.

    ``stored``: x1, y1, x2, y2, area in grid storage order, so that the boxes of a range are
    contiguous. Works in chunks of about :data:`_CHUNK` pairs so that temporaries stay small
    (large fresh arrays cost page faults, which dominate otherwise).

    Returns:
        Lists of (src, dst) arrays of score-order rows, src < dst.
    """
    counts = np.maximum(hi - lo, 0)
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, np.arange(_CHUNK, int(cum[-1]) if cum.size else 0, _CHUNK), side="left")
    bounds = np.concatenate(([0], cuts + 1, [lo.size]))
    src, dst = [], []
    for q0, q1 in zip(bounds[:-1], bounds[1:]):
        if q1 <= q0:
            continue
        b_pos, a_pos = _expand_ranges(lo[q0:q1], hi[q0:q1], query[q0:q1])
        if b_pos.size == 0:
            continue
        a_cols = tuple(np.take(c, a_pos) for c in stored)
        b_cols = tuple(np.take(c, b_pos) for c in stored)
        hit = _exceeds(_iou(a_cols, b_cols, p, positive=True), thr, suppress_equal)
        a, b = grid.rows[a_pos[hit]], grid.rows[b_pos[hit]]
        src.append(np.minimum(a, b))
        dst.append(np.maximum(a, b))
    return src, dst


def _grid_edges(cols: _Columns, thr: float, suppress_equal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Suppression edges (src < dst, score-order rows) among spatially close pairs only.

    Each box scans the grid cells within its own search radii (forward in storage order) and
    the IoU of every pair found is computed exactly; processed in blocks of :data:`_BLOCK` boxes.
    Requires ``0 < thr <= 1``.
    """
    grid = _build_grid(cols, thr)
    if grid is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    stored = cols.take(grid.rows)
    src, dst = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for b0 in range(0, grid.rows.size, _BLOCK):
        lo, hi, query = _block_ranges(grid, slice(b0, b0 + _BLOCK))
        s, d = _range_hits(stored, cols.p, grid, lo, hi, query, thr, suppress_equal)
        src += s
        dst += d
    return np.concatenate(src), np.concatenate(dst)


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
    cols = _Columns(ordered, plus_one)
    remaining = np.arange(ordered.shape[0], dtype=np.int64)
    kept = []
    while remaining.size:
        first, rest = remaining[0], remaining[1:]
        kept.append(first)
        iou = _iou(cols.take(np.full(rest.size, first)), cols.take(rest), cols.p)
        remaining = rest[~_exceeds(iou, thr, suppress_equal)]
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
    cols = _Columns(ordered, plus_one)
    edges = _dense_edges if n <= _DENSE_MAX else _grid_edges
    src, dst = edges(cols, thr, suppress_equal)
    return order[_resolve(n, src, dst)]
