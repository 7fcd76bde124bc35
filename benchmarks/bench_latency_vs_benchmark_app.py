"""Does ``rfbench latency`` agree with OpenVINO's ``benchmark_app``?

On the R50 reference graph (or ``--model``), for each precision (f32, bf16) and each round,
alternately run (A B A B, every run a fresh process so both pay the same start-up):

- ``benchmark_app -m MODEL -d CPU -hint latency -infer_precision P -t T`` and
  ``rfbench latency --mode latency --precision P --time T`` (both end after T s);
- ``benchmark_app ... -hint throughput`` and ``rfbench latency --mode throughput``;
- once per round, ``rfbench latency --runtime all --precision f32`` (OpenVINO and ONNX Runtime
  interleaved in one process) for the OpenVINO / ONNX Runtime ratio.

Reported (median over rounds of the per-round ratios, rounds listed too):
- rfbench p50 / benchmark_app median latency (target 0.97-1.03),
- rfbench throughput / benchmark_app throughput FPS in throughput mode (target within 5%),
- OpenVINO / ONNX Runtime p50 at f32, and OpenVINO bf16 / f32 p50.

Every run also records how busy the machine was with other work, so noisy rounds are visible.
Writes ``bench.json`` under ``--out``. Defaults take about 10 minutes on the R50 (2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rfbench.latency.load import snapshot

log = logging.getLogger("bench_latency_vs_benchmark_app")

#: benchmark_app report lines -> field names (its Python tool, openvino 2024-2026 wheels).
_BA_PATTERNS = {
    "count": r"Count:\s+(\d+)\s+iterations",
    "duration_ms": r"Duration:\s+([\d.]+)\s+ms",
    "median_ms": r"Median:\s+([\d.]+)\s+ms",
    "average_ms": r"Average:\s+([\d.]+)\s+ms",
    "min_ms": r"Min:\s+([\d.]+)\s+ms",
    "max_ms": r"Max:\s+([\d.]+)\s+ms",
    "throughput_fps": r"Throughput:\s+([\d.]+)\s+FPS",
    "first_inference_ms": r"First inference took\s+([\d.]+)\s+ms",
    "compile_ms": r"Compile model took\s+([\d.]+)\s+ms",
    "num_streams": r"\bNUM_STREAMS:\s+(\d+)",
    "threads": r"\bINFERENCE_NUM_THREADS:\s+(\d+)",
    "optimal_requests": r"\bOPTIMAL_NUMBER_OF_INFER_REQUESTS:\s+(\d+)",
    "inference_precision": r"INFERENCE_PRECISION_HINT:\s+<Type: '(\w+)'>",
    "pinning": r"ENABLE_CPU_PINNING:\s+(\w+)",
}


def parse_benchmark_app(text: str) -> dict[str, Any]:
    """Numbers from benchmark_app's log; raises ValueError naming a missing field."""
    out: dict[str, Any] = {}
    for key, pattern in _BA_PATTERNS.items():
        match = re.search(pattern, text)
        if match is None:
            if key in ("median_ms", "throughput_fps", "count"):
                raise ValueError(f"benchmark_app output has no '{key}' line")
            out[key] = None
            continue
        value = match.group(1)
        try:
            out[key] = float(value) if "." in value or key.endswith(("_ms", "_fps")) else int(value)
        except ValueError:
            out[key] = value
    return out


def _timed_subprocess(cmd: list[str]) -> tuple[str, dict[str, Any]]:
    """Run ``cmd``; return its combined output and the load from other processes meanwhile."""
    before = snapshot()
    child_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    after = snapshot()
    child_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited {proc.returncode}: {' | '.join(tail)}")
    wall_s = (after.wall_ns - before.wall_ns) / 1e9
    child_cpu = (child_after.ru_utime + child_after.ru_stime) - (
        child_before.ru_utime + child_before.ru_stime
    )
    own = after.self_cpu_s - before.self_cpu_s
    other = None
    if before.machine_busy_s is not None and after.machine_busy_s is not None:
        busy = after.machine_busy_s - before.machine_busy_s
        other = max(0.0, busy - child_cpu - own) / wall_s
    return proc.stdout + proc.stderr, {"process_wall_s": wall_s, "other_busy_cores": other}


