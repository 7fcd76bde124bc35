"""Does ``rfbench latency`` agree with OpenVINO's ``benchmark_app``, fed the same inputs?

On the R50 reference graph (or ``--model``), for each precision (f32, bf16) and each round,
alternately run (A B A B, every run a fresh process so both pay the same start-up), for each
input variant -- u8 or f32 input element type, random data or the images of ``--images``:

- ``benchmark_app -m MODEL -d CPU -hint latency -infer_precision P -ip u8|f32 [-i IMAGES] -t T``
  and ``rfbench latency --mode latency --precision P --input-precision u8|f32
  [--input-data DIR] --time T`` (benchmark_app's default is u8 for image inputs: that is the
  like-for-like pair of the default benchmark_app command);
- ``benchmark_app ... -hint throughput`` and ``rfbench latency --mode throughput`` (u8 random);
- once per round, ``rfbench latency --runtime all --precision f32`` (OpenVINO and ONNX Runtime
  interleaved in one process) for the OpenVINO / ONNX Runtime ratio.

A round's value of a metric is *busy* when, during any run it comes from, other processes kept
more than ``--busy-cores`` cores busy (``rfbench.latency.load``: /proc/stat minus our own CPU
time; rfbench's measured intervals, benchmark_app's whole process). Reported per metric: the
median over the quiet rounds, the busy rounds listed apart (their values kept in bench.json),
and the median over all rounds only when every round was busy (marked so).

Targets: rfbench p50 / benchmark_app median latency 0.97-1.03, throughput within 5%.
u8 input with real images needs a model whose pixel normalisation is inside the network
(layout A); for others that variant is skipped with the reason. Writes ``bench.json`` under
``--out``. Defaults take about 10 minutes on the R50 (2 cores), ~5 on MobileNet.
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
from dataclasses import dataclass
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


#: Input variants: (input element type, data) -- "random" or "images".
VARIANTS = (("u8", "random"), ("f32", "random"), ("u8", "images"), ("f32", "images"))


def run_benchmark_app(
    model: Path, precision: str, hint: str, seconds: float, input_precision: str,
    image_dir: Path | None,
) -> dict[str, Any]:
    """One benchmark_app run; returns its parsed figures plus the other-process load."""
    exe = shutil.which("benchmark_app")
    if exe is None:
        raise RuntimeError("benchmark_app not on PATH (it ships in the openvino wheel)")
    cmd = [exe, "-m", str(model), "-d", "CPU", "-hint", hint, "-infer_precision", precision,
           "-ip", input_precision, "-t", str(max(1, int(round(seconds))))]  # fmt: skip
    if image_dir is not None:  # a folder: benchmark_app 2026.4 fails on several -i paths
        cmd += ["-i", str(image_dir)]
    text, load = _timed_subprocess(cmd)
    ignored = re.search(r"[^\n]*(?:will be ignored|are ignored)[^\n]*", text)
    return {**parse_benchmark_app(text), **load, "command": " ".join(cmd),
            "input_warning": ignored.group(0).strip() if ignored else None}  # fmt: skip


def run_rfbench(
    model: Path, precision: str, mode: str, seconds: float, runtime: str, workdir: Path,
    input_precision: str, image_dir: Path | None,
) -> list[dict[str, Any]]:
    """One ``rfbench latency`` process; returns its runs (one per runtime) from results.json."""
    out = Path(tempfile.mkdtemp(dir=workdir, prefix=f"rf-{mode}-{precision}-{input_precision}-"))
    cmd = [sys.executable, "-m", "rfbench", "-q", "latency", "--model", str(model),
           "--device", "CPU", "--runtime", runtime, "--precision", precision, "--mode", mode,
           "--input-precision", input_precision,
           "--time", str(seconds), "--min-time", "0", "--min-iterations", "5",
           "--out", str(out)]  # fmt: skip
    if image_dir is not None:
        cmd += ["--input-data", str(image_dir)]
    _text, load = _timed_subprocess(cmd)
    record = json.loads((out / "results.json").read_text())
    runs = record["runs"]
    for run in runs:
        run["process"] = load
        run["command"] = " ".join(cmd)
    return runs


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def u8_images_problem(model: Path, image_dir: Path) -> str | None:
    """Why rfbench cannot feed ``model`` real images as u8 (a mean outside the net), or None."""
    from rfbench.errors import RfbenchError
    from rfbench.latency import LatencyOptions
    from rfbench.latency.feeds import FeedOptions
    from rfbench.latency.session import build_feeds
    from rfbench.runtimes.openvino.adapter import OpenVINOAdapter

    adapter = OpenVINOAdapter(model, precision="f32", input_precision="u8")
    try:
        options = LatencyOptions(model=model, feed=FeedOptions("u8", image_dir))
        build_feeds(adapter, options)
    except RfbenchError as exc:
        return str(exc)
    finally:
        adapter.close()
    return None


@dataclass(frozen=True)
class Inputs:
    """The images (flat folder of links, for both tools) and the variants to run."""

    image_dir: Path | None
    images: list[Path]
    variants: tuple[tuple[str, str], ...]
    skipped: dict[str, str]


def one_round(model: Path, precisions: list[str], seconds: float, workdir: Path, k: int,
              inputs: Inputs) -> dict:
    """One round: per precision and input variant, latency pairs; then a throughput pair.

    Which tool goes first alternates between rounds so neither always runs on a warmer machine.
    """
    result: dict[str, Any] = {}
    order = ("ba", "rf") if k % 2 == 0 else ("rf", "ba")
    for precision in precisions:
        entry: dict[str, Any] = {}
        cells = [(f"latency {ip} {data}", "latency", ip, data) for ip, data in inputs.variants]
        cells.append(("throughput u8 random", "throughput", "u8", "random"))
        for key, mode, ip, data in cells:
            image_dir = inputs.image_dir if data == "images" else None
            pair = {}
            for tool in order:
                log.info("round %d %s %s: %s", k, precision, key, tool)
                if tool == "ba":
                    pair["ba"] = run_benchmark_app(model, precision, mode, seconds, ip, image_dir)
                else:
                    (pair["rf"],) = run_rfbench(model, precision, mode, seconds, "openvino",
                                                workdir, ip, image_dir)
            entry[key] = pair
        result[precision] = entry
    if "f32" in precisions:
        log.info("round %d f32: rfbench openvino vs onnxruntime (interleaved)", k)
        result["ov_vs_ort_f32"] = run_rfbench(model, "f32", "latency", seconds, "all", workdir,
                                              "f32", None)
    return result


def _rf_load(run: dict[str, Any]) -> float | None:
    return (run.get("load") or {}).get("other_busy_cores")


def _pair_load(pair: dict[str, Any]) -> float | None:
    loads = [pair["ba"].get("other_busy_cores"), _rf_load(pair["rf"])]
    return max((v for v in loads if v is not None), default=None)


def summarise(rounds: list[dict[str, Any]], precisions: list[str], variants, busy_cores: float
              ) -> list[dict[str, Any]]:
    """Rows of the final table: metric, per-round values and loads, quiet median, busy rounds."""
    rows = []

    def add(metric: str, values: list[float | None], loads: list[float | None],
            target: tuple[float, float] | None = None) -> None:
        busy = [load is not None and load > busy_cores for load in loads]
        quiet = [v for v, b in zip(values, busy, strict=True) if v is not None and not b]
        every = [v for v in values if v is not None]
        median = statistics.median(quiet) if quiet else (statistics.median(every) if every else None)
        ok = None if target is None or median is None else target[0] <= median <= target[1]
        rows.append({"metric": metric, "rounds": values, "loads": loads,
                     "busy_rounds": [i for i, b in enumerate(busy) if b],
                     "quiet_rounds": len(quiet), "median": median,
                     "median_of": "quiet rounds" if quiet else "all rounds (every round busy)",
                     "target": target, "ok": ok})  # fmt: skip

    for p in precisions:
        for ip, data in variants:
            pairs = [r[p][f"latency {ip} {data}"] for r in rounds]
            loads = [_pair_load(x) for x in pairs]
            tag = f"{p} latency, {ip} input, {data} data"
            add(f"{tag}: benchmark_app median ms", [x["ba"]["median_ms"] for x in pairs], loads)
            add(f"{tag}: rfbench p50 ms", [x["rf"]["latency_p50_ms"] for x in pairs], loads)
            add(f"{tag}: rfbench p50 / benchmark_app median",
                [_ratio(x["rf"]["latency_p50_ms"], x["ba"]["median_ms"]) for x in pairs], loads,
                (0.97, 1.03))  # fmt: skip
        tput = [r[p]["throughput u8 random"] for r in rounds]
        loads = [_pair_load(x) for x in tput]
        add(f"{p} benchmark_app -hint throughput FPS (u8)", [x["ba"]["throughput_fps"] for x in tput], loads)
        add(f"{p} rfbench throughput-mode FPS (u8)", [x["rf"]["throughput_fps"] for x in tput], loads)
        add(f"{p} rfbench / benchmark_app throughput FPS (u8)",
            [_ratio(x["rf"]["throughput_fps"], x["ba"]["throughput_fps"]) for x in tput], loads,
            (0.95, 1.05))  # fmt: skip
    if "f32" in precisions:
        pairs = [r["ov_vs_ort_f32"] for r in rounds]
        loads = [max((v for v in map(_rf_load, pair) if v is not None), default=None) for pair in pairs]
        add("f32 OpenVINO / ONNX Runtime p50 (rfbench, interleaved)",
            [_ratio(ov["latency_p50_ms"], ort["latency_p50_ms"]) for ov, ort in pairs], loads)
        add("f32 ONNX Runtime p50 ms", [ort["latency_p50_ms"] for _, ort in pairs], loads)
    return rows


def print_table(rows: list[dict[str, Any]], busy_cores: float) -> None:
    """The summary table on stdout: values of busy rounds marked with '*'."""
    width = max(len(r["metric"]) for r in rows)
    print(f"'*' = busy round (other processes > {busy_cores:g} cores during a run of it); "
          "median over the quiet rounds")
    for row in rows:
        vals = " ".join(
            "   -    " if v is None else f"{v:7.3f}{'*' if i in row['busy_rounds'] else ' '}"
            for i, v in enumerate(row["rounds"])
        )
        med = "-" if row["median"] is None else f"{row['median']:.3f}"
        if row["quiet_rounds"] == 0:
            med += " (all busy)"
        target = "" if row["target"] is None else f"target {row['target'][0]}-{row['target'][1]}"
        verdict = "" if row["ok"] is None else ("OK" if row["ok"] else "OFF")
        print(f"{row['metric'].ljust(width)}  rounds [{vals}]  median {med:>8}  {target} {verdict}")


def prepare_inputs(model: Path, images: Path | None, tmp: Path) -> Inputs:
    """Link the images flat into ``tmp`` (both tools read the same files); choose variants."""
    if images is None:
        return Inputs(None, [], VARIANTS[:2], {"images": "no --images given"})
    from rfbench.latency.feeds import MAX_IMAGES, image_files

    folder = tmp / "images"
    folder.mkdir()
    linked = []
    for i, path in enumerate(image_files(images)[:MAX_IMAGES]):
        link = folder / f"{i:03d}{path.suffix.lower()}"
        link.symlink_to(path.resolve())
        linked.append(link)
    skipped = {}
    variants = VARIANTS
    problem = u8_images_problem(model, folder)
    if problem:
        variants = tuple(v for v in VARIANTS if v != ("u8", "images"))
        skipped["u8 images"] = problem
    return Inputs(folder, linked, variants, skipped)


def main() -> int:
    """Parse options, run the rounds, print and save the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model (default: the R50 reference graph)")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds (default 3)")
    parser.add_argument("--time", type=float, default=12.0, help="seconds per run (default 12)")
    parser.add_argument("--precisions", default="f32,bf16", help="comma list (default f32,bf16)")
    parser.add_argument("--images", type=Path, help="folder of images for the real-data variants "
                        "(first 64, sorted; default: random data only)")
    parser.add_argument("--busy-cores", type=float, default=0.25, help="a run with other "
                        "processes above this many cores busy makes its round busy (default 0.25)")
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
        inputs = prepare_inputs(args.model, args.images, Path(tmp))
        for reason in inputs.skipped.values():
            log.warning("skipped variant: %s", reason)
        for k in range(args.rounds):
            rounds.append(one_round(args.model, precisions, args.time, Path(tmp), k, inputs))
    rows = summarise(rounds, precisions, inputs.variants, args.busy_cores)
    print(f"model {args.model}; {args.rounds} rounds of {args.time:g} s runs; "
          f"cpu {os.cpu_count()} cores; took {time.time() - started:.0f} s")  # fmt: skip
    for name, reason in inputs.skipped.items():
        print(f"skipped {name}: {reason}")
    print_table(rows, args.busy_cores)
    (out / "bench.json").write_text(json.dumps(
        {"summary": rows, "rounds": rounds, "skipped": inputs.skipped,
         "images": [str(p.resolve()) for p in inputs.images], "busy_cores": args.busy_cores},
        indent=2))  # fmt: skip
    print(f"details: {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
