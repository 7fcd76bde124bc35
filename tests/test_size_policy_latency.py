"""``rfbench latency --input-size native|S:L --input-data DIR``: each image's own size timed,
latency per megapixel checked against the samples and the images' sizes (read here with
OpenCV), and the bad combinations as one-line errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from rfbench.cli import main

WARMUP = 1


def _run(tmp_path, models_dir, images, *extra):
    out = tmp_path / "lat"
    code = main(["-q", "latency", "--model", str(models_dir / "retinaface-mnet025-dynamic.onnx"),
                 "--runtime", "onnxruntime", "--input-size", "native", "--input-data", str(images),
                 "--iterations", "6", "--min-time", "0", "--min-iterations", "6",
                 "--warmup", str(WARMUP), "--out", str(out), *extra])
    assert code == 0  # an iteration budget of 6 with a validity minimum of 6: valid on any load
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_latency_at_native_sizes_per_megapixel(tmp_path, models_dir, wider_mini):
    images = wider_mini / "WIDER_val" / "images"
    out, record = _run(tmp_path, models_dir, images)
    run = record["runs"][0]
    assert record["settings"]["input_size"] == "native" and run["input_size_policy"] == "native"
    shapes = [cv2.imread(str(p)).shape[:2] for p in sorted(images.rglob("*.jpg"))]
    sizes = {(s["height"], s["width"]): s["images"] for s in run["input_sizes"]["sizes"]}
    assert sizes == {hw: shapes.count(hw) for hw in set(shapes)} and run["input_images"] == 5
    samples = pd.read_csv(out / "samples.csv")["latency_ms"].to_numpy()
    # timed call j feeds image (1 + WARMUP + j) mod 5: the first inference and the warm-up come first
    mp = np.array([h * w / 1e6 for h, w in shapes])[(1 + WARMUP + np.arange(samples.size)) % len(shapes)]
    assert run["latency_per_megapixel_ms"] == pytest.approx(samples.sum() / mp.sum(), rel=1e-6)
    assert run["latency_mean_ms"] == pytest.approx(samples.mean(), rel=1e-6)


def test_latency_sized_bad_options(tmp_path, capsys, models_dir, wider_mini):
    images = str(wider_mini / "WIDER_val" / "images")
    dynamic = str(models_dir / "retinaface-mnet025-dynamic.onnx")
    # --input-data alone times the images at one fixed size (tests/test_input_precision.py);
    # native / SHORT:LONG with --input-data is the eval's sizes
    cases = [
        (["--model", dynamic, "--input-size", "native"], "needs --input-data"),
        (["--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--input-size", "native",
          "--input-data", images], "fixed at 640x640"),
        (["--model", dynamic, "--input-size", "native", "--input-data", images, "--mode", "throughput"],
         "--mode latency"),
        (["--model", dynamic, "--input-size", "1600:2150", "--input-data", images, "--input-shape",
          "1x3x640x640"], "--input-shape, not both"),
        (["--model", dynamic, "--input-size", "native", "--input-data", str(tmp_path)], "no .jpg or .png"),
    ]
    for i, (extra, message) in enumerate(cases):
        code = main(["latency", "--runtime", "onnxruntime", *extra, "--out", str(tmp_path / f"x{i}")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], (extra, err)
