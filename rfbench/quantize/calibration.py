"""Which images calibrate a quantization, and the tensors they become.

The subset is drawn with a seeded generator from the images the data root's GT text lists. By
default it avoids the images a later ``rfbench eval`` on the same root scores (``eval --limit N``
scores the first N GT images; without ``--limit`` it scores all of them): when the images left
over are enough, the subset is disjoint from the scored ones; otherwise every left-over image
is taken and the rest is drawn from the scored ones, and the overlap is recorded. A subset
larger than the data root (the default 300 on a small root) calibrates on every image the root
lists, with a one-line warning; the size asked for and the size used are both recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.decoder.preprocess import preprocess, read_image
from rfbench.errors import RfbenchError
from rfbench.models.spec import ModelSpec

log = logging.getLogger(__name__)

DEFAULT_SUBSET_SIZE = 300  # NNCF's own default
DEFAULT_SEED = 0


@dataclass(frozen=True)
class CalibrationSubset:
    """The calibration images: ``image_ids`` (``"<event>/<name>"``, in draw order), the seed,
    how many of them a later eval scores (``overlap_with_eval``) and the eval set's size."""

    image_ids: tuple[str, ...]
    seed: int
    pool_size: int
    eval_images: int
    overlap_with_eval: int
    requested_size: int  # --subset-size as given

    @property
    def disjoint_from_eval(self) -> bool:
        return self.overlap_with_eval == 0

    def as_dict(self) -> dict[str, Any]:
        """results.json / sidecar fields (the ids in full: they decide the model)."""
        return {
            "num_images": len(self.image_ids),
            "requested_images": self.requested_size,
            "seed": self.seed,
            "pool_images": self.pool_size,
            "eval_images": self.eval_images,
            "disjoint_from_eval": self.disjoint_from_eval,
            "overlap_with_eval": self.overlap_with_eval,
            "image_ids": list(self.image_ids),
        }


def draw_subset(image_ids: Sequence[str], size: int, seed: int = DEFAULT_SEED,
                eval_limit: int | None = None) -> CalibrationSubset:
    """Draw ``size`` images from ``image_ids`` (GT-text order) with ``numpy`` seed ``seed``.

    ``eval_limit``: the ``--limit`` of the eval the model is meant for (None: it scores all).
    Images outside the scored ones are preferred (see the module docstring). When the data
    root lists fewer than ``size`` images, all of them are used (one warning; the subset's
    ``requested_size`` keeps ``size``). RfbenchError when it lists none.
    """
    ids = list(image_ids)
    requested = size
    if size <= 0:
        raise RfbenchError(f"--subset-size must be > 0, got {size}")
    if not ids:
        raise RfbenchError("calibration: the data root's GT text lists no image")
    size = min(size, len(ids))
    scored = ids if eval_limit is None else ids[:eval_limit]
    spare = ids[len(scored):]
    rng = np.random.default_rng(seed)
    if len(spare) >= size:
        chosen = [spare[i] for i in rng.choice(len(spare), size=size, replace=False)]
        overlap = 0
    else:
        extra = [scored[i] for i in rng.choice(len(scored), size=size - len(spare), replace=False)]
        chosen = [spare[i] for i in rng.permutation(len(spare))] + extra
        overlap = len(extra)
        if size == requested:
            log.warning("calibration: only %d image(s) outside the %d a later eval scores; %d of "
                        "the %d calibration images are also scored", len(spare), len(scored),
                        overlap, size)
    if size < requested:
        log.warning("calibration: --subset-size %d is more than the %d image(s) the data root "
                    "lists; calibrating on all %d (%d of them also scored by a later eval)",
                    requested, len(ids), size, overlap)
    return CalibrationSubset(tuple(chosen), seed, len(ids), len(scored), overlap, requested)


@dataclass(frozen=True)
class CalibrationImages:
    """Image id -> network input tensor, exactly as eval pre-processes it.

    ``images_dir``: folder of ``<event>/<name>.jpg``; ``spec``: the model's input size, pixel
    format and layout; ``resize``: "stretch" (OMZ) or "letterbox". An unreadable image raises
    :class:`rfbench.decoder.preprocess.ImageReadError` naming the file.
    """

    images_dir: Path
    spec: ModelSpec
    resize: str = "stretch"

    def preprocessed(self, image_id: str) -> tuple[np.ndarray, Any]:
        """(tensor, transform) of one image: (1, 3, H, W) float32 (NHWC models: (1, H, W, 3)),
        normalised like eval, at the model's one input size."""
        return preprocess(read_image(self.images_dir / f"{image_id}.jpg"),
                          self.spec.input.fixed_hw("rfbench quantize"), self.spec.pixels,
                          self.resize, self.spec.input.layout)

    def tensor(self, image_id: str) -> np.ndarray:
        """The network input of one image (:meth:`preprocessed`)."""
        return self.preprocessed(image_id)[0]

    def feeds(self, image_id: str) -> dict[str, np.ndarray]:
        """``{input name: tensor}`` for one image."""
        return {self.spec.input.name: self.tensor(image_id)}

    def check_readable(self, image_ids: Sequence[str]) -> None:
        """Fail before any calibration work when an image is missing or unreadable."""
        for image_id in image_ids:
            read_image(self.images_dir / f"{image_id}.jpg")
