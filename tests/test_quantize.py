"""``rfbench quantize``: the calibration draw, the pre-processing it feeds, both quantizers end
to end on the MobileNet-0.25 fixture (the INT8 model then run by ``eval`` and ``latency``),
provenance, and the bad inputs of the issue."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rfbench.cli import main
from rfbench.errors import RfbenchError
from rfbench.models.files import model_sha256
from rfbench.quantize.calibration import CalibrationImages, draw_subset
from rfbench.wider.ground_truth import find_images_dir, load_ground_truth

MODEL = "retinaface-mnet025-640.onnx"
# an iteration budget of 5, valid with 5: the sample count holds on a crowded machine
FAST_LATENCY = ["--iterations", "5", "--min-iterations", "5", "--min-time", "0", "--warmup", "1"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- the calibration draw ------------------------------------------------------------------


IDS = [f"e/{i:03d}" for i in range(20)]


def test_draw_is_reproducible_and_seed_dependent():
    first, again = draw_subset(IDS, 5, seed=3), draw_subset(IDS, 5, seed=3)
    assert first.image_ids == again.image_ids
    assert len(set(first.image_ids)) == 5 and set(first.image_ids) <= set(IDS)
    others = {draw_subset(IDS, 5, seed=s).image_ids for s in range(10)}
    assert len(others) > 1


def test_draw_avoids_the_images_eval_limit_scores():
    subset = draw_subset(IDS, 6, seed=0, eval_limit=12)
    assert set(subset.image_ids) <= set(IDS[12:])
    assert subset.disjoint_from_eval and subset.overlap_with_eval == 0
    assert subset.eval_images == 12 and subset.pool_size == 20


def test_draw_takes_every_spare_image_then_records_the_overlap():
    subset = draw_subset(IDS, 10, seed=0, eval_limit=15)  # 5 spare, 5 from the scored ones
    assert set(IDS[15:]) <= set(subset.image_ids)
    scored = [i for i in subset.image_ids if i in IDS[:15]]
    assert len(scored) == subset.overlap_with_eval == 5 and not subset.disjoint_from_eval
    everything = draw_subset(IDS, 4, seed=0)  # eval scores all: overlap unavoidable
    assert everything.overlap_with_eval == 4


@pytest.mark.slow
def test_calibration_tensor_is_what_eval_feeds(wider_mini, models_dir):
    """The tensor NNCF/ORT calibrate on equals the one eval's prediction run infers."""
    from rfbench.accuracy.model_run import ModelRunOptions, open_model
    from rfbench.accuracy.pipeline import PredictionRun

    adapter, spec, preset = open_model(ModelRunOptions(models_dir / MODEL))
    adapter.close()
    images_dir = find_images_dir(wider_mini)
    image_id = load_ground_truth(wider_mini).image_ids[2]
    ours = CalibrationImages(images_dir, spec).feeds(image_id)
    evals = PredictionRun(adapter.infer, spec, preset, "stretch", images_dir, Path("unused"))
    theirs = evals.prepare(image_id).tensor
    assert list(ours) == [spec.input.name]
    np.testing.assert_array_equal(ours[spec.input.name], theirs)
    assert theirs.shape == (1, 3, 640, 640) and theirs.dtype == np.float32


# --- end to end ------------------------------------------------------------------------------


def _omz_ap(result_dir: Path) -> float:
    record = json.loads((result_dir / "results.json").read_text())
    (row,) = [m for m in record["metrics"] if m["protocol"] == "omz"]
    return row["ap"]


def _check_provenance(out: Path, model_path: Path, source: Path, tool: str, ids: list[str]):
    record = json.loads((out / "results.json").read_text())
    sidecar = json.loads(model_path.with_suffix(".quantize.json").read_text())
    assert record["kind"] == "quantize"
    for doc in (record, sidecar):
        assert doc["source_model"]["sha256"] == model_sha256(source)
        assert doc["calibration"]["image_ids"] == ids and doc["calibration"]["seed"] == 0
        assert doc["calibration"]["num_images"] == len(ids)
        assert doc["calibration"]["disjoint_from_eval"] is True
        assert doc["timings"]["wall_s"] > 0
    assert sidecar["tool"] == record["quantizer"]["tool"] == tool
    from rfbench.quantize.output import read_provenance

    assert read_provenance(model_path) == sidecar
    assert sidecar["quantized_model"]["sha256"] == model_sha256(model_path)
    assert record["quantized_model"]["sha256"] == model_sha256(model_path)
    assert record["precision"]["compute_ops_int8"] > 0
    return record, sidecar


