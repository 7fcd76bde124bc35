"""Hostile model files (issue 25): tiny ONNX models built here with ``onnx.helper`` whose outputs
are wrongly shaped, empty, huge or not finite, and files that are not models at all (0 bytes,
a folder, a symlink loop, text) given to every model command. Each is one line naming the model
file, exit 2, nothing written. Existing cases not repeated: NaN/inf outputs of a real model in
eval and latency (test_refusals_outputs.py), corrupt/truncated .onnx and .xml without .bin at the
adapter (test_runtimes.py), wrong output names and layouts (test_refusals_models.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli

N = 16800  # layout-B priors of a 640x640 input


def constant_model(path: Path, outputs: dict[str, np.ndarray]) -> Path:
    """An ONNX model with input ``input0`` 1x3x640x640 whose outputs are constants."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(
        value.astype(np.float32), f"{name}_value")) for name, value in outputs.items()]
    graph = helper.make_graph(
        nodes, "hostile", [helper.make_tensor_value_info("input0", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape)) for n, v in outputs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def layout_b(n: int = N, loc: float = 0.0, conf: float = 0.5, classes: int = 2,
             landmarks: bool = True) -> dict[str, np.ndarray]:
    outputs = {"loc": np.full((1, n, 4), loc), "conf": np.full((1, n, classes), conf)}
    if landmarks:
        outputs["landmarks"] = np.zeros((1, n, 10))
    return outputs


MODELS = {
    "wrong-prior-count": (layout_b(n=100), "N=100 priors"),
    "no-priors": (layout_b(n=0), "N=0 priors"),
    "priors-disagree": ({**layout_b(), "conf": np.full((1, N - 1, 2), 0.5)}, "disagree"),
    "three-classes": (layout_b(classes=3, conf=0.3), "expected [1,N,2]"),
    "rank-2-outputs": ({k: v[0] for k, v in layout_b().items()}, "expected [1,N,4]"),
    "no-landmarks": (layout_b(landmarks=False), "match no known layout"),
    "inf-loc": (layout_b(loc=np.inf), "non-finite"),
    "nan-conf": (layout_b(conf=np.nan), "non-finite"),
    "loc-overflows-exp": (layout_b(loc=1e30), "non-finite boxes"),
}


@pytest.mark.parametrize("case", list(MODELS))
def test_model_with_bad_outputs_is_one_line_naming_it(capsys, tmp_path, wider_mini, case):
    outputs, says = MODELS[case]
    model = constant_model(tmp_path / f"{case}.onnx", outputs)
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz",
                           "--limit", "1", "--model", model, "--runtime", "onnxruntime",
                           "--out", out)
    lines = [ln for ln in err.splitlines() if ln.strip() and "Warning" not in ln]
    assert code == 2 and len([ln for ln in lines if "rfbench: error:" in ln]) == 1, err
    line = one_line_error(err)
    assert says in line and (f"{case}.onnx" in line or f"{case}.onnx" in line), line
    assert "RuntimeWarning" not in err
    assert not list((out / "predictions").rglob("*.txt")) if out.exists() else True


def test_well_formed_constant_model_runs_and_finds_nothing(capsys, tmp_path, wider_mini):
    """The control: the same builder with plausible outputs (every prior at score 0.01) runs."""
    model = constant_model(tmp_path / "ok.onnx", layout_b(conf=0.01))
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz",
                           "--limit", "1", "--model", model, "--runtime", "onnxruntime",
                           "--out", tmp_path / "out")
    assert code == 0, err
    files = list((tmp_path / "out" / "predictions").rglob("*.txt"))
    assert len(files) == 1 and files[0].read_text().splitlines()[1] == "0"


def _not_a_model(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "m.onnx"
    if kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    elif kind == "symlink-loop":
        path.symlink_to(tmp_path / "m2.onnx")
        (tmp_path / "m2.onnx").symlink_to(path)
    elif kind == "text":
        path.write_text("this is a README, not a model\n")
    elif kind == "xml-zero-bytes":
        path = tmp_path / "m.xml"
        path.write_bytes(b"")
        path.with_suffix(".bin").write_bytes(b"")
    return path


COMMANDS = {
    "eval": ["eval", "--data-root", "{root}", "--protocol", "omz", "--model", "{model}"],
    "latency": ["latency", "--model", "{model}", "--iterations", "2", "--warmup", "0"],
    "profile": ["profile", "--model", "{model}"],
    "quantize": ["quantize", "--model", "{model}", "--data-root", "{root}", "--runtime",
                 "onnxruntime", "--subset-size", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", ["zero-bytes", "folder", "symlink-loop", "text", "xml-zero-bytes"])
def test_file_that_is_not_a_model_is_one_line_for_every_command(capsys, tmp_path, wider_mini,
                                                                 command, kind):
    model = _not_a_model(tmp_path, kind)
    out = tmp_path / "out"
    argv = [a.format(root=wider_mini, model=model) for a in COMMANDS[command]] + ["--out", str(out)]
    if command == "quantize" and kind == "xml-zero-bytes":
        argv[argv.index("onnxruntime")] = "openvino"
    code, _, err = run_cli(capsys, *argv)
    line = one_line_error(err)
    assert code == 2 and model.name in line, line
    assert not out.exists() or not any(out.iterdir())
