"""Decoding raw RetinaFace outputs of layout A (insightface per-stride heads) or B (biubug6).

Which output is which comes from :func:`rfbench.decoder.layout.resolve_layout` (an
:class:`~rfbench.decoder.layout.OutputLayout`). :func:`decode_outputs` turns the raw tensors into
one :class:`~rfbench.decoder.detections.Detections` per level in network-input pixels: every anchor,
or, given a :class:`ScoreFloor`, only the anchors whose score passes it (the post-processing
preset's threshold, applied before the boxes and landmarks are computed: each anchor's values
are computed row by row, so they are the same numbers either way, about 5x less work when most
anchors score below the threshold). Formulas and anchors: ``shared/spec/decoding.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rfbench.decoder.anchors import STRIDES_A, anchors_a, feature_sizes_b, num_priors_b, priors_b
from rfbench.decoder.detections import Detections
from rfbench.decoder.layout import OutputLayout
from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

#: Layout-B variances (centre, size).
VARIANCES_B = (0.1, 0.2)


@dataclass(frozen=True)
class ScoreFloor:
    """Keep anchors scoring ``>= threshold`` (``inclusive``) or ``> threshold``."""

    threshold: float
    inclusive: bool

    def rows(self, scores: np.ndarray) -> np.ndarray:
        """(K,) ascending indices of the (N,) float64 ``scores`` that pass."""
        return np.flatnonzero(scores >= self.threshold if self.inclusive else scores > self.threshold)


def _single(outputs: Mapping[str, np.ndarray], name: str, rank: int) -> np.ndarray:
    """Output ``name`` without its batch dimension; batch must be 1."""
    if name not in outputs:
        raise RfbenchError(f"output {name!r} missing from the inference results ({sorted(outputs)})")
    arr = np.asarray(outputs[name])
    if arr.ndim != rank or arr.shape[0] != 1:
        raise RfbenchError(f"output {name!r} has shape {list(arr.shape)}; expected rank {rank} with batch 1")
    return arr[0]


def decode_a_level(cls: np.ndarray, bbox: np.ndarray, landmark: np.ndarray, stride: int,
                   floor: ScoreFloor | None = None) -> Detections:
    """Decode one layout-A stride (32, 16 or 8).

    ``cls``: (4, H, W) probabilities, channels 2, 3 the face probability of anchors 0, 1;
    ``bbox``: (8, H, W) deltas, anchor a in channels 4a..4a+3 = dx, dy, dw, dh; ``landmark``:
    (20, H, W) deltas, anchor a in channels 10a..10a+9 = x1, y1, ..., x5, y5. Returns float64
    Detections of all H*W*2 anchors (flat index ``(iy*W + ix)*2 + a``), or of those passing
    ``floor`` in that order, in network pixels, boxes with the insightface decoder's +1.
    """
    _, h, w = cls.shape
    if bbox.shape != (8, h, w) or landmark.shape != (20, h, w) or cls.shape[0] != 4:
        raise RfbenchError(
            f"layout-A stride {stride}: shapes {list(cls.shape)}, {list(bbox.shape)}, "
            f"{list(landmark.shape)} do not fit [4,H,W], [8,H,W], [20,H,W]"
        )
    wa, ha, cxa, cya = _anchor_geometry(stride, h, w)
    # (C, H, W) -> (H*W*A, C/A): the per-anchor layout, still in the network's dtype
    scores = cls[2:4].transpose(1, 2, 0).reshape(-1).astype(np.float64)
    deltas = bbox.transpose(1, 2, 0).reshape(-1, 4)
    lm = landmark.transpose(1, 2, 0).reshape(-1, 5, 2)
    if floor is not None:
        rows = floor.rows(scores)
        scores, deltas, lm = scores[rows], np.take(deltas, rows, axis=0), np.take(lm, rows, axis=0)
        wa, ha, cxa, cya = (np.take(a, rows) for a in (wa, ha, cxa, cya))

    cx = deltas[:, 0] * wa + cxa
    cy = deltas[:, 1] * ha + cya
    with np.errstate(over="ignore"):  # an overflow is an inf box, refused by the writer
        half_w = 0.5 * (np.exp(deltas[:, 2].astype(np.float64)) * wa - 1.0)
        half_h = 0.5 * (np.exp(deltas[:, 3].astype(np.float64)) * ha - 1.0)
    boxes = np.empty((cx.size, 4))
    np.subtract(cx, half_w, out=boxes[:, 0])
    np.subtract(cy, half_h, out=boxes[:, 1])
    np.add(cx, half_w, out=boxes[:, 2])
    np.add(cy, half_h, out=boxes[:, 3])
    landmarks = np.empty(lm.shape)
    np.multiply(lm[:, :, 0], wa[:, None], out=landmarks[:, :, 0])
    landmarks[:, :, 0] += cxa[:, None]
    np.multiply(lm[:, :, 1], ha[:, None], out=landmarks[:, :, 1])
    landmarks[:, :, 1] += cya[:, None]
    return Detections(boxes, scores, landmarks)


@lru_cache(maxsize=64)
def _anchor_geometry(stride: int, feat_h: int, feat_w: int) -> tuple[np.ndarray, ...]:
    """Widths, heights and centres of the layout-A anchors (+1 convention), each (H*W*A,)."""
    anchors = anchors_a(stride, feat_h, feat_w)
    wa = anchors[:, 2] - anchors[:, 0] + 1.0
    ha = anchors[:, 3] - anchors[:, 1] + 1.0
    cxa = anchors[:, 0] + 0.5 * (wa - 1.0)
    cya = anchors[:, 1] + 0.5 * (ha - 1.0)
    for a in (wa, ha, cxa, cya):
        a.setflags(write=False)
    return wa, ha, cxa, cya


def _priors_for(input_hw: tuple[int, int], n: int) -> tuple[np.ndarray, ...]:
    """Priors whose count matches the outputs' N (``ceil`` sizes (biubug6), else ``rint`` (OMZ)),
    with their centres and sizes tiled (:func:`_tiled_priors`)."""
    for rounding in ("ceil", "rint"):
        sizes = feature_sizes_b(input_hw, rounding)
        if num_priors_b(sizes) == n:
            if rounding != "ceil":
                log.info("layout B: N=%d fits feature sizes rounded with %s, not ceil", n, rounding)
            return _tiled_priors(tuple(input_hw), sizes)
    raise RfbenchError(
        f"layout B: outputs have N={n} priors, but input {input_hw[0]}x{input_hw[1]} gives "
        f"{num_priors_b(feature_sizes_b(input_hw))} (steps 8/16/32, 2 priors per cell); wrong input size?"
    )


@lru_cache(maxsize=64)
def _tiled_priors(
    input_hw: tuple[int, int], sizes: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, ...]:
    """:func:`priors_b` (N, 4), and its centres ``(cx, cy)`` and sizes ``(w, h)`` repeated 5
    times per row, each (N, 10)."""
    priors = priors_b(input_hw, sizes)
    return priors, np.tile(priors[:, :2], 5), np.tile(priors[:, 2:], 5)


def decode_b(loc: np.ndarray, conf: np.ndarray, landmarks: np.ndarray, input_hw: tuple[int, int],
             floor: ScoreFloor | None = None) -> Detections:
    """Decode layout B: ``loc`` (N, 4) centre/size offsets, ``conf`` (N, 2) softmaxed (column 1
    = face), ``landmarks`` (N, 10) offsets x1, y1, ..., x5, y5 of a network input (H, W) ->
    Detections of all N priors (or of those passing ``floor``, in order) in network pixels
    (variances 0.1, 0.2; no +1 convention)."""
    n = loc.shape[0]
    if loc.shape != (n, 4) or conf.shape != (n, 2) or landmarks.shape != (n, 10):
        raise RfbenchError(
            f"layout B: shapes {list(loc.shape)}, {list(conf.shape)}, {list(landmarks.shape)} "
            "do not fit [N,4], [N,2], [N,10]"
        )
    priors, pc10, ps10 = _priors_for(input_hw, n)
    scores = np.asarray(conf[:, 1], dtype=np.float64)
    if floor is not None:
        rows = floor.rows(scores)
        scores, loc, landmarks = scores[rows], np.take(loc, rows, axis=0), np.take(landmarks, rows, axis=0)
        priors, pc10, ps10 = (np.take(a, rows, axis=0) for a in (priors, pc10, ps10))
    loc = np.asarray(loc, dtype=np.float64)
    h, w = input_hw
    size = np.array([w, h], dtype=np.float64)
    pc, ps = priors[:, :2], priors[:, 2:]
    v_c, v_s = VARIANCES_B
    centre = pc + loc[:, :2] * v_c * ps
    with np.errstate(over="ignore"):  # an overflow is an inf box, refused by the writer
        wh = ps * np.exp(loc[:, 2:] * v_s)
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1) * np.tile(size, 2)
    # the points as (N, 10) rows against priors tiled to (N, 10): the same products and sums as
    # broadcasting over (N, 5, 2), about 10x faster (numpy's inner loops of length 2 are slow)
    points = np.array(landmarks, dtype=np.float64)  # a fresh copy, worked on in place
    points *= v_c  # in place (fresh arrays cost page faults): ((lm * v_c) * ps + pc) * size
    points *= ps10
    points += pc10
    points *= np.tile(size, 5)
    return Detections(boxes, scores if floor is not None else scores.copy(), points.reshape(-1, 5, 2))


def decode_outputs(
    outputs: Mapping[str, np.ndarray], layout: OutputLayout, input_hw: tuple[int, int],
    floor: ScoreFloor | None = None,
) -> list[Detections]:
    """Decode the raw outputs ``{name: array}`` (batch 1) of one image fed at network (H, W).

    Returns one float64 :class:`Detections` per level (layout A strides 32, 16, 8; layout B a
    single level), network pixels: all anchors, or those passing ``floor`` in decoder order
    (:func:`rfbench.decoder.postprocess.score_floor`; None: all).
    """
    names = layout.names
    if layout.kind == "A":
        return [
            decode_a_level(_single(outputs, names[f"cls{s}"], 4), _single(outputs, names[f"bbox{s}"], 4),
                           _single(outputs, names[f"landmark{s}"], 4), s, floor)
            for s in STRIDES_A
        ]
    if layout.kind == "B":
        return [decode_b(_single(outputs, names["loc"], 3), _single(outputs, names["conf"], 3),
                         _single(outputs, names["landmarks"], 3), (int(input_hw[0]), int(input_hw[1])), floor)]
    raise ValueError(f"unknown layout kind {layout.kind!r}")
