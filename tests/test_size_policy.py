"""Input size policies (``--input-size native | SHORT:LONG | WxH``) against reference code
written here from the recipes' descriptions: Pytorch_Retinaface's ``PriorBox`` at arbitrary
sizes, insightface's anchor shifts, the 1600/2150 scale rule of ``test_widerface.py``, OpenCV's
``fx``-resize output size; and the bad inputs (tiny, huge, static model asked for native)."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest

from rfbench.commands.options import parse_input_size
from rfbench.decoder.anchors import anchors_a, feature_sizes_b, priors_b
from rfbench.decoder.preprocess import PIXELS_LAYOUT_B
from rfbench.decoder.sizing import (
    MAX_NETWORK_SIDE,
    MIN_NETWORK_SIDE,
    ImageSizer,
    SizePolicy,
    parse_size_policy,
    resized_hw,
    size_summary,
)
from rfbench.errors import RfbenchError
from rfbench.models.spec import plan_input

# ---------------------------------------------------------------- reference code


def reference_priorbox(image_hw):
    """Pytorch_Retinaface ``PriorBox.forward`` as described: per step (8, 16, 32) a ceil-sized
    grid, rows i then columns j then min sizes, ``[cx, cy, m / W, m / H]`` normalised."""
    h, w = image_hw
    rows = []
    for step, min_sizes in zip((8, 16, 32), ((16, 32), (64, 128), (256, 512))):
        for i, j in itertools.product(range(math.ceil(h / step)), range(math.ceil(w / step))):
            for m in min_sizes:
                rows.append([(j + 0.5) * step / w, (i + 0.5) * step / h, m / w, m / h])
    return np.array(rows)


def reference_anchors_a(stride, feat_h, feat_w):
    """insightface anchors of one stride: base boxes of side 16*k (k = larger scale first) centred
    at 7.5 with the +1 convention, shifted by (x*stride, y*stride), cell by cell."""
    scales = {32: (32, 16), 16: (8, 4), 8: (2, 1)}[stride]
    out = []
    for y in range(feat_h):
        for x in range(feat_w):
            for k in scales:
                half = (16 * k - 1) / 2
                out.append([7.5 - half + x * stride, 7.5 - half + y * stride,
                            7.5 + half + x * stride, 7.5 + half + y * stride])
    return np.array(out)


def reference_scale(image_hw, target=1600, max_size=2150):
    """``test_widerface.py``: resize = target / short side; if round(resize * long side) exceeds
    max_size, resize = max_size / long side (numpy's round: halves to even)."""
    resize = float(target) / float(min(image_hw))
    if np.round(resize * max(image_hw)) > max_size:
        resize = float(max_size) / float(max(image_hw))
    return resize


# ---------------------------------------------------------------- anchors per size


@pytest.mark.parametrize("hw", [(681, 1024), (333, 517), (31, 45), (1, 1), (2150, 1600), (8, 1000)])
def test_priors_match_priorbox_at_arbitrary_sizes(hw):
    np.testing.assert_allclose(priors_b(hw), reference_priorbox(hw), rtol=0, atol=1e-15)
    assert priors_b(hw) is priors_b(hw)  # cached per size
    assert priors_b.cache_info().maxsize is not None  # bounded


@pytest.mark.parametrize(("stride", "fh", "fw"), [(32, 3, 5), (16, 43, 64), (8, 1, 7)])
def test_layout_a_anchors_at_arbitrary_grids(stride, fh, fw):
    np.testing.assert_array_equal(anchors_a(stride, fh, fw), reference_anchors_a(stride, fh, fw))
    assert anchors_a.cache_info().maxsize is not None


# ---------------------------------------------------------------- the scale rule


@pytest.mark.parametrize("hw", [(681, 1024), (1024, 681), (760, 1024), (1600, 1600), (3200, 4301),
                                (3200, 4302), (100, 100), (50, 4000), (1, 1)])
def test_short_long_rule_is_the_scripts(hw):
    assert SizePolicy("short_long", short=1600, long=2150).scale_for(hw) == reference_scale(hw)


def test_short_long_boundary_rounds_half_to_even():
    # 4301 * (1600 / 3200) = 2150.5: numpy rounds it to 2150 (not above the cap), so r stays 0.5
    assert parse_size_policy("1600:2150").scale_for((3200, 4301)) == 0.5
    assert parse_size_policy("1600:2150").scale_for((3200, 4303)) == 2150 / 4303


def test_native_is_scale_one_and_wider_image_sizes():
    policy = parse_size_policy("native")
    assert policy.scale_for((681, 1024)) == 1.0 and resized_hw((681, 1024), 1.0) == (681, 1024)
    # a 1024-wide WIDER image at 1600:2150 hits the 2150 cap: 2150 x round(681 * 2150 / 1024)
    r = parse_size_policy("1600:2150").scale_for((681, 1024))
    assert r == 2150 / 1024 and resized_hw((681, 1024), r) == (1430, 2150)


@pytest.mark.parametrize("hw", [(681, 1024), (333, 517), (77, 91), (1024, 1024)])
@pytest.mark.parametrize("scale", [2150 / 1024, 1600 / 681, 0.37, 1.5])
def test_resized_hw_is_opencvs(hw, scale):
    out = cv2.resize(np.zeros((*hw, 3), np.uint8), None, None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_LINEAR)
    assert resized_hw(hw, scale) == out.shape[:2]


# ---------------------------------------------------------------- parsing


def test_parse_policies():
    assert parse_size_policy("native") == SizePolicy("native")
    assert parse_size_policy(" Native ").text == "native"
    p = parse_size_policy("1600:2150")
    assert (p.kind, p.short, p.long, p.text, p.per_image) == ("short_long", 1600, 2150, "1600:2150", True)
    f = parse_size_policy("640x480")
    assert (f.kind, f.hw, f.text, f.per_image) == ("fixed", (480, 640), "640x480", False)


@pytest.mark.parametrize(("text", "reason"), [
    ("0:2150", "positive"), ("1600:-1", "positive"), ("2150:1600", ">= SHORT"), ("big", "expected"),
    ("1600:", "expected"), ("0x640", "positive"), ("640x", "expected"),
])
def test_bad_policies_are_one_line_errors(text, reason):
    with pytest.raises(RfbenchError, match=reason) as info:
        parse_input_size(text)
    assert str(info.value).startswith(f"--input-size {text!r}") and "\n" not in str(info.value)


# ---------------------------------------------------------------- plans and bad input


def test_static_model_asked_for_native_names_its_size(models_dir):
    for text in ("native", "1600:2150"):
        with pytest.raises(RfbenchError, match="is fixed at 640x640") as info:
            plan_input(models_dir / "retinaface-mnet025-640.onnx", parse_size_policy(text))
        assert f"--input-size {text}" in str(info.value) and "\n" not in str(info.value)
    plan = plan_input(models_dir / "retinaface-mnet025-dynamic.onnx", parse_size_policy("native"))
    assert (plan.hw, plan.dynamic, plan.adapter_shape, plan.per_image) == (None, True, (1, 3, -1, -1), True)
    fixed = plan_input(models_dir / "retinaface-mnet025-dynamic.onnx", parse_size_policy("640x480"))
    assert (fixed.hw, fixed.adapter_shape, fixed.per_image) == ((480, 640), (1, 3, 480, 640), False)


def test_tiny_image_is_padded_and_recorded():
    sizer = ImageSizer(parse_size_policy("native"), PIXELS_LAYOUT_B)
    image = np.full((20, 45, 3), 200, np.uint8)
    tensor, transform = sizer(image, "ev/tiny")
    assert tensor.shape == (1, 3, MIN_NETWORK_SIDE, 45)
    assert (transform.scale_x, transform.scale_y, transform.network_hw) == (1.0, 1.0, (32, 45))
    np.testing.assert_array_equal(tensor[0, :, :20], (200 - np.array(PIXELS_LAYOUT_B.mean))[:, None, None]
                                  * np.ones((3, 20, 45)))
    assert not tensor[0, :, 20:].any()  # padding is 0 after normalisation
    summary = sizer.tally.summary(sizer.policy)
    assert (summary["images_padded"], summary["padded_images"]) == (1, ["ev/tiny"])
    assert summary["sizes"] == [{"width": 45, "height": 32, "images": 1}]
    # the priors of the padded size still fit the decoder (ceil grid of 32x45)
    assert feature_sizes_b((32, 45))[-1] == (1, 2)


def test_huge_network_input_is_a_one_line_error():
    sizer = ImageSizer(parse_size_policy("1600:2150"), PIXELS_LAYOUT_B)
    # short side 10 -> r = 160, long side 60 -> 9600 > 2150 -> r = 2150/60: fine, 358 x 2150
    assert sizer(np.zeros((10, 60, 3), np.uint8))[0].shape == (1, 3, 358, 2150)
    big = ImageSizer(parse_size_policy("9000:9000"), PIXELS_LAYOUT_B)
    with pytest.raises(RfbenchError, match=f"exceeds {MAX_NETWORK_SIDE} px") as info:
        big(np.zeros((10, 20, 3), np.uint8), "ev/small")
    assert str(info.value).startswith("ev/small:") and "\n" not in str(info.value)


def test_size_summary_distribution():
    summary = size_summary(parse_size_policy("native"), {(681, 1024): 2, (650, 1024): 1}, [])
    assert summary["sizes"][0] == {"width": 1024, "height": 681, "images": 2}
    assert summary["images"] == 3 and summary["distinct_sizes"] == 2
    assert summary["megapixels_min"] == pytest.approx(650 * 1024 / 1e6)
    assert summary["megapixels_median"] == pytest.approx(681 * 1024 / 1e6)
