"""The score order of :func:`rfbench.decoder.nms.score_order`, by a compiled radix sort.

A stable sort of the scores' float64 bit patterns, about three times faster than numpy's stable
(merge) argsort on the 12,800 scores of a stride-8 level.

Each key is the bit pattern of ``-score + 0.0`` (adding 0.0 turns -0.0 into 0.0, so equal
scores give equal keys as they compare equal for numpy), mapped so that unsigned order is float
order (negative: all bits flipped; else the sign bit set). Eight least-significant-first passes of
8 bits, each stable, give the ascending key order with ties by ascending index; a pass whose byte
is the same for every key is skipped.
"""

from __future__ import annotations

import numpy as np

from rfbench.decoder.compiled import numba


@numba.njit(cache=True, nogil=True)
def descending_order(scores):  # pragma: no cover - compiled
    """(N,) int64 indices sorting (N,) float64 ``scores`` (no NaN) descending, equal scores by
    ascending index, as ``np.argsort(-scores, kind="stable")``."""
    n = scores.size
    negated = np.empty(n, np.float64)
    for i in range(n):
        negated[i] = -scores[i] + 0.0
    keys = negated.view(np.uint64).copy()
    top = np.uint64(1) << np.uint64(63)
    for i in range(n):
        keys[i] = ~keys[i] if keys[i] & top else keys[i] | top
    order = np.arange(n)
    spare = np.empty(n, np.int64)
    count = np.empty(257, np.int64)
    for shift in range(0, 64, 8):
        count[:] = 0
        s = np.uint64(shift)
        for i in range(n):
            count[((keys[i] >> s) & np.uint64(255)) + 1] += 1
        if count.max() == n:
            continue  # every key has this byte: the pass would not move anything
        for b in range(256):
            count[b + 1] += count[b]
        for i in range(n):
            k = order[i]
            b = (keys[k] >> s) & np.uint64(255)
            spare[count[b]] = k
            count[b] += 1
        order, spare = spare, order
    return order
