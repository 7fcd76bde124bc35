"""``rfbench eval --predictions``: end to end on real WIDER images' GT, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.wider.ground_truth import load_ground_truth
from rfbench.wider.predictions import write_prediction_file


@pytest.fixture()
def perfect_predictions(tmp_path, wider_mini, val_gt_dir):
    """GT boxes of the five mini images as predictions, with distinct scores."""
    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    pred_dir = tmp_path / "preds"
    rng = np.random.default_rng(3)
    for image_id, boxes in zip(gt.image_ids, gt.boxes_xywh):
        write_prediction_file(pred_dir, image_id, np.c_[boxes, rng.random(len(boxes))])
    return pred_dir


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_scores_prediction_folder_and_writes_results(capsys, tmp_path, wider_mini, val_gt_dir,
                                                          perfect_predictions):
    out_dir = tmp_path / "out"
    code, out, _ = run_cli(capsys, "eval", "--dataset", "wider", "--data-root", str(wider_mini),
                           "--gt-mat-dir", str(val_gt_dir), "--predictions", str(perfect_predictions),
                           "--out", str(out_dir))
    assert code == 0
    assert "omz" in out and "hard" in out and "5 images evaluated" in out
    record = json.loads((out_dir / "results.json").read_text())
    metrics = {(m["protocol"], m["setting"]): m for m in record["metrics"]}
    assert set(metrics) == {("wider", "easy"), ("wider", "medium"), ("wider", "hard"), ("omz", "64px")}
    assert metrics[("omz", "64px")]["num_faces"] == 43  # fixtures README: 43 faces of 64..1024 px
    assert metrics[("wider", "hard")]["num_faces"] == 166
    assert all(isinstance(m["ap"], float) for m in metrics.values())
    assert metrics[("omz", "64px")]["ap"] == pytest.approx(1.0)
    assert record["dataset"]["num_images_evaluated"] == 5
    assert record["rfbench_version"] and record["kind"] == "eval"
    assert len(record["pr_curves"]["wider/easy"]["recall"]) == 1000
    table = pd.read_csv(out_dir / "results.csv")
    assert len(table) == 4
    assert (out_dir / "report.html").is_file() and "wider/hard" in (out_dir / "report.html").read_text()
    assert table.set_index(["protocol", "setting"]).loc[("wider", "hard"), "ap"] == pytest.approx(
        metrics[("wider", "hard")]["ap"])


def test_eval_omz_only_needs_no_mat(capsys, tmp_path, wider_mini, perfect_predictions):
    code, out, _ = run_cli(capsys, "eval", "--data-root", str(wider_mini), "--protocol", "omz",
                           "--predictions", str(perfect_predictions), "--out", str(tmp_path / "o"))
    assert code == 0 and "64px" in out and "easy" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data-root", "{tmp}/absent", "--predictions", "{tmp}"], "data root not found"),
        (["--data-root", "{mini}", "--predictions", "{tmp}/absent", "--protocol", "omz"], "predictions folder not found"),
        (["--data-root", "{mini}", "--predictions", "{tmp}/none", "--protocol", "omz"], "no prediction files"),
        (["--data-root", "{mini}", "--predictions", "{tmp}/none", "--protocol", "wider"], "wider_easy_val.mat"),  # issue 12: only wider alone needs the .mat
        (["--data-root", "{mini}", "--predictions", "{tmp}/bad", "--protocol", "omz"], "0_Parade_marchingband_1_149.txt:3:"),
    ],
)
def test_eval_bad_input_is_one_line_and_nonzero(capsys, tmp_path, wider_mini, args, message):
    (tmp_path / "none").mkdir()
    (tmp_path / "bad" / "0--Parade").mkdir(parents=True)
    (tmp_path / "bad" / "0--Parade" / "0_Parade_marchingband_1_149.txt").write_text("x\n1\n1 2 3\n")
    argv = [a.format(tmp=tmp_path, mini=wider_mini) for a in args]
    code, out, err = run_cli(capsys, "eval", *argv, "--out", str(tmp_path / "o"))
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
