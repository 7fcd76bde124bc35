"""INT8 and bf16 against f32, one run: quantize, then latency interleaved and AP deltas.

For each model (the R50 reference graph and the MobileNet-0.25 fixture):
  1. quantize with NNCF for OpenVINO and with ONNX Runtime's quantize_static for ORT, through
     rfbench's quantize code path (rfbench.quantize), timing each (model read to model saved);
     calibration images: the five WIDER fixture images repeated to --calibration images (not
     synthetic; a 5-image calibration repeated is what this machine holds, say so in reports);
  2. measure the cells  openvino f32 | openvino bf16 | openvino int8 | onnxruntime f32 |
     onnxruntime int8  interleaved in rounds (rfbench.latency: one sync request per cell,
     chunks alternate, every cell re-warmed before its chunk), the other processes' load
     recorded per cell; ratios int8/f32 and bf16/f32 of p50 and of the minimum, per runtime;
  3. evaluate every cell on the five fixture images (all protocols) and report AP - AP(f32).
The R50 graph has seeded weights (trained ones are not obtainable): its APs are ~0 and its
AP deltas mean nothing; its latency ratios and quantize time are the point.

    RFBENCH_FIXTURES=../shared/fixtures python benchmarks/bench_quantize.py \\
        [--models r50,mnet] [--calibration 300] [--ort-calibration 30] [--time 10] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from rfbench.errors import RfbenchError
from rfbench.latency.loop import measure, verdict
from rfbench.latency.rules import StopRule
from rfbench.latency.runner import LatencyOptions
from rfbench.latency.session import open_session_adapter, start_session
from rfbench.latency.stats import summarize_latencies_ns

REPO = Path(__file__).resolve().parents[1]
CELLS = (("openvino", "f32"), ("openvino", "bf16"), ("openvino", "int8"),
         ("onnxruntime", "f32"), ("onnxruntime", "int8"))


def fixtures_root() -> Path:
    env = os.environ.get("RFBENCH_FIXTURES")
    return Path(env) if env else REPO.parent / "shared" / "fixtures"


def model_source(name: str) -> Path:
    if name == "r50":
        from rfbench.models.reference_r50 import reference_model_path

        return reference_model_path()
    return fixtures_root() / "models" / "retinaface-mnet025-640.onnx"


def quantize_both(source: Path, out: Path, calibration: int, ort_calibration: int) -> dict:
    """INT8 models for both runtimes; returns {runtime: {"path", "wall_s", "quantize_s"}}."""
    from rfbench.quantize import onnxruntime_static, openvino_nncf, output
    from rfbench.quantize.calibration import CalibrationImages
    from rfbench.quantize.run import QuantizeOptions, _open_spec
    from rfbench.wider.ground_truth import find_images_dir, load_ground_truth

    root = fixtures_root() / "wider-mini"
    ids = load_ground_truth(root).image_ids
    done = {}
    for runtime, count in (("openvino", calibration), ("onnxruntime", ort_calibration)):
        repeated = [ids[i % len(ids)] for i in range(count)]
        start = time.perf_counter()
        spec, _ = _open_spec(QuantizeOptions(model=source, data_root=root, runtime=runtime))
        images = CalibrationImages(find_images_dir(root), spec)
        if runtime == "openvino":
            result = openvino_nncf.quantize(source, images, repeated)
            path = out / output.quantized_name(source, "ir")
            output.save_ir(result.model, path)
            seconds = result.quantize_s
        else:
            path = out / output.quantized_name(source, "onnx")
            seconds = onnxruntime_static.quantize(source, images, repeated, path).quantize_s
        done[runtime] = {"path": path, "calibration_images": count,
                         "wall_s": time.perf_counter() - start, "quantize_s": seconds}
        logging.info("%s %s: quantized in %.1f s", source.name, runtime, done[runtime]["wall_s"])
    return done


def latency_cells(models: dict, rule: StopRule, chunk_s: float) -> dict:
    """Interleaved sync latency of every cell that opens; skipped cells carry the reason."""
    sessions, skipped = [], {}
    with contextlib.ExitStack() as stack:
        for runtime, precision in CELLS:
            label = f"{runtime}/{precision}"
            model = models[(runtime, precision)]
            options = LatencyOptions(model=model, runtimes=(runtime,),
                                     precision=None if precision == "int8" else precision,
                                     rule=rule, chunk_s=chunk_s)
            try:
                adapter = open_session_adapter(runtime, model, options, None)
            except RfbenchError as exc:
                skipped[label] = str(exc)
                continue
            stack.callback(adapter.close)
            sessions.append((label, start_session(label, adapter, options), adapter))
        runs = measure([(label, s.workload) for label, s, _ in sessions], rule,
                       chunk_s=chunk_s, rewarm=True)
        cells = {}
        for (label, _, adapter), run in zip(sessions, runs, strict=True):
            stats = summarize_latencies_ns(run.latencies_ns())
            valid, reason = verdict(run, rule)
            cells[label] = {**stats, "iterations": run.completed, "chunks": run.chunks,
                            "measured_time_s": run.wall_ns / 1e9, "valid": valid,
                            "invalid_reason": reason,
                            "precision_effective": adapter.describe()["effective"].get("precision"),
                            "load": run.load.as_dict()}
    return {"cells": cells, "skipped": skipped}


def eval_cells(models: dict, out: Path) -> dict:
    """All-protocol APs of every cell on the five fixture images (rfbench eval, in-process)."""
    from rfbench.cli import main

    fixtures = fixtures_root()
    aps = {}
    for runtime, precision in CELLS:
        target = out / f"eval-{runtime}-{precision}"
        args = ["-q", "eval", "--data-root", str(fixtures / "wider-mini"), "--gt-mat-dir",
                str(fixtures / "wider-val-gt"), "--model", str(models[(runtime, precision)]),
                "--runtime", runtime, "--out", str(target)]
        if precision != "int8":
            args += ["--precision", precision]
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(args)
        if code != 0:
            aps[f"{runtime}/{precision}"] = None
            continue
        record = json.loads((target / "results.json").read_text())
        aps[f"{runtime}/{precision}"] = {f"{m['protocol']}/{m['setting']}": m["ap"]
                                        for m in record["metrics"]}
    return aps


def ratios(latency: dict, aps: dict) -> dict:
    """p50 and min ratios vs the runtime's f32 cell, and AP deltas (points) vs f32."""
    out = {}
    cells = latency["cells"]
    for runtime, precision in CELLS:
        label, base = f"{runtime}/{precision}", f"{runtime}/f32"
        if precision == "f32" or label not in cells or base not in cells:
            continue
        entry = {key: cells[label][f"latency_{key}_ms"] / cells[base][f"latency_{key}_ms"]
                 for key in ("p50", "min")}
        if aps.get(label) and aps.get(base):
            entry["ap_delta_points"] = {k: (aps[label][k] - aps[base][k]) * 100 for k in aps[base]}
        out[f"{label} / f32"] = entry
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="r50,mnet")
    parser.add_argument("--calibration", type=int, default=300)
    parser.add_argument("--ort-calibration", type=int, default=30)
    parser.add_argument("--time", type=float, default=10.0,
                        help="time budget per cell, s (each cell gets all of it)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="a cell is valid with at least this many s measured "
                        "(default: half the budget)")
    parser.add_argument("--min-iterations", type=int, default=10,
                        help="... and at least this many inferences (default: 10)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("nncf").setLevel(logging.WARNING)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-quantize-"))
    out.mkdir(parents=True, exist_ok=True)
    min_time = args.time / 2 if args.min_time is None else args.min_time
    rule = StopRule(budget_time_s=args.time, min_time_s=min_time,
                    min_iterations=args.min_iterations)
    from rfbench.latency.load import loadavg

    report = {"calibration_images": "the 5 wider-mini fixture images repeated",
              "loadavg_start": loadavg(), "stop_rule": rule.as_dict(), "models": {}}
    for name in args.models.split(","):
        source = model_source(name)
        quantized = quantize_both(source, out, args.calibration, args.ort_calibration)
        models = {(r, p): source for r, p in CELLS if p != "int8"}
        models.update({(r, "int8"): quantized[r]["path"] for r in ("openvino", "onnxruntime")})
        latency = latency_cells(models, rule, chunk_s=args.time / 5)
        aps = eval_cells(models, out / name)
        report["models"][name] = {
            "source": str(source),
            "quantize": {r: {k: v for k, v in q.items() if k != "path"} for r, q in quantized.items()},
            "latency": latency, "ap": aps, "ratios": ratios(latency, aps)}
        print_model(name, report["models"][name])
        (out / "bench_quantize.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nfull figures: {out / 'bench_quantize.json'}")
    return 0


