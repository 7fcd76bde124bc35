"""Complexity counting: the OMZ card figures on the R50 reference graph, cross-checks on the
real MobileNet-0.25 models, counting rules on small graphs, and ``rfbench profile``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rfbench.cli import main
from rfbench.commands.options import parse_size as parse_input_size
from rfbench.complexity.analysis import analyze
from rfbench.errors import RfbenchError

MNET_MODELS = ("retinaface-mnet025-640", "retinaface-mnet025-dynamic",
               "retinaface-mnet025-omzlayout")


def _figures(report) -> dict[str, float]:
    return {f.name: f.value for f in report.figures()}


def _convert_to_ir(onnx_path: Path, xml_path: Path) -> Path:
    import openvino as ov

    ov.save_model(ov.convert_model(str(onnx_path)), str(xml_path), compress_to_fp16=False)
    return xml_path


@pytest.fixture(scope="module")
def r50_ir(reference_r50_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _convert_to_ir(reference_r50_onnx, tmp_path_factory.mktemp("r50ir") / "r50.xml")


@pytest.fixture(scope="module")
def mnet_irs(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mnetir")
    return {name: _convert_to_ir(models_dir / f"{name}.onnx", folder / f"{name}.xml")
            for name in MNET_MODELS}


def _check_card_figures(report) -> None:
    """The OMZ model card / spec figures, to the printed digits."""
    fig = _figures(report)
    assert report.params == 29_427_558
    assert round(fig["mparams"], 4) == 29.4276
    assert round(fig["gflops_omz"], 6) == 100.847784
    assert round(fig["gmacs"], 4) == 50.2071
    assert round(fig["gflops_2x_macs"], 4) == 100.4143
    assert round(fig["gflops_model_analyzer_current"], 4) == 100.7979
    rows = {r.op_type: r for r in report.breakdown}
    expected = {"conv": 100.4143, "relu": 0.1815, "add": 0.1413, "scale-shift": 0.0958,
                "max pool": 0.0147, "softmax": 0.0002, "concat": 0.0, "reshape": 0.0,
                "upsample (nearest)": 0.0}
    assert {k: round(r.gflops_omz, 4) for k, r in rows.items()} == expected
    assert rows["conv"].count == 82 and rows["scale-shift"].count == 18
    # the 18 unfolded BNs: bn_data (3 ch), 16 pre-activation bn1, final bn1 (2048 ch)
    assert rows["scale-shift"].params == 2 * (3 + 64 + 2 * 256 + 256 + 3 * 512 + 512
                                              + 5 * 1024 + 1024 + 2 * 2048 + 2048)
    assert report.not_counted == {}


def test_r50_onnx_reproduces_model_card(reference_r50_onnx: Path) -> None:
    _check_card_figures(analyze(reference_r50_onnx))


@pytest.mark.slow
def test_r50_openvino_ir_reproduces_model_card(r50_ir: Path) -> None:
    _check_card_figures(analyze(r50_ir))


# --- independent cross-check on the real MobileNet-0.25 models -----------------------------


def _textbook_conv_macs(path: Path) -> tuple[int, int]:
    """Sum over Conv nodes of H_out*W_out*C_out * (C_in/groups)*k_h*k_w, and their weights +
    biases, from onnx shape inference alone (static models only)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.output, *model.graph.input]}
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    macs = params = 0
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        n, c_out, h_out, w_out = shapes[node.output[0]]
        assert min(n, c_out, h_out, w_out) > 0, f"no static shape for {node.output[0]}"
        c_in = shapes[node.input[0]][1]
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        kh, kw = weights[node.input[1]][2:]
        macs += n * c_out * h_out * w_out * (c_in // groups) * kh * kw
        params += math.prod(weights[node.input[1]])
        if len(node.input) > 2:
            params += math.prod(weights[node.input[2]])
    return macs, params


@pytest.mark.parametrize("name", ["retinaface-mnet025-640", "retinaface-mnet025-omzlayout"])
def test_mnet_macs_match_textbook_counter(models_dir: Path, name: str) -> None:
    path = models_dir / f"{name}.onnx"
    macs, conv_params = _textbook_conv_macs(path)
    report = analyze(path)
    assert report.macs == macs
    rows = {r.op_type: r for r in report.breakdown}
    assert rows["conv"].params == conv_params
    assert 0.9 < macs / 1e9 < 1.1  # MobileNet-0.25 RetinaFace at 640x640: ~1 GMAC
    assert report.not_counted == {}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["retinaface-mnet025-640", "retinaface-mnet025-dynamic"])
