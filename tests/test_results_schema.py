"""One results schema: the record definitions, ``docs/results.schema.json`` generated from them,
every results.json the commands write validating against it (checked with ``jsonschema``), and
version-1 folders (written before the definitions existed, ``tests/data/results-v1``) still read."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.errors import RfbenchError
from rfbench.report import build_entries, load_runs, write_report
from rfbench.report.tables import compare_latency, tidy_rows
from rfbench.results.kinds import RECORD_KINDS, parse_record
from rfbench.results.record import SCHEMA_VERSION
from rfbench.results.schema import DEFAULT_PATH, results_json_schema, schema_text
from rfbench.results.schema import main as schema_main

V1 = Path(__file__).parent / "data" / "results-v1"
V1_FOLDERS = sorted(p.name for p in V1.iterdir() if p.is_dir())
MODEL = "retinaface-mnet025-640.onnx"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(validator, path: Path) -> dict:
    record = json.loads(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in validator.iter_errors(record)]
    assert not errors, errors
    return record


# -- the schema file ----------------------------------------------------------------------------

def test_committed_schema_is_generated_from_the_definitions(tmp_path):
    assert DEFAULT_PATH.read_text(encoding="utf-8") == schema_text(), (
        "docs/results.schema.json is stale: run python -m rfbench.results.schema")
    assert schema_main(["--check"]) == 0
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n")
    assert schema_main(["--check", str(stale)]) == 1 and stale.read_text() == "{}\n"
    assert schema_main([str(stale)]) == 0 and stale.read_text() == schema_text()


def test_schema_has_one_branch_per_registered_kind():
    schema = results_json_schema()
    branches = [schema["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in schema["oneOf"]]
    assert [b["properties"]["kind"]["const"] for b in branches] == list(RECORD_KINDS)
    for branch in branches:
        assert branch["additionalProperties"] is False
        assert branch["properties"]["schema_version"]["enum"] == [1, 2]
        assert {"schema_version", "kind", "environment", "created_utc"} <= set(branch["required"])


# -- version 1 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", V1_FOLDERS)
def test_v1_records_validate_and_round_trip_exactly(validator, folder):
    """The definitions hold exactly the fields version 1 wrote: same keys, order and values."""
    path = V1 / folder / "results.json"
    raw = assert_valid(validator, path)
    assert raw["schema_version"] == 1
    record = parse_record(copy.deepcopy(raw), str(path))
    assert json.dumps(record.to_json_dict()) == json.dumps(raw)


@pytest.mark.parametrize("folder", V1_FOLDERS)
def test_csv_rows_from_the_definitions_equal_version_1_results_csv(folder, tmp_path):
    """results.csv is derived from the record: byte for byte what version 1 wrote beside it."""
    from rfbench.results.writer import read_results, write_results

    record = read_results(V1 / folder)
    write_results(tmp_path, record)
    written = (tmp_path / "results.csv").read_bytes()
    if record.kind == "latency":  # issue 12: latency rows lead with what identifies the run
        import pandas as pd

        frame = pd.read_csv(tmp_path / "results.csv", dtype=str, keep_default_na=False)
        assert list(frame.columns[:3]) == ["model", "model_sha256", "input_shape"]
        assert set(frame["model_sha256"]) == {record.model_sha256}
        written = frame.drop(columns=["model", "model_sha256", "input_shape"]).to_csv(
            index=False, lineterminator="\r\n" if b"\r\n" in written else "\n").encode()
    assert written == (V1 / folder / "results.csv").read_bytes()


def test_report_tables_read_version_1_folders():
    runs = load_runs([V1 / name for name in V1_FOLDERS])
    entries = build_entries(runs)
    assert [e.kind for e in entries] == ["eval", "eval", "latency", "latency", "latency", "profile"]
    rows = tidy_rows(entries, {})
    ev = json.loads((V1 / "eval-model" / "results.json").read_text())
    aps = [r["value"] for r in rows if r["result_dir"] == str(V1 / "eval-model") and r["metric"] == "ap"]
    assert aps == [m["ap"] for m in ev["metrics"]]
    lat = json.loads((V1 / "latency" / "results.json").read_text())
    compared = compare_latency([e for e in entries if e.run.path == V1 / "latency"], entries[2])
    assert compared.rows[1].ratios["latency_p50_ms"] == pytest.approx(
        lat["comparison"][0]["latency_p50_ratio"], rel=1e-12)


@pytest.mark.slow
def test_report_page_reads_version_1_folders(tmp_path):
    out = write_report([V1 / name for name in V1_FOLDERS], tmp_path / "v1.html")
    text = out.read_text(encoding="utf-8")
    for section in ("accuracy", "latency", "complexity", "comparison"):
        assert f'<section id="{section}">' in text
    ev = json.loads((V1 / "eval-model" / "results.json").read_text())
    for metric in ev["metrics"]:
        assert f"{metric['ap'] * 100:.2f}" in text
    table = pd.read_csv(out.with_suffix(".csv"))
    lat = json.loads((V1 / "latency" / "results.json").read_text())
    rows = table[(table.result_dir == str(V1 / "latency")) & (table.metric == "latency_p50_ms")]
    assert sorted(rows.value) == sorted(run["latency_p50_ms"] for run in lat["runs"])
    prof = json.loads((V1 / "profile" / "results.json").read_text())
    gflops = table[(table.kind == "profile") & (table.metric == "gflops_omz")]
    assert gflops.value.item() == pytest.approx(prof["gflops_omz"], rel=1e-12)


# -- what the reader refuses --------------------------------------------------------------------

def _edited(folder: str, edit) -> dict:
    record = json.loads((V1 / folder / "results.json").read_text())
    edit(record)
    return record


@pytest.mark.parametrize(
    ("folder", "edit", "message"),
    [
        ("eval-model", lambda r: r["metrics"][0].update(ap="0.9"), "metrics.0.ap"),
        ("eval-model", lambda r: r.pop("dataset"), "dataset: Field required"),
        ("latency", lambda r: r["runs"][0].update(iterations=10.5), "runs.0.iterations"),
        ("profile", lambda r: r.update(gflops=1.0), "gflops: Extra inputs are not permitted"),
        ("profile", lambda r: r.update(kind="train"), "unknown results kind 'train'"),
        ("profile", lambda r: r.update(schema_version=3), "schema version 3, this rfbench reads 1 and 2"),
    ],
)
def test_bad_records_are_refused_by_both_definitions_and_schema(validator, tmp_path, folder, edit, message):
    record = _edited(folder, edit)
    assert not validator.is_valid(record)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text(json.dumps(record))
    with pytest.raises(RfbenchError, match=re.escape(message)) as info:
        load_runs([bad])
    assert str(bad / "results.json") in str(info.value) and "\n" not in str(info.value)


# -- what the commands write --------------------------------------------------------------------

@pytest.fixture()
def gt_predictions(tmp_path, wider_mini, val_gt_dir) -> Path:
    """The five mini images' GT boxes as prediction files, with distinct scores."""
    from rfbench.wider.ground_truth import load_ground_truth
    from rfbench.wider.predictions import write_prediction_file

    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    rng = np.random.default_rng(3)
    for image_id, boxes in zip(gt.image_ids, gt.boxes_xywh):
        write_prediction_file(tmp_path / "preds", image_id, np.c_[boxes, rng.random(len(boxes))])
    return tmp_path / "preds"


