"""Anchors (layout A) and priors (layout B) of RetinaFace, built once per size and cached.

Layout A (insightface / MXNet, py-faster-rcnn scheme): per stride two square anchors per cell,
larger first; the base anchors sit at centre 7.5 and are shifted by ``(ix*s, iy*s)``.
Layout B (biubug6 Pytorch_Retinaface): normalised priors ``cx, cy, w, h`` for steps 8, 16, 32.
See ``shared/spec/decoding.md``. Cached arrays are read-only: copy before modifying.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

import numpy as np

#: Layout-A strides in output order.
STRIDES_A: tuple[int, ...] = (32, 16, 8)
#: Layout-A anchor scales per stride, larger first (a=0 is the larger anchor).
SCALES_A: dict[int, tuple[int, ...]] = {32: (32, 16), 16: (8, 4), 8: (2, 1)}
#: Layout-A base anchor size in pixels.
BASE_SIZE_A = 16

#: Layout-B steps and min sizes per step.
STEPS_B: tuple[int, ...] = (8, 16, 32)
MIN_SIZES_B: tuple[tuple[int, ...], ...] = ((16, 32), (64, 128), (256, 512))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@cache
def base_anchors_a(stride: int) -> np.ndarray:
    """(A, 4) float64 base anchors ``x1, y1, x2, y2`` of one layout-A stride, in pixels (+1
    convention), A = 2, larger first: ``[7.5 - 0.5*(16k - 1), same, 7.5 + 0.5*(16k - 1), same]``."""
    if stride not in SCALES_A:
        raise ValueError(f"layout A has strides {STRIDES_A}, not {stride}")
    half = 0.5 * (BASE_SIZE_A * np.asarray(SCALES_A[stride], dtype=np.float64) - 1.0)
    centre = 0.5 * (BASE_SIZE_A - 1)
    return _read_only(np.stack([centre - half, centre - half, centre + half, centre + half], axis=1))


@lru_cache(maxsize=64)
def anchors_a(stride: int, feat_h: int, feat_w: int) -> np.ndarray:
    """(feat_h*feat_w*A, 4) float64 anchors x1, y1, x2, y2 of one layout-A stride, network
    pixels; row ``(iy*W + ix)*A + a`` is base anchor a shifted by ``(ix*s, iy*s)``."""
    base = base_anchors_a(stride)
    sx = np.arange(feat_w, dtype=np.float64) * stride
    sy = np.arange(feat_h, dtype=np.float64) * stride
    shift_x, shift_y = np.meshgrid(sx, sy)  # (H, W)
    shifts = np.stack([shift_x, shift_y, shift_x, shift_y], axis=-1)  # (H, W, 4)
    out = shifts[:, :, None, :] + base[None, None, :, :]  # (H, W, A, 4)
    return _read_only(out.reshape(-1, 4))


def feature_sizes_b(input_hw: tuple[int, int], rounding: str = "ceil") -> tuple[tuple[int, int], ...]:
    """Feature-map sizes ``(rows, cols)`` per layout-B step of a network input (H, W), rounded
    with ``"ceil"`` (biubug6) or ``"rint"`` (OMZ's ``retinaface_pytorch`` adapter)."""
    h, w = input_hw
    if rounding == "ceil":
        return tuple((math.ceil(h / s), math.ceil(w / s)) for s in STEPS_B)
    if rounding == "rint":
        return tuple((int(np.rint(h / s)), int(np.rint(w / s))) for s in STEPS_B)
    raise ValueError(f"rounding must be 'ceil' or 'rint', not {rounding!r}")


def num_priors_b(feature_sizes: tuple[tuple[int, int], ...]) -> int:
    """Number of layout-B priors for the given per-step feature sizes."""
    return sum(r * c * len(m) for (r, c), m in zip(feature_sizes, MIN_SIZES_B))


@lru_cache(maxsize=64)
def priors_b(input_hw: tuple[int, int], feature_sizes: tuple[tuple[int, int], ...] | None = None) -> np.ndarray:
    """(N, 4) float64 layout-B priors ``cx, cy, w, h`` of a network input (H, W), normalised by
    (W, H); order: step, row i, column j, min size (``cx = (j + 0.5) * step / W``, ``w = m / W``).
    ``feature_sizes``: ``(rows, cols)`` per step (8, 16, 32); default ``ceil(size / step)``."""
    h, w = input_hw
    if feature_sizes is None:
        feature_sizes = feature_sizes_b(input_hw)
    parts = []
    for (rows, cols), step, min_sizes in zip(feature_sizes, STEPS_B, MIN_SIZES_B):
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) * step / h, (np.arange(cols) + 0.5) * step / w,
                             indexing="ij")
        m = np.asarray(min_sizes, dtype=np.float64)
        block = np.empty((rows, cols, len(m), 4))
        block[..., 0] = cx[:, :, None]
        block[..., 1] = cy[:, :, None]
        block[..., 2] = m / w
        block[..., 3] = m / h
        parts.append(block.reshape(-1, 4))
    return _read_only(np.concatenate(parts, axis=0))
