"""Average precision as the WIDER and VOC tools compute it."""

from __future__ import annotations

import numpy as np


def voc_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC all-points AP of a PR curve.

    ``precision`` and ``recall`` are (K,) arrays in curve order (recall non-decreasing).
    ``mrec = [0, recall, 1]``, ``mpre = [0, precision, 0]``; the precision envelope is the
    running maximum from the right, ignoring NaN (MATLAB ``max`` semantics, so 0/0 precision
    at high thresholds does not poison the curve); AP sums ``(mrec[i] - mrec[i-1]) * mpre[i]``
    where recall changes.
    """
    mrec = np.concatenate(([0.0], np.asarray(recall, dtype=np.float64), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, dtype=np.float64), [0.0]))
    envelope = np.fmax.accumulate(mpre[::-1])[::-1]
    change = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[change] - mrec[change - 1]) * envelope[change]))
