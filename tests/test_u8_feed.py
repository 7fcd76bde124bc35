"""The uint8 image feed (``eval --feed u8``, the default for OpenVINO on CPU): the runtime is
given the resized uint8 image and converts it itself (PrePostProcessor); its outputs must be
the float32 tensor's, bit for bit, on real images and the real models of both layouts and an
RGB (imported) model, and a run's files byte for byte."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest
from real_inputs import DEMONSTRATION, PARADE

from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.cli import main


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory, models_dir) -> Path:
    """insightface's mnet.25, imported: an RGB model (declared in its metadata)."""
    out = tmp_path_factory.mktemp("rgb") / "mnet25.onnx"
    assert main(["-q", "import", str(models_dir / "retinaface-mnet025-mxnet-0000.params"),
                 "--out", str(out)]) == 0
    return out


def _outputs(model: Path, u8_feed: bool, wider_mini: Path, tmp_path: Path) -> tuple[dict, list]:
    """The adapter's feed description and its outputs on two real images."""
    adapter, spec, preset = open_model(ModelRunOptions(model, u8_feed=u8_feed))
    with adapter:
        runner, _, _ = prediction_runner(ModelRunOptions(model, u8_feed=u8_feed), adapter, spec, preset,
                                         wider_mini / "WIDER_val/images", tmp_path / "p")
        results = []
        for image in (PARADE, DEMONSTRATION):
            prepared = runner.prepare(image[len("WIDER_val/images/"):-len(".jpg")])
            results.append(runner.infer({spec.input.name: prepared.tensor}))
        return adapter.describe(), results


@pytest.mark.parametrize("name", ["retinaface-mnet025-640.onnx", "retinaface-mnet025-omzlayout.onnx", "rgb"])
def test_u8_feed_outputs_are_the_float32_tensors_bit_for_bit(name, models_dir, rgb_model, wider_mini, tmp_path):
    model = rgb_model if name == "rgb" else models_dir / name
    u8_info, u8 = _outputs(model, True, wider_mini, tmp_path / "u8")
    f32_info, f32 = _outputs(model, False, wider_mini, tmp_path / "f32")
    assert u8_info["effective"]["input_feed"] == "u8 NHWC image"
    assert f32_info["effective"]["input_feed"] == "tensor"
    assert u8_info["inputs"][0]["dtype"] == "uint8" and u8_info["inputs"][0]["shape"][-1] == 3
    for a, b in zip(u8, f32):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")


def test_eval_files_are_the_same_with_either_feed(models_dir, wider_mini, tmp_path):
    model = str(models_dir / "retinaface-mnet025-640.onnx")
    for feed in ("u8", "f32"):
        assert main(["-q", "eval", "--data-root", str(wider_mini), "--model", model, "--feed", feed,
                     "--protocol", "omz", "--out", str(tmp_path / feed)]) == 0
    for folder in ("predictions", "landmarks"):
        compared = filecmp.dircmp(tmp_path / "u8" / folder, tmp_path / "f32" / folder)
        assert not compared.diff_files and not compared.left_only and not compared.right_only
        assert all(not c.diff_files for c in compared.subdirs.values())
    feeds = {f: json.loads((tmp_path / f / "results.json").read_text())["preprocessing"]["feed"]
             for f in ("u8", "f32")}
    assert feeds == {"u8": "u8 NHWC image, converted by the runtime", "f32": "float32 tensor"}


@pytest.mark.parametrize("options", [
    {"runtime": "onnxruntime"}, {"resize": "letterbox"}, {"u8_feed": False}, {"precision": None, "u8_feed": False},
    {"model": "retinaface-mnet025-dynamic.onnx", "input_size": "native"},
])
def test_float32_tensor_where_the_u8_feed_does_not_apply(options, models_dir):
    from rfbench.decoder.sizing import parse_size_policy

    options = {"u8_feed": True, **options}
    model = models_dir / options.pop("model", "retinaface-mnet025-640.onnx")
    if "input_size" in options:
        options["input_size"] = parse_size_policy(options["input_size"])
    adapter, _, _ = open_model(ModelRunOptions(model, **options))
    with adapter:
        assert adapter.image_pixels is None
        assert adapter.describe()["effective"].get("input_feed", "tensor") == "tensor"
