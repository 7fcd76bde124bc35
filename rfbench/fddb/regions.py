"""Regions as the official ``evaluate`` draws them, and their pixel-count overlaps.

The program rasterises every face ellipse and every detection rectangle into an image-sized
mask and takes ``|A and D| / |A or D|`` in pixels. Here each ellipse is drawn by the same
OpenCV call into a canvas that is its bounding box clipped to the image (the same pixels,
translated), and an integral image of it gives the ellipse pixels inside any rectangle in
constant time, so a pair costs four lookups instead of two image-sized masks:

- ellipse: centre ``cvRound((float)cx), cvRound((float)cy)`` (round half to even), axes
  ``(int)ra, (int)rb``, angle ``theta * 180 / pi`` degrees (OpenCV rounds it to whole degrees),
  filled, line type 8;
- rectangle: corners ``cvRound((float)x), cvRound((float)y)`` and ``cvRound((float)(x + w))``,
  ``cvRound((float)(y + h))``, both inclusive, filled;
- both clipped to ``[0, W-1] x [0, H-1]``: a region wholly outside is empty and overlaps nothing.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError


def round_half_even(values: np.ndarray) -> np.ndarray:
    """``cvRound((float)v)``: to float32, then to the nearest integer, ties to even."""
    return np.rint(np.asarray(values, np.float64).astype(np.float32)).astype(np.int64)


def rect_corners(rects: np.ndarray) -> np.ndarray:
    """(m, 4) int64 ``x1 y1 x2 y2`` (inclusive, not clipped) of ``x y w h`` rectangles, as
    the program rounds them: ``cvRound((float)x)`` and ``cvRound((float)(x + w))``."""
    return round_half_even(np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2],
                                            rects[:, 1] + rects[:, 3]]))


class EllipseMasks:
    """Face ellipses, each drawn in a canvas (its bounding box clipped to its image) whose
    integral image is kept, all in one flat array; :meth:`overlaps` against rectangles.

    ``height`` and ``width``: the image's size in pixels, one for all ellipses (one image) or
    one per ellipse (the faces of many images, for :meth:`pair_overlaps`).
    """

    def __init__(self, ellipses: np.ndarray, height: int | np.ndarray, width: int | np.ndarray) -> None:
        import cv2

        self.height, self.width = height, width
        ellipses = np.asarray(ellipses, np.float64).reshape(-1, 5)
        count = len(ellipses)
        centres = round_half_even(ellipses[:, 3:5])  # (count, 2) cx, cy
        axes = ellipses[:, :2].astype(np.int64)  # (int)ra, (int)rb: toward zero
        self.origin, self.extent = _canvases(centres, axes, height, width, count)
        sizes = (self.extent[:, 0] + 1) * (self.extent[:, 1] + 1)  # integral images, (h+1)(w+1)
        self.offset = np.cumsum(sizes) - sizes  # where each integral starts in ``flat``
        # int32 as cv2.integral writes them (counts of canvas pixels), each in place in ``flat``
        self.flat = np.empty(int(sizes.sum()), np.int32)
        rows = zip(centres.tolist(), axes.tolist(), ellipses[:, 2].tolist(), self.origin.tolist(),
                   self.extent.tolist(), self.offset.tolist())
        for (cx, cy), (ra, rb), theta, (x0, y0), (w, h), at in rows:
            canvas = np.zeros((h, w), np.uint8)
            if canvas.size:
                cv2.ellipse(canvas, (cx - x0, cy - y0), (ra, rb), theta * 180.0 / math.pi, 0, 360, 1, -1)
            cv2.integral(canvas, self.flat[at:at + (h + 1) * (w + 1)].reshape(h + 1, w + 1), cv2.CV_32S)
        self.areas = self.flat[self.offset + sizes - 1].astype(np.int64)  # each integral's last

    def overlaps(self, rects: np.ndarray) -> np.ndarray:
        """(faces, detections) overlap ratios for ``rects`` (m, 4) ``x y w h`` in the one image
        of these ellipses."""
        if len(self.areas) == 0:
            return np.zeros((0, len(rects)))
        faces = np.arange(len(self.areas))[:, None]
        return self.pair_overlaps(faces, rect_corners(rects)[None], self.height, self.width)

    def pair_overlaps(self, faces: np.ndarray, corners: np.ndarray, height: Any,
                      width: Any) -> np.ndarray:
        """(P,) overlap ratio (pixel-count IoU) of ellipse ``faces[p]`` and the rectangle
        ``corners[p]`` (:func:`rect_corners`, unclipped, clipped here) in an image of
        ``height[p]`` x ``width[p]`` pixels; ``faces`` may be any index broadcasting against
        ``corners`` (..., 4)."""
        x1, y1 = np.maximum(corners[..., 0], 0), np.maximum(corners[..., 1], 0)
        x2, y2 = np.minimum(corners[..., 2], width - 1), np.minimum(corners[..., 3], height - 1)
        inside = (x2 >= x1) & (y2 >= y1)
        rect_area = np.where(inside, (x2 - x1 + 1) * (y2 - y1 + 1), 0)
        ox, oy = self.origin[faces, 0], self.origin[faces, 1]
        ew, eh = self.extent[faces, 0], self.extent[faces, 1]
        # each rectangle in each canvas's coordinates, clipped to it (end exclusive)
        cx0 = np.minimum(np.maximum(x1 - ox, 0), ew)
        cy0 = np.minimum(np.maximum(y1 - oy, 0), eh)
        cx1 = np.maximum(np.minimum(x2 + 1 - ox, ew), cx0)
        cy1 = np.maximum(np.minimum(y2 + 1 - oy, eh), cy0)
        row, base, flat = ew + 1, self.offset[faces], self.flat
        common = (flat[base + cy1 * row + cx1] - flat[base + cy0 * row + cx1]
                  - flat[base + cy1 * row + cx0] + flat[base + cy0 * row + cx0])
        common = np.where(inside, common, 0)
        union = self.areas[faces] + rect_area - common
        return np.divide(common, union, out=np.zeros(union.shape), where=union > 0)


def _canvases(centres: np.ndarray, axes: np.ndarray, height: int | np.ndarray,
              width: int | np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, 2) int64 origins ``x0, y0`` and extents ``width, height`` of the canvases: each
    ellipse's bounding box (its larger axis + 2 pixels around the centre) clipped to its image;
    extent 0 when that leaves nothing."""
    reach = axes.max(axis=1, initial=0) + 2
    limit = np.column_stack([np.broadcast_to(np.asarray(width, np.int64), (count,)),
                             np.broadcast_to(np.asarray(height, np.int64), (count,))])
    origin = np.maximum(centres - reach[:, None], 0)
    extent = np.minimum(centres + reach[:, None] + 1, limit) - origin
    extent[(extent <= 0).any(axis=1)] = 0
    return origin, extent


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of a JPEG or PNG from its header (OpenCV decodes anything else)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read the image (FDDB needs each image's size): "
                           f"{exc.strerror}") from exc
    size = _png_size(head) if head.startswith(b"\x89PNG") else _jpeg_size(head)
    if size is not None:
        return size
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise RfbenchError(f"{path}: not a readable image (FDDB needs each image's size)")
    return int(image.shape[0]), int(image.shape[1])


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """The frame header (SOF0..SOF15 but DHT, JPG and DAC) of a JPEG's first 64 KiB."""
    if not head.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", head[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[i + 5:i + 9])
            return height, width
        i += 2 + length
    return None
