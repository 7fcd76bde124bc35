"""Pre-processing: the image -> network-input mapping and its inverse.

``ImageTransform`` describes how an original image was mapped onto the network input, per axis:
``network pixel = original pixel * scale + offset``. Decoders work in network-input pixels;
:func:`rfbench.postprocess.postprocess` uses :meth:`ImageTransform.to_original` to map detections
back to original-image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageTransform:
    """Per-axis affine map from original-image pixels to network-input pixels.

    ``x_net = x_orig * scale_x + offset_x`` and ``y_net = y_orig * scale_y + offset_y``.

    Attributes:
        scale_x, scale_y: network pixels per original pixel (> 0).
        offset_x, offset_y: network-pixel offset (letterbox padding; 0 for a plain resize).
        network_hw: ``(height, width)`` of the network input in pixels, when known; the
            ``insightface`` post-processing preset clips boxes to it.
    """

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0
    network_hw: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not (self.scale_x > 0 and self.scale_y > 0):
            raise ValueError(f"ImageTransform scales must be > 0, got {self.scale_x}, {self.scale_y}")

    @classmethod
    def identity(cls, network_hw: tuple[int, int] | None = None) -> ImageTransform:
        """The transform of an image fed to the network unchanged."""
        return cls(1.0, 1.0, 0.0, 0.0, network_hw)

    @classmethod
    def stretch(cls, original_hw: tuple[int, int], network_hw: tuple[int, int]) -> ImageTransform:
        """The transform of a plain resize of an ``original_hw`` image to ``network_hw``.

        Aspect ratio not kept, no padding (what OMZ's accuracy runs do with ``cv2.resize``).
        """
        (oh, ow), (nh, nw) = original_hw, network_hw
        return cls(nw / ow, nh / oh, 0.0, 0.0, (int(nh), int(nw)))

    def _apply(self, array: np.ndarray, inverse: bool) -> np.ndarray:
        """Map points ``(..., 2)`` or boxes ``(N, 4)`` (x1, y1, x2, y2), float64 copy."""
        a = np.array(array, dtype=np.float64, copy=True)
        if a.ndim == 0 or a.shape[-1] not in (2, 4):
            raise ValueError(f"expected points (..., 2) or boxes (N, 4), got shape {a.shape}")
        if a.shape[-1] == 4 and a.ndim != 2:
            raise ValueError(f"boxes must be (N, 4), got shape {a.shape}")
        reps = a.shape[-1] // 2
        scale = np.tile([self.scale_x, self.scale_y], reps)
        offset = np.tile([self.offset_x, self.offset_y], reps)
        if inverse:
            a -= offset
            a /= scale
        else:
            a *= scale
            a += offset
        return a

    def to_original(self, boxes_or_points: np.ndarray) -> np.ndarray:
        """Network-input pixels -> original-image pixels.

        Args:
            boxes_or_points: boxes ``(N, 4)`` x1, y1, x2, y2 or points ``(..., 2)`` x, y.
        Returns:
            float64 array of the same shape: ``(v - offset) / scale`` per axis.
        """
        return self._apply(boxes_or_points, inverse=True)

    def to_network(self, boxes_or_points: np.ndarray) -> np.ndarray:
        """Original-image pixels -> network-input pixels (inverse of :meth:`to_original`)."""
        return self._apply(boxes_or_points, inverse=False)
