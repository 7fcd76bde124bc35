"""What the one-core pipeline adds to its stages: an inline ``PredictionRun`` against the same
stages run one after another (``bench_stages.stage_ms``), on the same images, in one process.

Pins this process to one core and opens the model with 1 thread (``--feed`` as eval's), then
alternates --rounds times: the stages loop over --images real JPEGs (its CPU and wall ms per
image, and the sum of its stages), then an inline ``PredictionRun`` over the same JPEGs into a
fresh folder (CPU and wall ms per image, its inference wall ms). On one core CPU and wall agree
when the machine is idle; the gap between the two loops is the pipeline's own cost per image.
Put the scratch folder where the prediction files would go (``TMPDIR``): creating files costs
very different amounts on different file systems.

    TMPDIR=/dev/shm python benchmarks/bench_inline_overhead.py [--images 150] [--rounds 3]
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import dataset
from bench_stages import one_core_parser, stage_ms

from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.accuracy.pipeline import warm_up_kernels


def timed(fn, *args, **kwargs):
    """(``fn``'s result, its CPU s, its wall s)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    args = one_core_parser(__doc__).parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    options = ModelRunOptions(args.model, preset=args.preset, threads=1, u8_feed=args.feed == "u8")
    adapter, spec, preset = open_model(options)
    warm_up_kernels()
    with tempfile.TemporaryDirectory() as tmp, adapter:
        root = Path(tmp)
        ids = dataset("real", root, args.images)
        images = root / "WIDER_val" / "images"
        print(f"model {args.model.name}, preset {args.preset}, feed {args.feed}, {len(ids)} JPEGs, scratch {tmp}")
        for r in range(args.rounds):
            stages, cpu, wall = timed(stage_ms, adapter, spec, preset, images, ids, root / f"s{r}")
            print(f"stages    cpu {1e3 * cpu / len(ids):6.2f}  wall {1e3 * wall / len(ids):6.2f} ms/img "
                  f"(sum of stages {sum(stages.values()):.2f}, inference {stages['infer (wall)']:.2f})")
            runner, _, _ = prediction_runner(options, adapter, spec, preset, images, root / f"p{r}")
            runner.overlap = False
            stats, cpu, wall = timed(runner.run, ids, progress=False)
            print(f"pipeline  cpu {1e3 * cpu / len(ids):6.2f}  wall {1e3 * wall / len(ids):6.2f} ms/img "
                  f"(inference {1e3 * stats.infer_s / len(ids):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
