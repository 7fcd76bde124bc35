"""What the commands print: the header from the record, the recipe line, --json, one input-size
option, one precision policy, CSV identity columns, one-line errors, no empty output folders.

Real runs come from ``real_runs`` (conftest.py: the 640 fixture model on ONNX Runtime); the
expected values are computed here independently (hashlib, the runtime's own version, the
spec's recipe wording)."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from rfbench.cli import build_parser, main
from rfbench.commands.header import eval_header, latency_header, profile_header
from rfbench.decoder.postprocess import get_preset
from rfbench.decoder.recipe import layout_recipe_line
from rfbench.errors import RfbenchError
from rfbench.results.writer import read_results


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fields(header: str) -> dict[str, str]:
    """``label: value`` lines of a header as a dict."""
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in header.splitlines())}


# -- item 4: the recipe line -----------------------------------------------------------------------

def test_recipe_line_states_the_omz_recipe_of_each_layout():
    """Wording of the issue; settings as shared/spec/decoding.md gives OMZ's two recipes."""
    assert layout_recipe_line(get_preset("omz", "A")) == (
        "omz recipe for layout A: per-stride NMS at 0.5, no score threshold")
    assert layout_recipe_line(get_preset("omz", "B")) == (
        "omz recipe for layout B: score > 0.02, top 750, one NMS at 0.4")
    # insightface's recipe is the same for both layouts: no layout line
    assert layout_recipe_line(get_preset("insightface", "A")) is None
    assert layout_recipe_line(get_preset("insightface", "B")) is None


# -- item 3: headers from the records ----------------------------------------------------------------

def test_eval_header_says_what_was_measured(real_runs, models_dir):
    import onnxruntime

    model = models_dir / "retinaface-mnet025-640.onnx"
    header = _fields(eval_header(read_results(real_runs["eval"])))
    assert header["model"] == f"{model.name} (sha256 {_sha256(model)[:12]})"
    assert header["runtime"] == f"onnxruntime {onnxruntime.__version__}"
    assert header["device"].startswith("CPU")
    assert header["precision"] == "f32"
    assert header["input"] == "input0 1x3x640x640 NCHW"
    assert header["output layout"] == "B"
    assert header["preset"] == "omz recipe for layout B: score > 0.02, top 750, one NMS at 0.4"
    assert header["protocols"] == "wider, omz"
    assert header["images"].startswith("5 of wider_face_val_bbx_gt.txt")
    assert int(header["threads/streams"].split(" / ")[0]) >= 1


def test_latency_header_and_csv_identify_the_run(real_runs, models_dir):
    import onnxruntime

    model = models_dir / "retinaface-mnet025-640.onnx"
    record = read_results(real_runs["lat"])
    header = _fields(latency_header(record))
    assert header["model"] == f"{model.name} (sha256 {_sha256(model)[:12]})"
    assert header["runtime"] == f"onnxruntime {onnxruntime.__version__}"
    assert header["precision"] == "f32 (requested: f32)"  # the one precision policy: f32
    assert header["input"] == "input0 1x3x640x640 float32"
    assert header["mode"] == "latency (sync, 1 request), batch 1"
    assert "None" not in latency_header(record)
    (row,) = record.csv_rows()
    assert (row["model"], row["model_sha256"], row["input_shape"]) == (
        model.name, _sha256(model), "1x3x640x640")
    csv_header = (real_runs["lat"] / "results.csv").read_text().splitlines()[0].split(",")
    assert csv_header[:4] == ["model", "model_sha256", "input_shape", "runtime"]
    assert {"latency_p50_ms", "throughput_fps", "batch", "other_busy_cores"} <= set(csv_header)


def test_profile_header_and_table_have_no_none(real_runs, models_dir):
    from rfbench.commands.profile_cmd import format_table

    record = read_results(real_runs["prof"])
    header = _fields(profile_header(record))
    model = models_dir / "retinaface-mnet025-640.onnx"
    assert header["model"] == f"{model.name} (sha256 {_sha256(model)[:12]})"
    assert header["input"] == "input0 1x3x640x640"
    assert "None" not in format_table(record)
    assert "dynamic input" in profile_header(record, dynamic_input=True)


def test_latency_table_cells_never_say_none():
    from rfbench.latency.table import _cell, layers_text

    run = {"mode": "latency", "effective": {"threads": 2, "streams": None, "batch": None}}
    assert _cell(run, "_tsr", "s") == "2 / - / 1"
    assert _cell(run, "_batch", "s") == "-"
    assert "None" not in layers_text("onnxruntime", [{"name": "conv", "type": None,
                                                       "exec_type": None, "time_ms": 1.0}])


# -- item 11: OMZ-style data root, --json, -v after the sub-command ------------------------------------

