"""Per-image input sizes and test-time augmentation of a model run (``eval --input-size
native|SHORT:LONG``, ``--scales``, ``--flip``, ``--merge``): what the run asks the model for,
the pre-processing it gives each image, and what the eval record says about them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.decoder.postprocess import PostprocessPreset, get_preset, script_setting
from rfbench.decoder.sizing import ImageSizer
from rfbench.errors import RfbenchError
from rfbench.models.spec import ModelSpec

if TYPE_CHECKING:
    from rfbench.accuracy.options import ModelRunOptions
    from rfbench.accuracy.tta_run import TtaPredictionRun
    from rfbench.decoder.sizing import SizePolicy
    from rfbench.decoder.tta import TtaPlan

log = logging.getLogger(__name__)

TTA_RECIPE = ("insightface detection/retinaface test_widerface.py mode 1 and RetinaFace.detect: "
              "views per scale (and flipped), threshold and clip per view, flipped boxes mapped "
              "back, all views merged by NMS or bbox_vote")


def size_request(options: ModelRunOptions) -> tuple[int, int] | SizePolicy | None:
    """The size asked for: ``--input-size``, else the preset's recipe size for a dynamic model
    (``biubug6``: native), else None (the model's fixed size, or 640x640)."""
    from rfbench.decoder.sizing import parse_size_policy
    from rfbench.models.files import check_model_path
    from rfbench.models.spec import has_dynamic_size

    if options.input_size is not None:
        return options.input_size
    if options.input_hw is not None:
        return options.input_hw
    default = script_setting(get_preset(options.preset, "B"), "default_input_size")
    if default is None:
        return None
    if not has_dynamic_size(check_model_path(options.model)):
        log.warning("preset %s runs each image at %s size, but %s has a fixed input size: using it",
                    options.preset, default, Path(options.model).name)
        return None
    return parse_size_policy(default)


def image_sizer(spec: ModelSpec, preset: PostprocessPreset) -> ImageSizer | None:
    """The per-image pre-processing of a native / short:long plan (None for a fixed size)."""
    if not spec.input.per_image:
        return None
    assert spec.input.policy is not None
    return ImageSizer(spec.input.policy, spec.pixels, spec.input.layout,
                      float32_resize=script_setting(preset, "resize_float32"))


def tta_runner(infer: Callable[[dict], dict], spec: ModelSpec, preset: PostprocessPreset,
               images_dir: Path, pred_dir: Path, plan: TtaPlan, strict: bool) -> TtaPredictionRun:
    """The :class:`~rfbench.accuracy.tta_run.TtaPredictionRun` of a per-image plan."""
    from rfbench.accuracy.tta_run import TtaPredictionRun

    if not spec.input.per_image or spec.input.policy is None:
        raise RfbenchError("--flip/--scales need a dynamic model and --input-size native or S:L")
    if plan.flip and spec.layout.kind not in ("A", "B"):
        raise RfbenchError("--flip needs an output layout with landmarks (A or B)")
    return TtaPredictionRun(infer, spec, preset, images_dir, pred_dir, plan=plan,
                            policy=spec.input.policy,
                            float32_resize=script_setting(preset, "resize_float32"), strict=strict)


def sized_run_fields(runner: Any, sizer: ImageSizer | None, tta: TtaPlan | None) -> dict[str, Any]:
    """The eval record's parts of a per-image-size or TTA run (empty for a fixed size).

    ``runner``: the PredictionRun or TtaPredictionRun that ran (a TTA run tallies its sizes).
    """
    if tta is not None:
        policy, tally, float32_resize = runner.policy, runner.tally, runner.float32_resize
    elif sizer is not None:
        policy, tally, float32_resize = sizer.policy, sizer.tally, sizer.float32_resize
    else:
        return {}
    fields: dict[str, Any] = {
        "preprocessing": {
            "resize": "scale", "interpolation": "INTER_LINEAR", "reader": "cv2.imread BGR uint8",
            "size_policy": policy.text, "resize_dtype": "float32" if float32_resize else "uint8",
        },
        "input_sizes": tally.summary(policy),
    }
    if tta is not None:
        fields["test_time_augmentation"] = {**tta.as_dict(), "recipe": TTA_RECIPE}
    return fields
