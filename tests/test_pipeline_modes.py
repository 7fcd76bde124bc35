"""The prediction pipeline's two ways of running its stages: reader/writer threads beside
inference, or one after another in the calling thread (a one-core process). Same files, same
errors, same interruption behaviour."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rfbench.accuracy import pipeline
from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.decoder.preprocess import ImageReadError
from rfbench.wider.ground_truth import load_ground_truth


@pytest.fixture(scope="module")
def opened(models_dir):
    adapter, spec, preset = open_model(ModelRunOptions(models_dir / "retinaface-mnet025-640.onnx",
                                                       runtime="onnxruntime", preset="omz", threads=1))
    with adapter:
        yield adapter, spec, preset


def runner_for(opened, images_dir: Path, pred_dir: Path, overlap: bool | None, strict: bool = False):
    adapter, spec, preset = opened
    options = ModelRunOptions(spec.path, runtime="onnxruntime", preset="omz", threads=1, strict=strict)
    runner, _, _ = prediction_runner(options, adapter, spec, preset, images_dir, pred_dir)
    runner.overlap = overlap
    return runner


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_inline_and_threaded_runs_write_identical_files(tmp_path, wider_mini, opened):
    ids = load_ground_truth(wider_mini).image_ids
    images = wider_mini / "WIDER_val" / "images"
    threaded = runner_for(opened, images, tmp_path / "threads" / "predictions", True).run(ids, progress=False)
    inline = runner_for(opened, images, tmp_path / "inline" / "predictions", False).run(ids, progress=False)
    assert threaded.images_predicted == inline.images_predicted == len(ids) == 5
    assert threaded.num_detections == inline.num_detections > 0
    a, b = files_of(tmp_path / "threads"), files_of(tmp_path / "inline")
    assert len(a) == 10 and a == b  # prediction files and landmark sidecars, byte for byte


def test_the_mode_follows_the_cores_this_process_may_use(tmp_path, wider_mini, opened, monkeypatch):
    ids = load_ground_truth(wider_mini).image_ids[:2]
    images = wider_mini / "WIDER_val" / "images"
    seen: dict[int, set[str]] = {}
    for cores in (1, 2):
        monkeypatch.setattr(pipeline, "usable_cores", lambda cores=cores: cores)
        runner = runner_for(opened, images, tmp_path / f"c{cores}", None)
        infer = runner.infer

        def spying(feeds, infer=infer, cores=cores):
            seen.setdefault(cores, set()).update(t.name.split("_")[0] for t in threading.enumerate())
            return infer(feeds)

        runner.infer = spying
        runner.run(ids, progress=False)
    assert "rfbench-read" not in seen[1] and "rfbench-write" not in seen[1]
    assert "rfbench-read" in seen[2]


@pytest.mark.parametrize("overlap", [False, True])
def test_an_unreadable_image_is_skipped_or_fatal_the_same_way(tmp_path, wider_mini, opened, overlap):
    ids = load_ground_truth(wider_mini).image_ids
    images = tmp_path / "images"
    for image_id in ids:
        (images / image_id).parent.mkdir(parents=True, exist_ok=True)
        (images / f"{image_id}.jpg").write_bytes((wider_mini / "WIDER_val" / "images" / f"{image_id}.jpg").read_bytes())
    (images / f"{ids[1]}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    stats = runner_for(opened, images, tmp_path / "lenient", overlap).run(ids, progress=False)
    assert [bad for bad, _ in stats.failed] == [ids[1]] and stats.images_predicted == 4
    with pytest.raises(ImageReadError, match=ids[1].split("/")[1]):
        runner_for(opened, images, tmp_path / "strict", overlap, strict=True).run(ids, progress=False)


@pytest.mark.parametrize("overlap", [False, True])
def test_interruption_keeps_only_complete_files_and_resumes_to_the_same_result(tmp_path, wider_mini, opened, overlap):
    ids = load_ground_truth(wider_mini).image_ids
    images = wider_mini / "WIDER_val" / "images"
    runner_for(opened, images, tmp_path / "full" / "p", overlap).run(ids, progress=False)
    cut = runner_for(opened, images, tmp_path / "cut" / "p", overlap)
    infer, calls = cut.infer, {"n": 0}

    def interrupting(feeds):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return infer(feeds)

    cut.infer = interrupting
    with pytest.raises(KeyboardInterrupt):
        cut.run(ids, progress=False)
    partial = files_of(tmp_path / "cut")
    assert len(partial) == 4 and not [name for name in partial if name.endswith(".tmp")]
    cut.infer = infer
    resumed = cut.run(ids, progress=False)
    assert resumed.images_resumed == 2 and resumed.images_predicted == 3
    assert files_of(tmp_path / "cut") == files_of(tmp_path / "full")
