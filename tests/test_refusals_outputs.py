"""Issue 11, item 1: a model whose outputs hold NaN or inf stops the run with one line naming the
model file, the output and the image; nothing non-finite is ever written to a prediction file;
what was written before stays resumable. ``latency`` refuses such a model too.

The NaN models are the layout-B fixture model with one output multiplied by a factor: NaN
(always), inf, or NaN only on the image whose mean network input is a given value (so exactly
one image of the mini set goes wrong and the others give the fixture model's own numbers).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli

from rfbench.decoder.finite import NonFiniteOutputError, check_finite_outputs
from rfbench.decoder.preprocess import PIXELS_LAYOUT_B, preprocess, read_image
from rfbench.errors import RfbenchError
from rfbench.wider.ground_truth import load_ground_truth
from rfbench.wider.predictions import read_predictions, write_prediction_file

MODEL = "retinaface-mnet025-640.onnx"
CONF = "output1"  # the layout-B scores of the fixture model
BAD_INDEX = 2  # the image of the mini set that the selective model breaks




def broken_model(models_dir: Path, path: Path, factor: float, *, output: str = CONF,
                 only_mean: tuple[float, float] | None = None) -> Path:
    """The fixture model with ``output`` multiplied by ``factor`` (everywhere, or with
    ``only_mean=(mean, eps)`` only when the input's mean is within ``eps`` of ``mean``)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(models_dir / MODEL)
    graph = model.graph
    raw = f"{output}_raw"
    for node in graph.node:
        node.output[:] = [raw if name == output else name for name in node.output]
        node.input[:] = [raw if name == output else name for name in node.input]

    def scalar(name: str, value: float) -> onnx.TensorProto:
        return helper.make_tensor(name, TensorProto.FLOAT, [], [value])

    graph.initializer.extend([scalar("k_factor", factor), scalar("k_one", 1.0)])
    if only_mean is None:
        graph.node.append(helper.make_node("Mul", [raw, "k_factor"], [output]))
    else:
        graph.initializer.extend([scalar("k_mean", only_mean[0]), scalar("k_eps", only_mean[1])])
        graph.node.extend([
            helper.make_node("ReduceMean", [graph.input[0].name], ["in_mean"], keepdims=0),
            helper.make_node("Sub", ["in_mean", "k_mean"], ["in_diff"]),
            helper.make_node("Abs", ["in_diff"], ["in_dist"]),
            helper.make_node("Less", ["in_dist", "k_eps"], ["in_hit"]),
            helper.make_node("Where", ["in_hit", "k_factor", "k_one"], ["in_factor"]),
            helper.make_node("Mul", [raw, "in_factor"], [output]),
        ])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def network_means(wider_mini: Path, image_ids: list[str]) -> np.ndarray:
    """Mean of each image's 640x640 layout-B network input (what the model's ReduceMean sees)."""
    means = []
    for image_id in image_ids:
        image = read_image(wider_mini / "WIDER_val" / "images" / f"{image_id}.jpg")
        tensor, _ = preprocess(image, (640, 640), PIXELS_LAYOUT_B)
        means.append(float(tensor.astype(np.float64).mean()))
    return np.array(means)


def eval_args(data_root, val_gt_dir, model, out, *extra):
    del val_gt_dir  # --protocol omz needs no .mat lists
    return ["eval", "--data-root", data_root, "--protocol", "omz",
            "--model", model, "--runtime", "onnxruntime", "--out", out, *extra]


# ---- the check itself ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_outputs_are_named_with_model_output_and_image(bad):
    outputs = {"loc": np.zeros((1, 4, 4), np.float32), "conf": np.ones((1, 4, 2), np.float32),
               "count": np.array([7], np.int64)}
    check_finite_outputs(outputs, "m.onnx", "ev/img")  # finite: nothing to say
    outputs["conf"][0, 1, 0] = bad
    with pytest.raises(NonFiniteOutputError) as caught:
        check_finite_outputs(outputs, "m.onnx", "ev/img")
    message = str(caught.value)
    assert message.startswith("m.onnx: output 'conf'") and "ev/img" in message and "\n" not in message
    assert ("1 NaN, 0 inf" if np.isnan(bad) else "0 NaN, 1 inf") in message and "of 8" in message


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e39])  # 1e39 overflows float32 as written
def test_non_finite_prediction_is_never_written(tmp_path, value):
    rows = np.array([[1.0, 2.0, 3.0, 4.0, 0.9], [1.0, 2.0, value, 4.0, 0.5]])
    with pytest.raises(RfbenchError, match=r"refusing to write 1 box\(es\) with NaN or inf .* ev/img"):
        write_prediction_file(tmp_path, "ev/img", rows)
    assert not list(tmp_path.rglob("*"))
    path = write_prediction_file(tmp_path, "ev/img", rows[:1])
    assert path.read_text() == "img\n1\n1 2 3 4 0.899999976\n"


