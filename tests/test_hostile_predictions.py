"""Hostile prediction folders (issue 25): NaN/inf numbers, counts that lie, bytes that are not
text are one line naming file and line; negative, inverted, zero-size and huge boxes, extreme
scores and duplicate names are legitimate files and score correctly (AP checked against a
second, tamed copy of the same ranking, since AP depends only on the score order and the boxes).
Existing cases not repeated here: BOM / CRLF, Python literal syntax, negative widths counted
(test_hardening_inputs.py), malformed lines (test_predictions.py)."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli

from rfbench.evaluation import evaluate_official, evaluate_omz
from rfbench.wider.ground_truth import WiderGroundTruth, load_ground_truth
from rfbench.wider.predictions import read_predictions

PARADE = "0--Parade/0_Parade_marchingband_1_149"


def _write(pred_dir, image_id: str, body: bytes | str) -> None:
    path = pred_dir / f"{image_id}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = body.encode() if isinstance(body, str) else body
    path.write_bytes(image_id.split("/")[1].encode() + b"\n" + data)


@pytest.mark.parametrize(("body", "where", "says"), [
    ("3\n10 10 nan 50 0.9\n", ":2:", "count says 3"),  # nan is not a number line: 1 of 3 lines
    ("1\n10 10 50 50 nan\n", ":3:", "plain decimal"),
    ("1\n10 10 inf 50 0.9\n", ":3:", "plain decimal"),
    ("1\n-inf 10 50 50 0.9\n", ":3:", "plain decimal"),
    ("5\n10 10 50 50 0.9\n", ":2:", "count says 5"),
    ("1\n10 10 50 50 0.9\n11 11 50 50 0.8\n", ":2:", "count says 1"),
    ("-1\n", ":2:", "number of boxes"),
    ("99999999999\n10 10 50 50 0.9\n", ":2:", "count says 99999999999"),
    (b"1\n10 10 50 50 0.9 \xff\xfe\n", ": cannot read", "not UTF-8"),
    (bytes(range(256)) * 4, ": cannot read", "not UTF-8"),
], ids=["nan-width", "nan-score", "inf-width", "minus-inf-x", "count-over", "count-under",
        "count-negative", "count-huge", "non-utf8-byte", "binary"])
def test_bad_prediction_file_is_one_line_naming_file_and_line(capsys, tmp_path, wider_mini, body,
                                                              where, says):
    preds = tmp_path / "p"
    _write(preds, PARADE, body)
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz",
                           "--predictions", preds, "--out", tmp_path / "o")
    line = one_line_error(err)
    assert code == 2 and f"{PARADE}.txt{where}" in line and says in line, line
    assert not (tmp_path / "o").exists()  # the folder it made is removed again


def _gt(wider_mini):
    return load_ground_truth(wider_mini)


def _ap(gt: WiderGroundTruth, predictions: dict[str, np.ndarray]) -> float:
    return evaluate_omz(gt, predictions).ap


@pytest.mark.parametrize("kind", ["huge-scores", "negative-scores", "tied-scores-above-1"])
def test_extreme_scores_give_the_ap_of_the_same_ranking(tmp_path, wider_mini, kind):
    gt = _gt(wider_mini)
    rng = np.random.default_rng(3)
    tame = {i: np.c_[b + rng.normal(0, 2, b.shape), rng.random(len(b))]
            for i, b in zip(gt.image_ids, gt.boxes_xywh)}
    wild = {i: p.copy() for i, p in tame.items()}
    for rows in wild.values():
        if kind == "huge-scores":
            rows[:, 4] = 10.0 ** (rows[:, 4] * 300)  # up to 1e300, same order
        elif kind == "negative-scores":
            rows[:, 4] = rows[:, 4] - 7.0
        else:
            rows[:, 4] = rows[:, 4] * 1000 + 5
    preds = tmp_path / "p"
    for image_id, rows in wild.items():
        _write(preds, image_id, f"{len(rows)}\n" + "".join(
            " ".join(repr(float(v)) for v in row) + "\n" for row in rows))
    read, missing = read_predictions(preds, gt.image_ids)
    assert not missing
    assert _ap(gt, read) == pytest.approx(_ap(gt, tame), abs=1e-12)
    assert _ap(gt, tame) > 0.5


@pytest.mark.parametrize("box", [[-100.0, -50.0, 40.0, 40.0], [100.0, 100.0, -40.0, -40.0],
                                 [10.0, 10.0, 0.0, 0.0], [1e30, 1e30, 1e30, 1e30],
                                 [-1e30, -1e30, 2e30, 2e30]],
                         ids=["off-picture", "inverted", "zero-size", "huge", "covers-all"])
def test_odd_boxes_are_scored_as_false_positives_beside_a_real_hit(box):
    """One GT face; a perfect hit at score 0.5 plus the odd box: the official and OMZ
    protocols score the odd box as one FP (AP as if it were any far-away FP at its score)."""
    face = np.array([[300.0, 300.0, 120.0, 120.0]])
    settings = {s: [np.array([0])] for s in ("easy", "medium", "hard")}
    gt = WiderGroundTruth.from_arrays(["e/a"], [face], setting_indices=settings)
    for score in (0.9, 0.1):  # ranked above, then below, the hit
        odd = {"e/a": np.array([[*face[0], 0.5], [*box, score]])}
        far = {"e/a": np.array([[*face[0], 0.5], [5000.0, 5000.0, 40.0, 40.0, score]])}
        assert evaluate_omz(gt, odd).ap == pytest.approx(evaluate_omz(gt, far).ap)
        got = {k: v.ap for k, v in evaluate_official(gt, odd).items()}
        assert got == pytest.approx({k: v.ap for k, v in evaluate_official(gt, far).items()})


def test_predictions_far_from_every_face_score_zero_not_a_traceback(capsys, tmp_path, wider_mini,
                                                                   val_gt_dir):
    """No prediction near any GT box: no candidate pair in the evaluators' chunk (it used to
    raise a numpy broadcast error): AP 0 under every protocol."""
    preds = tmp_path / "p"
    for image_id in _gt(wider_mini).image_ids:
        _write(preds, image_id, "1\n5000 5000 20 20 0.9\n")
    code, out, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-mat-dir",
                             val_gt_dir, "--predictions", preds, "--out", tmp_path / "o", "--json")
    assert code == 0 and "Traceback" not in err
    import json

    assert {m["ap"] for m in json.loads(out)["metrics"]} == {0.0}


def test_duplicate_names_in_other_folders_and_case_are_ignored_with_a_warning(tmp_path, wider_mini,
                                                                               caplog):
    """The same image name under a second event folder, and an upper-case ``.TXT`` beside the
    file: only ``<event>/<name>.txt`` of a GT image is read; the extra ones are warned about."""
    gt = _gt(wider_mini)
    preds = tmp_path / "p"
    _write(preds, PARADE, "1\n10 10 50 50 0.9\n")
    _write(preds, "99--Other/" + PARADE.split("/")[1], "1\n300 300 50 50 0.8\n")
    (preds / f"{PARADE}.TXT").write_text("x\n1\n1 1 5 5 0.1\n")
    read, _ = read_predictions(preds, gt.image_ids)
    assert read[PARADE].tolist() == [[10, 10, 50, 50, 0.9]]
    assert any("not in the ground truth" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_report_draws_huge_boxes_without_a_traceback(capsys, tmp_path, wider_mini):
    """Boxes of 1e30 px: scored (FP), and the report's drawing clips them (cv2 takes int32)."""
    preds = tmp_path / "p"
    _write(preds, PARADE, "2\n1e30 1e30 1e30 1e30 0.9\n-1e30 -1e30 3e30 3e30 0.8\n")
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz",
                           "--predictions", preds, "--out", tmp_path / "o")
    assert code == 0 and "Traceback" not in err, err
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert html.count('<figure class="drawn">') == 3 and "not drawn" not in html
