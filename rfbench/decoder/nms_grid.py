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

import numpy as np

from rfbench.decoder.compiled import numba

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
def _columns(boxes, order, p):  # pragma: no cover - compiled
    """Box columns in score order: x1, y1, x2, y2, area, centres cx, cy, each (N,) float64;
    ``valid`` (N,) bool (positive width and height) and the largest coordinate or size."""
    n = order.size
    x1, y1, x2, y2 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    area, cx, cy = np.empty(n), np.empty(n), np.empty(n)
    valid = np.zeros(n, np.bool_)
    big = 0.0
    for i in range(n):
        r = order[i]
        x1[i], y1[i], x2[i], y2[i] = boxes[r, 0], boxes[r, 1], boxes[r, 2], boxes[r, 3]
        w = x2[i] - x1[i] + p
        h = y2[i] - y1[i] + p
        area[i] = w * h
        cx[i] = 0.5 * (x1[i] + x2[i] + p)
        cy[i] = 0.5 * (y1[i] + y2[i] + p)
        if w > 0.0 and h > 0.0:
            valid[i] = True
            big = max(big, abs(cx[i]), abs(cy[i]), w, h)
    return x1, y1, x2, y2, area, cx, cy, valid, big


@numba.njit(cache=True, nogil=True)
def _grid(cx, cy, rx, ry, valid):  # pragma: no cover - compiled
    """The grid of the valid boxes' centres, stored cell by cell (row-major).

    Args:
        cx, cy: (N,) centres; rx, ry: (N,) search radii; valid: (N,) bool, boxes in the grid.
    Returns:
        (slot_of, start, geometry): ``slot_of[i]`` box i's storage slot (-1 when not in the
        grid; each cell's boxes stay in score order); ``start`` ((nx*ny + 1,)) each cell's first
        slot; ``geometry`` (x0, y0, cells per pixel along x and y, nx, ny).
    """
    n, m = cx.size, 0
    sum_rx, sum_ry = 0.0, 0.0
    x0, y0, xmax, ymax = np.inf, np.inf, -np.inf, -np.inf
    for i in range(n):
        if valid[i]:
            m += 1
            sum_rx, sum_ry = sum_rx + rx[i], sum_ry + ry[i]
            x0, xmax = min(x0, cx[i]), max(xmax, cx[i])
            y0, ymax = min(y0, cy[i]), max(ymax, cy[i])
    sx, sy = _CELL_FACTOR * sum_rx / m, _CELL_FACTOR * sum_ry / m
    span_x, span_y = xmax - x0, ymax - y0
    grow = max(1.0, np.sqrt((span_x / sx + 1.0) * (span_y / sy + 1.0) / (_CELLS_PER_BOX * m + 16.0)))
    ix, iy = 1.0 / (sx * grow), 1.0 / (sy * grow)
    nx, ny = int(span_x * ix) + 1, int(span_y * iy) + 1
    cell = np.empty(n, np.int64)
    start = np.zeros(nx * ny + 1, np.int64)
    for i in range(n):  # a counting sort by cell
        if valid[i]:
            cell[i] = _cell(cy[i], y0, iy, ny) * nx + _cell(cx[i], x0, ix, nx)
            start[cell[i] + 1] += 1
    for c in range(nx * ny):
        start[c + 1] += start[c]
    slot_of = np.full(n, -1, np.int64)
    fill = start[:-1].copy()
    for i in range(n):
        if valid[i]:
            slot_of[i] = fill[cell[i]]
            fill[cell[i]] += 1
    return slot_of, start, (x0, y0, ix, iy, nx, ny)


@numba.njit(cache=True, nogil=True)
def greedy_kept(boxes, order, p, thr, suppress_equal, factor):  # pragma: no cover - compiled
    """(N,) bool over ``order`` ((N,) int64 score order of the (N, 4) float64 ``boxes``): True
    where the plain greedy loop keeps ``boxes[order[k]]``; ``p`` 1.0 for +1 widths and heights,
    else 0.0; suppress IoU > ``thr`` (``0 < thr <= 1``; >= with ``suppress_equal``); ``factor``
    its :func:`radius_factor`.

    Boxes with a non-positive width or height have IoU 0 with every box: they are kept and left
    out of the grid. The search radius ``factor * w`` (and ``* h``) is inflated by a relative 1e-9
    plus an absolute slack so that float rounding can never hide a pair; grid cells are
    :data:`_CELL_FACTOR` times the mean radius, grown so that there are at most
    :data:`_CELLS_PER_BOX` cells per box. The grid's boxes are copied in slot order, so that a
    scan reads memory in order; ``dead[slot]``: suppressed, or already passed by the loop (every
    box before i in score order is dead when i scans).
    """
    x1, y1, x2, y2, area, cx, cy, valid, big = _columns(boxes, order, p)
    kept = np.ones(order.size, np.bool_)
    if not valid.any():
        return kept
    slack, f = 1e-9 * (1.0 + big), factor * (1.0 + 1e-9)
    rx, ry = f * (x2 - x1 + p) + slack, f * (y2 - y1 + p) + slack
    slot_of, start, (x0, y0, ix, iy, nx, ny) = _grid(cx, cy, rx, ry, valid)
    m = start[-1]
    sx1, sy1, sx2, sy2, sarea = np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    for i in range(order.size):
        k = slot_of[i]
        if k >= 0:
            sx1[k], sy1[k], sx2[k], sy2[k], sarea[k] = x1[i], y1[i], x2[i], y2[i], area[i]
    dead = np.zeros(m, np.bool_)
    for i in range(order.size):
        k_i = slot_of[i]
        if k_i < 0:
            continue  # IoU 0 with every box: kept
        if dead[k_i]:
            kept[i] = False
            continue
        dead[k_i] = True
        gx_lo, gx_hi = _cell(cx[i] - rx[i], x0, ix, nx), _cell(cx[i] + rx[i], x0, ix, nx)
        gy_lo, gy_hi = _cell(cy[i] - ry[i], y0, iy, ny), _cell(cy[i] + ry[i], y0, iy, ny)
        for gy in range(gy_lo, gy_hi + 1):
            for k in range(start[gy * nx + gx_lo], start[gy * nx + gx_hi + 1]):
                if not dead[k]:
                    iw = min(x2[i], sx2[k]) - max(x1[i], sx1[k]) + p
                    ih = min(y2[i], sy2[k]) - max(y1[i], sy1[k]) + p
                    inter = max(iw, 0.0) * max(ih, 0.0)
                    iou = inter / (area[i] + sarea[k] - inter)  # union >= max area > 0
                    dead[k] = iou >= thr if suppress_equal else iou > thr
    return kept
