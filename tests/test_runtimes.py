"""Runtime adapters (OpenVINO, ONNX Runtime), the registry and ``rfbench runtimes``.

Uses the real MobileNet-0.25 RetinaFace models and a real WIDER image from the shared fixtures.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from real_inputs import BIUBUG6_MEAN_BGR, GROUP, PARADE, network_input

from rfbench import cli
from rfbench.commands.options import parse_shape
from rfbench.errors import RfbenchError
from rfbench.runtimes import (
    RUNTIMES,
    RuntimeAdapter,
    TensorInfo,
    get_runtime,
    list_runtimes,
    runtime_targets,
)
from rfbench.runtimes.onnxruntime.adapter import ONNXRuntimeAdapter
from rfbench.runtimes.onnxruntime.providers import physical_core_count
from rfbench.runtimes.openvino.adapter import OpenVINOAdapter
from rfbench.runtimes.openvino.core import split_device, validate_device

# f32 OpenVINO vs ONNX Runtime differ by summation order only (measured max 1.5e-5 on
# landmarks of magnitude ~6): a bf16 run differs by ~1e-2 and fails this.
ATOL = 1e-4


def blob(image_path: Path, width: int, height: int) -> np.ndarray:
    """The biubug6 input: BGR resized to (height, width), minus (104, 117, 123), 1x3xHxW f32."""
    return network_input(image_path, width, height, BIUBUG6_MEAN_BGR)


@pytest.fixture(scope="module")
def model640(models_dir: Path) -> Path:
    return models_dir / "retinaface-mnet025-640.onnx"


@pytest.fixture(scope="module")
def dynamic_model(models_dir: Path) -> Path:
    return models_dir / "retinaface-mnet025-dynamic.onnx"


@pytest.fixture(scope="module")
def x640(wider_mini: Path) -> np.ndarray:
    return blob(wider_mini / PARADE, 640, 640)


@pytest.fixture(scope="module")
def x640b(wider_mini: Path) -> np.ndarray:
    return blob(wider_mini / GROUP, 640, 640)


@pytest.fixture(scope="module")
def ov640(model640: Path) -> OpenVINOAdapter:
    return OpenVINOAdapter(model640, precision="f32", requests=2)


@pytest.fixture(scope="module")
def ort640(model640: Path) -> ONNXRuntimeAdapter:
    return ONNXRuntimeAdapter(model640, requests=2)


@pytest.fixture(scope="module")
def ort_out(ort640: ONNXRuntimeAdapter, x640: np.ndarray) -> dict[str, np.ndarray]:
    return ort640.infer({"input0": x640})


def assert_outputs_close(a: dict, b: dict, atol: float = ATOL) -> None:
    assert set(a) == set(b)
    for name in a:
        assert a[name].shape == b[name].shape, name
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=atol, err_msg=name)


# -- loading, tensors, agreement --------------------------------------------------------------
EXPECTED_640 = [
    TensorInfo("output0", (1, 16800, 4), np.dtype(np.float32)),
    TensorInfo("output1", (1, 16800, 2), np.dtype(np.float32)),
    TensorInfo("output2", (1, 16800, 10), np.dtype(np.float32)),
]


@pytest.mark.parametrize("fixture", ["ov640", "ort640"])
def test_inputs_outputs(fixture: str, request: pytest.FixtureRequest) -> None:
    adapter = request.getfixturevalue(fixture)
    assert isinstance(adapter, RuntimeAdapter)
    assert adapter.inputs == [TensorInfo("input0", (1, 3, 640, 640), np.dtype(np.float32))]
    assert adapter.outputs == EXPECTED_640


def test_f32_runtimes_agree(ov640, ort_out, x640) -> None:
    ov_out = ov640.infer({"input0": x640})
    assert_outputs_close(ov_out, ort_out)
    # Real detections, not a degenerate all-background map: the Parade image has 24 faces.
    assert (ort_out["output1"][0, :, 1] > 0.5).sum() >= 24


def test_outputs_survive_next_call(ov640, ort640, x640, x640b) -> None:
    for adapter in (ov640, ort640):
        first = adapter.infer({"input0": x640})
        kept = {k: v.copy() for k, v in first.items()}
        second = adapter.infer({"input0": x640b})
        for name in first:
            np.testing.assert_array_equal(first[name], kept[name])
            assert not np.shares_memory(first[name], second[name])
            assert not np.array_equal(first[name], second[name])


@pytest.mark.slow
def test_openvino_ir_same_outputs(model640, tmp_path, ort_out, x640) -> None:
    import openvino as ov

    xml = tmp_path / "mnet.xml"
    ov.save_model(ov.convert_model(str(model640)), str(xml), compress_to_fp16=False)
    adapter = OpenVINOAdapter(xml, precision="f32")
    assert adapter.inputs[0].name == "input0"
    assert [t.name for t in adapter.outputs] == ["output0", "output1", "output2"]
    assert_outputs_close(adapter.infer({"input0": x640}), ort_out)
    assert adapter.describe()["timings_ms"]["read"] > 0


def test_dynamic_model_with_input_shape(dynamic_model, wider_mini) -> None:
    x = blob(wider_mini / PARADE, 640, 480)
    ov_a = OpenVINOAdapter(dynamic_model, precision="f32", input_shape=parse_shape("1x3x480x640"))
    ort_a = ONNXRuntimeAdapter(dynamic_model, input_shape=(1, 3, 480, 640))
    anchors = 2 * (15 * 20 + 30 * 40 + 60 * 80)  # strides 32/16/8 on 480x640
    for adapter in (ov_a, ort_a):
        assert adapter.inputs[0].shape == (1, 3, 480, 640)
        assert [t.shape for t in adapter.outputs] == [(1, anchors, 4), (1, anchors, 2), (1, anchors, 10)]
    out_ov, out_ort = ov_a.infer({"input": x}), ort_a.infer({"input": x})
    assert out_ort["loc"].shape == (1, anchors, 4)
    assert_outputs_close(out_ov, out_ort)


@pytest.mark.parametrize("cls", [OpenVINOAdapter, ONNXRuntimeAdapter])
def test_dynamic_model_needs_fitting_shape(cls, dynamic_model) -> None:
    with pytest.raises(RfbenchError, match="dynamic shape"):
        cls(dynamic_model)
    with pytest.raises(RfbenchError, match="does not fit"):
        cls(dynamic_model, input_shape=(1, 4, 480, 640))


def test_static_model_rejects_other_shape(model640) -> None:
    with pytest.raises(RfbenchError, match="does not fit input 'input0'"):
        ONNXRuntimeAdapter(model640, input_shape=(1, 3, 480, 640))


@pytest.mark.parametrize("fixture", ["ov640", "ort640"])
def test_wrong_feeds(fixture, request, x640) -> None:
    adapter = request.getfixturevalue(fixture)
    with pytest.raises(RfbenchError, match="model expects"):
        adapter.infer({"data": x640})
    with pytest.raises(RfbenchError, match=r"shape \[1, 3, 320, 320\]"):
        adapter.infer({"input0": x640[:, :, :320, :320]})


# -- settings read back ----------------------------------------------------------------------
def test_openvino_effective_settings(ov640, model640) -> None:
    info = ov640.describe()
    assert info["runtime"] == "openvino" and info["runtime_version"]
    assert info["requested"]["precision"] == "f32" and info["effective"]["precision"] == "f32"
    assert info["effective"]["requests"] == 2
    assert info["effective"]["threads"] >= 1 and info["effective"]["streams"] >= 1
    assert info["device_full_name"] and info["timings_ms"]["compile"] > 0
    one = OpenVINOAdapter(model640, threads=1, streams=1, performance_hint="throughput")
    eff = one.describe()["effective"]
    assert (eff["threads"], eff["streams"], eff["performance_hint"]) == (1, 1, "throughput")
    assert eff["precision"] in ("f32", "bf16", "f16")  # runtime default, read back
    assert one.describe()["requested"]["precision"] is None


def test_openvino_bf16_when_supported(model640, ort_out, x640) -> None:
    import openvino as ov

    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with pytest.raises(RfbenchError, match="does not support precision bf16"):
            OpenVINOAdapter(model640, precision="bf16")
        return
    adapter = OpenVINOAdapter(model640, precision="bf16")
    assert adapter.describe()["effective"]["precision"] == "bf16"
    out = adapter.infer({"input0": x640})
    diff = np.abs(out["output1"] - ort_out["output1"]).max()  # face probabilities
    assert ATOL < diff < 0.1  # really reduced precision (measured 0.017), still the same network


def test_onnxruntime_effective_settings(ort640, model640) -> None:
    info = ort640.describe()
    assert info["runtime"] == "onnxruntime"
    assert info["effective"]["precision"] == "f32"
    assert info["effective"]["threads"] == physical_core_count()
    assert info["effective"]["requests"] == 2
    assert info["timings_ms"]["read"] is None and info["timings_ms"]["compile"] > 0
    one = ONNXRuntimeAdapter(model640, threads=1, device="CPUExecutionProvider")
    assert one.describe()["effective"]["threads"] == 1
    assert one.describe()["effective"]["providers"] == ["CPUExecutionProvider"]


def test_openvino_virtual_device_reads_member_settings(model640, ort_out, x640) -> None:
    import openvino as ov

    adapter = OpenVINOAdapter(model640, device="AUTO:CPU", precision="f32", threads=1)
    eff = adapter.describe()["effective"]
    assert (eff["precision"], eff["threads"], eff["execution_devices"]) == ("f32", 1, ["CPU"])
    assert_outputs_close(adapter.infer({"input0": x640}), ort_out)
    if "FP16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with pytest.raises(RfbenchError, match="AUTO:CPU does not support precision f16"):
            OpenVINOAdapter(model640, device="AUTO:CPU", precision="f16")


# -- errors ------------------------------------------------------------------------------------
def test_validate_device() -> None:
    available = ["CPU", "GPU.0", "GPU.1"]
    for ok in ("CPU", "GPU", "GPU.1", "AUTO", "AUTO:-CPU,GPU", "HETERO:GPU.0,CPU", "BATCH:GPU(4)"):
        validate_device(ok, available)
    assert split_device("MULTI:GPU.1, CPU") == ("MULTI", ["GPU.1", "CPU"])
    with pytest.raises(RfbenchError, match="'GPU.2' is not available; available: CPU, GPU.0, GPU.1"):
        validate_device("GPU.2", available)
    with pytest.raises(RfbenchError, match="'NPU' is not available"):
        validate_device("MULTI:CPU,NPU", available)
    with pytest.raises(RfbenchError, match="needs members"):
        validate_device("MULTI", available)


def test_openvino_unknown_device(model640) -> None:
    with pytest.raises(RfbenchError, match=r"'NPU' is not available; available: .*CPU"):
        OpenVINOAdapter(model640, device="NPU")
    with pytest.raises(RfbenchError, match="'FOO' is not available"):
        OpenVINOAdapter(model640, device="HETERO:FOO,CPU")


def test_onnxruntime_unknown_provider(model640) -> None:
    with pytest.raises(RfbenchError, match=r"'FooExecutionProvider' is not available; available: .*CPUExecutionProvider"):
        ONNXRuntimeAdapter(model640, device="FooExecutionProvider")


def test_unsupported_precision(model640) -> None:
    import openvino as ov

    with pytest.raises(RfbenchError, match="bf16 is not supported"):
        ONNXRuntimeAdapter(model640, precision="bf16")
    with pytest.raises(RfbenchError, match="no execution streams"):
        ONNXRuntimeAdapter(model640, streams=2)
    with pytest.raises(RfbenchError, match="precision 'f8' is not one of"):
        OpenVINOAdapter(model640, precision="f8")
    if "FP16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU runs f16")
    # The CPU plugin would silently run bf16 instead: rfbench refuses.
    with pytest.raises(RfbenchError, match="device CPU does not support precision f16"):
        OpenVINOAdapter(model640, precision="f16")


@pytest.mark.parametrize("cls", [OpenVINOAdapter, ONNXRuntimeAdapter])
def test_missing_and_corrupt_files(cls, tmp_path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(RfbenchError, match=f"model file not found: {missing}"):
        cls(missing)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not a protobuf model" * 10)
    with pytest.raises(RfbenchError) as err:
        cls(corrupt)
    assert str(corrupt) in str(err.value) and "\n" not in str(err.value)


def test_truncated_onnx(model640, tmp_path) -> None:
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(model640.read_bytes()[:50_000])
    for cls in (OpenVINOAdapter, ONNXRuntimeAdapter):
        with pytest.raises(RfbenchError, match="cannot (read|load) model .*truncated.onnx"):
            cls(truncated)


def test_xml_without_bin(tmp_path) -> None:
    xml = tmp_path / "net.xml"
    xml.write_text("<net name='x' version='11'></net>\n", encoding="utf-8")
    with pytest.raises(RfbenchError, match=r"model weights not found: .*net\.bin"):
        OpenVINOAdapter(xml)
    with pytest.raises(RfbenchError, match="not OpenVINO IR"):
        ONNXRuntimeAdapter(xml)


def test_bad_settings(model640) -> None:
    with pytest.raises(RfbenchError, match="threads must be a positive integer"):
        ONNXRuntimeAdapter(model640, threads=0)
    with pytest.raises(RfbenchError, match="performance hint 'fast'"):
        OpenVINOAdapter(model640, performance_hint="fast")
    with pytest.raises(RfbenchError, match="--input-shape '1x3xa'"):
        parse_shape("1x3xa")


# -- sync runner, async, per-layer -------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["ov640", "ort640"])
def test_async_matches_sync(fixture, request, x640, x640b) -> None:
    adapter = request.getfixturevalue(fixture)
    feeds = [{"input0": x640}, {"input0": x640b}]
    expected = [adapter.infer(f) for f in feeds]
    got: dict[int, dict] = {}
    request_ids = set()

    def on_done(job_id: int, request_id: int, latency_ns: int, outputs: dict | None) -> None:
        assert latency_ns > 0
        got[job_id] = outputs
        request_ids.add(request_id)

    result = adapter.run_async(feeds, max_iterations=6, on_done=on_done, return_outputs=True)
    assert result.requests == 2 and result.completed == 6 and result.stop_reason == "max_iterations"
    assert sorted(result.job_ids.tolist()) == list(range(6)) == sorted(got)
    assert request_ids and request_ids <= {0, 1}
    assert result.latencies_ns.shape == (6,) and (result.latencies_ns > 0).all()
    assert result.wall_ns >= result.latencies_ns.max() and result.throughput_fps > 0
    for job_id, outputs in got.items():
        for name, array in expected[job_id % 2].items():
            np.testing.assert_array_equal(outputs[name], array, err_msg=f"job {job_id} {name}")


@pytest.mark.parametrize("fixture", ["ov640", "ort640"])
def test_async_stop_condition(fixture, request, x640) -> None:
    adapter = request.getfixturevalue(fixture)
    seen = []

    def should_stop(completed: int, elapsed_ns: int) -> bool:
        seen.append(elapsed_ns)
        return completed >= 3

    result = adapter.run_async({"input0": x640}, should_stop=should_stop)
    assert result.stop_reason == "condition"
    assert 3 <= result.completed <= 3 + result.requests
    assert len(result.latencies_ns) == result.completed
    assert seen == sorted(seen)
    with pytest.raises(RfbenchError, match="should_stop or max_iterations"):
        adapter.run_async({"input0": x640})


def test_async_callback_error_propagates(ort640, x640) -> None:
    def on_done(job_id: int, request_id: int, latency_ns: int, outputs: dict | None) -> None:
        raise ValueError("boom in callback")

    with pytest.raises(ValueError, match="boom in callback"):
        ort640.run_async({"input0": x640}, max_iterations=3, on_done=on_done)


@pytest.mark.parametrize("cls", [OpenVINOAdapter, ONNXRuntimeAdapter])
def test_sync_runner_and_layer_times(cls, model640, x640) -> None:
    adapter = cls(model640, precision="f32", perf_counters=True)
    runner = adapter.sync_runner({"input0": x640})
    for _ in range(2):
        runner()
    rows = adapter.layer_times()
    executed = [r for r in rows if r["status"] == "EXECUTED"]
    assert len(executed) > 20
    assert {"name", "type", "exec_type", "status", "time_ms", "samples"} <= set(rows[0])
    assert all(r["time_ms"] >= 0 for r in rows) and sum(r["time_ms"] for r in executed) > 1.0
    assert any(r["type"] == "Conv" or r["type"] == "Convolution" for r in executed)
    adapter.close()


def test_layer_times_need_perf_counters(ov640, ort640) -> None:
    for adapter in (ov640, ort640):
        with pytest.raises(RfbenchError, match="perf_counters=True"):
            adapter.layer_times()


# -- registry and command --------------------------------------------------------------------
def test_registry() -> None:
    assert get_runtime("openvino") is OpenVINOAdapter
    assert get_runtime("onnxruntime") is ONNXRuntimeAdapter
    assert set(RUNTIMES) <= set(runtime_targets())
    with pytest.raises(RfbenchError, match="unknown runtime 'tensorrt'; known runtimes: .*onnxruntime, openvino"):
        get_runtime("tensorrt")
    infos = {info.name: info for info in list_runtimes()}
    assert infos["openvino"].available and "CPU" in infos["openvino"].devices
    assert "CPUExecutionProvider" in infos["onnxruntime"].devices


def test_registry_entry_points(monkeypatch) -> None:
    extra = [
        metadata.EntryPoint(
            "ort-copy", "rfbench.runtimes.onnxruntime.adapter:ONNXRuntimeAdapter", "rfbench.runtimes"
        ),
        metadata.EntryPoint("broken", "no_such_package_rfb.mod:Adapter", "rfbench.runtimes"),
    ]

    def fake_entry_points(group: str):
        return extra if group == "rfbench.runtimes" else []

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    assert get_runtime("ort-copy") is ONNXRuntimeAdapter
    with pytest.raises(RfbenchError, match="runtime 'broken' .* cannot be imported"):
        get_runtime("broken")
    infos = {info.name: info for info in list_runtimes()}
    assert infos["ort-copy"].available and not infos["broken"].available
    assert "no_such_package_rfb" in infos["broken"].error


def test_registry_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    monkeypatch.delitem(sys.modules, "rfbench.runtimes.openvino.adapter")
    with pytest.raises(RfbenchError, match="runtime 'openvino' is not installed: pip install openvino"):
        get_runtime("openvino")
    info = {i.name: i for i in list_runtimes()}["openvino"]
    assert not info.available and "pip install openvino" in info.error


def test_runtimes_command(capsys) -> None:
    import onnxruntime
    import openvino

    assert cli.main(["runtimes"]) == 0
    table = capsys.readouterr().out
    lines = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert openvino.get_version() in lines["openvino"] and "CPU" in lines["openvino"]
    assert onnxruntime.__version__ in lines["onnxruntime"]
    assert "CPUExecutionProvider" in lines["onnxruntime"]
    assert cli.main(["runtimes", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["openvino"]["version"] == openvino.get_version()
    assert rows["onnxruntime"]["available"] is True
