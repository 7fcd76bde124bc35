"""The one-pass tensor conversion (``preprocess.to_tensor``) equals OMZ's pre-processing bit for bit.

The reference here is the plain recipe, written independently: the resized uint8 image as
float32, channels in the model's order, ``(x - mean) / scale`` in float32, HWC -> CHW, zero
outside a letterboxed or padded image. Compared as raw float32 bit patterns on the fixture
images: stretch and letterbox, both channel orders, with and without mean and scale, NCHW and
NHWC, and the isotropic per-image path with a padded canvas.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rfbench.decoder.preprocess import PixelFormat, preprocess, preprocess_scaled, read_image

PIXELS = [
    PixelFormat("BGR", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    PixelFormat("BGR", (104.0, 117.0, 123.0), (1.0, 1.0, 1.0)),
    PixelFormat("RGB", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    PixelFormat("RGB", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    PixelFormat("BGR", (0.1, 127.5, 255.3), (0.7, 1.0, 3.0)),
]


def reference_tensor(resized: np.ndarray, canvas_hw: tuple[int, int], pixels: PixelFormat,
                     layout: str) -> np.ndarray:
    """(h, w, 3) uint8 BGR -> normalised float32 on a zero canvas, the plain way."""
    x = resized.astype(np.float32)
    if pixels.channel_order == "RGB":
        x = x[:, :, ::-1]
    x = (x - np.asarray(pixels.mean, np.float32)) / np.asarray(pixels.scale, np.float32)
    canvas = np.zeros((*canvas_hw, 3), np.float32)
    canvas[: x.shape[0], : x.shape[1]] = x
    return canvas[None] if layout == "NHWC" else canvas.transpose(2, 0, 1)[None]


def _images(wider_mini: Path) -> list[np.ndarray]:
    paths = sorted((wider_mini / "WIDER_val" / "images").glob("*/*.jpg"))
    assert len(paths) == 5
    return [read_image(p) for p in paths]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_fixed_size_tensor_is_omz_bit_for_bit(wider_mini, mode, layout):
    for image in _images(wider_mini):
        for hw in ((640, 640), (480, 736)):
            if mode == "stretch":
                resized = cv2.resize(image, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
            else:
                scale = min(hw[1] / image.shape[1], hw[0] / image.shape[0])
                size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
                resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            for pixels in PIXELS:
                tensor, _ = preprocess(image, hw, pixels, mode, layout)
                assert _same_bits(tensor, reference_tensor(resized, hw, pixels, layout)), (mode, hw, pixels)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_scaled_tensor_with_a_padded_canvas_is_bit_for_bit(wider_mini, layout):
    for image in _images(wider_mini)[:2]:
        for scale in (0.5, 1.0, 1.3):
            resized = image if scale == 1.0 else cv2.resize(image, None, None, fx=scale, fy=scale,
                                                            interpolation=cv2.INTER_LINEAR)
            h, w = resized.shape[:2]
            canvas = (-(-h // 32) * 32, -(-w // 32) * 32)
            for pixels in PIXELS[1:4]:
                tensor, _ = preprocess_scaled(image, scale, pixels, layout, canvas=canvas)
                assert _same_bits(tensor, reference_tensor(resized, canvas, pixels, layout)), (scale, pixels)