def test_eval_on_an_omz_style_root_scores_omz_and_says_why_not_wider(
        real_runs, wider_mini, tmp_path, capsys):
    """wider-mini has images + wider_face_split/ only; scoring the real run's predictions there
    gives the omz AP of the full run (which had the .mat lists) and a one-line note."""
    full = json.loads((real_runs["eval"] / "results.json").read_text())
    preds = real_runs["eval"] / "predictions"
    assert main(["eval", "-v", "--data-root", str(wider_mini), "--predictions", str(preds),
                 "--out", str(tmp_path / "omz")]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if "official WIDER protocol skipped" in line]
    assert len(notes) == 1 and "wider_easy_val.mat" in notes[0] and "--gt-mat-dir" in notes[0]
    record = json.loads((tmp_path / "omz" / "results.json").read_text())
    assert list(record["protocols"]) == ["omz"]
    (omz,) = [m for m in full["metrics"] if m["protocol"] == "omz"]
    assert record["metrics"][0]["ap"] == omz["ap"]
    # asking for the official protocol alone is still an error naming the files
    assert main(["eval", "--data-root", str(wider_mini), "--predictions", str(preds),
                 "--protocol", "wider", "--out", str(tmp_path / "wider")]) == 2
    assert "wider_easy_val.mat" in capsys.readouterr().err
    assert not (tmp_path / "wider").exists()  # the failed run left no empty folder


def test_eval_json_prints_only_the_record(real_runs, wider_mini, val_gt_dir, tmp_path, capsys):
    preds = real_runs["eval"] / "predictions"
    assert main(["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--predictions", str(preds), "--json", "--out", str(tmp_path / "j")]) == 0
    printed = json.loads(capsys.readouterr().out)  # nothing but the record on stdout
    assert printed == json.loads((tmp_path / "j" / "results.json").read_text())


def test_verbose_and_quiet_after_the_sub_command():
    args = build_parser().parse_args(["latency", "-v", "-v"])
    assert args.sub_verbose == 2
    args = build_parser().parse_args(["-v", "eval", "-q", "--predictions", "p"])
    assert args.verbose == 1 and args.sub_quiet is True


@pytest.mark.parametrize("command", ["eval", "latency"])
def test_provider_as_device_hints_at_the_runtime(command, models_dir, wider_mini, tmp_path, capsys):
    model = str(models_dir / "retinaface-mnet025-640.onnx")
    extra = ["--data-root", str(wider_mini)] if command == "eval" else []
    out = tmp_path / "new" / "run"
    assert main([command, "--model", model, "--device", "CPUExecutionProvider", *extra,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--runtime onnxruntime" in err[0]
    assert not (tmp_path / "new").exists()


# -- items 5 and 7: one precision policy, one input-size option -----------------------------------------

def test_eval_and_latency_share_the_precision_default():
    from rfbench.commands.options import precision_value

    parser = build_parser()
    ev = parser.parse_args(["eval", "--model", "m.onnx"])
    lat = parser.parse_args(["latency"])
    assert ev.precision == lat.precision == "f32"
    assert precision_value(parser.parse_args(["latency", "--precision", "default"]).precision) is None
    for command in ("eval", "latency", "profile"):
        args = parser.parse_args([command, "--input-size", "320x240"]
                                 + (["--model", "m.onnx"] if command == "eval" else []))
        assert args.input_size == "320x240"


def _latency_args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"input_size": None, "input_shape": None, **kw})


def test_latency_input_size_maps_to_the_input_shape(models_dir):
    from rfbench.commands.latency_options import input_shape_for

    dynamic = models_dir / "retinaface-mnet025-dynamic.onnx"
    static = models_dir / "retinaface-mnet025-640.onnx"
    assert input_shape_for(_latency_args(input_size="320x240"), dynamic) == (1, 3, 240, 320)
    assert input_shape_for(_latency_args(), dynamic) == (1, 3, 640, 640)  # as eval and profile
    assert input_shape_for(_latency_args(), static) is None
    assert input_shape_for(_latency_args(input_shape=(1, 3, 160, 160)), dynamic) == (1, 3, 160, 160)
    with pytest.raises(RfbenchError, match="--input-size 320x240 does not fit"):
        input_shape_for(_latency_args(input_size="320x240"), static)
    with pytest.raises(RfbenchError, match="^--input-size '320': expected WIDTHxHEIGHT"):
        input_shape_for(_latency_args(input_size="320"), dynamic)


# -- item 8: --batch on a model with a fixed batch ------------------------------------------------------

