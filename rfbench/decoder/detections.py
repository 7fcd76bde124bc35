"""The detections record passed from decoders to writers and evaluators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Face detections of one image.

    Attributes:
        boxes: (N, 4) float64, ``x1, y1, x2, y2`` in pixels of the image they refer to
            (network input pixels straight out of a decoder, original-image pixels after
            :func:`rfbench.decoder.postprocess` maps them back).
        scores: (N,) float64 face probability in [0, 1], sorted descending after post-processing.
        landmarks: (N, 5, 2) float64 ``x, y`` of left eye, right eye, nose, left and right mouth
            corner, same pixel frame as ``boxes``.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @staticmethod
    def empty() -> Detections:
        """No detections."""
        return Detections(np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 5, 2)))

    @staticmethod
    def concat(parts: Sequence[Detections]) -> Detections:
        """Detections of several parts, concatenated in order (a single part as it is)."""
        if len(parts) <= 1:
            return parts[0] if parts else Detections.empty()
        return Detections(
            np.concatenate([d.boxes for d in parts]).reshape(-1, 4),
            np.concatenate([d.scores for d in parts]).reshape(-1),
            np.concatenate([d.landmarks for d in parts]).reshape(-1, 5, 2),
        )

    def take(self, index: np.ndarray) -> Detections:
        """The subset selected by an integer index or boolean mask, in that order."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        elif index.size == 0:
            index = index.astype(np.intp)  # [] is a float array for numpy
        return Detections(*(np.take(a, index, axis=0) for a in (self.boxes, self.scores, self.landmarks)))