@pytest.mark.slow  # ~3 s: the command also renders its report
def test_eval_of_prediction_files_writes_a_valid_record(validator, tmp_path, wider_mini, val_gt_dir,
                                                         gt_predictions):
    out = tmp_path / "eval"
    assert main(["-q", "eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--predictions", str(gt_predictions), "--out", str(out)]) == 0
    record = assert_valid(validator, out / "results.json")
    assert record["schema_version"] == SCHEMA_VERSION == 2
    assert "model" not in record and record["predictions"]["source"] == "files"
    # the same scoring, recorded by version 1 before the definitions: identical accuracy fields
    old = json.loads((V1 / "eval-predictions" / "results.json").read_text())
    for key in ("metrics", "protocols", "protocol_params"):
        assert record[key] == old[key], key
    assert list(record) == list(old)


@pytest.mark.slow
def test_profile_writes_a_valid_record_equal_to_version_1(validator, tmp_path, models_dir):
    out = tmp_path / "prof"
    assert main(["-q", "profile", "--model", str(models_dir / MODEL), "--out", str(out)]) == 0
    record = assert_valid(validator, out / "results.json")
    old = json.loads((V1 / "profile" / "results.json").read_text())
    volatile = {"schema_version", "created_utc", "command_line", "environment", "model_path"}
    assert list(record) == list(old)
    assert {k: v for k, v in record.items() if k not in volatile} == {
        k: v for k, v in old.items() if k not in volatile}
    assert record["schema_version"] == 2 and old["schema_version"] == 1