def run_benchmark_app(model: Path, precision: str, hint: str, seconds: float) -> dict[str, Any]:
    """One benchmark_app run; returns its parsed figures plus the other-process load."""
    exe = shutil.which("benchmark_app")
    if exe is None:
        raise RuntimeError("benchmark_app not on PATH (it ships in the openvino wheel)")
    cmd = [exe, "-m", str(model), "-d", "CPU", "-hint", hint, "-infer_precision", precision,
           "-t", str(int(round(seconds)))]  # fmt: skip
    text, load = _timed_subprocess(cmd)
    return {**parse_benchmark_app(text), **load, "command": " ".join(cmd)}


def run_rfbench(
    model: Path, precision: str, mode: str, seconds: float, runtime: str, workdir: Path
) -> list[dict[str, Any]]:
    """One ``rfbench latency`` process; returns its runs (one per runtime) from results.json."""
    out = Path(tempfile.mkdtemp(dir=workdir, prefix=f"rf-{mode}-{precision}-"))
    cmd = [sys.executable, "-m", "rfbench", "-q", "latency", "--model", str(model),
           "--device", "CPU", "--runtime", runtime, "--precision", precision, "--mode", mode,
           "--time", str(seconds), "--min-time", "0", "--min-iterations", "5",
           "--out", str(out)]  # fmt: skip
    _text, load = _timed_subprocess(cmd)
    record = json.loads((out / "results.json").read_text())
    runs = record["runs"]
    for run in runs:
        run["process"] = load
        run["command"] = " ".join(cmd)
    return runs


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def one_round(model: Path, precisions: list[str], seconds: float, workdir: Path, k: int) -> dict:
    """One round: per precision, latency then throughput, benchmark_app and rfbench alternating.

    Which tool goes first alternates between rounds so neither always runs on a warmer machine.
    """
    result: dict[str, Any] = {}
    for precision in precisions:
        entry = {}
        for mode in ("latency", "throughput"):
            order = ("ba", "rf") if k % 2 == 0 else ("rf", "ba")
            pair = {}
            for tool in order:
                log.info("round %d %s %s: %s", k, precision, mode, tool)
                if tool == "ba":
                    pair["ba"] = run_benchmark_app(model, precision, mode, seconds)
                else:
                    (pair["rf"],) = run_rfbench(model, precision, mode, seconds, "openvino", workdir)
            entry[mode] = pair
        result[precision] = entry
    if "f32" in precisions:
        log.info("round %d f32: rfbench openvino vs onnxruntime (interleaved)", k)
        result["ov_vs_ort_f32"] = run_rfbench(model, "f32", "latency", seconds, "all", workdir)
    return result


