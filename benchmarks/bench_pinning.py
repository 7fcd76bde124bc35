"""Why ``--workers`` places its workers: two 1-thread OpenVINO processes side by side.

Runs, for each placement, two processes at the same time, each timing --count synchronous
inferences of one model with ``INFERENCE_NUM_THREADS`` 1 and one stream, and prints each
process's images/s and their sum:

  default    OpenVINO's own thread pinning (``ENABLE_CPU_PINNING`` on, its Linux default)
  own cores  each process restricted to a core of its own (``os.sched_setaffinity``) first
  unpinned   ``ENABLE_CPU_PINNING`` off, the OS places the threads

    python benchmarks/bench_pinning.py [--model PATH] [--count 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_MODEL = Path(os.environ.get("RFBENCH_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")) \
    / "models" / "retinaface-mnet025-640.onnx"
PLACEMENTS = ("default", "own cores", "unpinned")


def child(model: str, placement: str, core: int, count: int) -> None:
    """One process: place itself, compile, time ``count`` inferences; prints images/s."""
    import numpy as np
    import openvino as ov

    if placement == "own cores":
        os.sched_setaffinity(0, {core})
    config = {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32"}
    if placement == "unpinned":
        config["ENABLE_CPU_PINNING"] = False
    request = ov.Core().compile_model(model, "CPU", config).create_infer_request()
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 640, 640)).astype(np.float32)
    for _ in range(5):
        request.infer({0: x})
    start = time.perf_counter()
    for _ in range(count):
        request.infer({0: x})
    print(f"{count / (time.perf_counter() - start):.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--child", nargs=3, metavar=("PLACEMENT", "CORE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(str(args.model), args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("needs at least 2 usable cores")
    print(f"model {args.model.name}, 2 processes x 1 thread, cores {cores[:2]}, load average {os.getloadavg()[0]:.2f}")
    for placement in PLACEMENTS:
        procs = [subprocess.Popen([sys.executable, __file__, "--model", str(args.model), "--child", placement,
                                   str(core), str(args.count)], stdout=subprocess.PIPE, text=True)
                 for core in cores[:2]]
        rates = [float(p.communicate()[0]) for p in procs]
        print(f"{placement:<10} {rates[0]:6.1f} + {rates[1]:6.1f} = {sum(rates):6.1f} img/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
