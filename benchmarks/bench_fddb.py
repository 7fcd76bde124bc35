"""FDDB scoring time at full size: 10 folds, 2,845 images, 5,171 faces, realistic detections.

Synthetic data of FDDB's shape (image sizes 250-450 px, 1-3 faces of 20-120 px per image, as
the folds have 5,171 faces in 2,845 images; per image ``--dets`` detections: one near each face
with a jittered box, the rest scattered, scores in (0, 1)) is scored by
:func:`rfbench.fddb.evaluate.evaluate` with the image sizes given (reading them from the files
is I/O, not evaluation). Reports the median evaluator wall and CPU time of ``--rounds`` runs,
the time per image, the first round alone (what one ``eval`` pays: it also imports
``scipy.optimize`` for the assignments and touches its memory for the first time), the peak
resident memory of the process, and the machine's load before and after.

    python benchmarks/bench_fddb.py [--rounds 5] [--dets 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from rfbench.accuracy.placement import peak_rss_mb
from rfbench.fddb.evaluate import evaluate
from rfbench.fddb.folds import FddbGroundTruth

IMAGES, FACES = 2845, 5171


def synthetic(dets_per_image: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    counts = np.ones(IMAGES, int)
    extra = rng.choice(IMAGES, FACES - IMAGES, replace=True)
    np.add.at(counts, extra, 1)
    names, ellipses, detections, sizes = [], {}, {}, {}
    for i, n in enumerate(counts):
        name = f"2002/08/{i // 300:02d}/big/img_{i}"
        h, w = int(rng.integers(250, 450)), int(rng.integers(250, 450))
        ra = rng.uniform(12, 60, n)
        e = np.column_stack([ra, ra * rng.uniform(0.6, 0.9, n), rng.uniform(-0.4, 0.4, n) + np.pi / 2,
                             rng.uniform(0, w, n), rng.uniform(0, h, n)])
        near = np.column_stack([e[:, 3] - e[:, 1] + rng.normal(0, 4, n), e[:, 4] - e[:, 0] + rng.normal(0, 4, n),
                                2 * e[:, 1] * rng.uniform(0.8, 1.2, n), 2 * e[:, 0] * rng.uniform(0.8, 1.2, n)])
        rest = dets_per_image - n
        far = np.column_stack([rng.uniform(-20, w, rest), rng.uniform(-20, h, rest),
                               rng.uniform(8, 80, rest), rng.uniform(8, 80, rest)])
        boxes = np.vstack([near, far])
        scores = np.concatenate([rng.uniform(0.5, 1, n), rng.uniform(0, 0.9, rest)])
        names.append(name)
        ellipses[name], sizes[name] = e, (h, w)
        detections[name] = np.column_stack([boxes, scores])
    gt = FddbGroundTruth(Path("."), tuple(range(1, 11)), names, {n: 1 for n in names}, ellipses)
    return gt, detections, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dets", type=int, default=30, help="detections per image")
    args = parser.parse_args()
    gt, dets, sizes = synthetic(args.dets)
    print(f"machine: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs before")
    times, cpu = [], []
    for _ in range(args.rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        roc = evaluate(gt, dets, sizes)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    med = statistics.median(times)
    print(f"{len(gt.names)} images, {gt.num_faces} faces, {sum(len(d) for d in dets.values())} "
          f"detections, {len(roc.thresholds)} thresholds")
    print(f"evaluator: median {med:.3f} s of {args.rounds} (min {min(times):.3f}, max {max(times):.3f}); "
          f"{med / len(gt.names) * 1e3:.3f} ms per image; CPU time median {statistics.median(cpu):.3f} s "
          "(what the machine's other load does not stretch as much)")
    print(f"first round: {times[0]:.3f} s (one eval's cost: the scipy.optimize import and first-touch "
          f"memory included); peak resident memory {peak_rss_mb()} MB")
    print(f"machine: load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