def summarise(rounds: list[dict[str, Any]], precisions: list[str]) -> list[dict[str, Any]]:
    """Rows of the final table: metric, per-round values, median, target, verdict."""
    rows = []

    def add(metric: str, values: list[float | None], target: tuple[float, float] | None) -> None:
        got = [v for v in values if v is not None]
        median = statistics.median(got) if got else None
        ok = None if target is None or median is None else target[0] <= median <= target[1]
        rows.append({"metric": metric, "rounds": values, "median": median,
                     "target": target, "ok": ok})  # fmt: skip

    for p in precisions:
        lat = [r[p]["latency"] for r in rounds]
        tput = [r[p]["throughput"] for r in rounds]
        add(f"{p} benchmark_app latency median ms", [x["ba"]["median_ms"] for x in lat], None)
        add(f"{p} rfbench latency p50 ms", [x["rf"]["latency_p50_ms"] for x in lat], None)
        add(f"{p} rfbench p50 / benchmark_app median",
            [_ratio(x["rf"]["latency_p50_ms"], x["ba"]["median_ms"]) for x in lat], (0.97, 1.03))  # fmt: skip
        add(f"{p} benchmark_app latency-hint FPS", [x["ba"]["throughput_fps"] for x in lat], None)
        add(f"{p} rfbench latency-mode FPS", [x["rf"]["throughput_fps"] for x in lat], None)
        add(f"{p} benchmark_app -hint throughput FPS", [x["ba"]["throughput_fps"] for x in tput], None)
        add(f"{p} rfbench throughput-mode FPS", [x["rf"]["throughput_fps"] for x in tput], None)
        add(f"{p} rfbench / benchmark_app throughput FPS",
            [_ratio(x["rf"]["throughput_fps"], x["ba"]["throughput_fps"]) for x in tput], (0.95, 1.05))  # fmt: skip
    if "f32" in precisions:
        pairs = [r["ov_vs_ort_f32"] for r in rounds]
        add("f32 OpenVINO / ONNX Runtime p50 (rfbench, interleaved)",
            [_ratio(ov["latency_p50_ms"], ort["latency_p50_ms"]) for ov, ort in pairs], None)  # fmt: skip
        add("f32 ONNX Runtime p50 ms", [ort["latency_p50_ms"] for _, ort in pairs], None)
    if {"f32", "bf16"} <= set(precisions):
        add("OpenVINO bf16 / f32 p50 (rfbench)",
            [_ratio(r["bf16"]["latency"]["rf"]["latency_p50_ms"],
                    r["f32"]["latency"]["rf"]["latency_p50_ms"]) for r in rounds], None)  # fmt: skip
        add("OpenVINO bf16 / f32 median (benchmark_app)",
            [_ratio(r["bf16"]["latency"]["ba"]["median_ms"],
                    r["f32"]["latency"]["ba"]["median_ms"]) for r in rounds], None)  # fmt: skip
    per_round = []
    for r in rounds:
        loads = [r[p][mode]["ba"]["other_busy_cores"] for p in precisions for mode in ("latency", "throughput")]
        loads += [r[p][mode]["rf"]["load"]["other_busy_cores"] for p in precisions for mode in ("latency", "throughput")]
        per_round.append(max((v for v in loads if v is not None), default=None))
    add("max other-process load in a run (cores busy)", per_round, None)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The summary table on stdout."""
    width = max(len(r["metric"]) for r in rows)
    for row in rows:
        vals = " ".join("   -   " if v is None else f"{v:7.3f}" for v in row["rounds"])
        med = "-" if row["median"] is None else f"{row['median']:.3f}"
        target = "" if row["target"] is None else f"target {row['target'][0]}-{row['target'][1]}"
        verdict = "" if row["ok"] is None else ("OK" if row["ok"] else "OFF")
        print(f"{row['metric'].ljust(width)}  rounds [{vals}]  median {med:>8}  {target} {verdict}")


def main() -> int:
    """Parse options, run the rounds, print and save the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model (default: the R50 reference graph)")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds (default 3)")
    parser.add_argument("--time", type=float, default=12.0, help="seconds per run (default 12)")
    parser.add_argument("--precisions", default="f32,bf16", help="comma list (default f32,bf16)")
    parser.add_argument("--out", type=Path, help="folder for bench.json (default reports/...)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.model is None:
        from rfbench.models.reference_r50 import reference_model_path

        args.model = reference_model_path()
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    out = args.out or Path("reports") / time.strftime("bench-latency-vs-ba-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="rfbench-bench-") as tmp:
        for k in range(args.rounds):
            rounds.append(one_round(args.model, precisions, args.time, Path(tmp), k))
    rows = summarise(rounds, precisions)
    print(f"model {args.model}; {args.rounds} rounds of {args.time:g} s runs; "
          f"cpu {os.cpu_count()} cores; took {time.time() - started:.0f} s")  # fmt: skip
    print_table(rows)
    (out / "bench.json").write_text(json.dumps({"summary": rows, "rounds": rounds}, indent=2))
    print(f"details: {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