def _eval_and_latency(capsys, tmp_path, wider_mini, val_gt_dir, model: Path, runtime: str,
                      sidecar: dict | None = None) -> float:
    """eval and latency of ``model``; both records carry ``sidecar`` as ``provenance`` (the
    quantized model) or have no such field (None: a float model)."""
    out = tmp_path / f"eval-{model.stem}-{runtime}"
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-mat-dir", val_gt_dir,
                           "--model", model, "--runtime", runtime, "--out", out)
    assert code == 0, err
    record = json.loads((out / "results.json").read_text())
    assert record.get("provenance") == sidecar and ("provenance" in record) == (sidecar is not None)
    aps = {f"{m['protocol']}/{m['setting']}": m["ap"] for m in record["metrics"]}
    assert set(aps) == {"wider/easy", "wider/medium", "wider/hard", "omz/64px"}
    assert all(np.isfinite(v) and 0 < v <= 1 for v in aps.values())
    lat = tmp_path / f"latency-{model.stem}-{runtime}"
    code, _, err = run_cli(capsys, "latency", "--model", model, "--runtime", runtime,
                           *FAST_LATENCY, "--out", lat)
    assert code == 0, err
    lat_record = json.loads((lat / "results.json").read_text())
    (run,) = lat_record["runs"]
    assert run["iterations"] >= 5
    assert lat_record.get("provenance") == sidecar
    assert ("provenance" in lat_record) == (sidecar is not None)
    return _omz_ap(out)


@pytest.mark.slow
@pytest.mark.parametrize("runtime,suffix,tool", [("openvino", ".xml", "nncf"),
                                                 ("onnxruntime", ".onnx", "onnxruntime")])
def test_quantize_end_to_end_then_eval_and_latency(capsys, tmp_path, wider_mini, val_gt_dir,
                                                   models_dir, runtime, suffix, tool):
    if runtime == "openvino":
        pytest.importorskip("nncf")
    source = models_dir / MODEL
    out = tmp_path / "q"
    code, stdout, err = run_cli(capsys, "quantize", "--model", source, "--runtime", runtime,
                                "--data-root", wider_mini, "--subset-size", 3, "--eval-limit", 2,
                                "--out", out)
    assert code == 0, err
    model_path = out / f"{source.stem}-int8{suffix}"
    assert model_path.is_file() and str(model_path) in stdout
    assert not [p for p in out.iterdir() if p.name.startswith(".quantize-")]  # staging removed
    ids = list(draw_subset(load_ground_truth(wider_mini).image_ids, 3, 0, eval_limit=2).image_ids)
    record, sidecar = _check_provenance(out, model_path, source, tool, ids)
    assert set(ids).isdisjoint(load_ground_truth(wider_mini).image_ids[:2])
    if runtime == "openvino":
        import nncf
        import openvino as ov

        assert record["quantizer"]["tool_version"] == nncf.__version__
        ops = [op.get_type_name() for op in ov.Core().read_model(str(model_path)).get_ops()]
        assert "FakeQuantize" in ops
        # profile: the INT8 share of MACs, against a count straight from OpenVINO's graph
        code, _, err = run_cli(capsys, "profile", "--model", model_path, "--out", tmp_path / "p")
        assert code == 0, err
        profile = json.loads((tmp_path / "p" / "results.json").read_text())
        share, convs = independent_int8_share(model_path)
        assert convs == record["precision"]["compute_ops_int8"] > 0
        assert profile["int8_macs_share"] == pytest.approx(share, rel=1e-12)
        assert 0.5 < share <= 1.0
    else:
        import onnx

        ops = [n.op_type for n in onnx.load(str(model_path)).graph.node]
        assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
        assert record["quantizer"]["calibration_method"] == "minmax"
        assert record["quantizer"]["per_channel"] is True
        # profile of the QDQ model: every conv ORT quantized (both inputs dequantized) is INT8
        code, _, err = run_cli(capsys, "profile", "--model", model_path, "--out", tmp_path / "p")
        assert code == 0, err
        profile = json.loads((tmp_path / "p" / "results.json").read_text())
        assert record["precision"]["compute_ops_float"] == 0
        assert profile["int8_macs_share"] == 1.0 and profile["gmacs_int8"] == profile["gmacs"]
    int8_ap = _eval_and_latency(capsys, tmp_path, wider_mini, val_gt_dir, model_path, runtime,
                                sidecar)
    float_ap = _eval_and_latency(capsys, tmp_path, wider_mini, val_gt_dir, source, runtime)
    # 43 counted faces: INT8 stays within 5 AP points of float (measured: < 2)
    assert abs(int8_ap - float_ap) < 0.05


