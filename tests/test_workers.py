"""``rfbench eval --workers N``: shards, byte-identical results, a killed worker, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rfbench.accuracy.model_run import ModelRunOptions, predict
from rfbench.accuracy.placement import usable_cores
from rfbench.accuracy.shards import MAX_ATTEMPTS, ShardBook, make_shards, plan_workers
from rfbench.accuracy.workers import STOP_TIMEOUT_S, LocalPool, predict_with_workers
from rfbench.cli import main
from rfbench.errors import RfbenchError

# results.json fields that are timings (or name the run's own folder / command / clock)
TIMING_FIELDS = {
    (): ("command_line", "created_utc", "timings", "scale_out"),
    ("environment",): ("loadavg_1min",),
    ("prediction_run",): ("wall_s", "inference_s", "images_per_s"),
    ("predictions",): ("dir",),
    ("runtime",): ("timings_ms",),
}


def without_timings(record: dict) -> dict:
    record = json.loads(json.dumps(record))
    for where, keys in TIMING_FIELDS.items():
        node = record
        for k in where:
            node = node[k]
        for k in keys:
            node.pop(k, None)
    return record


def tree_bytes(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


def options(models_dir) -> ModelRunOptions:
    return ModelRunOptions(model=models_dir / "retinaface-mnet025-640.onnx", threads=1)


def test_shards_cover_the_list_in_order_and_shrink_to_single_images():
    ids = [f"e/{k}" for k in range(203)]
    for workers in (1, 2, 3, 7):
        shards = make_shards(ids, workers)
        assert [i for s in shards for i in s.image_ids] == ids
        sizes = [len(s.image_ids) for s in shards]
        assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1 and max(sizes) <= 64
        assert sizes[0] == -(-203 // (workers * 4))  # a quarter of each worker's even share
        assert [s.index for s in shards] == list(range(len(shards)))
    assert [len(s.image_ids) for s in make_shards(ids[:20], 2, shards_per_worker=1)] == [10, 5, 3, 1, 1]
    long = make_shards([f"e/{k}" for k in range(3226)], 2)
    assert len(long) == 79 and {len(s.image_ids) for s in long[:40]} == {64}  # capped: a lost worker costs <= 64
    assert len(make_shards(ids[:3], 2)) == 3 and make_shards([], 2) == []


def test_worker_count_is_checked_and_capped_at_the_images(caplog):
    with pytest.raises(RfbenchError, match="--workers must be at least 1"):
        plan_workers(0, 5)
    assert plan_workers(8, 5) == 5 and "using 5 workers" in caplog.text
    assert plan_workers(2, 5) == 2


def test_shard_book_retries_then_stops_naming_the_shard():
    book = ShardBook(make_shards([f"e/{k}" for k in range(4)], 1, shards_per_worker=2))
    first = book.next()
    for attempt in range(1, MAX_ATTEMPTS):
        book.lost(first.index, "killed")
        assert book.next() is first and book.attempts[first.index] == attempt + 1
    with pytest.raises(RfbenchError, match=r"shard 0 \(2 images from e/0\) failed 3 times"):
        book.lost(first.index, "killed")
    assert len(book.retries) == MAX_ATTEMPTS - 1


def test_a_shard_handed_out_but_never_started_goes_back_uncounted():
    book = ShardBook(make_shards([f"e/{k}" for k in range(4)], 1, shards_per_worker=2))  # 2, 1, 1 images
    running, queued = book.next(), book.next()
    book.unstarted(queued.index)  # queued behind a call whose actor died
    book.lost(running.index, "killed")
    assert book.next() is running and book.next() is queued
    assert book.attempts == {0: 2, 1: 1, 2: 0} and [r["shard"] for r in book.retries] == [0]


@pytest.mark.slow
def test_eval_with_two_workers_is_byte_identical_to_one(capsys, tmp_path, wider_mini, val_gt_dir, models_dir):
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        code = main(["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                     "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--threads", "1",
                     "--workers", str(workers), "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        runs[workers] = (json.loads((out / "results.json").read_text()), tree_bytes(out / "predictions"))
    (one, files_one), (two, files_two) = runs[1], runs[2]
    assert len(files_one) == 5 and files_one == files_two
    assert without_timings(one) == without_timings(two)
    scale = two["scale_out"]
    assert scale["workers"] == 2 and scale["threads_per_worker"] == 1 and scale["retries"] == []
    # both workers start, but on a loaded machine one may finish all 5 images before the other
    # has opened the model: that one is stopped unready and reports nothing
    assert [w["threads"] for w in scale["worker_info"]] in ([1], [1, 1])
    assert all(50 < w["peak_rss_mb"] < 4000 for w in scale["worker_info"])  # its own, not the parent's
    assert "scale_out" not in one
    if usable_cores() >= 2:  # each worker on a core of its own (OpenVINO would pin both to core 0)
        assert scale["placement"] == "a core slice per worker"
        affinities = sorted(tuple(w["cpu_affinity"]) for w in scale["worker_info"])
        assert len(set(affinities)) == len(affinities) and all(len(a) == 1 for a in affinities)


@pytest.mark.slow
def test_killed_worker_has_its_shard_retried_and_files_identical(tmp_path, twenty_images, models_dir):
    images, ids = twenty_images
    _, ref_stats, ref_dir = predict(options(models_dir), ids, images, tmp_path / "ref", False)
    killed = []

    def kill_first_busy_worker(event, info):
        if event == "image" and not killed:  # first image of a 10-image shard: 9 still to go
            killed.append(info["pid"])
            os.kill(info["pid"], signal.SIGKILL)

    record, stats, pred_dir = predict_with_workers(options(models_dir), ids, images, tmp_path / "w2", False, 2,
                                                   shards_per_worker=1, observer=kill_first_busy_worker)
    assert tree_bytes(pred_dir) == tree_bytes(ref_dir) and len(tree_bytes(pred_dir)) == 20
    retries = record["scale_out"]["retries"]
    assert len(retries) == 1 and f"pid {killed[0]} killed by signal 9" in retries[0]["reason"]
    assert record["scale_out"]["worker_starts"] == 3
    if usable_cores() >= 2:  # the replacement took the lost worker's core: still two distinct ones
        assert len({tuple(w["cpu_affinity"]) for w in record["scale_out"]["worker_info"]}) == 2
    assert (stats.images_predicted, stats.num_detections) == (20, ref_stats.num_detections)


@pytest.mark.slow
def test_shard_that_keeps_failing_stops_the_run_with_one_line(tmp_path, twenty_images, models_dir):
    images, ids = twenty_images

    def kill_whoever_gets_shard_0(event, info):
        if event == "assigned" and info["shard"] == 0:
            os.kill(info["pid"], signal.SIGKILL)

    with pytest.raises(RfbenchError) as err:
        predict_with_workers(options(models_dir), ids, images, tmp_path / "w2", False, 2,
                             shards_per_worker=1, observer=kill_whoever_gets_shard_0)
    message = str(err.value)
    assert "\n" not in message and f"shard 0 (10 images from {ids[0]}) failed {MAX_ATTEMPTS} times" in message


@pytest.mark.slow
def test_ctrl_c_stops_all_workers_and_the_folder_resumes(tmp_path, twenty_images, models_dir):
    images, ids = twenty_images
    pids = []

    def interrupt_after_three_images(event, info):
        if event == "ready":
            pids.append(info["payload"]["pid"])
        if event == "image" and sum(1 for _ in (tmp_path / "w2" / "predictions").rglob("*.txt")) >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_with_workers(options(models_dir), ids, images, tmp_path / "w2", False, 2,
                             observer=interrupt_after_three_images)
    for pid in pids:  # every worker stopped (and reaped)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    written = len(list((tmp_path / "w2" / "predictions").rglob("*.txt")))  # not the landmark sidecars
    assert 3 <= written < 20
    _, stats, pred_dir = predict_with_workers(options(models_dir), ids, images, tmp_path / "w2", True, 2)
    _, _, ref_dir = predict(options(models_dir), ids, images, tmp_path / "ref", False)
    assert stats.images_resumed == written and stats.images_predicted == 20 - written
    assert tree_bytes(pred_dir) == tree_bytes(ref_dir)


def test_folder_refusal_stops_the_workers_started_beside_it(tmp_path, twenty_images, models_dir, monkeypatch):
    # the workers start while the parent opens the model and checks the folder: a refusal there
    # is the run's one-line error, at once, and leaves no worker behind (SIGTERM while starting)
    images, ids = twenty_images
    predict(options(models_dir), ids[:2], images, tmp_path / "o", False)
    started = []
    real_start = LocalPool._start

    def recording_start(pool, slot):
        real_start(pool, slot)
        started.append(pool.workers[-1].process)

    monkeypatch.setattr(LocalPool, "_start", recording_start)
    began = time.monotonic()
    with pytest.raises(RfbenchError, match="already holds a model run: add --resume") as refused:
        predict_with_workers(options(models_dir), ids, images, tmp_path / "o", False, 2)
    assert "\n" not in str(refused.value) and time.monotonic() - began < STOP_TIMEOUT_S
    assert len(started) == 2 and not any(process.is_alive() for process in started)
    assert all(process.exitcode is not None for process in started)  # reaped


def test_zero_workers_is_a_one_line_error(capsys, tmp_path, wider_mini, val_gt_dir, models_dir):
    code = main(["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--workers", "0",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--workers must be at least 1" in err and err.count("\n") == 1


@pytest.mark.slow
def test_workers_that_die_while_starting_stop_the_run_soon(tmp_path, twenty_images, models_dir):
    # a script without the ``if __name__ == "__main__"`` guard: every spawned worker dies at start
    images, ids = twenty_images
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pathlib import Path\n"
        "from rfbench.accuracy.model_run import ModelRunOptions\n"
        "from rfbench.accuracy.workers import predict_with_workers\n"
        f"predict_with_workers(ModelRunOptions(Path({str(models_dir / 'retinaface-mnet025-640.onnx')!r}), "
        f"threads=1), {ids!r}, Path({str(images)!r}), Path({str(tmp_path / 'out')!r}), False, 2, progress=False)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "worker processes die while starting" in result.stderr and "4 started, none ready" in result.stderr
