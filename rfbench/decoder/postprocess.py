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

``biubug6``
    Pytorch_Retinaface ``test_widerface.py`` as it actually runs: keep scores > 0.02, no top-k
    before or after NMS (the script parses ``--top_k``/``--keep_top_k`` but those lines are
    commented out), boxes not clipped, mapped back (``/ resize``) and rounded to float32 (its
    ``astype(np.float32)``), one global NMS with +1 areas suppressing IoU > 0.4 (its
    ``py_cpu_nms`` keeps ``ovr <= thresh``), in original-image pixels. Pre-processing: the float32
    image through ``cv2.resize(fx=fy=r)`` (``resize_float32``), each image at its own size unless
    ``--input-size`` says otherwise (``default_input_size``). Prediction files: ``x1, y1, x2, y2``
    truncated to integers, then ``x y w h`` (``prediction_boxes="truncated"``).
``biubug6-fddb``
    Pytorch_Retinaface ``test_fddb.py``: ``biubug6`` at each image's own size (``resize = 1``),
    written as that script writes its ``FDDB_dets.txt``: ``int(x1) int(y1) int(w) int(h)`` with
    ``w = x2 - x1 + 1`` in float32 (``prediction_boxes="fddb"``).

Ties in score are broken by the lower index (levels concatenated in decoder order), where the
references use an unstable ``argsort``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rfbench.decoder import PRESET_NAMES
from rfbench.decoder.decode import ScoreFloor
from rfbench.decoder.detections import Detections
from rfbench.decoder.nms import nms, score_order
from rfbench.decoder.preprocess import ImageTransform
from rfbench.errors import RfbenchError


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


@dataclass(frozen=True)
class ScriptPreset(PostprocessPreset):
    """A preset that mirrors a whole test script: also its resize, size and file format.

    Attributes (besides :class:`PostprocessPreset`'s):
        float32_boxes: round boxes to float32 after mapping back (before NMS and writing).
        prediction_boxes: ``"float"`` (x y w h as computed), ``"truncated"`` (``int(x1),
            int(y1), int(x2) - int(x1), int(y2) - int(y1)``, Pytorch_Retinaface's WIDER files) or
            ``"fddb"`` (``int(x1), int(y1), int(x2 - x1 + 1), int(y2 - y1 + 1)``, its FDDB file).
        resize_float32: pre-processing resizes the float32 image, not the uint8 one
            (per-image size policies; a fixed ``WxH`` keeps the OMZ uint8 stretch).
        default_input_size: the ``--input-size`` of the recipe for dynamic models (None: 640x640).
    """

    float32_boxes: bool = False
    prediction_boxes: str = "float"
    resize_float32: bool = False
    default_input_size: str | None = None


def script_setting(preset: PostprocessPreset, name: str):
    """A :class:`ScriptPreset` setting, or its default for a plain preset."""
    return getattr(preset, name, getattr(ScriptPreset, name))


def get_preset(name: str, layout_kind: str) -> PostprocessPreset:
    """The named preset (:data:`PRESET_NAMES`) for decoder layout ``"A"`` or ``"B"``;
    RfbenchError for an unknown name or layout."""
    kind = str(layout_kind).upper()
    if kind not in ("A", "B"):
        raise RfbenchError(f"layout must be A or B, not {layout_kind!r}")
    omz_b = PostprocessPreset(
        name="omz", layout_kind="B",
        description="OMZ accuracy checker 'retinaface_pytorch' adapter: scores > 0.02, top 750 "
                    "before NMS, global NMS suppressing IoU > 0.4 (no +1), anisotropic map back",
        score_threshold=0.02, score_inclusive=False, pre_nms_top_k=750,
        nms_scope="global", nms_iou_threshold=0.4, nms_suppress_equal=False,
        nms_plus_one=False, nms_in_original_pixels=False, clip_to_input=False,
    )
    if name == "omz":
        return omz_b if kind == "B" else dataclasses.replace(
            omz_b, layout_kind="A",
            description="OMZ accuracy checker 'retinaface' adapter: no score threshold, NMS per "
                        "stride suppressing IoU > 0.5 (no +1), anisotropic map back",
            score_threshold=None, pre_nms_top_k=None, nms_scope="per_level", nms_iou_threshold=0.5)
    if name == "insightface":
        return dataclasses.replace(
            omz_b, name="insightface", layout_kind=kind,
            description="insightface RetinaFace.detect with its WIDER test threshold: scores >= "
                        "0.02, boxes clipped to the network input, map back, global NMS with +1 "
                        "areas suppressing IoU >= 0.4",
            score_inclusive=True, pre_nms_top_k=None, nms_suppress_equal=True, nms_plus_one=True,
            nms_in_original_pixels=True, clip_to_input=True)
    if name in ("biubug6", "biubug6-fddb"):
        script = ScriptPreset(**{
            **dataclasses.asdict(omz_b), "name": "biubug6", "layout_kind": kind,
            "description": "Pytorch_Retinaface test_widerface.py as it runs: scores > 0.02, no "
                           "top-k, no clipping, map back, float32 boxes, global NMS with +1 areas "
                           "suppressing IoU > 0.4; float32 resize; x1 y1 x2 y2 truncated to "
                           "integers in the files",
            "pre_nms_top_k": None, "nms_plus_one": True, "nms_in_original_pixels": True,
        }, float32_boxes=True, prediction_boxes="truncated", resize_float32=True,
            default_input_size="native")
        return script if name == "biubug6" else dataclasses.replace(
            script, name="biubug6-fddb", prediction_boxes="fddb",
            description="Pytorch_Retinaface test_fddb.py: biubug6 at each image's own size; FDDB "
                        "lines int(x1) int(y1) int(x2 - x1 + 1) int(y2 - y1 + 1) of float32 boxes")
    raise RfbenchError(f"unknown post-processing preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")