@pytest.mark.slow
def test_max_ap_drop_keeps_layers_in_float_and_meets_the_limit(capsys, tmp_path, wider_mini,
                                                               val_gt_dir, models_dir):
    """Calibrated on the one Parade image with the mixed preset, plain INT8 loses ~2 omz AP
    points on the five images (43 faces); --max-ap-drop 1.0 must revert layers until the drop
    is <= 1 point, and its reported APs must be what rfbench eval measures on the models."""
    pytest.importorskip("nncf")
    source = models_dir / MODEL
    out = tmp_path / "aa"
    # seed 11 draws the Parade image (index 0) for a one-image subset
    assert draw_subset(load_ground_truth(wider_mini).image_ids, 1, 11).image_ids[0].startswith("0--")
    code, stdout, err = run_cli(capsys, "quantize", "--model", source, "--data-root", wider_mini,
                                "--subset-size", 1, "--seed", 11, "--preset", "mixed",
                                "--max-ap-drop", 1.0, "--out", out)
    assert code == 0, err
    acc = json.loads((out / "results.json").read_text())["accuracy_control"]
    model_path = out / f"{source.stem}-int8.xml"
    assert acc["validation_images"] == 5 and acc["validation_faces"] == 43
    assert acc["ap_drop_points"] <= 1.0 and acc["reached"] is True
    assert len(acc["layers_kept_in_float"]) >= 1
    for model, key in ((model_path, "ap_quantized"), (source, "ap_float")):
        ev = tmp_path / f"ev-{key}"
        code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz",
                               "--model", model, "--out", ev)
        assert code == 0, err
        assert _omz_ap(ev) == pytest.approx(acc[key], abs=1e-9)
    import openvino as ov

    from rfbench.quantize.openvino_nncf import COMPUTE_OPS

    ir = ov.Core().read_model(str(model_path))
    float_convs = sorted(op.get_friendly_name() for op in ir.get_ops()
                         if op.get_type_name() in COMPUTE_OPS
                         and op.input_value(0).get_node().get_type_name() != "FakeQuantize")
    assert float_convs == sorted(acc["layers_kept_in_float"])
    # profile: the layers kept in float lower the INT8 share of MACs below 1, as counted directly
    code, _, err = run_cli(capsys, "profile", "--model", model_path, "--out", tmp_path / "p")
    assert code == 0, err
    share, convs = independent_int8_share(model_path)
    assert json.loads((tmp_path / "p" / "results.json").read_text())["int8_macs_share"] == \
        pytest.approx(share, rel=1e-12)
    assert 0.0 < share < 1.0 and convs >= 1


