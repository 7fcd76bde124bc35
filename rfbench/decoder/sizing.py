"""Input size policies: at what size each image is fed to the network.

Three policies (``--input-size``):

``WxH`` (``fixed``)
    every image resized to one network size, as OMZ does (``640x640`` stretched, or letterboxed);
    the model may be static or dynamic. Today's behaviour, unchanged.
``native``
    each image at its own size (scale 1, no resize): Pytorch_Retinaface's ``test_widerface.py``
    as it actually runs (its ``--origin_size`` is always true, see the README). Dynamic models only.
``S:L`` (``short_long``)
    one isotropic scale per image: ``r = S / short side``, unless ``round(r * long side) > L``,
    then ``r = L / long side`` (``np.round``, as the script does). ``1600:2150`` is the recipe of
    Pytorch_Retinaface's published "1600 / 2150" numbers. Dynamic models only.

For the per-image policies the network size is the resized image's own size (OpenCV's
``cv2.resize(image, None, fx=r, fy=r)``: ``round(w * r) x round(h * r)``), so images of
different sizes are never batched together (the pipeline runs batch 1). A side below
:data:`MIN_NETWORK_SIDE` is padded (zeros after normalisation, bottom/right; the transform is
unchanged) and the image is recorded as adjusted; a side above :data:`MAX_NETWORK_SIDE` is an
error naming the image.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rfbench.decoder.preprocess import ImageTransform, PixelFormat, preprocess_scaled
from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

POLICY_KINDS = ("fixed", "native", "short_long")
#: Smallest network side fed: the coarsest RetinaFace stride (32) needs one cell.
MIN_NETWORK_SIDE = 32
#: Largest network side fed (OpenVINO's and ORT's CPU kernels are fine far beyond WIDER's 2150,
#: but a 16k-pixel side would need tens of GiB of activations).
MAX_NETWORK_SIDE = 8192

SIZE_SYNTAX = "WIDTHxHEIGHT (e.g. 640x640), native, or SHORT:LONG (e.g. 1600:2150)"


@dataclass(frozen=True)
class SizePolicy:
    """How the network input size is chosen.

    Attributes:
        kind: ``"fixed"``, ``"native"`` or ``"short_long"``.
        hw: (H, W) in pixels for ``fixed``; None otherwise.
        short, long: target short side and cap on the long side in pixels (``short_long``).
    """

    kind: str
    hw: tuple[int, int] | None = None
    short: int | None = None
    long: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise ValueError(f"size policy kind must be one of {POLICY_KINDS}, not {self.kind!r}")
        if (self.kind == "fixed") != (self.hw is not None):
            raise ValueError("a fixed size policy needs hw, the others must not have it")
        if self.kind == "short_long" and not (self.short and self.long and self.short > 0 and self.long > 0):
            raise ValueError("a short:long policy needs positive short and long sides")

    @property
    def per_image(self) -> bool:
        """True when every image gets its own network size (native, short:long)."""
        return self.kind != "fixed"

    @property
    def text(self) -> str:
        """The ``--input-size`` spelling: ``640x640``, ``native`` or ``1600:2150``."""
        if self.kind == "fixed":
            assert self.hw is not None
            return f"{self.hw[1]}x{self.hw[0]}"
        if self.kind == "native":
            return "native"
        return f"{self.short}:{self.long}"

    @property
    def rule(self) -> str:
        """One sentence saying how the size is chosen (goes into results)."""
        if self.kind == "fixed":
            return f"every image resized to {self.text}"
        if self.kind == "native":
            return "each image at its own size (scale 1, no resize)"
        return (f"isotropic scale r = {self.short} / short side, unless round(r * long side) > "
                f"{self.long}, then r = {self.long} / long side")

    def scale_for(self, image_hw: tuple[int, int]) -> float:
        """The isotropic scale of a per-image policy for an ``(H, W)`` image (1.0 for native)."""
        if self.kind == "native":
            return 1.0
        if self.kind != "short_long":
            raise ValueError("scale_for applies to the per-image policies only")
        assert self.short is not None and self.long is not None
        small, large = min(image_hw), max(image_hw)
        scale = float(self.short) / float(small)
        if np.round(scale * large) > self.long:
            scale = float(self.long) / float(large)
        return scale


def parse_size_policy(text: str) -> SizePolicy:
    """``"640x480"`` -> fixed (H=480, W=640); ``"native"``; ``"1600:2150"`` -> short:long.
    ValueError says why not (the option parsers turn it into the user-facing error)."""
    value = text.strip().lower()
    if value == "native":
        return SizePolicy("native")
    if ":" in value:
        try:
            short, long = (int(v) for v in value.split(":"))
        except ValueError:
            raise ValueError(f"expected {SIZE_SYNTAX}") from None
        if short <= 0 or long <= 0:
            raise ValueError("SHORT and LONG must be positive")
        if long < short:
            raise ValueError("LONG (the cap on the long side) must be >= SHORT")
        return SizePolicy("short_long", short=short, long=long)
    try:
        width, height = (int(v) for v in value.split("x"))
    except ValueError:
        raise ValueError(f"expected {SIZE_SYNTAX}") from None
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    if max(width, height) > MAX_NETWORK_SIDE:
        raise ValueError(f"a side over {MAX_NETWORK_SIDE} px, the largest network side")
    return SizePolicy("fixed", hw=(height, width))


def resized_hw(image_hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """(H, W) that ``cv2.resize(image, None, fx=scale, fy=scale)`` produces (OpenCV rounds
    ``side * scale`` to the nearest integer, halves to even); the image's own size at scale 1."""
    return int(np.rint(image_hw[0] * scale)), int(np.rint(image_hw[1] * scale))


