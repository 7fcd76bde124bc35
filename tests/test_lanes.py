"""``eval --streams N`` (OpenVINO): N images in flight in one process, each lane a thread taking
images through every stage. Same files as one thread, unreadable images in order, errors and
Ctrl-C from any lane stop the run and leave a folder that resumes to the same files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rfbench.accuracy.model_run import ModelRunOptions, open_model, predict, prediction_runner
from rfbench.decoder.preprocess import ImageReadError
from rfbench.errors import RfbenchError
from rfbench.wider.predictions import prediction_path


def options(models_dir: Path, **kwargs) -> ModelRunOptions:
    return ModelRunOptions(models_dir / "retinaface-mnet025-640.onnx", precision="f32", **kwargs)


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


@pytest.fixture()
def two_lanes(models_dir, tmp_path):
    """A runner over an OpenVINO model of 2 streams of 1 thread (``--threads 2 --streams 2``)."""
    opts = options(models_dir, threads=2, streams=2)
    adapter, spec, preset = open_model(opts)
    with adapter:
        def runner(images_dir: Path, name: str, strict: bool = False):
            run, _, _ = prediction_runner(ModelRunOptions(opts.model, precision="f32", strict=strict),
                                          adapter, spec, preset, images_dir, tmp_path / name / "predictions")
            return run
        yield adapter, runner


def test_two_streams_run_two_lanes_and_write_the_one_thread_files(tmp_path, twenty_images, models_dir, two_lanes):
    folder, ids = twenty_images
    adapter, runner = two_lanes
    assert adapter.infer_lanes == 2 and adapter.describe()["effective"]["streams"] == 2
    run = runner(folder, "lanes")
    assert run.lanes == 2
    infer, lanes_seen = run.infer, set()

    def spying(feeds):
        lanes_seen.add(threading.current_thread().name)
        return infer(feeds)

    run.infer = spying
    stats = run.run(ids, progress=False)
    assert stats.images_predicted == 20 and stats.num_detections > 0 and not stats.failed
    assert "rfbench-lane-1" in lanes_seen and threading.main_thread().name in lanes_seen
    _, one_stats, one_dir = predict(options(models_dir, threads=1), ids, folder, tmp_path / "one", False)
    assert one_stats.num_detections == stats.num_detections
    assert files_of(tmp_path / "lanes") == files_of(tmp_path / "one") and len(files_of(tmp_path / "one")) == 40


def test_one_stream_runs_one_lane(models_dir):
    adapter, _, _ = open_model(options(models_dir, threads=2))
    with adapter:
        assert adapter.infer_lanes == 1


def test_unreadable_images_are_counted_in_order_or_stop_the_run(twenty_images, two_lanes):
    folder, ids = twenty_images
    _, runner = two_lanes
    for bad in (ids[3], ids[11], ids[12]):
        (folder / f"{bad}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    stats = runner(folder, "lenient").run(ids, progress=False)
    assert [image_id for image_id, _ in stats.failed] == [ids[3], ids[11], ids[12]]
    assert stats.images_predicted == 17
    with pytest.raises(ImageReadError, match=ids[3].split("/")[1]):
        runner(folder, "strict", strict=True).run(ids, progress=False)


@pytest.mark.parametrize("error", [RfbenchError, KeyboardInterrupt])
def test_an_error_in_any_lane_stops_the_run_and_the_folder_resumes(tmp_path, twenty_images, two_lanes, error):
    """An error in the second lane (a thread), or Ctrl-C in the calling one, ends the run with it;
    the other lane stops after its image; every file is whole; a second run completes the rest
    and the files equal an undisturbed run's."""
    folder, ids = twenty_images
    _, runner = two_lanes
    run = runner(folder, "stopped")
    infer, calls = run.infer, []
    lane = "rfbench-lane-1" if error is RfbenchError else threading.main_thread().name

    def failing(feeds):
        calls.append(1)
        if len(calls) > 6 and threading.current_thread().name == lane:
            raise error("stopped here")
        return infer(feeds)

    run.infer = failing
    with pytest.raises(error):
        run.run(ids, progress=False)
    pred_dir = tmp_path / "stopped" / "predictions"
    written = [i for i in ids if prediction_path(pred_dir, i).exists()]
    assert 6 <= len(written) < 20 and not list(pred_dir.rglob("*.tmp"))
    assert runner(folder, "stopped").run(ids, progress=False).images_predicted == 20 - len(written)
    runner(folder, "whole").run(ids, progress=False)
    assert files_of(tmp_path / "stopped") == files_of(tmp_path / "whole")
