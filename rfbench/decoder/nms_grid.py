"""The greedy NMS loop of :func:`rfbench.decoder.nms.nms`, compiled, over a grid of box centres.

Boxes are taken in score order; each kept box suppresses the later boxes it overlaps, found through
a grid of box centres instead of a scan of all later boxes (steps 1 and 2 of the module docstring
of :mod:`rfbench.decoder.nms`).

Compiled with numba (``cache=True``: the machine code is written next to this file, or to numba's
user cache when that is read-only, so only the first run on a machine pays the ~1-2 s compile).
The IoU uses the reference loop's float64 expressions in the same order, and numba compiles them
without fast-math or contraction into fused multiply-adds, so every IoU equals numpy's.
"""

from __future__ import annotations

import numba
import numpy as np

_CELL_FACTOR = 0.5  # grid cell size relative to the mean search radius
_CELLS_PER_BOX = 4.0  # at most this many grid cells per box


def radius_factor(thr: float) -> float:
    """Bound f with ``|cx_i - cx_j| < f * w_k`` for k = i and k = j, for any pair with IoU > thr.

    IoU > t means ``inter * (1 + t) > t * (A_i + A_j)``; with ``inter <= iw * min(h)`` and
    ``A >= w * min(h)`` this gives ``iw > t * (w_i + w_j) / (1 + t)``. As ``iw <= min(w_i, w_j)``
    the widths differ by less than a factor 1/t, and as ``iw <= (w_i + w_j) / 2 - |cx_i - cx_j|``,
    ``|cx_i - cx_j| < (w_i + w_j) * (1 - t) / (2 * (1 + t)) < w_k * (1 - t) / (2 * t)``.
    The same holds along y with heights. The bound is tight: a box of width ``w / t * (1 - e)``
    containing one of width w at its side comes arbitrarily close (0 < t <= 1).
    """
    return (1.0 - thr) / (2.0 * thr)


@numba.njit(cache=True, nogil=True)
def _cell(v: float, v0: float, inv: float, count: int) -> int:
    """Grid cell of coordinate ``v``: monotone in v, clipped to ``[0, count - 1]``."""
    c = (v - v0) * inv
    if c <= 0.0:
        return 0
    if c >= count - 1:
        return count - 1
    return int(c)