def test_provenance_sidecar_is_trusted_only_for_its_model(tmp_path, wider_mini, models_dir):
    """publish writes a sidecar that validates against its definition; read_provenance (and
    the eval / latency records' provenance field) give it back only while the model's sha256
    is the recorded one, and ignore a sidecar that is not a provenance."""
    import shutil

    from rfbench.quantize import output
    from rfbench.quantize.run import QuantizeOptions, _open_spec
    from rfbench.results.writer import to_jsonable

    source = models_dir / MODEL
    spec, _ = _open_spec(QuantizeOptions(model=source, data_root=wider_mini,
                                         runtime="onnxruntime"))
    subset = draw_subset(load_ground_truth(wider_mini).image_ids, 2, seed=1)
    sidecar = output.provenance(
        source={"path": str(source), "name": source.name, "sha256": model_sha256(source)},
        tool="onnxruntime", tool_version="1.0", runtime="onnxruntime",
        settings={"function": "quantize_static", "subset_size": 2, "per_channel": True},
        subset={**subset.as_dict(), "data_root": str(wider_mini), "images_dir": "x",
                "gt_text": None},
        preprocessing={"resize": "stretch", "interpolation": "INTER_LINEAR", "reader": "cv2",
                       "model_spec": spec.as_dict()},
        wall_s=1.5, quantize_s=1.0)
    staged = tmp_path / "stage" / "m-int8.onnx"
    staged.parent.mkdir()
    shutil.copyfile(source, staged)  # stands in for a quantized model: only its bytes matter
    model = tmp_path / "m-int8.onnx"
    digest = output.publish(staged, model, sidecar)
    assert digest == model_sha256(model) and not staged.exists()
    written = json.loads(output.sidecar_path(model).read_text())
    assert written == to_jsonable({**sidecar, "quantized_model": {"path": str(model),
                                                                  "sha256": digest}})
    assert output.read_provenance(model) == written
    assert output.provenance_field(model) == {"provenance": written}
    assert output.provenance_field(source) == {}  # no sidecar beside it
    with open(model, "ab") as handle:  # the model changed after quantization
        handle.write(b"\0")
    assert output.read_provenance(model) is None and output.provenance_field(model) == {}
    output.sidecar_path(model).write_text(json.dumps({**written, "tool": 3}))
    assert output.read_provenance(model) is None


# --- profile: the share of MACs in INT8 ----------------------------------------------------


def _hand_quantized_ir(path: Path) -> tuple[int, int]:
    """A small IR with NNCF's marks, and its (INT8 MACs, all MACs) counted by hand.

    conv1 3->4 3x3 on 8x8: FakeQuantize input, i8 weights decompressed (Convert * scale): INT8
    conv2 4->2 1x1: float input                                                   : float
    conv3 2->2 1x1: FakeQuantize input, float weights                             : float
    conv4 2->3 1x1 on 4x4: FakeQuantize -> MaxPool input, FakeQuantize weights     : INT8
    conv5 3->1 1x1 on 4x4: 65536-level (16-bit) FakeQuantize input and weights    : float
    """
    import openvino as ov
    import openvino.opset13 as ops

    def fq(node, levels=256):
        lo, hi = ops.constant(np.float32(-1)), ops.constant(np.float32(1))
        return ops.fake_quantize(node, lo, hi, lo, hi, levels)

    def conv(data, weights, pad):
        return ops.convolution(data, weights, [1, 1], [pad, pad], [pad, pad], [1, 1])

    rng = np.random.default_rng(0)
    x = ops.parameter([1, 3, 8, 8], np.float32, name="x")
    w1 = ops.multiply(ops.convert(ops.constant(rng.integers(-8, 8, (4, 3, 3, 3), np.int8)), "f32"),
                      ops.constant(np.full((4, 1, 1, 1), 0.1, np.float32)))
    c1 = conv(fq(x), w1, 1)
    c2 = conv(c1, ops.constant(rng.random((2, 4, 1, 1), np.float32)), 0)
    c3 = conv(fq(c2), ops.constant(rng.random((2, 2, 1, 1), np.float32)), 0)
    pooled = ops.max_pool(fq(c3), [2, 2], [1, 1], [0, 0], [0, 0], [2, 2])  # strides .. kernel
    c4 = conv(pooled.output(0), fq(ops.constant(rng.random((3, 2, 1, 1), np.float32))), 0)
    c5 = conv(fq(c4, 65536), fq(ops.constant(rng.random((1, 3, 1, 1), np.float32)), 65536), 0)
    ov.save_model(ov.Model([c5], [x]), str(path), compress_to_fp16=False)
    macs = [4 * 8 * 8 * 27, 2 * 8 * 8 * 4, 2 * 8 * 8 * 2, 3 * 4 * 4 * 2, 1 * 4 * 4 * 3]
    return macs[0] + macs[3], sum(macs)