def test_batch_on_a_graph_that_fixes_it_is_one_line(models_dir, tmp_path, capsys):
    model = models_dir / "retinaface-mnet025-640.onnx"
    out = tmp_path / "b2"
    assert main(["latency", "--model", str(model), "--batch", "2", "--iterations", "2",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "--batch 2" in err[0] and model.name in err[0] and "Concat" in err[0]
    assert "tmp" not in err[0] and "Conversion" not in err[0] and len(err[0]) < 300
    assert not out.exists()


def _tiny_conv_onnx(path: Path) -> Path:
    """A 1x3x8x8 -> 1x4x8x8 conv with a static batch of 1 (re-batchable)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_openvino_ir_is_reshaped_by_openvino(tmp_path):
    import openvino as ov

    from rfbench.models.files import read_input_shapes
    from rfbench.models.rebatch import model_for_batch

    xml = tmp_path / "tiny.xml"
    ov.save_model(ov.convert_model(str(_tiny_conv_onnx(tmp_path / "tiny.onnx"))), str(xml))
    work = tmp_path / "work"
    work.mkdir()
    path, shape = model_for_batch(xml, 3, None, lambda: work)
    assert shape is None and path.suffix == ".xml" and path.parent == work
    assert list(read_input_shapes(path).values()) == [(3, 3, 8, 8)]
    onnx_path, _ = model_for_batch(tmp_path / "tiny.onnx", 3, None, lambda: work)
    assert list(read_input_shapes(onnx_path).values()) == [(3, 3, 8, 8)]


@pytest.mark.slow
def test_openvino_ir_with_a_fixed_batch_is_one_line(models_dir, tmp_path):
    import openvino as ov

    from rfbench.models.rebatch import model_for_batch

    xml = tmp_path / "m.xml"
    ov.save_model(ov.convert_model(str(models_dir / "retinaface-mnet025-640.onnx")), str(xml))
    with pytest.raises(RfbenchError) as info:
        model_for_batch(xml, 2, None, lambda: tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.startswith("--batch 2: m.xml") and "Concat" in message


# -- item 5 (report): pairs of different precision or input size say so -----------------------------------

def test_pairs_say_when_precision_or_input_differ(real_runs, tmp_path):
    from rfbench.report.pairing import pair_accuracy_latency
    from rfbench.report.runs import build_entries, load_runs

    lat = tmp_path / "lat"
    shutil.copytree(real_runs["lat"], lat)
    record = json.loads((lat / "results.json").read_text())
    run = record["runs"][0]
    run["precision_effective"] = "bf16"
    run["effective"]["precision"] = "bf16"
    run["inputs"][0]["shape"] = [1, 3, 320, 320]
    (lat / "results.json").write_text(json.dumps(record))
    pairs, _ = pair_accuracy_latency(build_entries(load_runs([real_runs["eval"], lat])))
    (pair,) = pairs
    assert "accuracy measured at f32, latency at bf16" in pair.notes
    assert "accuracy measured at input 640x640, latency at 320x320" in pair.notes
    same, _ = pair_accuracy_latency(build_entries(load_runs([real_runs["eval"], real_runs["lat"]])))
    assert same[0].notes == []


def test_report_accuracy_section_states_the_recipe(real_runs, tmp_path):
    from rfbench.report import write_report

    html = write_report([real_runs["eval"]], tmp_path / "r.html").read_text()
    assert "omz recipe for layout B: score &gt; 0.02, top 750, one NMS at 0.4" in html


def test_eval_header_says_a_dynamic_input_ran_at_the_default_size(real_runs):
    from rfbench.results.eval_record import EvalRecord

    raw = json.loads((real_runs["eval"] / "results.json").read_text())
    raw["model"]["input_dynamic"] = True
    raw["runtime"]["requested"]["precision"] = None
    header = _fields(eval_header(EvalRecord.model_validate(raw)))
    assert header["input"] == ("input0 1x3x640x640 NCHW, dynamic input run at 640x640 "
                               "(--input-size WxH)")
    assert header["precision"] == "f32 (the runtime's default)"


@pytest.mark.slow
def test_latency_json_and_input_size_on_a_dynamic_model(models_dir, tmp_path, capsys):
    model = models_dir / "retinaface-mnet025-dynamic.onnx"
    out = tmp_path / "dyn"
    code = main(["latency", "--model", str(model), "--runtime", "onnxruntime", "--input-size",
                 "320x240", "--iterations", "3", "--min-time", "0", "--min-iterations", "3",
                 "--warmup", "0", "--json", "--out", str(out)])
    printed = json.loads(capsys.readouterr().out)  # nothing but the record on stdout
    assert code == 0 and printed == json.loads((out / "results.json").read_text())
    assert printed["settings"]["input_shape"] == [1, 3, 240, 320]
    assert printed["runs"][0]["inputs"][0]["shape"] == [1, 3, 240, 320]
    assert printed["settings"]["precision"] == "f32"
    row = (out / "results.csv").read_text().splitlines()[1].split(",")
    assert row[:3] == [model.name, _sha256(model), "1x3x240x320"]
