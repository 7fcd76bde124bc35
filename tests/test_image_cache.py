"""The resized-image cache (``rfbench.accuracy.image_cache``): runs through it write exactly the
files of the uncached path, the second run decodes nothing, the folder stays within its bound,
and a damaged entry or an edited image is never served stale."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rfbench.accuracy import image_cache as cache_module
from rfbench.accuracy.image_cache import ResizedImageCache, folder_bytes
from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.decoder.preprocess import preprocess, read_image
from rfbench.wider.ground_truth import load_ground_truth


@pytest.fixture(scope="module")
def opened(models_dir):
    adapter, spec, preset = open_model(ModelRunOptions(models_dir / "retinaface-mnet025-640.onnx",
                                                       runtime="onnxruntime", preset="omz", threads=1))
    with adapter:
        yield adapter, spec, preset


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(opened, images: Path, pred_dir: Path, resize: str, cache: Path | None, overlap: bool = False):
    adapter, spec, preset = opened
    options = ModelRunOptions(spec.path, runtime="onnxruntime", preset="omz", threads=1, resize=resize,
                              image_cache=cache)
    runner, _, _ = prediction_runner(options, adapter, spec, preset, images, pred_dir)
    runner.overlap = overlap
    runner.run(load_ground_truth(images.parent.parent).image_ids, progress=False)
    return runner


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_cached_runs_write_the_uncached_files_byte_for_byte(tmp_path, wider_mini, opened, monkeypatch, resize):
    images = wider_mini / "WIDER_val" / "images"
    _run(opened, images, tmp_path / "plain" / "predictions", resize, None)
    cache = tmp_path / "cache"
    cold = _run(opened, images, tmp_path / "cold" / "predictions", resize, cache)
    assert (cold.image_cache.tally.hits, cold.image_cache.tally.added) == (0, 5)

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although the cache holds it")

    monkeypatch.setattr(cache_module, "read_image", no_decoding)
    warm = _run(opened, images, tmp_path / "warm" / "predictions", resize, cache, overlap=True)
    assert (warm.image_cache.tally.hits, warm.image_cache.tally.added) == (5, 0)
    plain = files_of(tmp_path / "plain")
    assert len(plain) == 10 and plain == files_of(tmp_path / "cold") == files_of(tmp_path / "warm")


def test_tensor_and_transform_from_an_entry_equal_the_fresh_ones(tmp_path, wider_mini, opened):
    from rfbench.decoder.preprocess import to_tensor

    _, spec, _ = opened
    path = next((wider_mini / "WIDER_val" / "images").glob("*/*.jpg"))
    for mode, hw in (("stretch", (640, 640)), ("letterbox", (480, 736))):
        cache = ResizedImageCache(tmp_path / mode)
        fresh_tensor, fresh_transform = preprocess(read_image(path), hw, spec.pixels, mode)
        for _ in range(2):  # made, then read back
            resized, transform = cache.resized(path, hw, mode)
            assert transform == fresh_transform
            assert to_tensor(resized, hw, spec.pixels).tobytes() == fresh_tensor.tobytes()
        assert cache.tally.hits == 1


def test_the_bound_a_damaged_entry_and_an_edited_image(tmp_path, wider_mini):
    source = sorted((wider_mini / "WIDER_val" / "images").glob("*/*.jpg"))
    entry_bytes = 640 * 640 * 3 + 1024
    small = ResizedImageCache(tmp_path / "small", max_bytes=2 * entry_bytes)
    for path in source:
        small.resized(path, (640, 640), "stretch")
    assert (small.tally.added, small.tally.not_added) == (2, 3)
    assert folder_bytes(tmp_path / "small") <= 2 * entry_bytes

    cache = ResizedImageCache(tmp_path / "c")
    image = tmp_path / "a.jpg"
    image.write_bytes(source[0].read_bytes())
    first, _ = cache.resized(image, (640, 640), "stretch")
    (entry,) = (tmp_path / "c").glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:1000])  # cut short: resized again, the entry rewritten
    again, _ = ResizedImageCache(tmp_path / "c").resized(image, (640, 640), "stretch")
    assert np.array_equal(first, again) and entry.stat().st_size > 1000
    image.write_bytes(source[1].read_bytes())  # another picture under the same name
    os.utime(image, ns=(entry.stat().st_mtime_ns + 10**9,) * 2)
    other, _ = cache.resized(image, (640, 640), "stretch")
    assert np.array_equal(other, preprocess_free(source[1]))
    assert len(list((tmp_path / "c").glob("*.npz"))) == 2


def preprocess_free(path: Path) -> np.ndarray:
    import cv2

    return cv2.resize(read_image(path), (640, 640), interpolation=cv2.INTER_LINEAR)
