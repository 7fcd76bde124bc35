"""``eval --feed u8`` against ``--feed f32`` on one core, image by image, side by side.

Pins this process to one core and opens the model twice with 1 thread: fed the resized uint8
image that OpenVINO converts itself (PrePostProcessor), and fed the float32 tensor rfbench
builds. For every real WIDER JPEG, in turn (the order of the two alternates), it times both
ways from the decoded image: pre-processing (CPU ms: resize, and for f32 the tensor) and
inference (wall ms), checks that the outputs are bit-identical, and reports the medians, the
ratio u8 / f32 of pre-processing + inference, and the machine's other load.

    python benchmarks/bench_feed.py [--model PATH] [--images 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_pipeline import dataset
from bench_workers import DEFAULT_MODEL

from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.decoder.preprocess import read_image
from rfbench.latency.load import LoadAccumulator, snapshot


def timed(runner, image: np.ndarray, name: str) -> tuple[float, float, dict]:
    """(pre-processing CPU ms, inference wall ms, outputs) of one image through ``runner``."""
    cpu = time.process_time()
    if runner.u8_images:
        from rfbench.decoder.preprocess import resize_image

        feed = runner._u8_feed(resize_image(image, runner.spec.input.hw, "stretch")[0])
    else:
        from rfbench.decoder.preprocess import preprocess

        feed = preprocess(image, runner.spec.input.hw, runner.spec.pixels, "stretch", runner.spec.input.layout)[0]
    prep = time.process_time() - cpu
    wall = time.perf_counter()
    outputs = runner.infer({name: feed})
    return 1000 * prep, 1000 * (time.perf_counter() - wall), outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    runners = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids = dataset("real", root, args.images)
        for feed in ("u8", "f32"):
            options = ModelRunOptions(args.model, threads=1, u8_feed=feed == "u8")
            adapter, spec, preset = open_model(options)
            runners[feed] = prediction_runner(options, adapter, spec, preset, root / "WIDER_val/images", root / feed)[0]
        assert runners["u8"].u8_images and not runners["f32"].u8_images, "the u8 feed did not apply"
        name = runners["u8"].spec.input.name
        times: dict[str, list[tuple[float, float]]] = {"u8": [], "f32": []}
        load, before = LoadAccumulator(), snapshot()
        for r in range(args.rounds):
            for k, image_id in enumerate(ids):
                image = read_image(root / "WIDER_val/images" / f"{image_id}.jpg")
                order = ("u8", "f32") if (k + r) % 2 == 0 else ("f32", "u8")
                outputs = {}
                for feed in order:
                    prep, infer, outputs[feed] = timed(runners[feed], image, name)
                    times[feed].append((prep, infer))
                for key in outputs["u8"]:
                    assert np.array_equal(outputs["u8"][key], outputs["f32"][key]), f"{image_id} {key} differs"
        load.add(before, snapshot())
    med = {f: (statistics.median(p for p, _ in t), statistics.median(i for _, i in t)) for f, t in times.items()}
    for feed, (prep, infer) in med.items():
        print(f"{feed:>4}: pre-processing {prep:.2f} ms (CPU), inference {infer:.2f} ms (wall), sum {prep + infer:.2f} ms")
    ratio = sum(med["u8"]) / sum(med["f32"])
    found = load.as_dict()
    print(f"{len(times['u8'])} images, outputs bit-identical; u8 / f32 of pre-processing + inference: {ratio:.3f}; "
          f"other cores {found['other_busy_cores']}, steal {found['steal_cores']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