def test_mnet_onnx_and_ir_agree_exactly(models_dir: Path, mnet_irs: dict[str, Path],
                                        name: str) -> None:
    onnx_report, ir_report = analyze(models_dir / f"{name}.onnx"), analyze(mnet_irs[name])
    assert _figures(onnx_report) == _figures(ir_report)
    assert [(r.op_type, r.count) for r in onnx_report.breakdown] == \
        [(r.op_type, r.count) for r in ir_report.breakdown]


@pytest.mark.slow
def test_mnet_omzlayout_onnx_and_ir_agree(models_dir: Path, mnet_irs: dict[str, Path]) -> None:
    """OpenVINO rewrites the appended decode arithmetic algebraically (Div by a constant becomes
    a Multiply, ...), so only the network part must agree exactly; the total to 0.1%."""
    name = "retinaface-mnet025-omzlayout"
    onnx_report, ir_report = analyze(models_dir / f"{name}.onnx"), analyze(mnet_irs[name])
    assert onnx_report.params == ir_report.params
    assert onnx_report.macs == ir_report.macs
    assert onnx_report.flops_omz == pytest.approx(ir_report.flops_omz, rel=1e-3)
    assert onnx_report.flops_current == pytest.approx(ir_report.flops_current, rel=1e-3)
    assert {"exp", "log", "div", "mul"} <= {r.op_type for r in onnx_report.breakdown}


def test_dynamic_model_is_the_same_network_and_scales(models_dir: Path) -> None:
    """The yakhyo export computes one SSH conv twice; both runtimes merge the duplicate, and so
    does the counter, so it counts as the 640 model of the same architecture."""
    fixed = analyze(models_dir / "retinaface-mnet025-640.onnx")
    dynamic = analyze(models_dir / "retinaface-mnet025-dynamic.onnx")
    assert dynamic.input_shapes == {"input": [1, 3, 640, 640]}
    assert (dynamic.params, dynamic.macs) == (fixed.params, fixed.macs)
    small = analyze(models_dir / "retinaface-mnet025-dynamic.onnx", parse_input_size("320x320"))
    assert small.input_shapes == {"input": [1, 3, 320, 320]}
    assert small.macs * 4 == dynamic.macs
    assert small.params == dynamic.params


# --- counting rules on small synthetic graphs ---------------------------------------------


def _save(tmp_path: Path, nodes, inits, out_name: str, out_shape, in_shape=(1, 4, 8, 8)) -> Path:
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(np.asarray(v, np.float32), k)
                     for k, v in inits.items()],
    )
    path = tmp_path / "t.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _bn(name: str, x: str, c: int):
    inits = {f"{name}_{k}": np.full(c, v) for k, v in
             (("g", 1.5), ("b", 0.1), ("m", 0.2), ("v", 2.0))}
    node = helper.make_node("BatchNormalization", [x, *inits], [name], epsilon=2e-5)
    return node, inits


def test_bn_after_conv_folds_and_other_bn_is_scale_shift(tmp_path: Path) -> None:
    bn0, bn0_w = _bn("bn0", "x", 4)
    conv = helper.make_node("Conv", ["bn0", "w"], ["c"], kernel_shape=[3, 3], pads=[1] * 4)
    bn1, bn1_w = _bn("bn1", "c", 6)
    relu = helper.make_node("Relu", ["bn1"], ["y"])
    inits = {"w": np.ones((6, 4, 3, 3)), **bn0_w, **bn1_w}
    report = analyze(_save(tmp_path, [bn0, conv, bn1, relu], inits, "y", (1, 6, 8, 8)))
    rows = {r.op_type: r for r in report.breakdown}
    assert rows["conv"].params == 6 * 4 * 9 + 6  # gained a bias from the folded BN
    assert rows["scale-shift"].params == 2 * 4 and rows["scale-shift"].count == 1
    out = 6 * 8 * 8
    assert report.macs == out * 4 * 9
    assert report.flops_omz == 2 * out * 36 + 2 * 4 * 64 + 2 * out
    assert report.flops_current == 2 * out * 36 + out + 2 * 4 * 64 + 2 * out
    assert report.params == 6 * 36 + 6 + 8


