"""Post-processing presets: score threshold, top-k, NMS and mapping back to the original image.

Two reference recipes disagree (``shared/spec/decoding.md``), so each is a named, frozen preset
whose every setting goes into the results:

``omz``
    OMZ accuracy checker. Layout A (``retinaface`` adapter, the 87.30% run): no score threshold,
    NMS per stride suppressing IoU > 0.5 without +1. Layout B (``retinaface_pytorch`` adapter,
    the 91.78% run): keep scores > 0.02, take the 750 highest (before NMS), one global NMS
    suppressing IoU > 0.4 without +1. NMS runs in network pixels, then boxes and landmarks are
    mapped back with the inverse of the pre-processing transform (anisotropic for a stretch).
``insightface``
    insightface ``RetinaFace.detect`` with its WIDER test-script threshold, for both layouts:
    keep scores >= 0.02 (``np.where(scores >= threshold)``), clip boxes to the network input
    ``[0, W-1] x [0, H-1]`` (its ``clip_boxes``), map back, then one global NMS over all levels
    with +1 areas suppressing IoU >= 0.4 (its ``cpu_nms``), in original-image pixels as there.

Ties in score are broken by the lower index (levels concatenated in decoder order), where the
references use an unstable ``argsort``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rfbench.decoder.detections import Detections
from rfbench.decoder.nms import nms, score_order
from rfbench.decoder.preprocess import ImageTransform
from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

PRESET_NAMES: tuple[str, ...] = ("omz", "insightface")


@dataclass(frozen=True)
class PostprocessPreset:
    """One post-processing recipe; ``as_dict()`` goes into the results.

    Attributes:
        name: preset name (``omz``, ``insightface``).
        layout_kind: ``"A"`` or ``"B"``, the decoder layout it was made for.
        description: one human sentence on where the recipe comes from.
        score_threshold: drop detections below it (None: keep all).
        score_inclusive: keep ``score >= threshold`` if True, ``score > threshold`` if False.
        pre_nms_top_k: keep only the k highest scores before NMS (None: all).
        nms_scope: ``"per_level"`` (NMS within each decoder level) or ``"global"``.
        nms_iou_threshold: the NMS IoU threshold.
        nms_suppress_equal: NMS also suppresses IoU == threshold (``>=``).
        nms_plus_one: NMS areas use ``x2 - x1 + 1`` widths.
        nms_in_original_pixels: run NMS after mapping back (matters only with +1 areas).
        clip_to_input: clip boxes to ``[0, W-1] x [0, H-1]`` of the network input first.
    """

    name: str
    layout_kind: str
    description: str
    score_threshold: float | None
    score_inclusive: bool
    pre_nms_top_k: int | None
    nms_scope: str
    nms_iou_threshold: float
    nms_suppress_equal: bool
    nms_plus_one: bool
    nms_in_original_pixels: bool
    clip_to_input: bool

    def as_dict(self) -> dict:
        """Flat JSON-ready record of every setting."""
        return dataclasses.asdict(self)


def get_preset(name: str, layout_kind: str) -> PostprocessPreset:
    """The named preset for a decoder layout.

    Args:
        name: ``"omz"`` or ``"insightface"``.
        layout_kind: ``"A"`` or ``"B"``.
    Raises:
        RfbenchError: unknown name or layout.
    """
    kind = str(layout_kind).upper()
    if kind not in ("A", "B"):
        raise RfbenchError(f"layout must be A or B, not {layout_kind!r}")
    if name == "omz" and kind == "A":
        return PostprocessPreset(
            name="omz", layout_kind="A",
            description="OMZ accuracy checker 'retinaface' adapter: no score threshold, NMS per "
                        "stride suppressing IoU > 0.5 (no +1), anisotropic map back",
            score_threshold=None, score_inclusive=False, pre_nms_top_k=None,
            nms_scope="per_level", nms_iou_threshold=0.5, nms_suppress_equal=False,
            nms_plus_one=False, nms_in_original_pixels=False, clip_to_input=False,
        )
    if name == "omz":
        return PostprocessPreset(
            name="omz", layout_kind="B",
            description="OMZ accuracy checker 'retinaface_pytorch' adapter: scores > 0.02, top 750 "
                        "before NMS, global NMS suppressing IoU > 0.4 (no +1), anisotropic map back",
            score_threshold=0.02, score_inclusive=False, pre_nms_top_k=750,
            nms_scope="global", nms_iou_threshold=0.4, nms_suppress_equal=False,
            nms_plus_one=False, nms_in_original_pixels=False, clip_to_input=False,
        )
    if name == "insightface":
        return PostprocessPreset(
            name="insightface", layout_kind=kind,
            description="insightface RetinaFace.detect with its WIDER test threshold: scores >= "
                        "0.02, boxes clipped to the network input, map back, global NMS with +1 "
                        "areas suppressing IoU >= 0.4",
            score_threshold=0.02, score_inclusive=True, pre_nms_top_k=None,
            nms_scope="global", nms_iou_threshold=0.4, nms_suppress_equal=True,
            nms_plus_one=True, nms_in_original_pixels=True, clip_to_input=True,
        )
    raise RfbenchError(f"unknown post-processing preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")


def concat(parts: Sequence[Detections]) -> Detections:
    """Detections of several parts, concatenated in order."""
    if not parts:
        return Detections.empty()
    return Detections(
        np.concatenate([d.boxes for d in parts]).reshape(-1, 4),
        np.concatenate([d.scores for d in parts]).reshape(-1),
        np.concatenate([d.landmarks for d in parts]).reshape(-1, 5, 2),
    )


def _select(dets: Detections, preset: PostprocessPreset) -> Detections:
    """Score threshold, then the ``pre_nms_top_k`` highest (ties: lower index first)."""
    if preset.score_threshold is not None:
        t = preset.score_threshold
        dets = dets.take(dets.scores >= t if preset.score_inclusive else dets.scores > t)
    if preset.pre_nms_top_k is not None and len(dets) > preset.pre_nms_top_k:
        dets = dets.take(np.sort(score_order(dets.scores)[: preset.pre_nms_top_k]))
    return dets


def _clip(dets: Detections, network_hw: tuple[int, int]) -> Detections:
    """Boxes clipped to ``[0, W-1] x [0, H-1]`` (insightface ``clip_boxes``); landmarks kept."""
    h, w = network_hw
    boxes = dets.boxes.copy()
    np.clip(boxes[:, 0::2], 0.0, w - 1.0, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0.0, h - 1.0, out=boxes[:, 1::2])
    return Detections(boxes, dets.scores, dets.landmarks)


def _to_original(dets: Detections, transform: ImageTransform) -> Detections:
    return Detections(transform.to_original(dets.boxes), dets.scores, transform.to_original(dets.landmarks))


def _nms(dets: Detections, preset: PostprocessPreset) -> Detections:
    keep = nms(dets.boxes, dets.scores, preset.nms_iou_threshold,
               plus_one=preset.nms_plus_one, suppress_equal=preset.nms_suppress_equal)
    return dets.take(keep)


def postprocess(
    levels: Sequence[Detections],
    preset: PostprocessPreset,
    transform: ImageTransform,
    *,
    network_hw: tuple[int, int] | None = None,
) -> Detections:
    """Detections of one image in original-image pixels, sorted by score descending.

    Args:
        levels: decoder output (:func:`rfbench.decoder.decode.decode_outputs`), network-input pixels.
        preset: from :func:`get_preset`.
        transform: the pre-processing transform of this image.
        network_hw: network input (H, W) for clipping; default ``transform.network_hw``.
    Returns:
        Float64 :class:`Detections`, score descending (ties: decoder order).
    """
    clip_hw = None
    if preset.clip_to_input:
        clip_hw = network_hw or transform.network_hw
        if clip_hw is None:
            raise ValueError(f"preset {preset.name!r} clips to the network input: give network_hw")
    groups = list(levels) if preset.nms_scope == "per_level" else [concat(levels)]
    kept = []
    for dets in groups:
        dets = _select(dets, preset)
        if clip_hw is not None:
            dets = _clip(dets, clip_hw)
        kept.append(_nms(_to_original(dets, transform) if preset.nms_in_original_pixels else dets, preset))
    out = concat(kept)
    if not preset.nms_in_original_pixels:  # one (row-wise) mapping for all groups
        out = _to_original(out, transform)
    return out.take(score_order(out.scores))