@pytest.mark.slow
def test_model_eval_and_latency_write_valid_records(validator, tmp_path, wider_mini, val_gt_dir,
                                                    models_dir):
    model = str(models_dir / MODEL)
    assert main(["-q", "eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--model", model, "--runtime", "onnxruntime", "--out", str(tmp_path / "ev")]) == 0
    record = assert_valid(validator, tmp_path / "ev" / "results.json")
    old = json.loads((V1 / "eval-model" / "results.json").read_text())
    assert list(record) == list(old) and record["metrics"] == old["metrics"]  # same APs
    assert record["model"] == {**old["model"], "path": model}
    # a loaded machine may judge a short run not valid (exit 1): that record must validate too
    code = main(["-q", "latency", "--model", model, "--runtime", "all", "--time", "0.1",
                 "--iterations", "5", "--warmup", "1", "--per-layer", "--out", str(tmp_path / "lat")])
    assert code in (0, 1)
    record = assert_valid(validator, tmp_path / "lat" / "results.json")
    assert [run["runtime"] for run in record["runs"]] == ["openvino", "onnxruntime"]
    assert record["layers_file"] == "layers.csv" and set(record["layers_top"]) == {"openvino", "onnxruntime"}
    old = json.loads((V1 / "latency" / "results.json").read_text())
    assert list(record["runs"][0]) == list(old["runs"][0])


def test_v1_copy_with_version_2_reads_the_same(tmp_path):
    """Only the version differs between 1 and 2: a v1 folder relabelled 2 makes the same page."""
    relabelled = tmp_path / "v2" / "profile"
    shutil.copytree(V1 / "profile", relabelled)
    record = json.loads((relabelled / "results.json").read_text())
    record["schema_version"] = 2
    (relabelled / "results.json").write_text(json.dumps(record))
    pages = []
    for folder in (V1 / "profile", relabelled):
        text = write_report([folder], tmp_path / f"{folder.parent.name}.html").read_text()
        pages.append(re.sub(r"Generated [^<]* by", "", text).replace(str(folder), "F"))
    assert pages[0] == pages[1]


# -- quantize and sweep -------------------------------------------------------------------------

@pytest.mark.slow  # ~15 s: ONNX Runtime calibrates and quantizes the 640 MobileNet
def test_quantize_writes_a_valid_record_and_sidecar(validator, tmp_path, wider_mini, models_dir):
    from rfbench.quantize.output import read_provenance
    from rfbench.results.quantize_record import Provenance, QuantizeRecord
    from rfbench.results.writer import read_results

    out = tmp_path / "q"
    assert main(["-q", "quantize", "--model", str(models_dir / MODEL), "--runtime", "onnxruntime",
                 "--data-root", str(wider_mini), "--subset-size", "2", "--out", str(out)]) == 0
    record = assert_valid(validator, out / "results.json")
    assert record["kind"] == "quantize" and record["schema_version"] == SCHEMA_VERSION
    assert record["accuracy_control"] is None and record["calibration"]["num_images"] == 2
    model = out / record["quantized_model"]["name"]
    sidecar = json.loads(model.with_suffix(".quantize.json").read_text())
    assert Provenance.model_validate(sidecar).model_dump(mode="json", exclude_unset=True) == sidecar
    assert read_provenance(model) == sidecar
    for key in ("source_model", "calibration", "preprocessing", "timings"):
        assert record[key] == sidecar[key], key
    back = read_results(out)
    assert isinstance(back, QuantizeRecord) and back.to_json_dict() == record
    (row,) = pd.read_csv(out / "results.csv").to_dict("records")
    assert row["quantized_model_sha256"] == record["quantized_model"]["sha256"]
    assert row["calibration_images"] == 2 and row["tool"] == "onnxruntime"
    assert row["compute_ops_int8"] == record["precision"]["compute_ops_int8"] > 0