def test_depthwise_conv_gemm_and_adds(tmp_path: Path) -> None:
    dw = helper.make_node("Conv", ["x", "dw"], ["d"], kernel_shape=[3, 3], pads=[1] * 4, group=4)
    add = helper.make_node("Add", ["d", "x"], ["s"])  # two tensors: 3 (2019) / 1 (current)
    pool = helper.make_node("GlobalAveragePool", ["s"], ["p"])
    flat = helper.make_node("Flatten", ["p"], ["f"])
    gemm = helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], transB=1)
    inits = {"dw": np.ones((4, 1, 3, 3)), "fc_w": np.ones((10, 4)), "fc_b": np.zeros(10)}
    report = analyze(_save(tmp_path, [dw, add, pool, flat, gemm], inits, "y", (1, 10)))
    assert report.macs == 4 * 64 * 9 + 10 * 4
    assert report.params == 36 + 40 + 10
    rows = {r.op_type: r for r in report.breakdown}
    assert rows["add"].gflops_omz * 1e9 == pytest.approx(3 * 256)
    assert rows["add"].gflops_current * 1e9 == pytest.approx(256)
    assert rows["avg pool"].gflops_omz * 1e9 == pytest.approx(4 * 64)


def test_unknown_ops_are_listed_and_dead_branches_dropped(tmp_path: Path) -> None:
    erf = helper.make_node("Erf", ["x"], ["e"])
    relu = helper.make_node("Relu", ["e"], ["y"])
    dead = helper.make_node("Conv", ["x", "w"], ["unused"], kernel_shape=[1, 1])
    report = analyze(_save(tmp_path, [erf, relu, dead], {"w": np.ones((8, 4, 1, 1))}, "y",
                           (1, 4, 8, 8)))
    assert report.not_counted == {"Erf": 1}
    assert report.macs == 0 and report.params == 0
    assert [r.op_type for r in report.breakdown] == ["relu"]


def test_errors_name_the_file(tmp_path: Path, models_dir: Path) -> None:
    with pytest.raises(RfbenchError, match="not found: .*missing.onnx"):
        analyze(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a model" * 10)
    with pytest.raises(RfbenchError, match="garbage.onnx"):
        analyze(garbage)
    other = tmp_path / "model.pb"
    other.write_text("x")
    with pytest.raises(RfbenchError, match="model.pb.*unsupported"):
        analyze(other)
    with pytest.raises(RfbenchError, match="fixed size 640x640"):
        analyze(models_dir / "retinaface-mnet025-640.onnx", parse_input_size("320x240"))
    for bad in ("640", "axb", "0x640", "640x480x3"):
        with pytest.raises(RfbenchError, match="--input-size"):
            parse_input_size(bad)
    assert parse_input_size("640x480") == (480, 640)


# --- rfbench profile ------------------------------------------------------------------------


def test_profile_command_on_mnet(models_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    model = models_dir / "retinaface-mnet025-640.onnx"
    assert main(["profile", "--model", str(model), "--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    assert "GFLOPs (OMZ 2019 convention)" in stdout and "omz-model-analyzer-2019" in stdout
    assert "leaky relu" in stdout and "not counted (no rule): none" in stdout
    record = json.loads((tmp_path / "results.json").read_text())
    report = analyze(model)
    assert record["kind"] == "profile"
    assert record["model_path"] == str(model.resolve())
    assert len(record["model_sha256"]) == 64
    assert record["params"] == report.params
    assert record["gmacs"] == pytest.approx(report.macs / 1e9)
    assert record["gflops_omz_rule"] == "omz-model-analyzer-2019"
    assert set(record["rules"]) == {"runtime-folded-weights", "conv-and-matmul-macs",
                                    "omz-model-analyzer-2019", "2x-macs",
                                    "model-analyzer-current"}
    assert {row["op_type"] for row in record["breakdown"]} >= {"conv", "leaky relu"}
    csv = (tmp_path / "results.csv").read_text().splitlines()
    assert csv[0].startswith("section,name,value,rule")
    assert any(line.startswith("figure,gflops_omz,") for line in csv)


def test_profile_default_is_reference_graph_json(reference_r50_onnx: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--out", str(tmp_path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model_path"] == str(reference_r50_onnx.resolve())
    assert record["params"] == 29_427_558
    assert round(record["gflops_omz"], 4) == 100.8478
    assert record["input_shapes"] == {"data": [1, 3, 640, 640]}


def test_profile_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.onnx"
    assert main(["profile", "--model", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert f"rfbench: error: model file not found: {missing}" in capsys.readouterr().err
    assert main(["profile", "--model", str(missing), "--input-size", "big"]) == 2
    assert "--input-size" in capsys.readouterr().err


def test_profile_help_explains_conventions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    text = capsys.readouterr().out
    assert "ambiguous by 2x" in text and "2 x MACs" in text and "--input-size" in text
