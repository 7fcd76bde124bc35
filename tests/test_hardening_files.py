"""Issue 11, items 6, 7, 11: truncated images, unreadable .mat / ONNX files, CSV formulas."""

from __future__ import annotations

import io
import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.decoder.preprocess import ImageReadError, read_image, truncation_problem
from rfbench.errors import RfbenchError
from rfbench.results.csvsafe import csv_text, neutralise_cell
from rfbench.wider.ground_truth import load_ground_truth, read_setting_lists

PARADE = "0--Parade/0_Parade_marchingband_1_149"


def one_line_error(capsys, argv) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


# ---- item 6: a truncated image is an unreadable image --------------------------------------

@pytest.fixture()
def parade_bytes(wider_mini) -> bytes:
    return (wider_mini / "WIDER_val" / "images" / f"{PARADE}.jpg").read_bytes()


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.05])
def test_truncated_jpeg_is_an_unreadable_image(tmp_path, parade_bytes, keep):
    path = tmp_path / "cut.jpg"
    path.write_bytes(parade_bytes[: int(len(parade_bytes) * keep)])
    if keep >= 0.5:
        assert cv2.imread(str(path)) is not None  # what OpenCV alone does: decodes part of it
    with pytest.raises(ImageReadError, match=f"{path}: truncated or corrupt image"):
        read_image(path)


def test_whole_jpeg_reads_as_cv2_imread_even_with_bytes_after_its_end(tmp_path, wider_mini, parade_bytes):
    original = wider_mini / "WIDER_val" / "images" / f"{PARADE}.jpg"
    assert np.array_equal(read_image(original), cv2.imread(str(original)))
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(parade_bytes + b"\0\0trailer")
    assert np.array_equal(read_image(padded), cv2.imread(str(original)))