def print_model(name: str, entry: dict) -> None:
    print(f"\n== {name} ({Path(entry['source']).name})")
    for runtime, q in entry["quantize"].items():
        print(f"quantize {runtime:12s} {q['calibration_images']:4d} images  {q['wall_s']:7.1f} s wall"
              f"  ({q['quantize_s']:.1f} s in the quantizer)")
    print(f"{'cell':18s} {'p50 ms':>9s} {'min ms':>9s} {'iters':>6s} {'other cores':>12s} "
          "precision  valid")
    for label, cell in entry["latency"]["cells"].items():
        others = cell["load"]["other_busy_cores"]
        print(f"{label:18s} {cell['latency_p50_ms']:9.2f} {cell['latency_min_ms']:9.2f} "
              f"{cell['iterations']:6d} {others if others is not None else float('nan'):12.2f} "
              f"{cell['precision_effective']}  {'yes' if cell['valid'] else cell['invalid_reason']}")
    for label, reason in entry["latency"]["skipped"].items():
        print(f"{label:18s} skipped: {reason}")
    for label, r in entry["ratios"].items():
        deltas = ", ".join(f"{k} {v:+.2f}" for k, v in (r.get("ap_delta_points") or {}).items())
        print(f"{label:24s} p50 x{r['p50']:.3f}  min x{r['min']:.3f}  AP delta points: {deltas}")


if __name__ == "__main__":
    sys.exit(main())