def _sweep_entries(tmp_path: Path) -> list[dict]:
    """Cell entries as ``run_sweep`` makes them: two measured, one skipped."""
    from rfbench.sweep.matrix import Cell

    def cell(runtime, precision, **fields):
        c = Cell(tmp_path / "m.onnx", runtime, precision)
        return {"key": c.key, "model": str(c.model), "runtime": runtime, "precision": precision,
                "baseline": c.baseline.key, **fields}

    load = {"wall_s": 1.0, "own_cpu_cores": 1.0, "machine_busy_cores": 1.5,
            "other_busy_cores": 0.5, "steal_cores": 0.0, "cpu_count_usable": 2,
            "loadavg_before": [1.0, 1.0, 1.0], "loadavg_after": [1.0, 1.0, 1.0],
            "method": "test"}
    done = {"status": "done", "reason": None, "latency_valid": True,
            "latency_invalid_reason": None, "other_busy_cores": load["other_busy_cores"]}
    return [
        cell("openvino", "f32", model_run=str(tmp_path / "m.onnx"), model_size_bytes=1000,
             quantized_by_rfbench=False, aps={"omz/64px": 0.9, "wider/easy": 0.8},
             latency_p50_ms=10.0, latency_min_ms=9.0, throughput_fps=100.0, **done),
        cell("openvino", "int8", model_run=str(tmp_path / "m-int8.xml"), model_size_bytes=300,
             quantized_by_rfbench=True, aps={"omz/64px": 0.88, "wider/easy": None},
             latency_p50_ms=4.0, latency_min_ms=3.5, throughput_fps=250.0,
             **{**done, "latency_valid": False, "latency_invalid_reason": "3 inferences < 20"}),
        cell("onnxruntime", "bf16", status="skipped", reason="no bf16 on ORT's CPU provider"),
    ]


def test_sweep_record_from_its_builder_validates(validator, tmp_path):
    from rfbench.results.sweep_record import SweepRecord
    from rfbench.results.writer import read_results
    from rfbench.sweep.options import SweepOptions
    from rfbench.sweep.run import entries_record

    out = tmp_path / "sweep"
    out.mkdir()
    options = SweepOptions(cells=(), out=out, data_root=tmp_path, protocol="all",
                           latency_time_s=2.0, latency_iterations=50, latency_min_time_s=1.0,
                           latency_min_iterations=20)
    record = entries_record(_sweep_entries(tmp_path), options)
    raw = assert_valid(validator, out / "results.json")
    assert raw["kind"] == "sweep" and raw["complete"] is True
    assert raw["settings"]["latency_budget_time_s"] == 2.0
    assert raw["settings"]["latency_budget_iterations"] == 50
    assert raw["settings"]["latency_min_iterations"] == 20
    assert [c["key"] for c in raw["skipped"]] == ["m--onnxruntime--bf16"]
    assert "aps" not in raw["skipped"][0]  # not reached: absent, not null
    back = read_results(out)
    assert isinstance(back, SweepRecord) and back.to_json_dict() == record.to_json_dict() == raw
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == 4 and list(csv.columns) == list(raw["tradeoff"][0])
    int8 = csv[(csv.cell == "m--openvino--int8") & (csv.setting == "omz/64px")].iloc[0]
    assert int8.delta_ap_points == pytest.approx(-2.0) and int8.speedup_vs_f32 == pytest.approx(2.5)
    assert not int8.latency_valid


@pytest.mark.slow  # ~10 s: eval of 5 images and a short interleaved latency, two cells
def test_sweep_writes_valid_records(validator, tmp_path, wider_mini, models_dir):
    out = tmp_path / "sweep"
    assert main(["-q", "sweep", "--model", str(models_dir / MODEL), "--runtime",
                 "openvino,onnxruntime", "--precision", "f32,bf16", "--protocol", "omz",
                 "--data-root", str(wider_mini), "--iterations", "3",
                 "--min-time", "0", "--min-iterations", "3", "--out", str(out)]) == 0
    record = assert_valid(validator, out / "results.json")
    assert {c["status"] for c in record["cells"]} == {"done", "skipped"}
    for cell in record["cells"]:
        if cell["status"] == "done":
            assert_valid(validator, out / "cells" / cell["key"] / "eval" / "results.json")
            assert cell["latency_valid"] is True
