"""``--input-precision u8|f32`` and ``--input-data DIR``: the inputs benchmark_app feeds.

u8 folds the element-type conversion into the model (OpenVINO PrePostProcessor, ONNX Runtime
a Cast node in a copy of the model); fed the same image, the u8 and the f32 model must give
the same outputs: the pixels are integers 0..255, so the conversion is exact and the outputs
are compared with ``atol=1e-5`` (they come out bit-identical on this machine). ``--input-data``
feeds must equal an independent pre-processing of the images (plain OpenCV + NumPy,
``tests/real_inputs.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from real_inputs import BIUBUG6_MEAN_BGR, network_input

from rfbench.errors import RfbenchError
from rfbench.latency import LatencyOptions
from rfbench.latency.feeds import FeedOptions, image_files
from rfbench.latency.session import build_feeds
from rfbench.runtimes.onnxruntime.adapter import ONNXRuntimeAdapter
from rfbench.runtimes.onnxruntime.input_cast import model_with_input_type
from rfbench.runtimes.openvino.adapter import OpenVINOAdapter

ATOL = 1e-5
LAYOUT_A = "retinaface-mnet025-omzlayout.onnx"  # raw BGR 0..255, input "data"
LAYOUT_B = "retinaface-mnet025-640.onnx"  # BGR minus (104, 117, 123), input "input0"
RUNTIMES = [OpenVINOAdapter, ONNXRuntimeAdapter]


def _wider_images(wider_mini: Path) -> list[Path]:
    return sorted((wider_mini / "WIDER_val" / "images").rglob("*.jpg"))


@pytest.mark.slow
@pytest.mark.parametrize("cls", RUNTIMES)
def test_u8_input_accepted_and_equal_to_f32(cls, models_dir, wider_mini) -> None:
    model = models_dir / LAYOUT_A
    image = network_input(_wider_images(wider_mini)[0], 640, 640)  # float32, integer values
    u8 = cls(model, precision="f32", input_precision="u8")
    f32 = cls(model, precision="f32")
    try:
        assert [t.dtype for t in u8.inputs] == [np.dtype(np.uint8)]
        assert u8.describe()["requested"]["input_precision"] == "u8"
        assert u8.effective["input_precision"] == "u8" and f32.effective["input_precision"] == "f32"
        got = u8.infer({"data": image.astype(np.uint8)})
        want = f32.infer({"data": image})
        assert set(got) == set(want)
        for name in want:
            assert got[name].dtype == want[name].dtype
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=ATOL, err_msg=name)
    finally:
        u8.close()
        f32.close()


@pytest.mark.parametrize("cls", RUNTIMES)
def test_f32_request_on_a_float_model_is_the_model_itself(cls, models_dir) -> None:
    adapter = cls(models_dir / LAYOUT_B, precision="f32", input_precision="f32")
    assert adapter.inputs[0].dtype == np.float32 and adapter.effective["input_precision"] == "f32"
    adapter.close()


def test_cast_copy_of_the_model(models_dir) -> None:
    model = models_dir / LAYOUT_B
    assert model_with_input_type(model, "f32") is None  # already float32: no copy
    proto = onnx.ModelProto.FromString(model_with_input_type(model, "u8"))
    (value,) = proto.graph.input
    assert value.name == "input0" and value.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    cast = proto.graph.node[0]
    assert cast.op_type == "Cast" and list(cast.input) == ["input0"]
    assert onnx.helper.get_attribute_value(cast.attribute[0]) == onnx.TensorProto.FLOAT
    readers = [n for n in proto.graph.node[1:] if cast.output[0] in n.input]
    assert readers and not any("input0" in n.input for n in proto.graph.node[1:])
    onnx.checker.check_model(proto)


def test_u8_refused_without_a_float_input(tmp_path) -> None:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.INT64, [1, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.INT64, [1, 4])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "ints.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)]), path)
    for cls in RUNTIMES:
        with pytest.raises(RfbenchError, match="no float input"):
            cls(path, input_precision="u8")


@pytest.mark.parametrize("cls", RUNTIMES)
def test_input_data_feeds_are_rfbench_preprocessing_of_the_images(cls, models_dir,
                                                                   wider_mini) -> None:
    model = models_dir / LAYOUT_B
    options = LatencyOptions(model=model, feed=FeedOptions(None, wider_mini))
    adapter = cls(model, precision="f32")
    try:
        feeds, info = build_feeds(adapter, options)
    finally:
        adapter.close()
    images = _wider_images(wider_mini)
    assert image_files(wider_mini) == images and len(images) == 5
    assert info["source"] == "images" and info["images"] == 5 and info["folder"] == str(wider_mini)
    assert len(feeds) == 5
    for feed, path in zip(feeds, images, strict=True):
        want = network_input(path, 640, 640, BIUBUG6_MEAN_BGR)
        assert feed["input0"].dtype == np.float32
        np.testing.assert_array_equal(feed["input0"], want)


def test_input_data_u8_feeds_raw_pixels_and_refuses_a_mean(models_dir, wider_mini) -> None:
    model = models_dir / LAYOUT_A
    options = LatencyOptions(model=model, feed=FeedOptions("u8", wider_mini))
    adapter = OpenVINOAdapter(model, precision="f32", input_precision="u8")
    feeds, _ = build_feeds(adapter, options)
    adapter.close()
    want = network_input(_wider_images(wider_mini)[1], 640, 640)
    assert feeds[1]["data"].dtype == np.uint8
    np.testing.assert_array_equal(feeds[1]["data"], want.astype(np.uint8))
    model_b = models_dir / LAYOUT_B
    adapter = OpenVINOAdapter(model_b, precision="f32", input_precision="u8")
    with pytest.raises(RfbenchError, match="use --input-precision f32"):
        build_feeds(adapter, LatencyOptions(model=model_b, feed=FeedOptions("u8", wider_mini)))
    adapter.close()


def test_feed_options_errors(tmp_path) -> None:
    with pytest.raises(RfbenchError, match="--input-precision 'f16'"):
        FeedOptions("f16")
    with pytest.raises(RfbenchError, match="--input-data .*not a folder"):
        FeedOptions(None, tmp_path / "missing")
    with pytest.raises(RfbenchError, match="--input-data .*no .jpg"):
        image_files(tmp_path)


def test_openvino_sync_runner_cycles_over_the_feeds(models_dir) -> None:
    rng = np.random.default_rng(1)
    feeds = [{"input0": rng.uniform(0, 255, (1, 3, 640, 640)).astype(np.float32)} for _ in range(3)]
    adapter = OpenVINOAdapter(models_dir / LAYOUT_B, precision="f32")
    runner = adapter.sync_runner(feeds)
    for call in range(4):
        runner()
        bound = adapter._request.get_input_tensor(0).data
        np.testing.assert_array_equal(bound, feeds[call % 3]["input0"])
    adapter.close()


@pytest.mark.slow
def test_cli_records_input_precision_and_data(models_dir, wider_mini, tmp_path) -> None:
    from rfbench.cli import main

    out = tmp_path / "lat"
    code = main(["-q", "latency", "--model", str(models_dir / LAYOUT_A), "--runtime", "all",
                 "--precision", "f32", "--time", "0.2", "--iterations", "3", "--warmup", "1",
                 "--input-precision", "u8", "--input-data", str(wider_mini), "--out", str(out)])
    assert code in (0, 1)  # a loaded machine may judge the short run not valid
    record = json.loads((out / "results.json").read_text())
    assert record["settings"]["input_precision"] == "u8"
    assert record["settings"]["input_data"] == str(wider_mini)
    for run in record["runs"]:
        assert run["requested"]["input_precision"] == "u8"
        assert run["effective"]["input_precision"] == "u8"
        assert run["inputs"][0]["dtype"] == "uint8"
        feeds = run["effective"]["feeds"]
        assert feeds["source"] == "images" and feeds["images"] == 5
        assert feeds["folder"] == str(wider_mini)
