"""``rfbench eval --model``: real MobileNet-0.25 RetinaFace models on five real WIDER images,
through both runtimes, both output layouts and both presets; resume; bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from cli_helpers import interrupt_inference_at

from rfbench.accuracy.model_run import ModelRunOptions, open_model
from rfbench.cli import main
from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.detections import Detections
from rfbench.decoder.postprocess import get_preset, postprocess
from rfbench.decoder.preprocess import preprocess, read_image
from rfbench.wider.ground_truth import load_ground_truth
from rfbench.wider.predictions import read_predictions

PARADE = "0--Parade/0_Parade_marchingband_1_149"


def run_eval(capsys, mini, mats, out, *extra):
    code = main(["eval", "--dataset", "wider", "--data-root", str(mini), "--gt-mat-dir", str(mats),
                 "--out", str(out), *map(str, extra)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def load_run(out):
    record = json.loads((out / "results.json").read_text())
    aps = {(m["protocol"], m["setting"]): m["ap"] for m in record["metrics"]}
    return record, aps


def sorted_rows(pred_dir, ids):
    preds, missing = read_predictions(pred_dir, ids)
    assert not missing
    return {i: p[np.lexsort((p[:, 0], -p[:, 4]))] for i, p in preds.items()}


def assert_same_detections(a, b, box_tol=1e-3, score_tol=1e-5):
    assert a.keys() == b.keys()
    for image_id in a:
        assert a[image_id].shape == b[image_id].shape, image_id
        np.testing.assert_allclose(a[image_id][:, :4], b[image_id][:, :4], atol=box_tol, rtol=0)
        np.testing.assert_allclose(a[image_id][:, 4], b[image_id][:, 4], atol=score_tol, rtol=0)


@pytest.fixture(scope="module")
def mini_ids(wider_mini):
    return load_ground_truth(wider_mini).image_ids


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["insightface", "omz"])
def test_openvino_and_onnxruntime_agree_at_f32(capsys, tmp_path, wider_mini, val_gt_dir, models_dir,
                                               mini_ids, preset):
    model = models_dir / "retinaface-mnet025-640.onnx"
    runs = {}
    for runtime in ("openvino", "onnxruntime"):
        out = tmp_path / runtime
        code, _, _ = run_eval(capsys, wider_mini, val_gt_dir, out, "--model", model, "--runtime", runtime,
                              "--precision", "f32", "--preset", preset)
        assert code == 0
        record, aps = load_run(out)
        assert record["runtime"]["effective"]["precision"] == "f32"
        assert record["preset"]["name"] == preset
        runs[runtime] = (sorted_rows(out / "predictions", mini_ids), aps)
    assert_same_detections(runs["openvino"][0], runs["onnxruntime"][0])
    assert runs["openvino"][1] == pytest.approx(runs["onnxruntime"][1], abs=1e-9)


@pytest.mark.slow
def test_openvino_ir_gives_the_same_detections(capsys, tmp_path, wider_mini, val_gt_dir, models_dir, mini_ids):
    import openvino as ov

    onnx_model = models_dir / "retinaface-mnet025-640.onnx"
    ir = tmp_path / "ir" / "mnet.xml"
    ov.save_model(ov.convert_model(str(onnx_model)), str(ir), compress_to_fp16=False)
    outs = {}
    for name, model in (("onnx", onnx_model), ("ir", ir)):
        code, _, _ = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / name, "--model", model,
                              "--preset", "insightface")
        assert code == 0
        outs[name] = (sorted_rows(tmp_path / name / "predictions", mini_ids), load_run(tmp_path / name)[1])
    assert_same_detections(outs["onnx"][0], outs["ir"][0])
    assert outs["onnx"][1] == pytest.approx(outs["ir"][1], abs=1e-9)


def test_parade_recall_at_iou_half(tmp_path, wider_mini, models_dir):
    adapter, spec, preset = open_model(ModelRunOptions(models_dir / "retinaface-mnet025-640.onnx",
                                                       preset="insightface"))
    image = read_image(wider_mini / "WIDER_val" / "images" / f"{PARADE}.jpg")
    tensor, transform = preprocess(image, spec.input.hw, spec.pixels)
    dets = postprocess(decode_outputs(adapter.infer({spec.input.name: tensor}), spec.layout, spec.input.hw),
                       preset, transform)
    dets = dets.take(dets.scores > 0.5)
    gt = load_ground_truth(wider_mini)
    boxes = gt.boxes_xywh[gt.image_ids.index(PARADE)]
    gt_xyxy = np.c_[boxes[:, :2], boxes[:, :2] + boxes[:, 2:]]
    found = 0
    for g in gt_xyxy:  # plain IoU, one face at a time
        iw = np.clip(np.minimum(dets.boxes[:, 2], g[2]) - np.maximum(dets.boxes[:, 0], g[0]), 0, None)
        ih = np.clip(np.minimum(dets.boxes[:, 3], g[3]) - np.maximum(dets.boxes[:, 1], g[1]), 0, None)
        inter = iw * ih
        union = np.prod(dets.boxes[:, 2:] - dets.boxes[:, :2], axis=1) + np.prod(g[2:] - g[:2]) - inter
        found += bool(np.any(inter / union >= 0.5))
    assert len(gt_xyxy) == 24
    assert found / len(gt_xyxy) >= 0.9


@pytest.mark.slow
def test_layout_a_model_matches_layout_b_model_end_to_end(capsys, tmp_path, wider_mini, val_gt_dir,
                                                          models_dir, mini_ids):
    outs = {}
    for name in ("omzlayout", "640"):
        out = tmp_path / name
        code, _, _ = run_eval(capsys, wider_mini, val_gt_dir, out, "--preset", "insightface",
                              "--model", models_dir / f"retinaface-mnet025-{name}.onnx")
        assert code == 0
        record, aps = load_run(out)
        outs[name] = (sorted_rows(out / "predictions", mini_ids), aps, record["model"]["output_layout"]["kind"])
    assert outs["omzlayout"][2] == "A" and outs["640"][2] == "B"
    assert_same_detections(outs["omzlayout"][0], outs["640"][0])
    assert outs["omzlayout"][1] == pytest.approx(outs["640"][1], abs=1e-6)


def split_b_by_stride(level: Detections) -> list[Detections]:
    """Layout-B priors run stride 8, 16, 32 (12800, 3200, 800 at 640); A's levels run 32, 16, 8."""
    bounds = np.cumsum([0, 12800, 3200, 800])
    parts = [level.take(np.arange(bounds[i], bounds[i + 1])) for i in range(3)]
    return parts[::-1]


