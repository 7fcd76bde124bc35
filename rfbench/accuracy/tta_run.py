"""A prediction run with test-time augmentation (``eval --flip`` / ``--scales``).

:class:`TtaPredictionRun` is a :class:`~rfbench.accuracy.pipeline.PredictionRun` whose items are
the views of one image (:mod:`rfbench.decoder.tta`): the reader thread builds every view's
tensor, the inference step runs them one after the other (each at its own size, batch 1), the
writer thread decodes each view, maps it back and merges them. The pipeline's loop is reused
unchanged: an item's "tensor" is the list of its views' tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from rfbench.accuracy.pipeline import PredictionRun, Prepared
from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.detections import Detections
from rfbench.decoder.nms import nms
from rfbench.decoder.postprocess import PostprocessPreset, candidates, score_floor, submission_xywhs
from rfbench.decoder.preprocess import ImageTransform, preprocess_scaled
from rfbench.decoder.sizing import SizePolicy, SizeTally, canvas_hw, resized_hw
from rfbench.decoder.tta import TtaPlan, flip_offset, merge_views
from rfbench.errors import RfbenchError
from rfbench.models.spec import ModelSpec
from rfbench.wider.predictions import write_prediction_file


class TtaPredictionRun(PredictionRun):
    """Predict with several views per image; ``policy`` gives each image's base scale."""

    def __init__(self, infer: Callable[[dict], dict], spec: ModelSpec, preset: PostprocessPreset,
                 images_dir: Path, pred_dir: Path, *, plan: TtaPlan, policy: SizePolicy,
                 float32_resize: bool = False, strict: bool = False) -> None:
        if preset.nms_scope != "global":
            raise RfbenchError(f"--flip/--scales merge all views with one NMS: preset {preset.name!r} "
                               "runs NMS per level; use --preset insightface or biubug6")
        if not policy.per_image:
            raise RfbenchError("--flip/--scales need a dynamic model and --input-size native or S:L")
        name = spec.input.name

        def infer_views(feeds: dict) -> dict:
            """One inference per view (each at its own size); their outputs, keyed by view."""
            return {i: infer({name: t}) for i, t in enumerate(feeds[name])}

        super().__init__(infer_views, spec, preset, "scale", images_dir, pred_dir, strict=strict)
        self.plan, self.policy, self.float32_resize = plan, policy, float32_resize
        self.tally = SizeTally()

    def prepare(self, image_id: str) -> Prepared:
        """Read one image and build every view (reader thread)."""
        image = self.read(image_id)
        if isinstance(image, Prepared):
            return image
        base = self.policy.scale_for((int(image.shape[0]), int(image.shape[1])))
        tensors, transforms = [], []
        for factor, flipped in self.plan.views():
            view = np.ascontiguousarray(image[:, ::-1]) if flipped else image
            scale = base * factor
            canvas = canvas_hw(resized_hw(view.shape[:2], scale), image_id)
            tensor, transform = preprocess_scaled(view, scale, self.spec.pixels, self.spec.input.layout,
                                                  float32_resize=self.float32_resize, canvas=canvas)
            self.tally.add(canvas)
            if canvas != resized_hw(view.shape[:2], scale):
                self.tally.padded.append(image_id)
            tensors.append(tensor)
            transforms.append((transform, flipped, resized_hw(view.shape[:2], scale)[1]))
        # the pipeline passes both through untouched: to infer_views and to finish
        return Prepared(image_id, tensors, transforms)  # type: ignore[arg-type]

    def finish(self, image_id: str, outputs, transform) -> int:
        """Decode, map back and merge every view of one image, write its file (writer thread)."""
        views: list[Detections] = []
        offset = flip_offset(self.spec.layout.kind)
        view_transform: ImageTransform
        for i, (view_transform, flipped, resized_w) in enumerate(transform):
            out = outputs[i]
            assert view_transform.network_hw is not None
            levels = decode_outputs(out, self.spec.layout, view_transform.network_hw, score_floor(self.preset))
            unflip = (resized_w - offset) if flipped else None
            views.append(candidates(levels, self.preset, view_transform, unflip))
        dets = merge_views(views, self.plan, self._nms)
        write_prediction_file(self.pred_dir, image_id, submission_xywhs(dets, self.preset))
        return len(dets)

    def _nms(self, dets: Detections) -> Detections:
        p = self.preset
        return dets.take(nms(dets.boxes, dets.scores, p.nms_iou_threshold, plus_one=p.nms_plus_one,
                             suppress_equal=p.nms_suppress_equal))
