"""A post-processing preset's recipe in a few words, and whether it differs by output layout.

The ``omz`` preset is two recipes: Open Model Zoo's accuracy-checker configs of its two
RetinaFace models post-process differently (layout A, the insightface-MXNet
``retinaface-resnet50``: per-stride NMS at IoU 0.5, no score threshold; layout B, the
Pytorch_Retinaface ``retinaface-resnet50-pytorch``: score > 0.02, top 750, one NMS at 0.4), so
the same weights give different APs through the two layouts. :func:`layout_recipe_line` says
so in one line wherever a result is shown.
"""

from __future__ import annotations

from typing import Any

from rfbench.errors import RfbenchError

#: The settings that make up a recipe (a preset's other fields name or describe it).
_RECIPE_FIELDS = (
    "score_threshold", "score_inclusive", "pre_nms_top_k", "nms_scope", "nms_iou_threshold",
    "nms_suppress_equal", "nms_plus_one", "nms_in_original_pixels", "clip_to_input",
)  # fmt: skip


def _get(preset: Any, name: str) -> Any:
    return preset[name] if isinstance(preset, dict) else getattr(preset, name)


def recipe_text(preset: Any) -> str:
    """``"score > 0.02, top 750, one NMS at 0.4"``: a preset's settings in a few words.

    ``preset``: a :class:`~rfbench.decoder.postprocess.PostprocessPreset`, the record's
    ``Preset`` part, or its dict.
    """
    threshold = _get(preset, "score_threshold")
    parts = []
    if _get(preset, "nms_scope") == "per_level":
        parts.append(f"per-stride NMS at {_get(preset, 'nms_iou_threshold'):g}")
        if threshold is None:
            parts.append("no score threshold")
    if threshold is not None:
        sign = ">=" if _get(preset, "score_inclusive") else ">"
        parts.insert(0, f"score {sign} {threshold:g}")
    if _get(preset, "pre_nms_top_k") is not None:
        parts.append(f"top {_get(preset, 'pre_nms_top_k')}")
    if _get(preset, "nms_scope") != "per_level":
        plus_one = " with +1 areas" if _get(preset, "nms_plus_one") else ""
        parts.append(f"one NMS at {_get(preset, 'nms_iou_threshold'):g}{plus_one}")
        if threshold is None:
            parts.append("no score threshold")
    if _get(preset, "clip_to_input"):
        parts.append("boxes clipped to the input")
    return ", ".join(parts)


def differs_by_layout(name: str) -> bool:
    """True when preset ``name``'s recipe for layout A is not its recipe for layout B."""
    from rfbench.decoder.postprocess import get_preset

    try:
        a, b = get_preset(name, "A"), get_preset(name, "B")
    except RfbenchError:
        return False
    return any(_get(a, f) != _get(b, f) for f in _RECIPE_FIELDS)


def layout_recipe_line(preset: Any) -> str | None:
    """``"omz recipe for layout A: per-stride NMS at 0.5, no score threshold"`` when the
    preset's recipe differs by output layout; None when it is the same for both layouts."""
    name, kind = _get(preset, "name"), _get(preset, "layout_kind")
    if not kind or not differs_by_layout(name):
        return None
    return f"{name} recipe for layout {kind}: {recipe_text(preset)}"
