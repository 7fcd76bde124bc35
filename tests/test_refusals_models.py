"""Issue 11, items 11 (rest) and 7 (rest): a model input that is not float32 is converted
exactly or refused; errors about a model's outputs name the model file; ``report`` on a
results.json whose fields have the wrong type is one line naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli

from rfbench.accuracy.model_run import input_feed_dtype
from rfbench.decoder.layout import OutputLayout
from rfbench.decoder.preprocess import PIXELS_LAYOUT_A, PIXELS_LAYOUT_B, PixelFormat
from rfbench.errors import RfbenchError
from rfbench.models.spec import InputPlan, ModelSpec

LAYOUT_A_MODEL = "retinaface-mnet025-omzlayout.onnx"  # raw BGR 0..255: whole-number pixels
LAYOUT_B_MODEL = "retinaface-mnet025-640.onnx"  # BGR minus (104, 117, 123)




def with_input_type(source: Path, path: Path, elem_type: int) -> Path:
    """``source`` with its image input retyped to ``elem_type``, cast back to float32 inside."""
    import onnx
    from onnx import helper

    model = onnx.load(source)
    graph = model.graph
    name = graph.input[0].name
    cast = f"{name}_as_float"
    for node in graph.node:
        node.input[:] = [cast if i == name else i for i in node.input]
    graph.input[0].type.tensor_type.elem_type = elem_type
    graph.node.insert(0, helper.make_node("Cast", [name], [cast], to=onnx.TensorProto.FLOAT))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def spec_with(pixels: PixelFormat) -> ModelSpec:
    plan = InputPlan("data", "NCHW", (64, 64), False, None)
    return ModelSpec(Path("m.onnx"), plan, pixels, "test", OutputLayout("A", {}))


def inputs_of(dtype) -> list:
    return [SimpleNamespace(name="data", shape=(1, 3, 64, 64), dtype=np.dtype(dtype))]


# ---- item 11: model input type --------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "pixels"), [
    (np.float32, PIXELS_LAYOUT_B), (np.float64, PIXELS_LAYOUT_B), (np.float16, PIXELS_LAYOUT_A),
    (np.uint8, PIXELS_LAYOUT_A), (np.int16, PIXELS_LAYOUT_B), (np.int64, PIXELS_LAYOUT_B),
])
def test_non_float32_input_that_holds_the_pixels_is_converted(dtype, pixels):
    assert input_feed_dtype(spec_with(pixels), inputs_of(dtype)) == np.dtype(dtype)


@pytest.mark.parametrize(("dtype", "pixels", "why"), [
    (np.uint8, PIXELS_LAYOUT_B, "not whole numbers in 0..255"),  # negative after the mean
    (np.int8, PIXELS_LAYOUT_A, "not whole numbers in -128..127"),  # 255 does not fit
    (np.uint8, PixelFormat("RGB", (0.0, 0.0, 0.0), (58.0, 58.0, 58.0)), "scale"),  # fractions
    (np.int32, PixelFormat("BGR", (0.5, 0.5, 0.5), (1.0, 1.0, 1.0)), "mean"),
    (np.bool_, PIXELS_LAYOUT_A, "not supported"),
])
def test_non_float32_input_that_cannot_hold_the_pixels_is_refused(dtype, pixels, why):
    with pytest.raises(RfbenchError, match=why) as caught:
        input_feed_dtype(spec_with(pixels), inputs_of(dtype))
    assert str(caught.value).startswith(f"m.onnx: input 'data' is {np.dtype(dtype)}")


def test_non_float32_input_uint8_with_mean_subtraction_is_refused_before_any_image(capsys, tmp_path,
                                                                                  wider_mini, models_dir):
    from onnx import TensorProto

    model = with_input_type(models_dir / LAYOUT_B_MODEL, tmp_path / "u8.onnx", TensorProto.UINT8)
    out = tmp_path / "o"
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz", "--model", model,
                           "--runtime", "onnxruntime", "--out", out)
    line = one_line_error(err)
    assert code == 2 and f"{model}: input 'input0' is uint8" in line and "refusing" in line
    assert not (out / "predictions").exists()


@pytest.mark.slow
@pytest.mark.parametrize("elem", ["UINT8", "FLOAT16"])
def test_non_float32_input_gives_the_float32_models_predictions(capsys, tmp_path, wider_mini, models_dir,
                                                                 elem):
    """Raw 0..255 pixels are whole numbers, exact in uint8 and float16: same files, byte for byte."""
    from onnx import TensorProto

    model = with_input_type(models_dir / LAYOUT_A_MODEL, tmp_path / f"{elem}.onnx", getattr(TensorProto, elem))
    common = ["eval", "--data-root", wider_mini, "--protocol", "omz", "--limit", "2", "--runtime", "onnxruntime"]
    assert run_cli(capsys, *common, "--model", models_dir / LAYOUT_A_MODEL, "--out", tmp_path / "f32")[0] == 0
    assert run_cli(capsys, *common, "--model", model, "--out", tmp_path / "typed")[0] == 0
    files = sorted((tmp_path / "f32" / "predictions").rglob("*.txt"))
    assert len(files) == 2
    for path in files:
        rel = path.relative_to(tmp_path / "f32")
        assert (tmp_path / "typed" / rel).read_bytes() == path.read_bytes()


# ---- item 11: errors about a model's outputs name the model file ---------------------------


def test_output_layout_error_names_the_model_file(capsys, tmp_path, wider_mini, models_dir):
    model = models_dir / LAYOUT_B_MODEL
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz", "--model", model,
                           "--runtime", "onnxruntime", "--layout", "A", "--out", tmp_path / "o")
    line = one_line_error(err)
    assert code == 2 and line.startswith(f"rfbench: error: {model}: layout A: no output for role")


def test_output_name_error_names_the_model_file(capsys, tmp_path, wider_mini, models_dir):
    model = models_dir / LAYOUT_B_MODEL
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz", "--model", model,
                           "--runtime", "onnxruntime", "--output-name", "loc=nope", "--output-name", "conf=output1",
                           "--output-name", "landmarks=output2", "--out", tmp_path / "o")
    line = one_line_error(err)
    assert code == 2 and line.startswith(f"rfbench: error: {model}: output name(s) ['nope']")


# ---- item 7: report on a results.json whose fields have the wrong type ----------------------


def eval_results(tmp_path: Path) -> dict:
    """A minimal valid eval record (built through the record definition)."""
    from rfbench.results.eval_record import EvalRecord
    from rfbench.results.record import record_header

    record = EvalRecord.build(
        record_header("eval"), predictions={"source": "files", "dir": str(tmp_path)},
        dataset={"name": "wider", "split": "val", "data_root": str(tmp_path), "gt_text": "gt.txt",
                 "num_images_evaluated": 5, "num_images_without_predictions": 0},
        protocols={"omz": "OMZ"},
        metrics=[{"protocol": "omz", "setting": "all", "ap": 0.5, "num_faces": 3, "num_predictions": 4,
                  "num_images": 5}],
        protocol_params={"omz": {}}, pr_curves={}, timings={"evaluator_s": 0.1, "wall_s": 0.2},
    )
    return record.to_json_dict()


@pytest.mark.parametrize(("field", "value", "named"), [
    (("metrics", 0, "ap"), "high", "metrics.0.ap"),
    (("dataset", "num_images_evaluated"), "5", "dataset.num_images_evaluated"),
    (("timings",), [1, 2], "timings"),
    (("protocols",), "omz", "protocols"),
])
def test_report_on_results_with_wrong_field_types_is_one_line(capsys, tmp_path, field, value, named):
    data = eval_results(tmp_path)
    target = data
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "report", run)
    line = one_line_error(err)
    assert code == 2 and str(run / "results.json") in line and f"field {named}" in line
    assert not (run / "report.html").exists()


def test_report_on_a_valid_minimal_record_works(capsys, tmp_path):
    """The record the wrong-type cases start from is valid: only the changed field is at fault."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(eval_results(tmp_path)))
    code, stdout, err = run_cli(capsys, "report", run)
    assert code == 0, err
    assert (run / "report.html").is_file() and "report:" in stdout
