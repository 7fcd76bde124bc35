"""The parsed-GT cache (``rfbench.wider.gt_cache``): the same ground truth as parsing the files,
never a stale one, and a damaged or unwritable cache only costs the parse."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rfbench.wider import ground_truth
from rfbench.wider.ground_truth import WiderGroundTruth, load_ground_truth


def _load(gt_dir: Path, text: Path | None = None) -> WiderGroundTruth:
    return load_ground_truth(gt_dir, gt_text=text or gt_dir / "wider_face_val_bbx_gt.txt", mat_dir=gt_dir)


def _assert_same(a: WiderGroundTruth, b: WiderGroundTruth) -> None:
    assert a.image_ids == b.image_ids and a.source == b.source
    for name in ("boxes_xywh", "invalid"):
        for x, y in zip(getattr(a, name), getattr(b, name), strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)
            assert x.flags.c_contiguous
    assert a.setting_indices.keys() == b.setting_indices.keys() == {"easy", "medium", "hard"}
    for setting in a.setting_indices:
        for x, y in zip(a.setting_indices[setting], b.setting_indices[setting], strict=True):
            assert x.dtype == y.dtype == np.int64 and np.array_equal(x, y)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RFBENCH_GT_CACHE", raising=False)
    return tmp_path / "cache" / "ground-truth"


def _no_parsing(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("parsed the files although the cache holds them")

    monkeypatch.setattr(ground_truth, "parse_gt_text", refuse)
    monkeypatch.setattr(ground_truth, "read_setting_lists", refuse)


def test_cached_full_val_equals_the_parse(val_gt_dir, cache, monkeypatch):
    monkeypatch.setenv("RFBENCH_GT_CACHE", "0")
    parsed = _load(val_gt_dir)
    assert not cache.exists()
    monkeypatch.delenv("RFBENCH_GT_CACHE")
    first = _load(val_gt_dir)  # parses and stores
    assert len(list(cache.glob("*.npz"))) == 1
    _no_parsing(monkeypatch)
    second = _load(val_gt_dir)  # from the cache
    _assert_same(parsed, first)
    _assert_same(parsed, second)
    assert second.num_boxes == parsed.num_boxes and second.num_faces("hard") == 31958


def test_an_edited_file_is_a_new_entry(val_gt_dir, cache, tmp_path):
    _load(val_gt_dir)
    text = (val_gt_dir / "wider_face_val_bbx_gt.txt").read_text()
    edited = tmp_path / "edited.txt"
    lines = text.split("\n")
    lines[2] = "1 2 3 4 0 0 0 0 0 0"  # the first face of the first image
    edited.write_text("\n".join(lines))
    gt = _load(val_gt_dir, edited)
    assert gt.boxes_xywh[0][0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert len(list(cache.glob("*.npz"))) == 2


def test_a_damaged_entry_is_parsed_again_and_rewritten(wider_mini, val_gt_dir, cache, monkeypatch):
    root = wider_mini
    text = root / "wider_face_split" / "wider_face_val_bbx_gt.txt"
    good = load_ground_truth(root, gt_text=text, mat_dir=val_gt_dir)
    (entry,) = cache.glob("*.npz")
    data = entry.read_bytes()
    for damaged in (data[: len(data) // 2], b"", b"PK\x03\x04 not a zip"):
        entry.write_bytes(damaged)
        _assert_same(good, load_ground_truth(root, gt_text=text, mat_dir=val_gt_dir))
        assert entry.read_bytes() == data  # rewritten whole


def test_without_setting_lists_and_with_an_unwritable_cache(wider_mini, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("RFBENCH_CACHE", str(blocked))  # cache_dir() is a file: nothing can be written
    gt = load_ground_truth(wider_mini)
    assert gt.num_images == 5 and gt.setting_indices == {} and gt.num_boxes == 173


def test_no_settings_entry_is_separate_from_the_full_one(wider_mini, val_gt_dir, cache, tmp_path):
    plain = load_ground_truth(wider_mini)
    with_lists = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    assert plain.setting_indices == {} and set(with_lists.setting_indices) == {"easy", "medium", "hard"}
    assert len(list(cache.glob("*.npz"))) == 2
    copy = tmp_path / "root"
    shutil.copytree(wider_mini / "wider_face_split", copy / "wider_face_split")
    again = load_ground_truth(copy)  # same bytes elsewhere: the same entry, source of this root
    assert again.source["gt_text"].startswith(str(copy))
    assert len(list(cache.glob("*.npz"))) == 2