def score_floor(preset: PostprocessPreset) -> ScoreFloor | None:
    """The preset's score threshold as a decoder floor (None: the preset keeps every score), so
    that :func:`rfbench.decoder.decode.decode_outputs` computes only the anchors it keeps."""
    if preset.score_threshold is None:
        return None
    return ScoreFloor(float(preset.score_threshold), preset.score_inclusive)


def _selected_rows(scores: np.ndarray, preset: PostprocessPreset) -> np.ndarray:
    """(K,) ascending row indices passing the score threshold and the ``pre_nms_top_k`` highest
    of those (ties: lower index first)."""
    rows = np.arange(scores.shape[0])
    floor = score_floor(preset)
    if floor is not None:  # everything passes when the decoder applied it already
        rows = floor.rows(scores)
    if preset.pre_nms_top_k is not None and rows.size > preset.pre_nms_top_k:
        rows = rows[np.sort(score_order(scores[rows])[: preset.pre_nms_top_k])]
    return rows


def _clip_hw(preset: PostprocessPreset, hw: tuple[int, int] | None) -> tuple[int, int] | None:
    """The network (H, W) the preset clips boxes to, None when it does not clip."""
    if not preset.clip_to_input:
        return None
    if hw is None:
        raise ValueError(f"preset {preset.name!r} clips to the network input: give network_hw")
    return hw


def _clipped(boxes: np.ndarray, network_hw: tuple[int, int]) -> np.ndarray:
    """(N, 4) boxes clipped to ``[0, W-1] x [0, H-1]`` (insightface ``clip_boxes``), a copy."""
    h, w = network_hw
    boxes = boxes.copy()
    np.clip(boxes[:, 0::2], 0.0, w - 1.0, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0.0, h - 1.0, out=boxes[:, 1::2])
    return boxes


def _mapped_boxes(boxes: np.ndarray, preset: PostprocessPreset, transform: ImageTransform) -> np.ndarray:
    """(N, 4) network-pixel boxes in original-image pixels, rounded to float32 (kept as float64)
    when the preset says so."""
    boxes = transform.to_original(boxes)
    if script_setting(preset, "float32_boxes"):
        boxes = boxes.astype(np.float32).astype(np.float64)
    return boxes


def submission_xywhs(dets: Detections, preset: PostprocessPreset) -> np.ndarray:
    """(N, 5) ``x y w h score`` rows of the WIDER files, written the preset's way.

    ``"float"``: ``x1, y1, x2 - x1, y2 - y1``. ``"truncated"`` (Pytorch_Retinaface): ``int(x1),
    int(y1), int(x2) - int(x1), int(y2) - int(y1)`` with ``int`` truncating toward zero, of the
    float32 boxes. ``"fddb"`` (its test_fddb.py): ``int(x1), int(y1), int(x2 - x1 + 1),
    int(y2 - y1 + 1)``, the sums in float32.
    """
    boxes = dets.boxes
    style = script_setting(preset, "prediction_boxes")
    if style == "fddb":  # test_fddb.py: w = b[2] - b[0] + 1 on the float32 row, then int()
        b = boxes.astype(np.float32)
        sizes = (b[:, 2:] - b[:, :2]) + np.float32(1)
        return np.c_[np.trunc(b[:, :2]), np.trunc(sizes), dets.scores].astype(np.float64)
    if style == "truncated":
        boxes = np.trunc(boxes.astype(np.float32)).astype(np.float64)
    return np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2], dets.scores]