def test_profile_reports_the_int8_share_of_macs(capsys, tmp_path):
    from rfbench.complexity.int8 import RULE_INT8

    model = tmp_path / "hand-int8.xml"
    int8, total = _hand_quantized_ir(model)
    code, stdout, err = run_cli(capsys, "profile", "--model", model, "--out", tmp_path / "p")
    assert code == 0, err
    record = json.loads((tmp_path / "p" / "results.json").read_text())
    assert record["gmacs"] == pytest.approx(total / 1e9, rel=1e-12)
    assert record["gmacs_int8"] == pytest.approx(int8 / 1e9, rel=1e-12)
    assert record["int8_macs_share"] == pytest.approx(int8 / total, rel=1e-12)
    assert record["int8_macs_share_rule"] == record["gmacs_int8_rule"] == RULE_INT8
    assert RULE_INT8 in record["rules"] and "share of MACs in INT8" in stdout
    rows = {r["name"]: r for r in pd_rows(tmp_path / "p") if r["section"] == "figure"}
    assert rows["int8_macs_share"]["value"] == pytest.approx(int8 / total, rel=1e-9)


def test_profile_of_a_float_model_has_no_int8_figures(capsys, tmp_path, models_dir):
    code, _, err = run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", tmp_path / "p")
    assert code == 0, err
    record = json.loads((tmp_path / "p" / "results.json").read_text())
    assert not {"gmacs_int8", "int8_macs_share", "int8_macs_share_rule"} & set(record)


def pd_rows(folder: Path) -> list[dict]:
    import pandas as pd

    return pd.read_csv(folder / "results.csv").to_dict("records")


def independent_int8_share(xml: Path) -> tuple[float, int]:
    """INT8 share of conv MACs of an NNCF IR, counted straight from OpenVINO's graph: a conv is
    INT8 when its input 0 is a FakeQuantize output and its weights come from an i8 constant
    (through Convert / Subtract / Multiply) or from a FakeQuantize (NNCF's depthwise weights).
    Returns (share, INT8 conv count)."""
    import openvino as ov

    def from_int8_constant(node) -> bool:
        if node.get_type_name() == "Constant":
            return node.get_element_type().get_type_name() in ("i8", "u8")
        if node.get_type_name() == "FakeQuantize":  # NNCF keeps depthwise weights so
            return node.get_attributes()["levels"] <= 256
        if node.get_type_name() in ("Convert", "Subtract", "Multiply", "Reshape"):
            return any(from_int8_constant(v.get_node()) for v in node.input_values())
        return False

    int8 = total = count = 0
    for op in ov.Core().read_model(str(xml)).get_ordered_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution"):
            continue
        w = list(op.input_value(1).get_partial_shape().to_shape())
        per_output = int(np.prod(w[2:] if op.get_type_name() == "GroupConvolution" else w[1:]))
        macs = int(np.prod(list(op.get_output_partial_shape(0).to_shape()))) * per_output
        total += macs
        if (op.input_value(0).get_node().get_type_name() == "FakeQuantize"
                and from_int8_constant(op.input_value(1).get_node())):
            int8 += macs
            count += 1
    return int8 / total, count


# --- bad input -------------------------------------------------------------------------------


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("rfbench: error:") and "Traceback" not in err
    for needle in needles:
        assert needle in lines[-1]


def test_subset_larger_than_the_ids_takes_them_all_with_one_warning(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="rfbench.quantize.calibration"):
        subset = draw_subset(IDS, 300, seed=0)
    assert sorted(subset.image_ids) == sorted(IDS)  # every image, each once
    assert subset.as_dict()["num_images"] == 20 and subset.as_dict()["requested_images"] == 300
    assert subset.overlap_with_eval == 20  # a later eval scores all of them
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "--subset-size 300" in warnings[0] and "all 20" in warnings[0]
    spare = draw_subset(IDS, 300, seed=0, eval_limit=15)  # the spare five come first
    assert set(spare.image_ids[:5]) == set(IDS[15:]) and spare.overlap_with_eval == 15
    with pytest.raises(RfbenchError, match="lists no image"):
        draw_subset([], 3)


