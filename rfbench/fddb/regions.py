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

import numpy as np

from rfbench.errors import RfbenchError


def round_half_even(values: np.ndarray) -> np.ndarray:
    """``cvRound((float)v)``: to float32, then to the nearest integer, ties to even."""
    return np.rint(np.asarray(values, np.float64).astype(np.float32)).astype(np.int64)


class EllipseMasks:
    """The face ellipses of one ``height`` x ``width`` image, each as a clipped canvas with
    its integral image; :meth:`overlaps` against rectangles."""

    def __init__(self, ellipses: np.ndarray, height: int, width: int) -> None:
        import cv2

        self.height, self.width = height, width
        self.boxes: list[tuple[int, int, int, int]] = []  # x0, y0, x1, y1 of each canvas (exclusive end)
        self.integrals: list[np.ndarray] = []
        self.areas = np.zeros(len(ellipses), np.int64)
        for k, (ra, rb, theta, cx, cy) in enumerate(ellipses):
            centre = (int(round_half_even(np.array(cx))), int(round_half_even(np.array(cy))))
            axes = (int(ra), int(rb))
            reach = max(axes) + 2
            x0, y0 = max(centre[0] - reach, 0), max(centre[1] - reach, 0)
            x1, y1 = min(centre[0] + reach + 1, width), min(centre[1] + reach + 1, height)
            if x1 <= x0 or y1 <= y0:
                self.boxes.append((0, 0, 0, 0))
                self.integrals.append(np.zeros((1, 1), np.int64))
                continue
            canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.ellipse(canvas, (centre[0] - x0, centre[1] - y0), axes, theta * 180.0 / math.pi,
                        0, 360, 1, -1)
            integral = cv2.integral(canvas, sdepth=cv2.CV_32S).astype(np.int64)
            self.boxes.append((x0, y0, x1, y1))
            self.integrals.append(integral)
            self.areas[k] = integral[-1, -1]

    def overlaps(self, rects: np.ndarray) -> np.ndarray:
        """(faces, detections) overlap ratios for ``rects`` (m, 4) ``x y w h``."""
        x1 = np.clip(round_half_even(rects[:, 0]), 0, None)
        y1 = np.clip(round_half_even(rects[:, 1]), 0, None)
        x2 = np.minimum(round_half_even(rects[:, 0] + rects[:, 2]), self.width - 1)
        y2 = np.minimum(round_half_even(rects[:, 1] + rects[:, 3]), self.height - 1)
        inside = (x2 >= x1) & (y2 >= y1) & (x1 < self.width) & (y1 < self.height)
        rect_area = np.where(inside, (x2 - x1 + 1) * (y2 - y1 + 1), 0)
        out = np.zeros((len(self.areas), len(rects)), np.float64)
        for k, ((bx0, by0, bx1, by1), integral) in enumerate(zip(self.boxes, self.integrals)):
            # the rectangle in canvas coordinates, clipped to the canvas (end exclusive)
            cx0 = np.clip(x1 - bx0, 0, bx1 - bx0)
            cy0 = np.clip(y1 - by0, 0, by1 - by0)
            cx1 = np.clip(x2 + 1 - bx0, 0, bx1 - bx0)
            cy1 = np.clip(y2 + 1 - by0, 0, by1 - by0)
            cx1, cy1 = np.maximum(cx1, cx0), np.maximum(cy1, cy0)
            common = (integral[cy1, cx1] - integral[cy0, cx1] - integral[cy1, cx0]
                      + integral[cy0, cx0])
            common = np.where(inside, common, 0)
            union = self.areas[k] + rect_area - common
            out[k] = np.divide(common, union, out=np.zeros(len(rects)), where=union > 0)
        return out


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