@pytest.mark.parametrize("recipe_layout", ["A", "B"])
def test_layout_a_and_b_decodings_agree_under_each_omz_recipe(wider_mini, models_dir, recipe_layout):
    levels = {}
    for name in ("omzlayout", "640"):
        adapter, spec, _ = open_model(ModelRunOptions(models_dir / f"retinaface-mnet025-{name}.onnx"))
        image = read_image(wider_mini / "WIDER_val" / "images" / f"{PARADE}.jpg")
        tensor, transform = preprocess(image, spec.input.hw, spec.pixels)
        decoded = decode_outputs(adapter.infer({spec.input.name: tensor}), spec.layout, spec.input.hw)
        levels[name] = decoded if spec.layout.kind == "A" else split_b_by_stride(decoded[0])
    preset = get_preset("omz", recipe_layout)
    a = postprocess(levels["omzlayout"], preset, transform)
    b = postprocess(levels["640"], preset, transform)
    assert len(a) == len(b) > 0
    order_a, order_b = np.lexsort((a.boxes[:, 0], -a.scores)), np.lexsort((b.boxes[:, 0], -b.scores))
    np.testing.assert_allclose(a.boxes[order_a], b.boxes[order_b], atol=1e-3)
    np.testing.assert_allclose(a.scores[order_a], b.scores[order_b], atol=1e-6)


@pytest.mark.slow
def test_resume_after_interrupt_gives_identical_results(capsys, tmp_path, wider_mini, val_gt_dir,
                                                        models_dir, monkeypatch):
    model = models_dir / "retinaface-mnet025-640.onnx"
    args = ("--model", model, "--runtime", "onnxruntime")
    code, _, _ = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / "full", *args)
    assert code == 0

    interrupt_inference_at(monkeypatch, 3)
    code, _, err = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / "cut", *args)
    assert code == 130 and "--resume" in err
    done = sorted((tmp_path / "cut" / "predictions").rglob("*.txt"))
    assert len(done) == 2 and not (tmp_path / "cut" / "results.json").exists()
    monkeypatch.undo()  # inference runs for real again
    # what a kill -9 between a temporary's creation and its rename leaves (pid 99999, write 7)
    event = done[0].parent.name
    stale = [tmp_path / "cut" / sub / event / f".{done[0].name}.99999.7.tmp" for sub in ("predictions", "landmarks")]
    stale.append(tmp_path / "cut" / ".results.json.99999.8.tmp")
    for path in stale:
        path.write_text("half a fi")

    code, _, err = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / "cut", *args)
    assert code == 2 and "--resume" in err  # refuses to mix without --resume
    assert all(path.exists() for path in stale)  # a refused run touches nothing
    code, _, _ = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / "cut", *args, "--resume")
    assert code == 0
    assert not [p for p in (tmp_path / "cut").rglob("*") if p.name.endswith(".tmp")]
    full, cut = load_run(tmp_path / "full"), load_run(tmp_path / "cut")
    assert full[1] == cut[1]
    assert cut[0]["prediction_run"]["images_resumed"] == 2
    for path in (tmp_path / "full" / "predictions").rglob("*.txt"):
        assert path.read_text() == (tmp_path / "cut" / "predictions" / path.relative_to(tmp_path / "full" / "predictions")).read_text()

    code, _, err = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / "cut", "--model", model,
                            "--runtime", "onnxruntime", "--preset", "insightface", "--resume")
    assert code == 2 and "settings differ" in err and "preset" in err