def test_truncated_png_is_an_unreadable_image(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    data = cv2.imencode(".png", image)[1].tobytes()
    assert truncation_problem(data) is None
    (tmp_path / "ok.png").write_bytes(data)
    assert np.array_equal(read_image(tmp_path / "ok.png"), image)
    (tmp_path / "cut.png").write_bytes(data[:-12])
    with pytest.raises(ImageReadError, match="PNG IEND chunk missing"):
        read_image(tmp_path / "cut.png")


@pytest.mark.slow
def test_truncated_jpeg_is_warned_counted_listed_and_fatal_with_strict(capsys, caplog, tmp_path, wider_mini,
                                                                       val_gt_dir, models_dir, parade_bytes):
    root = tmp_path / "root"
    shutil.copytree(wider_mini / "wider_face_split", root / "wider_face_split")
    shutil.copytree(wider_mini / "WIDER_val", root / "WIDER_val")
    cut = root / "WIDER_val" / "images" / f"{PARADE}.jpg"
    cut.write_bytes(parade_bytes[: len(parade_bytes) * 2 // 3])
    base = ["eval", "--data-root", root, "--gt-mat-dir", val_gt_dir, "--protocol", "omz",
            "--model", models_dir / "retinaface-mnet025-640.onnx"]
    assert main([str(a) for a in [*base, "--out", tmp_path / "a"]]) == 0
    capsys.readouterr()
    assert f"{cut}: truncated or corrupt image" in caplog.text
    record = json.loads((tmp_path / "a" / "results.json").read_text())
    run = record["prediction_run"]
    assert run["images_failed"] == 1 and run["images_predicted_this_run"] == 4
    assert run["failed_images"] == [{"image": PARADE, "reason": f"{cut}: truncated or corrupt image "
                                     "(JPEG end-of-image marker missing)"}]
    err = one_line_error(capsys, [*base, "--out", tmp_path / "b", "--strict"])
    assert f"{cut}: truncated or corrupt image" in err


# ---- item 7: one-line errors naming the file -----------------------------------------------

def test_mat_smaller_than_its_header_is_a_one_line_error(capsys, tmp_path, wider_mini):
    mats = tmp_path / "mats"
    mats.mkdir()
    for setting in ("easy", "medium", "hard"):
        (mats / f"wider_{setting}_val.mat").write_bytes(b"MATLAB")
    with pytest.raises(RfbenchError, match="wider_easy_val.mat: not a WIDER ground-truth .mat file"):
        load_ground_truth(wider_mini, mat_dir=mats)
    (tmp_path / "preds" / "ev").mkdir(parents=True)
    (tmp_path / "preds" / "ev" / "a.txt").write_text("a\n0\n")
    err = one_line_error(capsys, ["eval", "--data-root", wider_mini, "--gt-mat-dir", mats,
                                  "--predictions", tmp_path / "preds", "--out", tmp_path / "o"])
    assert str(mats / "wider_easy_val.mat") in err


def test_mat_cut_anywhere_is_a_one_line_error(tmp_path):
    from test_hardening_inputs import write_setting_mats

    write_setting_mats(tmp_path / "good", "ev--E", "img", [2, 1])
    data = (tmp_path / "good" / "wider_easy_val.mat").read_bytes()
    mats = tmp_path / "cut"
    mats.mkdir()
    for size in range(0, len(data), 5):
        (mats / "wider_easy_val.mat").write_bytes(data[:size])
        with pytest.raises(RfbenchError, match=r"wider_easy_val\.mat: not a WIDER ground-truth \.mat file"):
            read_setting_lists(mats)


def onnx_with_external_data(folder, location: str):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones(4, np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    return folder / "model.onnx"


def test_profile_onnx_with_external_data_outside_its_folder_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "outside.bin").write_bytes(np.ones(4, np.float32).tobytes())
    model = onnx_with_external_data(tmp_path / "model", "../outside.bin")
    err = one_line_error(capsys, ["profile", "--model", model, "--out", tmp_path / "o"])
    assert f"{model}: not a readable ONNX model" in err and "outside" in err


# ---- item 11 (CSV part): no spreadsheet formulas in results.csv / report.csv ---------------

@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1.onnx", "'=1+1.onnx"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-", "'-"), ("-inf", "'-inf"),
        ("-1.5", "-1.5"), ("+2", "+2"), ("-3e-05", "-3e-05"), ("model.onnx", "model.onnx"), ("", ""),
        (-1.5, -1.5), (None, None), (3, 3),
    ],
)
def test_csv_cell_starting_with_formula_character_is_neutralised(cell, written):
    assert neutralise_cell(cell) == written


def test_csv_text_numbers_are_not_mangled_and_formulas_are():
    rows = [{"model": "=1+1.onnx", "ap": -0.5, "n": -3, "mixed": "-7", "=col": 1, "k": 5},
            {"model": "ok.onnx", "ap": 0.9, "n": 4, "mixed": "@x", "=col": 2, "late": "a,\"b\"", "k": 6},
            {"model": "none.onnx", "ap": float("nan"), "n": None, "k": 7, "flag": True}]
    text = csv_text(rows)
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False)  # an independent reader
    assert frame["model"].tolist() == ["'=1+1.onnx", "ok.onnx", "none.onnx"]
    assert frame["mixed"].tolist() == ["-7", "'@x", ""]
    assert list(frame.columns) == ["model", "ap", "n", "mixed", "'=col", "k", "late", "flag"]
    assert frame["late"].tolist() == ["", 'a,"b"', ""]  # quoted as RFC 4180 says, read back whole
    assert text.splitlines()[3] == "none.onnx,,,,,7,,True"  # NaN and None: empty cells
    assert rows[0]["model"] == "=1+1.onnx"  # the caller's rows are unchanged
    # byte for byte what pandas writes (results.csv of version 1 was pandas'): integers of a
    # column with an empty cell as floats, floats as repr, formulas neutralised the same way
    reference = pd.DataFrame(rows)
    for column in reference.select_dtypes(include=["object", "string"]).columns:
        reference[column] = reference[column].map(neutralise_cell)
    reference.columns = [neutralise_cell(c) for c in reference.columns]
    assert text == reference.to_csv(index=False)
    assert csv_text([{"a": 0.1 + 0.2}], ["a", "b"]) == "a,b\n0.30000000000000004,\n"


def test_results_csv_of_a_model_named_like_a_formula_is_neutralised(tmp_path):
    from rfbench.results.writer import write_results

    class FormulaRecord:  # the writer's view of a record: its JSON dict and its CSV rows
        def to_json_dict(self):
            return {"kind": "eval"}

        def csv_rows(self):
            return [{"model": "=1+1.onnx", "ap": -0.25, "setting": "easy"}]

    write_results(tmp_path, FormulaRecord())
    text = (tmp_path / "results.csv").read_text()
    assert text.splitlines()[1] == "'=1+1.onnx,-0.25,easy"
    assert json.loads((tmp_path / "results.json").read_text()) == {"kind": "eval"}


def test_report_csv_of_a_model_named_like_a_formula_is_neutralised(tmp_path, real_runs):
    import csv
    import shutil

    from rfbench.report import write_report

    out = tmp_path / "run"
    shutil.copytree(real_runs["eval"], out)  # a real model run, then renamed like a formula
    record = json.loads((out / "results.json").read_text())
    record["model"].update(name="=1+1.onnx", sha256="@SUM(1)")
    (out / "results.json").write_text(json.dumps(record))
    write_report([out], tmp_path / "report.html")
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["model"] for row in rows} == {"'=1+1.onnx"}
    assert {row["model_sha256"] for row in rows} == {"'@SUM(1)"}
    for row in rows:
        for cell in row.values():
            assert neutralise_cell(cell) == cell, cell  # nothing left that a spreadsheet would run
