"""rfbench's evaluator as NNCF's validation function (accuracy-aware quantization).

NNCF calls ``validation_fn(compiled_model, data_items)`` with the raw items of its validation
``nncf.Dataset`` (here: WIDER image ids). :class:`OmzValidator` runs the compiled model on each
image exactly like ``rfbench eval`` (pre-processing, decoding, the named post-processing
preset), scores the 64-px ``omz`` protocol over the items and returns
``(AP in [0, 1], per-image APs)``: NNCF's "metric mode" (it ranks layers by the images whose
value changes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.postprocess import postprocess, submission_xywhs
from rfbench.evaluation.omz import evaluate_omz, omz_ground_truth
from rfbench.quantize.calibration import CalibrationImages
from rfbench.wider.ground_truth import WiderGroundTruth

log = logging.getLogger(__name__)


def gt_for(gt: WiderGroundTruth, image_ids: Iterable[str]) -> WiderGroundTruth:
    """The ground truth of ``image_ids`` (in that order); KeyError names an unknown id."""
    index = {image_id: i for i, image_id in enumerate(gt.image_ids)}
    rows = [index[image_id] for image_id in image_ids]
    return WiderGroundTruth.from_arrays([gt.image_ids[i] for i in rows],
                                        [gt.boxes_xywh[i] for i in rows],
                                        invalid=[gt.invalid[i] for i in rows])


def omz_ap(gt: WiderGroundTruth, predictions: dict[str, np.ndarray]) -> float:
    """OMZ AP of ``predictions`` on ``gt``; 0.0 without a counted face (AP undefined there, and
    the value must be a number for NNCF's ranking; it is the same for every model)."""
    return float(evaluate_omz(gt, predictions).ap) if omz_ground_truth(gt).num_faces else 0.0


@dataclass
class OmzValidator:
    """Callable ``(compiled_model, image_ids) -> (omz AP, per-image APs)``.

    ``images``: where the images are and how they are pre-processed (the model's spec);
    ``preset``: the post-processing preset eval uses; ``gt``: ground truth holding every id.
    ``calls`` counts full validations (NNCF runs many).
    """

    gt: WiderGroundTruth
    images: CalibrationImages
    preset: Any
    calls: int = 0

    def predict(self, compiled_model: Any, image_id: str) -> np.ndarray:
        """(N, 5) ``x y w h score`` detections of one image, as eval writes them."""
        from rfbench.runtimes.openvino.core import port_name

        spec = self.images.spec
        tensor, transform = self.images.preprocessed(image_id)
        result = compiled_model({spec.input.name: tensor})
        outputs = {port_name(port, f"output{i}"): np.asarray(result[port])  # the adapter's names
                   for i, port in enumerate(compiled_model.outputs)}
        levels = decode_outputs(outputs, spec.layout, spec.input.fixed_hw("rfbench quantize"))
        return submission_xywhs(postprocess(levels, self.preset, transform), self.preset)  # as eval writes them

    def counted_faces(self, image_ids: Iterable[str]) -> int:
        """Faces the omz protocol counts (64 px and up) in ``image_ids``."""
        return omz_ground_truth(gt_for(self.gt, image_ids)).num_faces

    def __call__(self, compiled_model: Any, image_ids: Iterable[str]) -> tuple[float, list[float]]:
        ids = list(image_ids)
        predictions = {image_id: self.predict(compiled_model, image_id) for image_id in ids}
        self.calls += 1
        ap = omz_ap(gt_for(self.gt, ids), predictions)
        per_image = [omz_ap(gt_for(self.gt, [image_id]), {image_id: predictions[image_id]})
                     for image_id in ids]
        log.debug("validation %d: omz AP %.4f on %d image(s)", self.calls, ap, len(ids))
        return ap, per_image

