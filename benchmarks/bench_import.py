"""How long ``rfbench import`` takes and how much memory it needs, per checkpoint format.

Each import runs in a fresh process (as a user runs ``rfbench import``), timed two ways: the
whole process (``python -m rfbench import ...``, interpreter and imports included) and the
import itself (detect + read + translate + write, inside the process). Memory: the process's
peak RSS (VmHWM) minus that of a baseline process that imported the same modules and did no
import, against the checkpoint's size (the issue's bound: <= 2x the file).

Checkpoints: the real mnet.25 fixture (1.8 MB), a synthetic R50 checkpoint (the real R50
symbol, random weights with its real names and shapes, ~118 MB, as the tests build it) and,
when ``tests/pth_checkpoints.py`` is there, synthetic Pytorch_Retinaface .pth files.

    python benchmarks/bench_import.py [--rounds 3] [--out-format onnx|xml]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("RFBENCH_FIXTURES", REPO.parent / "shared" / "fixtures"))
sys.path.insert(0, str(REPO / "tests"))

_CHILD = r"""
import json, sys, time
from pathlib import Path
start = time.perf_counter()
from rfbench.models.importer.convert import convert, write_model
from rfbench.models.importer.formats import find_checkpoint
imported_modules = time.perf_counter()
if sys.argv[1] != "-":
    write_model(convert(find_checkpoint(sys.argv[1]), None), Path(sys.argv[2]))
done = time.perf_counter()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"import_s": done - imported_modules, "modules_s": imported_modules - start,
                  "hwm_kb": hwm}))
"""


def _child(checkpoint: str, out: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, checkpoint, out], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def _whole_process(checkpoint: str, out: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rfbench", "import", checkpoint, "--out", out,
                    "--force"], check=True, capture_output=True)
    return time.perf_counter() - start


def _checkpoints(scratch: Path) -> dict[str, Path]:
    """name -> checkpoint path (synthetic ones written into ``scratch``)."""
    import shutil

    import numpy as np
    from mxnet_checkpoints import SymbolForward, write_params

    found = {"mnet.25 (MXNet, fixture)": FIXTURES / "models" / "retinaface-mnet025-mxnet-0000.params"}
    forward = SymbolForward(FIXTURES / "models" / "retinaface-r50-mxnet-symbol.json", seed=1)
    forward.run(np.zeros((1, 3, 64, 64), np.float32))  # makes every weight, real shapes
    shutil.copy(FIXTURES / "models" / "retinaface-r50-mxnet-symbol.json", scratch / "R50-symbol.json")
    write_params(scratch / "R50-0000.params", forward.args, forward.aux)
    found["R50 (MXNet, synthetic)"] = scratch / "R50-0000.params"
    try:
        import pth_checkpoints
    except ImportError:
        return found
    found.update(pth_checkpoints.benchmark_checkpoints(scratch))
    return found


def _load() -> str:
    one, _, _ = os.getloadavg()
    return f"load average {one:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-format", choices=("onnx", "xml"), default="onnx")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        base = _child("-", "-")["hwm_kb"]
        print(f"machine: {_load()} before; baseline process peak RSS {base / 1024:.0f} MB")
        print(f"{'checkpoint':32} {'file MB':>8} {'import s':>9} {'process s':>10} "
              f"{'peak RSS - base, MB':>20} {'x file':>7}")
        for name, path in _checkpoints(scratch).items():
            out = str(scratch / f"out.{args.out_format}")
            runs = [_child(str(path), out) for _ in range(args.rounds)]
            whole = [_whole_process(str(path), out) for _ in range(args.rounds)]
            size = path.stat().st_size / 2**20
            extra = statistics.median(r["hwm_kb"] for r in runs) / 1024 - base / 1024
            print(f"{name:32} {size:8.1f} {statistics.median(r['import_s'] for r in runs):9.2f} "
                  f"{statistics.median(whole):10.2f} {extra:20.0f} {extra / size:7.2f}")
        print(f"machine: {_load()} after (medians of {args.rounds} runs)")


if __name__ == "__main__":
    main()