def _kept_rows(dets: Detections, preset: PostprocessPreset, transform: ImageTransform,
               clip_hw: tuple[int, int] | None) -> np.ndarray:
    """Rows of one NMS group that survive the preset's selection and NMS, in NMS output order.

    NMS sees the boxes clipped (when ``clip_hw``) and, with ``nms_in_original_pixels``, mapped
    back (:func:`_mapped_boxes`), exactly as the final detections will hold them.
    """
    rows = _selected_rows(dets.scores, preset)
    boxes = dets.boxes if rows.size == len(dets) else np.take(dets.boxes, rows, axis=0)
    if clip_hw is not None:
        boxes = _clipped(boxes, clip_hw)
    if preset.nms_in_original_pixels:
        boxes = _mapped_boxes(boxes, preset, transform)
    scores = dets.scores if rows.size == len(dets) else np.take(dets.scores, rows)
    keep = nms(boxes, scores, preset.nms_iou_threshold,
               plus_one=preset.nms_plus_one, suppress_equal=preset.nms_suppress_equal)
    return keep if rows.size == len(dets) else np.take(rows, keep)


def postprocess(
    levels: Sequence[Detections],
    preset: PostprocessPreset,
    transform: ImageTransform,
    *,
    network_hw: tuple[int, int] | None = None,
) -> Detections:
    """Detections of one image in original-image pixels, sorted by score descending.

    Each NMS group (a decoder level, or all levels together) yields the rows it keeps; the kept
    rows of all groups are then gathered once, in score order, and clipped and mapped back
    row by row (the same values NMS saw, as every step is row-wise).

    ``levels``: the decoder's output (:func:`rfbench.decoder.decode.decode_outputs`, network
    pixels); ``network_hw``: the (H, W) to clip to, default ``transform.network_hw``. Returns
    float64 :class:`Detections`, score descending (ties: decoder order).
    """
    clip_hw = _clip_hw(preset, network_hw or transform.network_hw)
    groups = list(levels) if preset.nms_scope == "per_level" else [Detections.concat(levels)]
    picks = [(g, _kept_rows(g, preset, transform, clip_hw)) for g in groups]
    if not picks:
        return Detections.empty()
    scores = np.concatenate([g.scores[rows] for g, rows in picks])
    order = score_order(scores)

    def gathered(arrays: list[np.ndarray]) -> np.ndarray:  # np.take: ~4x faster than a[rows]
        stacked = np.concatenate([np.take(a, rows, axis=0) for a, (_, rows) in zip(arrays, picks)])
        return np.take(stacked, order, axis=0)

    boxes = gathered([g.boxes for g, _ in picks])
    landmarks = gathered([g.landmarks.reshape(-1, 10) for g, _ in picks]).reshape(-1, 5, 2)
    if clip_hw is not None:
        boxes = _clipped(boxes, clip_hw)
    return Detections(_mapped_boxes(boxes, preset, transform), scores[order],
                      transform.to_original(landmarks))


def candidates(levels: Sequence[Detections], preset: PostprocessPreset, transform: ImageTransform,
               unflip_width: float | None = None) -> Detections:
    """One test-time-augmentation view's detections before the merge (:mod:`rfbench.decoder.tta`).

    The preset's score threshold and top-k (over all levels), its clipping to the view's network
    input, then, for a horizontally flipped view, ``x -> unflip_width - x`` in network pixels
    (boxes' x1/x2 and the landmarks' left/right points swapped), then the map back to the
    original image. No NMS. Float64, in decoder order.
    """
    dets = Detections.concat(levels)
    dets = dets.take(_selected_rows(dets.scores, preset))
    boxes, points = dets.boxes, dets.landmarks
    clip_hw = _clip_hw(preset, transform.network_hw)
    if clip_hw is not None:
        boxes = _clipped(boxes, clip_hw)
    if unflip_width is not None:
        boxes = boxes.copy()
        boxes[:, [0, 2]] = unflip_width - boxes[:, [2, 0]]
        points = points[:, [1, 0, 2, 4, 3], :]  # a copy
        points[:, :, 0] = unflip_width - points[:, :, 0]
    return Detections(_mapped_boxes(boxes, preset, transform), dets.scores,
                      transform.to_original(points))
