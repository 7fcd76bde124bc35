"""Where one core's time goes in an eval worker: each pipeline stage's CPU, and the pipeline
against bare inference on that core, one run.

Pins this process to one core (the last one it may use; a ``--workers`` worker with 1 thread
runs like this) and opens the model with 1 thread, then:
  stages    for each image, in turn and timed apart (CPU seconds of this process): JPEG read,
            resize + tensor, inference (wall), decode (with the preset's score floor),
            post-processing, the prediction file, the landmark sidecar
  pipeline  ``PredictionRun`` over the same JPEGs, both ways, each between two bare-inference
            runs of --images / 2 calls on one prepared tensor: "inline" (the stages one after
            another in one thread, what a one-core worker does) and "threads" (reader and
            writer threads beside inference, sharing the core)
and reports the stages' ms per image, each pipeline's images/s, its ratio to bare 1-thread
inference (mean of the runs around it), and inference's share of the pipeline's time. On one
core every stage besides inference is time inference does not get, so
``1 / (1 + other_ms / infer_ms)`` bounds that ratio; the ratio of ``--workers``
(``bench_workers.py``) to bare inference at the default threads is that ratio times how much
faster per core 1-thread inference is than multi-thread inference.

    python benchmarks/bench_stages.py [--model PATH] [--preset omz] [--images 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import DATASET_HELP, bare_images_per_s, dataset
from bench_workers import DEFAULT_MODEL

from rfbench.accuracy.landmarks import landmarks_dir_for, write_landmarks_file
from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.accuracy.pipeline import warm_up_kernels
from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.postprocess import postprocess, score_floor, submission_xywhs
from rfbench.decoder.preprocess import preprocess, read_image, resize_image
from rfbench.latency.load import LoadAccumulator, snapshot
from rfbench.wider.predictions import write_prediction_file

STAGES = ("read", "resize+tensor", "infer (wall)", "decode", "postprocess", "prediction file", "landmarks file")


def stage_ms(adapter, spec, preset, images_dir: Path, ids: list[str], out: Path) -> dict[str, float]:
    """Mean ms per image of each stage, the stages run one after another (no threads)."""
    total = dict.fromkeys(STAGES, 0.0)
    for image_id in ids:
        marks = [time.process_time()]
        image = read_image(images_dir / f"{image_id}.jpg")
        marks.append(time.process_time())
        if adapter.image_pixels is not None:  # eval's u8 feed: the runtime converts the image
            resized, transform = resize_image(image, spec.input.hw, "stretch")
            tensor = resized[None] if spec.pixels.channel_order == "BGR" else resized[None, :, :, ::-1].copy()
        else:
            tensor, transform = preprocess(image, spec.input.hw, spec.pixels, "stretch", spec.input.layout)
        marks.append(time.process_time())
        wall = time.perf_counter()
        outputs = adapter.infer({spec.input.name: tensor})
        total["infer (wall)"] += time.perf_counter() - wall
        marks.append(time.process_time())
        levels = decode_outputs(outputs, spec.layout, transform.network_hw, score_floor(preset))
        marks.append(time.process_time())
        dets = postprocess(levels, preset, transform)
        marks.append(time.process_time())
        write_prediction_file(out, image_id, submission_xywhs(dets, preset))
        marks.append(time.process_time())
        write_landmarks_file(landmarks_dir_for(out), image_id, dets)
        marks.append(time.process_time())
        for name, (a, b) in zip(STAGES, zip(marks, marks[1:]), strict=True):
            if name != "infer (wall)":
                total[name] += b - a
    return {name: 1000 * value / len(ids) for name, value in total.items()}


def pipeline_ratio(options, adapter, spec, preset, images_dir: Path, ids: list[str], out: Path,
                   overlap: bool, bare: float, bare_count: int) -> tuple[float, float]:
    """One pipeline run (``overlap``: reader/writer threads, else inline) and the bare run after
    it; prints a line, returns (pipeline / mean of the bare runs around it, the bare run after)."""
    runner, _, _ = prediction_runner(options, adapter, spec, preset, images_dir, out)
    runner.overlap = overlap
    load, before = LoadAccumulator(), snapshot()
    stats = runner.run(ids, progress=False)
    load.add(before, snapshot())
    after = bare_images_per_s(adapter, spec, bare_count)
    ratio = stats.images_per_s / ((bare + after) / 2)
    found = load.as_dict()
    print(f"pipeline ({'threads' if overlap else 'inline'}) {stats.images_per_s:.1f} img/s, "
          f"bare 1-thread {bare:.1f}/{after:.1f} img/s, ratio {ratio:.3f}; inference (wall) "
          f"{stats.infer_s / stats.wall_s:.0%} of the run; other cores {found['other_busy_cores']}, "
          f"steal {found['steal_cores']}")
    return ratio, after


def one_core_parser(description: str | None) -> argparse.ArgumentParser:
    """The options of the one-core scripts (this one and ``bench_inline_overhead.py``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--preset", default="omz")
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--feed", choices=("u8", "f32"), default="u8",
                        help="eval's --feed: the uint8 image converted by OpenVINO (default), or the float32 tensor")
    return parser


def main() -> int:
    parser = one_core_parser(__doc__)
    parser.add_argument("--dataset", choices=("real", "synthetic"), default="real", help=DATASET_HELP)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    options = ModelRunOptions(args.model, preset=args.preset, threads=1, u8_feed=args.feed == "u8")
    adapter, spec, preset = open_model(options)
    warm_up_kernels()
    ratios: dict[str, list[float]] = {"inline": [], "threads": []}
    with tempfile.TemporaryDirectory() as tmp, adapter:
        root = Path(tmp)
        ids = dataset(args.dataset, root, args.images)
        images_dir = root / "WIDER_val" / "images"
        bare_count = max(20, args.images // 2)
        bare_images_per_s(adapter, spec, 5)
        bare = bare_images_per_s(adapter, spec, bare_count)
        print(f"model {args.model.name}, preset {args.preset}, 1 thread on core {core}, {args.images} JPEGs ({args.dataset})")
        for r in range(args.rounds):
            stages = stage_ms(adapter, spec, preset, images_dir, ids, root / f"stages-{r}")
            other = sum(v for k, v in stages.items() if k != "infer (wall)")
            print("stages ms/image: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
                  + f"; besides inference {other:.2f} (bound {1 / (1 + other / stages['infer (wall)']):.3f})")
            modes = (("inline", False), ("threads", True))
            for mode, overlap in modes if r % 2 == 0 else modes[::-1]:  # neither always first
                ratio, bare = pipeline_ratio(options, adapter, spec, preset, images_dir, ids,
                                             root / f"run-{mode}-{r}", overlap, bare, bare_count)
                ratios[mode].append(ratio)
    print("median pipeline / bare 1-thread ratio on one core: "
          + ", ".join(f"{mode} {statistics.median(values):.3f}" for mode, values in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
