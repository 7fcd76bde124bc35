"""WIDER val ground truth reader: counts, subsets, face-less images, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rfbench.errors import InputFormatError, RfbenchError
from rfbench.wider.ground_truth import find_images_dir, load_ground_truth, parse_gt_text


@pytest.fixture(scope="module")
def full_val(val_gt_dir):
    return load_ground_truth(val_gt_dir, gt_text=val_gt_dir / "wider_face_val_bbx_gt.txt", mat_dir=val_gt_dir)


def test_full_val_counts(full_val):
    assert full_val.num_images == 3226
    assert full_val.num_boxes == 39704  # 39,708 rows less the 4 all-zero rows of face-less images
    assert sum(int(f.sum()) for f in full_val.invalid) == 585
    assert len({i.split("/")[0] for i in full_val.image_ids}) == 61
    assert [full_val.num_faces(s) for s in ("easy", "medium", "hard")] == [7211, 13319, 31958]


def test_full_val_setting_lists_match_the_mat_files(full_val, val_gt_dir):
    import scipy.io

    mat = scipy.io.loadmat(str(val_gt_dir / "wider_hard_val.mat"))
    event, name = "0--Parade", "0_Parade_marchingband_1_465"
    e = [str(x[0][0]) for x in mat["event_list"]].index(event)
    i = [str(x[0][0]) for x in mat["file_list"][e, 0]].index(name)
    expected = np.sort(mat["gt_list"][e, 0][i, 0].ravel() - 1)
    got = full_val.setting_indices["hard"][full_val.image_ids.index(f"{event}/{name}")]
    assert np.array_equal(np.sort(got), expected)
    boxes = full_val.boxes_xywh[full_val.image_ids.index(f"{event}/{name}")]
    assert np.array_equal(boxes, mat["face_bbx_list"][e, 0][i, 0].astype(float))


def test_mini_root_is_a_subset_evaluated_as_such(wider_mini, val_gt_dir):
    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    assert gt.num_images == 5
    assert gt.num_boxes == 173
    assert gt.source["gt_text"].endswith("wider_face_split/wider_face_val_bbx_gt.txt")
    assert find_images_dir(wider_mini).name == "images"


def test_subset_text_without_mat_has_no_settings(wider_mini):
    gt = load_ground_truth(wider_mini, mat_dir=wider_mini / "nowhere")
    assert gt.setting_indices == {}


def write(tmp_path, text, name="gt.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_face_less_images_in_both_spellings(tmp_path):
    text = (
        "a--A/one.jpg\n1\n0 0 0 0 0 0 0 0 0 0 \n"
        "a--A/two.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
        "a--A/three.jpg\n0\n"
        "a--A/four.jpg\n2\n1 2 3 4 0 0 0 0 0 0 \n5 6 7 8 1 0 0 1 0 0 \n"
    )
    ids, boxes, invalid = parse_gt_text(write(tmp_path, text))
    assert ids == ["a--A/one", "a--A/two", "a--A/three", "a--A/four"]
    assert [len(b) for b in boxes] == [0, 0, 0, 2]
    assert boxes[3].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert invalid[3].tolist() == [False, True]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a--A/x.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n1 2 three 4 0 0 0 0 0 0\n", ":4:"),
        ("a--A/x.jpg\nmany\n", ":2:"),
        ("a--A/x.jpg\n1\n1 2 3\n", ":3:"),
        ("a--A/x.jpg\n3\n1 2 3 4 0 0 0 0 0 0\n", "ends inside"),
        ("not-an-image-line\n1\n", ":1:"),
    ],
)
def test_malformed_gt_names_file_and_line(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(InputFormatError) as err:
        parse_gt_text(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_missing_data_root_and_gt_text_say_where_they_looked(tmp_path):
    with pytest.raises(RfbenchError, match="data root not found"):
        load_ground_truth(tmp_path / "absent")
    with pytest.raises(RfbenchError) as err:
        load_ground_truth(tmp_path)
    assert "wider_face_split" in str(err.value) and "eval_tools" in str(err.value)


def test_missing_mat_lists_every_place_when_required(wider_mini):
    with pytest.raises(RfbenchError) as err:
        load_ground_truth(wider_mini, require_settings=True)
    message = str(err.value)
    assert "wider_easy_val.mat" in message
    assert "eval_tools/ground_truth" in message and "wider_face_split" in message


def test_mat_disagreeing_with_text_is_reported(tmp_path, val_gt_dir):
    root = tmp_path / "root"
    (root / "wider_face_split").mkdir(parents=True)
    text = "0--Parade/0_Parade_marchingband_1_465.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n"
    (root / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text(text)
    with pytest.raises(RfbenchError, match="out of range"):
        load_ground_truth(root, mat_dir=val_gt_dir)
    (root / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text("zz--Z/zz.jpg\n0\n")
    with pytest.raises(RfbenchError, match="no entry for image zz--Z/zz"):
        load_ground_truth(root, mat_dir=val_gt_dir)


def test_mats_found_in_eval_tools_layout(tmp_path, val_gt_dir, wider_mini):
    root = tmp_path / "wider"
    (root / "eval_tools" / "ground_truth").mkdir(parents=True)
    (root / "wider_face_split").mkdir()
    shutil.copy(wider_mini / "wider_face_split" / "wider_face_val_bbx_gt.txt", root / "wider_face_split")
    for setting in ("easy", "medium", "hard"):
        name = f"wider_{setting}_val.mat"
        (root / "eval_tools" / "ground_truth" / name).symlink_to(val_gt_dir / name)
    gt = load_ground_truth(root, require_settings=True)
    assert gt.source["setting_lists"].endswith("eval_tools/ground_truth")
    assert gt.num_faces("hard") > 0
