"""``rfbench eval --ray``: a real local Ray cluster, byte-identical files, a killed actor, bad input.

Ray is an extra (``rfbench[ray]``); CI installs it, so there (``CI`` set) a missing Ray fails
these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from test_workers import options, tree_bytes, without_timings

import rfbench
from rfbench.accuracy.model_run import predict
from rfbench.accuracy.ray_pool import INSTALL_HINT, check_reachable, predict_with_ray
from rfbench.accuracy.shards import make_shards
from rfbench.cli import main
from rfbench.errors import RfbenchError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of 4 CPUs and one unit of a device resource ``device:NPU`` for the
    whole session (``predict_with_ray`` reuses it)."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ray is not importable but CI installs rfbench[ray]")
        pytest.skip("ray not installed (pip install 'rfbench[ray]')")
    ray.init(num_cpus=4, resources={"device:NPU": 1}, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()


def eval_args(wider_mini, val_gt_dir, models_dir, out, *extra):
    return ["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
            "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--threads", "1",
            "--out", str(out), *extra]


@pytest.mark.slow
def test_eval_on_ray_is_byte_identical_to_one_process(ray_cluster, capsys, tmp_path, wider_mini, val_gt_dir,
                                                      models_dir):
    runs = {}
    for name, extra in (("one", ()), ("ray", ("--ray", "--workers", "2"))):
        code = main(eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / name, *extra))
        assert code == 0, capsys.readouterr().err
        runs[name] = (json.loads((tmp_path / name / "results.json").read_text()),
                      tree_bytes(tmp_path / name / "predictions"), tree_bytes(tmp_path / name / "landmarks"))
    (one, files_one, marks_one), (on_ray, files_ray, marks_ray) = runs["one"], runs["ray"]
    assert len(files_one) == 5 and files_one == files_ray
    assert len(marks_one) == 5 and marks_one == marks_ray  # the report's landmark sidecars too
    assert without_timings(one) == without_timings(on_ray)
    scale = on_ray["scale_out"]
    assert (scale["mode"], scale["workers"], scale["threads_per_worker"], scale["nodes"]) == ("ray", 2, 1, 1)
    assert scale["retries"] == [] and scale["ship_images"] is False and scale["cores"] == 4
    assert len(scale["worker_info"]) == 2
    for info in scale["worker_info"]:
        assert info["host"] == socket.gethostname() and info["rfbench_version"] == rfbench.__version__
        assert info["threads"] == 1 and info["cpu"] and info["pid"] != os.getpid()


@pytest.mark.slow
def test_killed_actor_costs_only_its_shard(ray_cluster, tmp_path, twenty_images, models_dir):
    images, ids = twenty_images
    _, ref_stats, ref_dir = predict(options(models_dir), ids, images, tmp_path / "ref", False)
    killed = []

    def kill_first_busy_actor(event, info):
        if event == "assigned" and not killed:  # its 10-image shard is in flight
            killed.append(info["shard"])
            ray_cluster.kill(info["actor"], no_restart=False)

    record, stats, pred_dir = predict_with_ray(options(models_dir), ids, images, tmp_path / "ray", False, 2,
                                               shards_per_worker=1, observer=kill_first_busy_actor,
                                               progress=False)
    assert tree_bytes(pred_dir) == tree_bytes(ref_dir) and len(tree_bytes(pred_dir)) == 20
    scale = record["scale_out"]
    assert [r["shard"] for r in scale["retries"]] == killed and scale["retries"][0]["attempt"] == 1
    assert scale["worker_starts"] == 3  # 2 actors + 1 restart
    assert (stats.images_predicted, stats.num_detections) == (20, ref_stats.num_detections)


@pytest.mark.slow
def test_ship_images_needs_no_data_root_on_the_workers(ray_cluster, tmp_path, twenty_images, models_dir):
    images, ids = twenty_images
    _, _, ref_dir = predict(options(models_dir), ids[:6], images, tmp_path / "ref", False)
    assigned, shards = [], len(make_shards(ids[:6], 2, shards_per_worker=1))  # 3, 2 and 1 images

    def hide_the_data_root_once_all_is_shipped(event, info):
        if event == "assigned":
            assigned.append(info["shard"])
            if len(assigned) == shards:  # every shard's bytes sent: the data root goes away
                images.rename(images.with_name("images-gone"))

    record, stats, pred_dir = predict_with_ray(options(models_dir), ids[:6], images, tmp_path / "ray", False, 2,
                                               ship_images=True, shards_per_worker=1, progress=False,
                                               observer=hide_the_data_root_once_all_is_shipped)
    assert not images.exists() and stats.failed == [] and stats.images_predicted == 6
    assert tree_bytes(pred_dir) == tree_bytes(ref_dir)
    assert record["scale_out"]["ship_images"] is True
    with pytest.raises(RfbenchError) as err:  # without shipping, a root the actors cannot see
        predict_with_ray(options(models_dir), ids[:6], tmp_path / "not-there", tmp_path / "r2", False, 1,
                         progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert f"host {socket.gethostname()} cannot see the data root: {tmp_path / 'not-there'}" in message


@pytest.mark.slow
def test_worker_with_other_versions_is_refused(ray_cluster, monkeypatch, tmp_path, twenty_images, models_dir):
    images, ids = twenty_images
    real = rfbench.__version__
    monkeypatch.setattr(rfbench, "__version__", "0.0.0-driver")  # the actors still report the real one
    with pytest.raises(RfbenchError) as err:
        predict_with_ray(options(models_dir), ids[:4], images, tmp_path / "ray", False, 1, progress=False)
    message = str(err.value)
    assert "\n" not in message and "refused" in message
    assert f"rfbench_version {real} (driver: 0.0.0-driver)" in message and "runtime_version" not in message


def test_folder_refusal_gives_the_actors_cpus_back(ray_cluster, tmp_path, twenty_images, models_dir):
    # the actors start while the driver checks the folder: its refusal kills them at once, so a
    # joined cluster (or a sweep's next cell) has its CPUs free again
    images, ids = twenty_images
    predict(options(models_dir), ids[:2], images, tmp_path / "o", False)
    with pytest.raises(RfbenchError, match="already holds a model run: add --resume"):
        predict_with_ray(options(models_dir), ids, images, tmp_path / "o", False, 2, progress=False)
    deadline = time.monotonic() + 30
    while ray_cluster.available_resources().get("CPU", 0) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray_cluster.available_resources().get("CPU", 0) == 4


def test_device_the_cluster_does_not_offer_is_one_line_before_any_actor(ray_cluster, tmp_path, twenty_images,
                                                                      models_dir):
    images, ids = twenty_images
    for device, workers, expected in (
            ("GPU", None, "no node of the cluster offers the Ray resource 'device:GPU'"),
            ("NPU", 2, "2 workers need 2 units of 'device:NPU', the cluster offers 1")):
        began = time.monotonic()
        with pytest.raises(RfbenchError) as err:
            predict_with_ray(replace(options(models_dir), device=device), ids, images, tmp_path / device, False,
                             workers, progress=False)
        assert expected in str(err.value) and "\n" not in str(err.value)
        assert time.monotonic() - began < 5  # decided from the cluster's resources, not a wait
        assert not (tmp_path / device).exists()  # nothing written, no model opened
    assert ray_cluster.available_resources().get("device:NPU") == 1


def test_ray_without_the_extra_is_a_one_line_hint(monkeypatch, capsys, tmp_path, wider_mini, val_gt_dir,
                                                  models_dir):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code = main(eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / "o", "--ray"))
    err = capsys.readouterr().err
    assert code == 2 and INSTALL_HINT in err and "pip install 'rfbench[ray]'" in err and err.count("\n") == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_address_is_a_one_line_error_not_a_hang():
    address = f"127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(RfbenchError) as err:
        check_reachable(address, timeout_s=2)
    assert time.monotonic() - start < 5
    assert str(err.value).startswith(f"--ray {address}: no Ray cluster reachable") and "\n" not in str(err.value)
    check_reachable("auto")  # left to ray


@pytest.mark.slow
def test_eval_with_unreachable_address_exits_with_one_line(ray_cluster, tmp_path, wider_mini, val_gt_dir,
                                                           models_dir):
    address = f"127.0.0.1:{_closed_port()}"
    argv = eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / "o", "--ray", address)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "rfbench", *argv], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"--ray {address}: no Ray cluster reachable" in lines[0]


@pytest.mark.slow
def test_ctrl_c_on_ray_leaves_a_folder_that_resumes(ray_cluster, tmp_path, twenty_images, models_dir):
    images, ids = twenty_images

    first_done = []

    def interrupt_after_the_first_shard(event, info):
        if event == "done":
            first_done.append(info["shard"])
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_with_ray(options(models_dir), ids, images, tmp_path / "ray", False, 2, shards_per_worker=2,
                         observer=interrupt_after_the_first_shard, progress=False)
    written = len(list((tmp_path / "ray" / "predictions").rglob("*.txt")))
    done = len(make_shards(ids, 2, shards_per_worker=2)[first_done[0]].image_ids)  # 5 or 4 images
    assert written == done  # that one shard, written by the driver
    _, stats, pred_dir = predict_with_ray(options(models_dir), ids, images, tmp_path / "ray", True, 2,
                                          progress=False)
    _, _, ref_dir = predict(options(models_dir), ids, images, tmp_path / "ref", False)
    assert stats.images_resumed == done and stats.images_predicted == 20 - done
    assert tree_bytes(pred_dir) == tree_bytes(ref_dir)


def test_ship_images_without_ray_is_a_one_line_error(capsys, tmp_path, wider_mini, val_gt_dir, models_dir):
    code = main(eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / "o", "--ship-images"))
    err = capsys.readouterr().err
    assert code == 2 and "--ship-images needs --ray" in err and err.count("\n") == 1


@pytest.mark.slow
def test_sweep_on_ray_evals_on_actors_and_times_every_cell_on_one_node(ray_cluster, capsys, tmp_path, wider_mini,
                                                                        val_gt_dir, models_dir):
    out = tmp_path / "sweep"
    argv = ["sweep", "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--runtime",
            "openvino,onnxruntime", "--precision", "f32", "--data-root", str(wider_mini), "--gt-mat-dir",
            str(val_gt_dir), "--protocol", "omz", "--iterations", "3", "--min-time", "0",
            "--min-iterations", "3", "--out", str(out), "--ray", "--workers", "2"]
    assert main(argv) == 0, capsys.readouterr().err
    record = json.loads((out / "results.json").read_text())
    assert record["complete"] and record["settings"]["ray"]["address"] == "existing connection"
    assert record["settings"]["ray"]["nodes"] == 1
    for cell in record["cells"]:
        assert cell["status"] == "done", cell
        folder = out / "cells" / cell["key"]
        scale = json.loads((folder / "eval" / "results.json").read_text())["scale_out"]
        assert (scale["mode"], scale["workers"]) == ("ray", 2)
        latency = json.loads((folder / "latency.json").read_text())
        assert latency["node"]["host"] == socket.gethostname() and latency["iterations"] == 3
        assert sorted(latency["interleaved_with"]) == sorted(c["key"] for c in record["cells"])
    # the same cells' APs as a plain sweep of one process
    plain = tmp_path / "plain"
    assert main([*argv[:argv.index("--out")], "--out", str(plain)]) == 0
    alone = json.loads((plain / "results.json").read_text())
    assert [c["aps"] for c in alone["cells"]] == [c["aps"] for c in record["cells"]]
    assert alone["settings"]["ray"] is None


def test_sweep_ray_options_need_ray(capsys, tmp_path, models_dir):
    code = main(["sweep", "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--workers", "2",
                 "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "need --ray" in err and len(err.strip().splitlines()) == 1