@numba.njit(cache=True, nogil=True)
def greedy_kept(boxes, order, p, thr, suppress_equal, factor):  # pragma: no cover - compiled
    """Kept mask of the greedy loop over ``boxes[order]``.

    Args:
        boxes: (N, 4) float64 x1, y1, x2, y2; order: (N,) int64 score order
            (:func:`rfbench.decoder.nms.score_order`).
        p: 1.0 for +1 widths and heights, else 0.0.
        thr: IoU threshold, ``0 < thr <= 1``; suppress IoU > thr (>= with ``suppress_equal``).
        factor: :func:`radius_factor` of ``thr``.
    Returns:
        (N,) bool over ``order``: True where the plain greedy loop keeps ``boxes[order[k]]``.

    Boxes with a non-positive width or height have IoU 0 with every box: they are kept and left
    out of the grid. The search radius ``factor * w`` (and ``* h``) is inflated by a relative 1e-9
    plus an absolute slack so that float rounding can never hide a pair; grid cells are
    :data:`_CELL_FACTOR` times the mean radius, grown so that there are at most
    :data:`_CELLS_PER_BOX` cells per box.
    """
    n = order.size
    x1, y1, x2, y2 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        r = order[i]
        x1[i], y1[i], x2[i], y2[i] = boxes[r, 0], boxes[r, 1], boxes[r, 2], boxes[r, 3]
    kept = np.zeros(n, np.bool_)
    area = np.empty(n)
    cx = np.empty(n)
    cy = np.empty(n)
    valid = np.zeros(n, np.bool_)
    m = 0
    big = 0.0
    for i in range(n):
        w = x2[i] - x1[i] + p
        h = y2[i] - y1[i] + p
        area[i] = w * h
        cx[i] = 0.5 * (x1[i] + x2[i] + p)
        cy[i] = 0.5 * (y1[i] + y2[i] + p)
        if w > 0.0 and h > 0.0:
            valid[i] = True
            m += 1
            big = max(big, abs(cx[i]), abs(cy[i]), w, h)
    if m == 0:
        kept[:] = True
        return kept
    slack = 1e-9 * (1.0 + big)
    f = factor * (1.0 + 1e-9)
    sum_rx = 0.0
    sum_ry = 0.0
    x0, y0, xmax, ymax = np.inf, np.inf, -np.inf, -np.inf
    for i in range(n):
        if valid[i]:
            sum_rx += f * (x2[i] - x1[i] + p) + slack
            sum_ry += f * (y2[i] - y1[i] + p) + slack
            x0, xmax = min(x0, cx[i]), max(xmax, cx[i])
            y0, ymax = min(y0, cy[i]), max(ymax, cy[i])
    sx = _CELL_FACTOR * sum_rx / m
    sy = _CELL_FACTOR * sum_ry / m
    span_x, span_y = xmax - x0, ymax - y0
    grow = max(1.0, np.sqrt((span_x / sx + 1.0) * (span_y / sy + 1.0) / (_CELLS_PER_BOX * m + 16.0)))
    ix, iy = 1.0 / (sx * grow), 1.0 / (sy * grow)
    nx, ny = int(span_x * ix) + 1, int(span_y * iy) + 1
    # counting sort of the valid boxes by cell; each cell's rows stay ascending (= score order)
    cell = np.empty(n, np.int64)
    start = np.zeros(nx * ny + 1, np.int64)
    for i in range(n):
        if valid[i]:
            c = _cell(cy[i], y0, iy, ny) * nx + _cell(cx[i], x0, ix, nx)
            cell[i] = c
            start[c + 1] += 1
    for c in range(nx * ny):
        start[c + 1] += start[c]
    # the grid's boxes by slot (cell order), their columns copied so that scans read memory in
    # order; ``dead[slot]``: suppressed, or already passed by the greedy loop (so every box
    # before i in score order is dead when i scans)
    slot_of = np.full(n, -1, np.int64)
    fill = start[:-1].copy()
    for i in range(n):
        if valid[i]:
            slot_of[i] = fill[cell[i]]
            fill[cell[i]] += 1
    sx1, sy1, sx2, sy2, sarea = np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    for i in range(n):
        k = slot_of[i]
        if k >= 0:
            sx1[k], sy1[k], sx2[k], sy2[k], sarea[k] = x1[i], y1[i], x2[i], y2[i], area[i]
    dead = np.zeros(m, np.bool_)
    for i in range(n):
        k_i = slot_of[i]
        if k_i < 0:
            kept[i] = True  # IoU 0 with every box
            continue
        if dead[k_i]:
            continue
        kept[i] = True
        dead[k_i] = True
        rx = f * (x2[i] - x1[i] + p) + slack
        ry = f * (y2[i] - y1[i] + p) + slack
        gx_lo, gx_hi = _cell(cx[i] - rx, x0, ix, nx), _cell(cx[i] + rx, x0, ix, nx)
        gy_lo, gy_hi = _cell(cy[i] - ry, y0, iy, ny), _cell(cy[i] + ry, y0, iy, ny)
        ax1, ay1, ax2, ay2, a_area = x1[i], y1[i], x2[i], y2[i], area[i]
        for gy in range(gy_lo, gy_hi + 1):
            row = gy * nx
            for k in range(start[row + gx_lo], start[row + gx_hi + 1]):
                if dead[k]:
                    continue
                iw = min(ax2, sx2[k]) - max(ax1, sx1[k]) + p
                ih = min(ay2, sy2[k]) - max(ay1, sy1[k]) + p
                inter = max(iw, 0.0) * max(ih, 0.0)
                iou = inter / (a_area + sarea[k] - inter)  # union >= max area > 0
                if iou >= thr if suppress_equal else iou > thr:
                    dead[k] = True
    return kept