@pytest.fixture()
def root_with_corrupt_image(tmp_path, wider_mini):
    root = tmp_path / "root"
    shutil.copytree(wider_mini / "wider_face_split", root / "wider_face_split")
    shutil.copytree(wider_mini / "WIDER_val", root / "WIDER_val")
    (root / "WIDER_val" / "images" / f"{PARADE}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


@pytest.mark.slow
def test_corrupt_image_is_skipped_counted_and_fatal_with_strict(capsys, caplog, tmp_path, root_with_corrupt_image,
                                                                 val_gt_dir, models_dir):
    model = models_dir / "retinaface-mnet025-640.onnx"
    code, _, _ = run_eval(capsys, root_with_corrupt_image, val_gt_dir, tmp_path / "a", "--model", model)
    assert code == 0 and "0_Parade_marchingband_1_149.jpg" in caplog.text
    record, _ = load_run(tmp_path / "a")
    assert record["prediction_run"]["images_failed"] == 1
    assert record["dataset"]["num_images_evaluated"] == 5
    code, _, err = run_eval(capsys, root_with_corrupt_image, val_gt_dir, tmp_path / "b", "--model", model, "--strict")
    assert code == 2 and "0_Parade_marchingband_1_149.jpg" in err and "Traceback" not in err


def test_model_with_unknown_outputs_lists_them(capsys, tmp_path, wider_mini, val_gt_dir):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["data"], ["mystery"], keepdims=1)], "odd",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("mystery", TensorProto.FLOAT, [1, 1, 1, 1])],
    )
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    code, _, err = run_eval(capsys, wider_mini, val_gt_dir, tmp_path / "o", "--model", path)
    assert code == 2 and "mystery" in err and "layout A" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "{tmp}/absent.onnx"], "model file not found"),
        (["--model", "{model}", "--device", "NPU9"], "NPU9"),
        (["--model", "{model}", "--runtime", "onnxruntime", "--precision", "bf16"], "bf16"),
        (["--model", "{model}", "--resume"], "--resume needs --out"),
    ],
)
def test_model_bad_input_is_one_line(capsys, tmp_path, wider_mini, val_gt_dir, models_dir, extra, message):
    argv = [a.format(tmp=tmp_path, model=models_dir / "retinaface-mnet025-640.onnx") for a in extra]
    out = [] if "--resume" in extra else ["--out", str(tmp_path / "o")]
    code = main(["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir), *out, *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.slow
def test_dynamic_model_runs_at_the_requested_size_in_both_runtimes(capsys, tmp_path, wider_mini, val_gt_dir,
                                                                   models_dir, mini_ids):
    model = models_dir / "retinaface-mnet025-dynamic.onnx"
    rows = {}
    for runtime in ("openvino", "onnxruntime"):
        out = tmp_path / runtime
        code, _, _ = run_eval(capsys, wider_mini, val_gt_dir, out, "--model", model, "--runtime", runtime,
                              "--input-size", "640x480", "--preset", "insightface")
        assert code == 0
        record, aps = load_run(out)
        assert record["model"]["input_dynamic"] is True
        assert (record["model"]["input_width"], record["model"]["input_height"]) == (640, 480)
        assert record["model"]["output_layout"]["names"] == {"loc": "loc", "conf": "conf", "landmarks": "landmarks"}
        assert aps[("omz", "64px")] > 0.5
        rows[runtime] = sorted_rows(out / "predictions", mini_ids)
    assert_same_detections(rows["openvino"], rows["onnxruntime"])
