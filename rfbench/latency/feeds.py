"""What a latency run feeds the model: random data (fixed seed) or real pre-processed images.

:class:`FeedOptions` is ``--input-precision`` and ``--input-data``. Real images go through
rfbench's own pre-processing (:func:`rfbench.decoder.preprocess.preprocess` with the model's
:class:`~rfbench.models.spec.ModelSpec`: stretch resize to the network size, the layout's
pixel format), the same tensors ``rfbench eval`` feeds; the runs cycle over them.

u8 feeds carry the resized BGR pixels; the model converts them to float inside (see
``input_precision`` in :mod:`rfbench.runtimes.base`). A model whose pixel format subtracts a
mean or divides by a scale outside the network (layout B: BGR minus (104, 117, 123)) cannot
be fed real images as u8 -- the mean is not folded in, as benchmark_app does not fold it
either -- so that combination is refused with a one-line error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.runtimes.base import INPUT_PRECISIONS

log = logging.getLogger(__name__)

#: Seed of the random input data (fixed, so that every run feeds the same tensors).
DEFAULT_SEED = 0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: At most this many images are pre-processed and cycled over (sorted by path; 4.9 MB each
#: at 640x640 f32), so a large folder does not fill the memory.
MAX_IMAGES = 64
RESIZE_MODE = "stretch"


@dataclass(frozen=True)
class FeedOptions:
    """``input_precision``: "u8" | "f32" | None (None = the model's own input type);
    ``input_data``: a folder of images to time on instead of random data (None = random)."""

    input_precision: str | None = None
    input_data: Path | None = None

    def __post_init__(self) -> None:
        if self.input_precision not in (None, *INPUT_PRECISIONS):
            raise RfbenchError(
                f"--input-precision '{self.input_precision}' is not one of "
                f"{', '.join(INPUT_PRECISIONS)}"
            )
        if self.input_data is not None and not Path(self.input_data).is_dir():
            raise RfbenchError(f"--input-data {self.input_data}: not a folder")

    def settings(self) -> dict[str, Any]:
        """The requested feed settings for results.json's ``settings``."""
        return {
            "input_precision": self.input_precision,
            "input_data": str(self.input_data) if self.input_data is not None else None,
        }


def image_files(folder: Path) -> list[Path]:
    """The images under ``folder`` (recursive, sorted by path); RfbenchError when none."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise RfbenchError(
            f"--input-data {folder}: no {'/'.join(IMAGE_SUFFIXES)} images in the folder"
        )
    return files


def make_feeds(inputs: Sequence[Any], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Random inputs for ``inputs`` (TensorInfo-like: name, shape, dtype), from a fixed seed.

    Float inputs: uniform in [0, 255) like raw pixels; integer inputs: integers 0..255 (clipped
    to the type); bool: random. Shapes must be fully static. Returns ``{name: array}``.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in inputs:
        if any(d is None for d in info.shape):
            raise RfbenchError(
                f"input '{info.name}' has a dynamic shape {list(info.shape)}; "
                "give --input-shape (e.g. 1x3x640x640)"
            )
        dtype = np.dtype(info.dtype)
        shape = tuple(int(d) for d in info.shape)
        if dtype.kind == "f":
            array = rng.uniform(0.0, 255.0, size=shape).astype(dtype)
        elif dtype.kind in "iu":
            high = min(256, int(np.iinfo(dtype).max) + 1)
            array = rng.integers(0, high, size=shape).astype(dtype)
        elif dtype.kind == "b":
            array = rng.integers(0, 2, size=shape).astype(bool)
        else:
            raise RfbenchError(f"input '{info.name}': cannot make random data of type {dtype}")
        feeds[info.name] = np.ascontiguousarray(array)
    return feeds


def image_feeds(
    folder: Path, model: Path, adapter: Any, input_hw: tuple[int, int] | None
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """Feed dicts of the first :data:`MAX_IMAGES` images of ``folder`` and what was used.

    ``model``: the model file as given (its ModelSpec decides size, layout and pixels);
    ``adapter``: opened on it (its one input's batch size and dtype are used: a batch of B
    takes B consecutive images). Returns ``(feeds, info)``; ``info`` has ``folder``,
    ``images`` (used), ``images_found``, ``resize``, ``model_spec`` (ModelSpec.as_dict()).
    """
    from rfbench.decoder.preprocess import preprocess, read_image
    from rfbench.models.spec import build_model_spec, plan_input

    if len(adapter.inputs) != 1:
        raise RfbenchError(f"--input-data: {model.name} has {len(adapter.inputs)} inputs, not one")
    (tensor_info,) = adapter.inputs
    plan = plan_input(model, input_hw)
    spec = build_model_spec(model, plan, {t.name: t.shape for t in adapter.outputs},
                            metadata=adapter.metadata)
    dtype = np.dtype(tensor_info.dtype)
    if dtype == np.uint8 and (any(spec.pixels.mean) or any(s != 1 for s in spec.pixels.scale)):
        raise RfbenchError(
            f"--input-precision u8 with --input-data: {model.name} expects pixels "
            f"{spec.pixels.channel_order} minus {spec.pixels.mean} / {spec.pixels.scale}, which "
            "u8 raw pixels cannot carry; use --input-precision f32"
        )
    if plan.hw is None:
        raise RfbenchError(f"--input-data: {model.name} has no fixed input size here; give --input-size WxH")
    hw = plan.hw
    found = image_files(folder)
    batch = int(tensor_info.shape[0] or 1)
    files = found[:MAX_IMAGES]
    tensors = [
        preprocess(read_image(path), hw, spec.pixels, RESIZE_MODE, plan.layout)[0]
        for path in files
    ]
    feeds = []
    for start in range(0, len(tensors), batch):
        group = [tensors[(start + k) % len(tensors)] for k in range(batch)]
        feeds.append({tensor_info.name: np.ascontiguousarray(np.concatenate(group), dtype=dtype)})
    info = {
        "folder": str(folder),
        "images": len(files),
        "images_found": len(found),
        "feeds": len(feeds),
        "resize": RESIZE_MODE,
        "model_spec": spec.as_dict(),
    }
    log.info("--input-data: %d images from %s, cycled over", len(files), folder)
    return feeds, info