@pytest.mark.slow
def test_default_subset_on_a_small_root_calibrates_on_all(capsys, caplog, tmp_path, wider_mini,
                                                          models_dir):
    """The default --subset-size 300 on the five-image root: quantized on all five, said in one
    warning line and in the record (num_images 5, requested_images 300)."""
    out = tmp_path / "q"
    code, stdout, err = run_cli(capsys, "quantize", "--model", models_dir / MODEL, "--runtime",
                                "onnxruntime", "--data-root", wider_mini, "--out", out)
    assert code == 0, err
    warned = [r.getMessage() for r in caplog.records if "--subset-size 300" in r.getMessage()]
    assert len(warned) == 1 and "all 5" in warned[0] and "Traceback" not in err
    cal = json.loads((out / "results.json").read_text())["calibration"]
    assert cal["num_images"] == 5 and cal["requested_images"] == 300
    assert sorted(cal["image_ids"]) == sorted(load_ground_truth(wider_mini).image_ids)
    assert "calibration 5 image(s) (--subset-size 300: all the data root has)" in stdout


def _gt_text(path: Path, image_ids: list[str]) -> Path:
    path.write_text("".join(f"{i}.jpg\n1\n10 10 80 80 0 0 0 0 0 0\n" for i in image_ids))
    return path


@pytest.mark.parametrize("broken", ["missing", "corrupt"])
def test_unreadable_calibration_image_is_one_line(capsys, tmp_path, wider_mini, models_dir, broken):
    images = tmp_path / "images" / "0--Parade"
    images.mkdir(parents=True)
    if broken == "corrupt":
        (images / "bad.jpg").write_bytes(b"not a jpeg at all")
    gt = _gt_text(tmp_path / "gt.txt", ["0--Parade/bad"])
    code, _, err = run_cli(capsys, "quantize", "--model", models_dir / MODEL, "--data-root",
                           wider_mini, "--gt-text", gt, "--images-dir", tmp_path / "images",
                           "--subset-size", 1, "--runtime", "onnxruntime", "--out", tmp_path / "q")
    _one_line_error(code, err, "bad.jpg")
    assert not (tmp_path / "q").exists()  # checked before any output is made


def test_onnxruntime_target_needs_an_onnx_model(capsys, tmp_path, wider_mini):
    xml = tmp_path / "m.xml"
    xml.write_text("<net/>")
    xml.with_suffix(".bin").write_bytes(b"")
    code, _, err = run_cli(capsys, "quantize", "--model", xml, "--runtime", "onnxruntime",
                           "--data-root", wider_mini, "--subset-size", 1, "--out", tmp_path / "q")
    _one_line_error(code, err)


def test_missing_nncf_gives_the_install_hint(capsys, tmp_path, wider_mini, models_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)  # import nncf -> ImportError
    code, _, err = run_cli(capsys, "quantize", "--model", models_dir / MODEL, "--data-root",
                           wider_mini, "--subset-size", 1, "--out", tmp_path / "q")
    _one_line_error(code, err, "pip install 'rfbench[quantize]'")


@pytest.mark.slow
def test_interrupted_write_leaves_no_model_and_existing_model_is_kept(capsys, tmp_path, wider_mini,
                                                                      models_dir, monkeypatch):
    """Ctrl-C while the model is written: no .onnx, no sidecar, no staging folder; a second
    quantize into a folder holding a model refuses to overwrite it."""
    import onnxruntime.quantization as ortq  # rfbench imports quantize_static from it lazily

    original = ortq.quantize_static

    def interrupted(model_input, model_output, *args, **kwargs):
        original(model_input, model_output, *args, **kwargs)
        Path(model_output).write_bytes(Path(model_output).read_bytes()[:100])  # half-written
        raise KeyboardInterrupt

    out = tmp_path / "q"
    args = ["quantize", "--model", models_dir / MODEL, "--runtime", "onnxruntime", "--data-root",
            wider_mini, "--subset-size", 1, "--out", out]
    monkeypatch.setattr(ortq, "quantize_static", interrupted)
    code, _, err = run_cli(capsys, *args)
    assert code == 130
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []  # an empty folder is removed
    monkeypatch.setattr(ortq, "quantize_static", original)
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    before = model_sha256(out / f"{Path(MODEL).stem}-int8.onnx")
    from rfbench.quantize.output import read_provenance

    model = out / f"{Path(MODEL).stem}-int8.onnx"
    assert read_provenance(model)["source_model"]["name"] == MODEL
    code, _, err = run_cli(capsys, *args)
    _one_line_error(code, err, "already exists")
    assert model_sha256(out / f"{Path(MODEL).stem}-int8.onnx") == before