def canvas_hw(network_hw: tuple[int, int], image_id: str = "image") -> tuple[int, int]:
    """The network size fed for a resized ``(H, W)``: padded up to :data:`MIN_NETWORK_SIDE`;
    RfbenchError naming the image for a side above :data:`MAX_NETWORK_SIDE`."""
    h, w = network_hw
    if max(h, w) > MAX_NETWORK_SIDE:
        raise RfbenchError(
            f"{image_id}: network input {w}x{h} exceeds {MAX_NETWORK_SIDE} px a side; "
            "choose a smaller --input-size (e.g. 1600:2150 or WxH)"
        )
    return max(h, MIN_NETWORK_SIDE), max(w, MIN_NETWORK_SIDE)


class SizeTally:
    """Distribution of the network sizes fed in a run, and the images that were adjusted."""

    def __init__(self) -> None:
        self.sizes: Counter[tuple[int, int]] = Counter()
        self.padded: list[str] = []

    def add(self, network_hw: tuple[int, int]) -> None:
        self.sizes[(int(network_hw[0]), int(network_hw[1]))] += 1

    def summary(self, policy: SizePolicy) -> dict[str, Any]:
        """The eval record's ``input_sizes`` (see :class:`rfbench.results.eval_record.InputSizes`)."""
        return size_summary(policy, self.sizes, self.padded)


def size_summary(policy: SizePolicy, sizes: Mapping[tuple[int, int], int],
                 padded: list[str]) -> dict[str, Any]:
    """Policy, rule, counts per (W, H) (most used first) and megapixel range of the sizes fed."""
    rows = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))
    megapixels = np.repeat([h * w / 1e6 for (h, w), _ in rows], [n for _, n in rows]) if rows else np.zeros(0)
    return {
        "policy": policy.text,
        "kind": policy.kind,
        "rule": policy.rule,
        "images": int(sum(sizes.values())),
        "distinct_sizes": len(rows),
        "sizes": [{"width": w, "height": h, "images": n} for (h, w), n in rows],
        "megapixels_min": float(megapixels.min()) if megapixels.size else None,
        "megapixels_median": float(np.median(megapixels)) if megapixels.size else None,
        "megapixels_max": float(megapixels.max()) if megapixels.size else None,
        "min_side_px": MIN_NETWORK_SIDE,
        "images_padded": len(set(padded)),
        "padded_images": sorted(set(padded)),
    }


class ImageSizer:
    """Pre-processing of one per-image policy: (H, W, 3) uint8 BGR -> (tensor, transform).

    ``float32_resize``: resize the float32 image (Pytorch_Retinaface's recipe, preset
    ``biubug6``) instead of the uint8 one. Call from one thread at a time (the reader thread);
    :attr:`tally` counts the sizes fed and the padded images.
    """

    def __init__(self, policy: SizePolicy, pixels: PixelFormat, layout: str = "NCHW", *,
                 float32_resize: bool = False) -> None:
        if not policy.per_image:
            raise ValueError("ImageSizer is for the per-image policies (native, short:long)")
        self.policy, self.pixels, self.layout = policy, pixels, layout
        self.float32_resize = float32_resize
        self.tally = SizeTally()

    def __call__(self, image: np.ndarray, image_id: str = "image") -> tuple[np.ndarray, ImageTransform]:
        image_hw = (int(image.shape[0]), int(image.shape[1]))
        scale = self.policy.scale_for(image_hw)
        resized = resized_hw(image_hw, scale)
        if min(resized) < 1:
            raise RfbenchError(f"{image_id}: {image_hw[1]}x{image_hw[0]} image scales to nothing at {scale:g}")
        canvas = canvas_hw(resized, image_id)
        if canvas != resized:
            log.info("%s: network input %dx%d padded to %dx%d", image_id, resized[1], resized[0],
                     canvas[1], canvas[0])
            self.tally.padded.append(image_id)
        self.tally.add(canvas)
        return preprocess_scaled(image, scale, self.pixels, self.layout,
                                 float32_resize=self.float32_resize, canvas=canvas)