# ---- eval --model --------------------------------------------------------------------------


@pytest.mark.slow
def test_non_finite_outputs_eval_stops_with_one_line_and_writes_nothing(capsys, tmp_path, wider_mini,
                                                                        val_gt_dir, models_dir):
    model = broken_model(models_dir, tmp_path / "nan.onnx", float("nan"))
    first = load_ground_truth(wider_mini).image_ids[0]
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, *eval_args(wider_mini, val_gt_dir, model, out))
    line = one_line_error(err)
    assert code == 2 and stdout == ""
    assert f"{model}: output '{CONF}'" in line and first in line and "NaN" in line
    assert not (out / "results.json").exists() and not list((out / "predictions").rglob("*.txt"))


@pytest.mark.slow
def test_non_finite_outputs_on_one_image_keep_earlier_files_and_resume_after_the_fix(
        capsys, tmp_path, wider_mini, val_gt_dir, models_dir):
    ids = load_ground_truth(wider_mini).image_ids
    means = network_means(wider_mini, ids)
    gap = np.min(np.abs(np.delete(means, BAD_INDEX) - means[BAD_INDEX]))
    assert gap > 0.1, means  # the images are told apart by their mean with a wide margin
    model = broken_model(models_dir, tmp_path / "sometimes-nan.onnx", float("nan"),
                         only_mean=(means[BAD_INDEX], gap / 2))
    root = tmp_path / "root"  # a copy of the data root, so that the bad image can be fixed
    shutil.copytree(wider_mini, root)

    clean, broken = tmp_path / "clean", tmp_path / "broken"
    assert run_cli(capsys, *eval_args(root, val_gt_dir, models_dir / MODEL, clean))[0] == 0
    code, _, err = run_cli(capsys, *eval_args(root, val_gt_dir, model, broken))
    line = one_line_error(err)
    assert code == 2 and f"{model}: output '{CONF}'" in line and ids[BAD_INDEX] in line
    assert f"kept in {broken}" in line and "--resume" in line
    written = sorted(p.relative_to(broken / "predictions") for p in (broken / "predictions").rglob("*.txt"))
    assert written == sorted(Path(f"{i}.txt") for i in ids[:BAD_INDEX])  # the files before, no other
    for rel in written:  # intact: exactly the fixture model's numbers (the factor was 1 there)
        assert (broken / "predictions" / rel).read_bytes() == (clean / "predictions" / rel).read_bytes()
    assert not (broken / "results.json").exists()

    # the fix: the offending image replaced (here: darkened), then --resume finishes the run
    bad_jpg = root / "WIDER_val" / "images" / f"{ids[BAD_INDEX]}.jpg"
    cv2.imwrite(str(bad_jpg), cv2.imread(str(bad_jpg)) // 2)
    code, _, err = run_cli(capsys, *eval_args(root, val_gt_dir, model, broken, "--resume"))
    assert code == 0, err
    record = json.loads((broken / "results.json").read_text())
    assert record["prediction_run"]["images_resumed"] == BAD_INDEX
    assert record["prediction_run"]["images_predicted_this_run"] == len(ids) - BAD_INDEX
    predictions, missing = read_predictions(broken / "predictions", ids)  # all finite, all there
    assert not missing and all(np.isfinite(p).all() for p in predictions.values())
    for image_id in ids[BAD_INDEX + 1:]:
        rel = f"{image_id}.txt"
        assert (broken / "predictions" / rel).read_bytes() == (clean / "predictions" / rel).read_bytes()


# ---- latency -------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [float("nan"), float("inf")])
def test_non_finite_outputs_latency_is_refused_before_measuring(capsys, monkeypatch, tmp_path, models_dir,
                                                                factor):
    from rfbench.latency import loop

    def never(*_args, **_kwargs):
        raise AssertionError("measured a model whose outputs are not finite")

    monkeypatch.setattr(loop, "measure", never)
    monkeypatch.setattr("rfbench.latency.runner.measure", never)
    model = broken_model(models_dir, tmp_path / "bad.onnx", factor)
    out = tmp_path / "lat"
    code, stdout, err = run_cli(capsys, "latency", "--model", model, "--runtime", "onnxruntime",
                                "--time", "0.05", "--iterations", "3", "--out", out)
    line = one_line_error(err)
    assert code == 2 and stdout == ""
    assert f"{model}: output '{CONF}'" in line and "random input (seed 0) on onnxruntime" in line
    assert not (out / "results.json").exists()
