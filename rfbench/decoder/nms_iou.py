"""Box columns and the reference loop's float64 IoU expressions, for the plain greedy loop
(:func:`rfbench.decoder.nms.nms_plain`) and :func:`rfbench.decoder.nms.pair_iou`.

The compiled loop (:mod:`rfbench.decoder.nms_grid`) writes the same expressions in the same order.
"""

from __future__ import annotations

import numpy as np


class Columns:
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


def column_iou(
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


def exceeds(iou: np.ndarray, thr: float, suppress_equal: bool) -> np.ndarray:
    """Mask of IoUs that suppress: > thr, or >= thr with ``suppress_equal``."""
    return iou >= thr if suppress_equal else iou > thr
