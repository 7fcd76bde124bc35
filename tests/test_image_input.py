"""Image reading and pre-processing: OMZ's exact resize, letterbox mapping, pixel formats."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rfbench.commands.options import parse_size
from rfbench.decoder.preprocess import (
    PIXELS_LAYOUT_A,
    PIXELS_LAYOUT_B,
    ImageReadError,
    PixelFormat,
    preprocess,
    read_image,
)
from rfbench.models.spec import plan_input

PARADE = "WIDER_val/images/0--Parade/0_Parade_marchingband_1_149.jpg"


def test_stretch_is_exactly_cv2_resize_on_uint8(wider_mini):
    image = read_image(wider_mini / PARADE)
    expected = cv2.resize(cv2.imread(str(wider_mini / PARADE)), (640, 640), interpolation=cv2.INTER_LINEAR)
    tensor, transform = preprocess(image, (640, 640), PIXELS_LAYOUT_A)
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    assert np.array_equal(tensor[0].transpose(1, 2, 0), expected.astype(np.float32))
    height, width = image.shape[:2]
    assert (transform.scale_x, transform.scale_y) == (640 / width, 640 / height)
    tensor_b, _ = preprocess(image, (640, 640), PIXELS_LAYOUT_B)
    assert np.allclose(tensor_b[0, 0], expected[:, :, 0] - 104.0)
    assert np.allclose(tensor_b[0, 2], expected[:, :, 2] - 123.0)


def test_rgb_scale_and_nhwc():
    image = np.zeros((10, 20, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30  # B, G, R
    pixels = PixelFormat("RGB", (1.0, 2.0, 3.0), (2.0, 2.0, 2.0))
    tensor, _ = preprocess(image, (10, 20), pixels, layout="NHWC")
    assert tensor.shape == (1, 10, 20, 3)
    assert tensor[0, 0, 0].tolist() == [(30 - 1) / 2, (20 - 2) / 2, (10 - 3) / 2]


def test_letterbox_keeps_aspect_and_maps_back():
    image = np.full((300, 600, 3), 200, dtype=np.uint8)
    tensor, transform = preprocess(image, (640, 640), PIXELS_LAYOUT_B, mode="letterbox")
    assert transform.scale_x == transform.scale_y == pytest.approx(640 / 600)
    assert np.all(tensor[0, :, 320:, :] == 0)  # padding below the 320-px-high image
    assert np.all(tensor[0, 0, :320, :] == 200 - 104)
    box = np.array([[60.0, 30.0, 120.0, 90.0]])
    # the forward map, original -> network pixels
    to_network = box * np.tile([transform.scale_x, transform.scale_y], 2)
    to_network += np.tile([transform.offset_x, transform.offset_y], 2)
    assert np.allclose(transform.to_original(to_network), box)
    assert np.allclose(to_network, box * 640 / 600)


def test_unreadable_images_name_the_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "absent.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_image(bad)


def test_plan_input_static_dynamic_and_sizes(models_dir):
    static = plan_input(models_dir / "retinaface-mnet025-640.onnx", None)
    assert (static.name, static.layout, static.hw, static.dynamic, static.adapter_shape) == (
        "input0", "NCHW", (640, 640), False, None)
    dynamic = plan_input(models_dir / "retinaface-mnet025-dynamic.onnx", parse_size("640x480"))
    assert dynamic.hw == (480, 640) and dynamic.adapter_shape == (1, 3, 480, 640)
    assert plan_input(models_dir / "retinaface-mnet025-dynamic.onnx", None).hw == (640, 640)
    with pytest.raises(Exception, match="fixed at 640x640"):
        plan_input(models_dir / "retinaface-mnet025-640.onnx", (480, 640))
    with pytest.raises(Exception, match="WIDTHxHEIGHT"):
        parse_size("640")
