"""Faults (issue 25): SIGINT / SIGTERM / kill -9 of a running ``eval --model`` then ``--resume``
(the files byte-identical to an uninterrupted run), two runs on one ``--out`` at once, a full
disk (a 200 KB tmpfs), symlink loops and non-UTF-8 names in the data root and the prediction
folder. Existing cases not repeated: a read-only ``--out`` (test_refusals_outdir.py), a killed
``--workers`` worker and Ctrl-C of ``--workers`` (test_workers.py), a killed Ray actor
(test_ray.py), quantize interrupted while writing (test_quantize.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import one_line_error, run_cli

REPO = Path(__file__).resolve().parents[1]
MODEL = "retinaface-mnet025-640.onnx"


@pytest.fixture(scope="module")
def many_images(tmp_path_factory, wider_mini) -> tuple[Path, Path]:
    """A data root of 30 images (6 links to each fixture image) and its GT text."""
    root = tmp_path_factory.mktemp("many")
    lines = []
    for src in sorted((wider_mini / "WIDER_val" / "images").rglob("*.jpg")):
        for copy in range(6):
            image_id = f"{src.parent.name}/c{copy}_{src.stem}"
            dst = root / "WIDER_val" / "images" / f"{image_id}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
            lines.append(f"{image_id}.jpg\n1\n100 100 80 80 0 0 0 0 0 0\n")
    gt = root / "gt.txt"
    gt.write_text("".join(lines))
    return root, gt


def _eval_argv(many_images, models_dir, out: Path) -> list[str]:
    root, gt = many_images
    return ["eval", "--data-root", str(root), "--gt-text", str(gt), "--protocol", "omz",
            "--model", str(models_dir / MODEL), "--runtime", "onnxruntime", "--threads", "1",
            "--out", str(out)]


def _spawn(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "rfbench", *argv], env=env, cwd=REPO.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.txt"))}


def _wait_for_files(out: Path, proc: subprocess.Popen, count: int, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if len(list((out / "predictions").rglob("*.txt"))) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"run ended or stalled before {count} files: {proc.poll()}")


@pytest.fixture(scope="module")
def uninterrupted(many_images, models_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "out"
    proc = _spawn(_eval_argv(many_images, models_dir, out))
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "kill-9"])
def test_signal_then_resume_is_byte_identical(tmp_path, many_images, models_dir, uninterrupted, sig):
    out = tmp_path / "out"
    proc = _spawn(_eval_argv(many_images, models_dir, out))
    _wait_for_files(out, proc, 3)
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    err = proc.stderr.read() if proc.stderr else ""
    assert code != 0 and "Traceback" not in err, err
    if sig == signal.SIGINT:
        assert code == 130 and err.strip().splitlines()[-1].startswith("rfbench: interrupted")
    done = len(list((out / "predictions").rglob("*.txt")))
    assert 0 < done < 30  # interrupted mid-run, with complete files kept
    resumed = _spawn(_eval_argv(many_images, models_dir, out) + ["--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read() if resumed.stderr else ""
    assert _files(out) == _files(uninterrupted)  # predictions and landmarks, byte for byte
    metrics = [json.loads((d / "results.json").read_text())["metrics"] for d in (out, uninterrupted)]
    assert metrics[0] == metrics[1]
    assert not [p for p in out.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.slow
def test_second_run_on_a_running_out_is_refused_and_the_first_finishes(tmp_path, many_images,
                                                                       models_dir, uninterrupted):
    out = tmp_path / "out"
    first = _spawn(_eval_argv(many_images, models_dir, out))
    _wait_for_files(out, first, 1)
    second = _spawn(_eval_argv(many_images, models_dir, out) + ["--resume"])
    assert second.wait(timeout=120) == 2
    err = second.stderr.read() if second.stderr else ""
    assert "Traceback" not in err and f"pid {first.pid}" in one_line_error(err)
    assert first.wait(timeout=300) == 0
    assert _files(out) == _files(uninterrupted)


@pytest.fixture()
def small_tmpfs(tmp_path):
    """A 200 KB tmpfs on ``tmp_path/full`` (unmounted afterwards); skipped where mount is not
    permitted (the run is then not honest about a full disk)."""
    target = tmp_path / "full"
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(target)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs not permitted here: {done.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.mark.slow
def test_full_disk_is_one_line_and_keeps_every_written_file_whole(capsys, small_tmpfs, many_images,
                                                                  models_dir, uninterrupted):
    """Predictions fill the 200 KB disk part-way (each file is written whole or not at all); the
    run ends with one line; with room again, --resume finishes to the same bytes."""
    filler = small_tmpfs / "filler"
    filler.write_bytes(b"\0" * 150_000)
    out = small_tmpfs / "out"
    code, _, err = run_cli(capsys, *_eval_argv(many_images, models_dir, out))
    line = one_line_error(err)
    assert code == 2 and ("No space" in line or "no space" in line), line
    reference = _files(uninterrupted)
    written = _files(out)
    assert all(reference[name] == data for name, data in written.items())  # none half-written
    filler.unlink()
    subprocess.run(["mount", "-o", "remount,size=20m", str(small_tmpfs)], check=True)
    code, _, err = run_cli(capsys, *_eval_argv(many_images, models_dir, out), "--resume")
    assert code == 0, err
    assert _files(out) == reference


def test_symlink_loop_and_non_utf8_names_in_the_data_root_are_harmless(capsys, tmp_path, wider_mini,
                                                                       val_gt_dir):
    """A prediction folder holding a symlink loop and a file named with non-UTF-8 bytes, and a
    data root holding the same: the GT images are scored as without them."""
    preds = tmp_path / "p"
    from rfbench.wider.ground_truth import load_ground_truth
    from rfbench.wider.predictions import write_prediction_file

    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    for image_id, boxes in zip(gt.image_ids, gt.boxes_xywh):
        import numpy as np

        write_prediction_file(preds, image_id, np.c_[boxes, np.linspace(1, 0.5, len(boxes))])
    clean = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz", "--predictions",
                    preds, "--out", tmp_path / "clean", "--json")
    (preds / "0--Parade" / "loop").symlink_to(preds)
    os.symlink(b"loop2", os.path.join(bytes(preds), b"0--Parade", b"loop2"))  # dangling
    with open(os.path.join(bytes(preds), b"0--Parade", b"\xff\xfe.txt"), "wb") as handle:
        handle.write(b"x\n0\n")
    hostile = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz",
                      "--predictions", preds, "--out", tmp_path / "hostile", "--json")
    assert clean[0] == hostile[0] == 0 and "Traceback" not in hostile[2]
    assert json.loads(hostile[1])["metrics"] == json.loads(clean[1])["metrics"]


def test_symlink_loop_in_latency_input_data_is_not_followed_forever(capsys, tmp_path, models_dir,
                                                                    wider_mini):
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "a" / "back").symlink_to(data)
    src = next((wider_mini / "WIDER_val" / "images").rglob("*.jpg"))
    (data / "a" / "img.jpg").symlink_to(src)
    with open(os.path.join(bytes(data), b"a", b"\xff.jpg"), "wb") as handle:
        handle.write(b"")
    code, _, err = run_cli(capsys, "latency", "--model", models_dir / "retinaface-mnet025-dynamic.onnx",
                           "--runtime", "onnxruntime", "--input-size", "native", "--input-data",
                           data, "--iterations", "2", "--warmup", "0", "--out", tmp_path / "lat")
    # the 0-byte image with the non-UTF-8 name is named in one line (surrogate-escaped)
    assert code == 2 and ".jpg: empty image file" in one_line_error(err)
