"""Issue 11, items 4, 5, 8, 9: hostile image ids, BOM/CRLF text, number syntax, .mat indices."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from gen_predictions import generate_predictions, write_submission

from rfbench.cli import main
from rfbench.errors import InputFormatError, RfbenchError
from rfbench.evaluation import scoring
from rfbench.wider.ground_truth import load_ground_truth, parse_gt_text
from rfbench.wider.image_ids import image_id_problem, safe_join
from rfbench.wider.predictions import (
    parse_prediction_text,
    prediction_path,
    read_prediction_folder,
    read_predictions,
)

GT_NAME = "wider_face_val_bbx_gt.txt"
PARADE_LINE = "0--Parade/0_Parade_marchingband_1_149.jpg"


def mini_gt_text(wider_mini: Path) -> str:
    return (wider_mini / "wider_face_split" / GT_NAME).read_text(encoding="utf-8")


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ---- item 4: image ids are exactly <event>/<name> -------------------------------------------

HOSTILE_IDS = ["../../../x/pwn", "/abs/pwn", "a/b/c", "ev/..", "./x", "ev\\..\\x", "ev/C:x", "ev/ x"]


@pytest.mark.parametrize("image_id", HOSTILE_IDS)
def test_hostile_image_ids_are_refused_by_safe_join(tmp_path, image_id):
    assert image_id_problem(image_id) is not None
    with pytest.raises(RfbenchError, match="refusing image id"):
        safe_join(tmp_path, image_id, ".jpg")
    with pytest.raises(RfbenchError, match="refusing image id"):
        prediction_path(tmp_path, image_id)


def test_plain_image_ids_join_under_the_root(tmp_path):
    assert image_id_problem("0--Parade/0_Parade_marchingband_1_149") is None
    assert safe_join(tmp_path, "a--A/x.y", ".jpg") == tmp_path / "a--A" / "x.y.jpg"
    assert prediction_path(tmp_path, "a--A/x") == tmp_path / "a--A" / "x.txt"


@pytest.mark.parametrize("name", ["../../../x/pwn.jpg", "{tmp}/abs/pwn.jpg", "0--Parade/../../pwn.jpg",
                                  "0--Parade/sub/pwn.jpg"])
def test_gt_id_with_parent_traversal_is_refused(capsys, tmp_path, wider_mini, models_dir, name):
    """``eval --model`` on a GT whose 2nd image id is hostile: one line naming the GT file and
    line, and nothing read or written outside the data root and --out."""
    name = name.format(tmp=tmp_path)
    lines = mini_gt_text(wider_mini).splitlines()
    second = lines.index("12--Group/12_Group_Group_12_Group_Group_12_10.jpg")
    lines[second] = name
    gt_text = tmp_path / "gt" / GT_NAME
    gt_text.parent.mkdir()
    gt_text.write_text("\n".join(lines) + "\n")
    out = tmp_path / "a" / "b" / "out"
    before = tree(tmp_path)
    code, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-text", gt_text, "--protocol", "omz",
                        "--model", models_dir / "retinaface-mnet025-640.onnx", "--out", out)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{gt_text}:{second + 1}:" in err and "<event>/<name>.jpg" in err
    assert tree(tmp_path) == before  # no folder created on the way, not even --out
    assert not (tmp_path / "a" / "x").exists() and not (tmp_path / "abs").exists()


def test_hostile_id_past_the_gt_check_is_stopped_by_the_path_guards(capsys, tmp_path, wider_mini, models_dir,
                                                                   monkeypatch):
    """Second line of defence: with the GT check switched off, ``eval --model`` still neither
    writes outside --out nor reads outside the images folder."""
    import rfbench.wider.ground_truth as ground_truth

    monkeypatch.setattr(ground_truth, "image_id_problem", lambda image_id: None)
    text = mini_gt_text(wider_mini).replace(PARADE_LINE, "../../../../decoy/pwn.jpg")
    gt_text = tmp_path / GT_NAME
    gt_text.write_text(text)
    out = tmp_path / "a" / "b" / "out"
    code, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-text", gt_text, "--protocol", "omz",
                        "--model", models_dir / "retinaface-mnet025-640.onnx", "--out", out)
    assert code == 2 and "refusing image id '../../../../decoy/pwn'" in err and "Traceback" not in err
    assert not (tmp_path / "decoy").exists()
    assert not [p for p in (out / "predictions").rglob("*") if p.is_file()]


def test_hostile_id_is_not_read_outside_the_images_folder(tmp_path, wider_mini):
    from rfbench.accuracy.pipeline import PredictionRun

    images = tmp_path / "root" / "images"
    images.mkdir(parents=True)
    decoy = tmp_path / "decoy.jpg"
    decoy.write_bytes((wider_mini / "WIDER_val" / "images" / f"{PARADE_LINE}").read_bytes())
    run = PredictionRun(lambda feeds: {}, None, None, "stretch", images, tmp_path / "out")  # type: ignore[arg-type]
    with pytest.raises(RfbenchError, match="refusing image id"):
        run.prepare("../../decoy")


# ---- item 5: BOM and CRLF ------------------------------------------------------------------

def variants(text: str) -> dict[str, bytes]:
    crlf = text.replace("\n", "\r\n")
    return {"plain": text.encode(), "bom": b"\xef\xbb\xbf" + text.encode(), "crlf": crlf.encode(),
            "bom+crlf": b"\xef\xbb\xbf" + crlf.encode()}


def test_gt_text_with_utf8_bom_gives_same_ap(tmp_path, wider_mini, val_gt_dir):
    """Both protocols: identical GT and identical APs from the fixture GT with and without a
    BOM / CRLF line ends (the BOM used to stick to the first id: wrong OMZ AP, .mat blamed)."""
    results = {}
    for name, data in variants(mini_gt_text(wider_mini)).items():
        path = tmp_path / name / GT_NAME
        path.parent.mkdir()
        path.write_bytes(data)
        gt = load_ground_truth(wider_mini, gt_text=path, mat_dir=val_gt_dir, require_settings=True)
        if not results:
            generated = generate_predictions(gt.image_ids, gt.boxes_xywh, seed=11)
        got, _ = scoring.score(gt, generated.predictions, ("wider", "omz"))
        results[name] = (gt, {(r.protocol, r.setting): r.ap for r in got})
    plain_gt, plain_aps = results["plain"]
    assert plain_gt.image_ids[0] == PARADE_LINE[:-4]
    assert len(plain_aps) == 4 and 0 < min(plain_aps.values()) < 1
    for name, (gt, aps) in results.items():
        assert gt.image_ids == plain_gt.image_ids, name
        assert all(np.array_equal(a, b) for a, b in zip(gt.boxes_xywh, plain_gt.boxes_xywh)), name
        assert aps == plain_aps, name


def test_prediction_files_with_bom_and_crlf_give_same_boxes_and_ap(tmp_path, wider_mini, val_gt_dir):
    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir, require_settings=True)
    generated = generate_predictions(gt.image_ids, gt.boxes_xywh, seed=5)
    write_submission(tmp_path / "plain", generated)
    aps = {}
    for name in ("plain", "bom", "crlf", "bom+crlf"):
        folder = tmp_path / name
        if name != "plain":
            for path in (tmp_path / "plain").rglob("*.txt"):
                target = folder / path.relative_to(tmp_path / "plain")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(variants(path.read_text())[name])
        preds, _ = read_predictions(folder, gt.image_ids)
        results, _ = scoring.score(gt, preds, ("wider", "omz"))
        aps[name] = {(r.protocol, r.setting): r.ap for r in results}
        assert {k: v.tolist() for k, v in preds.items()} == {
            k: v.tolist() for k, v in read_predictions(tmp_path / "plain", gt.image_ids)[0].items()}
    assert all(v == aps["plain"] for v in aps.values())


def test_form_feed_is_not_a_line_break(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("a--A/x.jpg\n1\n1 2 3 4\x0c0 0 0 0 0 0\n")
    with pytest.raises(InputFormatError, match=":3:"):
        parse_gt_text(path)


# ---- item 8: plain decimal numbers only ----------------------------------------------------

@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a--A/x.jpg\n1_0\n", ":2: expected a face count"),
        ("a--A/x.jpg\n0x10\n", ":2:"),
        ("a--A/x.jpg\n+1\n1 2 3 4 0 0 0 0 0 0\n", ":2:"),
        ("a--A/x.jpg\n١\n1 2 3 4 0 0 0 0 0 0\n", ":2:"),  # an Arabic-Indic digit one
        ("a--A/x.jpg\n-1\n", ":2: negative face count -1"),
        ("a--A/x.jpg\n1\n1_38 2 3 4 0 0 0 0 0 0\n", ":3: expected plain decimal"),
        ("a--A/x.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n", None),
        ("a--A/x.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n1 2 3 inf 0 0 0 0 0 0\n", ":4: expected plain decimal"),
        ("a--A/x.jpg\n1\n1 2 3 nan\n", ":3:"),
        ("a--A/x.jpg\n1\n1e3 2 3 4\n", ":3:"),
        ("a--A/x.jpg\n1\n1 2 3 4 0 0 0 1.5 0 0\n", ":3: attributes"),
        ("a--A/x.jpg\n1\n1 2 3 4 0 0 0 -1 0 0\n", ":3: attributes"),
    ],
)
def test_gt_number_in_python_literal_syntax_is_refused(tmp_path, text, where):
    path = tmp_path / "gt.txt"
    path.write_text(text, encoding="utf-8")
    if where is None:
        assert parse_gt_text(path)[1][0].tolist() == [[1, 2, 3, 4]]
        return
    with pytest.raises(InputFormatError) as err:
        parse_gt_text(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_gt_plain_decimals_and_negative_width_are_kept(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("a--A/x.jpg\n2\n1026 474 -2 23 2 0 0 0 2 0 \n1.5 .5 -3. 4\n")
    _, boxes, _ = parse_gt_text(path)
    assert boxes[0].tolist() == [[1026, 474, -2, 23], [1.5, 0.5, -3, 4]]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a\n2_4\n", "a.txt:2: expected the number of boxes"),
        ("a\n0x1\n", "a.txt:2:"),
        ("a\n-1\n", "a.txt:2:"),
        ("a\n1\n1_0 2 3 4 0.5\n", "a.txt:3: expected plain decimal"),
        ("a\n2\n1 2 3 4 0.5\n1 2 3 4 infinity\n", "a.txt:4:"),
        ("a\n1\n0x10 2 3 4 0.5\n", "a.txt:3:"),
        ("a\n1\n1 2 3 4 1e999\n", "a.txt:3: non-finite"),
        ("a\n1\n１ 2 3 4 0.5\n", "a.txt:3:"),  # a full-width digit one
    ],
)
def test_prediction_number_in_python_literal_syntax_is_refused(tmp_path, text, where):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text(text, encoding="utf-8")
    with pytest.raises(InputFormatError) as err:
        read_predictions(tmp_path, ["ev/a"])
    assert where in str(err.value)


def test_prediction_exponents_are_plain_numbers(tmp_path):
    boxes = parse_prediction_text(tmp_path / "a.txt", "a\n2\n1.5e2 2 3 4 9.99999972e-10\n-1 +2 .5 4. 1E-5\n")
    assert boxes.tolist() == [[150, 2, 3, 4, 9.99999972e-10], [-1, 2, 0.5, 4, 1e-5]]


def test_prediction_negative_width_is_kept_warned_and_counted(tmp_path, caplog):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text("a\n3\n1 2 3 4 0.9\n5 6 -7 8 0.8\n5 6 7 -8 0.7\n")
    (tmp_path / "ev" / "b.txt").write_text("b\n1\n1 2 3 4 0.9\n")
    with caplog.at_level(logging.WARNING):
        reading = read_prediction_folder(tmp_path, ["ev/a", "ev/b"])
    assert reading.predictions["ev/a"][1].tolist() == [5, 6, -7, 8, 0.8]  # kept as written
    assert reading.num_negative_size_boxes == 2 and reading.files_with_negative_size == 1
    assert reading.stats_fields()["num_negative_size_boxes"] == 2
    assert f"{tmp_path / 'ev' / 'a.txt'}:4:" in caplog.text


# ---- item 9: the .mat index error names the bad index ----------------------------------------

def write_setting_mats(folder: Path, event: str, name: str, gt_list_1based: list[int]) -> None:
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    events = np.empty((1, 1), dtype=object)
    events[0, 0] = np.array([event])
    files = np.empty((1, 1), dtype=object)
    inner = np.empty((1, 1), dtype=object)
    inner[0, 0] = np.array([name])
    files[0, 0] = inner
    lists = np.empty((1, 1), dtype=object)
    inner_list = np.empty((1, 1), dtype=object)
    inner_list[0, 0] = np.array(gt_list_1based, dtype=np.float64).reshape(-1, 1)
    lists[0, 0] = inner_list
    for setting in ("easy", "medium", "hard"):
        scipy.io.savemat(folder / f"wider_{setting}_val.mat",
                         {"event_list": events, "file_list": files, "gt_list": lists})


@pytest.mark.parametrize(("gt_list", "named"), [([1, 0], "face index 0 "), ([2, 1, 3], "face index 3 ")])
def test_mat_index_error_names_the_bad_index(tmp_path, gt_list, named):
    root = tmp_path / "root"
    (root / "wider_face_split").mkdir(parents=True)
    (root / "wider_face_split" / GT_NAME).write_text("ev--E/img.jpg\n2\n1 2 3 4\n5 6 7 8\n")
    write_setting_mats(root / "mats", "ev--E", "img", gt_list)
    with pytest.raises(RfbenchError) as err:
        load_ground_truth(root, mat_dir=root / "mats")
    assert named in str(err.value) and "ev--E/img" in str(err.value) and "has 2 faces" in str(err.value)
    write_setting_mats(root / "good", "ev--E", "img", [2, 1])
    gt = load_ground_truth(root, mat_dir=root / "good")
    assert gt.setting_indices["hard"][0].tolist() == [1, 0]
