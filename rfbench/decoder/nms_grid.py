"""The grid candidate search of :func:`rfbench.decoder.nms.nms` for many boxes: box centres
bucketed into grid cells, each box paired only with the boxes its search window reaches, and the
exact IoU computed for those pairs (step 1 of the module docstring of :mod:`rfbench.decoder.nms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rfbench.decoder.nms_iou import Columns, column_iou, exceeds

_CELL_FACTOR = 0.25  # grid cell size relative to the mean search radius
_CELLS_PER_BOX = 2.0  # at most this many grid cells per box
_BLOCK = 2048  # boxes whose searches are expanded together
_CHUNK = 8192  # candidate pairs whose IoU is computed together (64 KiB per float64 temporary)


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


def _build_grid(cols: Columns, thr: float) -> _Grid | None:
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
        hit = exceeds(column_iou(a_cols, b_cols, p, positive=True), thr, suppress_equal)
        a, b = grid.rows[a_pos[hit]], grid.rows[b_pos[hit]]
        src.append(np.minimum(a, b))
        dst.append(np.maximum(a, b))
    return src, dst


def grid_edges(cols: Columns, thr: float, suppress_equal: bool) -> tuple[np.ndarray, np.ndarray]:
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
