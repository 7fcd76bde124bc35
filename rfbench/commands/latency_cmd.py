"""``rfbench latency``: how long one inference takes, and how many per second, measured honestly."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rfbench.commands.options import non_negative_int, positive_float, positive_int, shape_arg

log = logging.getLogger(__name__)

# Mirrors rfbench.latency defaults (kept here so --help does not import numpy or runtimes).
_MIN_TIME_S = 10.0
_MIN_ITERATIONS = 30
_CAP_FACTOR = 5.0
_WARMUP = 2
_RUNTIME_CHOICES = ("openvino", "onnxruntime", "all")

DESCRIPTION = f"""\
Measure inference latency and throughput of a model (default: the RetinaFace-R50 reference
graph, 1x3x640x640) on one or more runtimes.

Modes:
  latency     synchronous API, one infer request: each inference is timed on its own with
              time.perf_counter_ns; the runtime gets its latency hint. Answers "how long does
              one image take?".
  throughput  asynchronous API, N infer requests kept in flight (OpenVINO: the throughput
              hint picks streams and requests; ONNX Runtime: N threads calling Run). Each
              sample is one request's submit-to-completion time. Answers "how many images per
              second?".
In both modes throughput is measured (completed inferences x batch / wall time), never derived
from latency.

Method: random inputs (fixed seed) are made before timing; model read, compile and the first
inference are timed and reported apart; {_WARMUP} warm-up inferences (--warmup) are not counted;
then the run continues until BOTH --time seconds and --iterations inferences are reached. A run
that hits the cap (--max-time, default {_CAP_FACTOR:g} x --time) or is interrupted (Ctrl-C: the
samples so far are written, exit status 130) is reported as NOT VALID with the reason.
Statistics: min, mean, std, p50, p90, p95, p99, p99.9, max in ms, every raw sample kept in
samples.csv. The load other processes put on the machine during the run is recorded.

Precision: by default each runtime uses its own default and the effective precision is shown.
OpenVINO picks bf16 on CPUs with AVX-512 BF16/AMX (about 2x faster than f32, outputs differ
~1-2%); ONNX Runtime runs f32. Pass --precision f32 for a like-for-like comparison.
"""

EPILOG = """\
examples:
  rfbench latency --device CPU
      OpenVINO, latency mode, default precision, on the R50 reference graph
  rfbench latency --device CPU --runtime all --precision f32
      OpenVINO vs ONNX Runtime at f32, measured interleaved (A B A B), with ratios
  rfbench latency --model m-dynamic.onnx --input-size native --input-data WIDER_val/images
      each image's own size, as `eval --input-size native` feeds it: ms per image and per megapixel
  rfbench latency --device CPU --mode throughput --requests 4 --time 30
      throughput with 4 parallel requests for at least 30 s
  rfbench latency --model face.onnx --precision bf16 --per-layer --out reports/bf16
      a model of your own, plus the slowest layers from the runtime's counters

output (--out, default reports/latency-<time>/): results.json (settings requested and
effective, statistics, validity, load, versions), results.csv (one row per runtime),
samples.csv (iteration, runtime, request_id, chunk, start_offset_ms, latency_ms) and, with
--per-layer, layers.csv.

--runtime all: the runtimes are loaded in one process and measured in alternating chunks
(A B A B, each chunk 1/5 of --time, one untimed inference before each chunk), so drifting
machine load hits all alike; compare them by the ratio column, not across separate runs.

exit status: 0 every run valid, 1 a run not valid (cap reached), 2 bad input, 130 interrupted.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``latency`` sub-command."""
    parser = subparsers.add_parser(
        "latency",
        help="measure inference latency and throughput",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_what_arguments(parser.add_argument_group("what to run"))
    _add_duration_arguments(parser.add_argument_group("how long (both minimums must be met)"))
    _add_tuning_arguments(
        parser.add_argument_group("runtime settings (default: the runtime decides)")
    )
    _add_output_arguments(parser.add_argument_group("output"))
    parser.set_defaults(func=run)


def _add_what_arguments(what: argparse._ArgumentGroup) -> None:
    """Model, runtime, device, precision, mode and input shape."""
    what.add_argument("--device", default="CPU", help="device to run on (default: CPU)")
    what.add_argument(
        "--model",
        type=Path,
        help="model file (.onnx, or OpenVINO .xml); default: the R50 reference graph, built "
        "once into the cache",
    )
    what.add_argument(
        "--runtime",
        default="openvino",
        type=str.lower,
        choices=_RUNTIME_CHOICES,
        help="runtime; 'all' measures every runtime interleaved (default: openvino)",
    )
    what.add_argument(
        "--precision",
        choices=("f32", "bf16", "f16"),
        help="inference precision (default: the runtime's own; the effective one is reported)",
    )
    what.add_argument(
        "--mode",
        choices=("latency", "throughput"),
        default="latency",
        help="latency: sync, 1 request; throughput: async, N requests (default: latency)",
    )
    what.add_argument(
        "--batch",
        type=positive_int,
        default=1,
        help="batch size; > 1 reshapes the input (default: 1)",
    )
    what.add_argument(
        "--input-size", metavar="native|S:L",
        help="with --input-data: time each image at the eval's size (native, or SHORT:LONG such "
        "as 1600:2150; default native) and report latency per megapixel too",
    )
    what.add_argument(
        "--input-data", metavar="DIR",
        help="images (.jpg/.png) whose sizes to time, e.g. a WIDER_val/images folder (dynamic models)",
    )
    what.add_argument(
        "--input-shape",
        type=shape_arg,
        help="input shape for a model with dynamic dimensions, e.g. 1x3x640x640",
    )


def _add_duration_arguments(how_long: argparse._ArgumentGroup) -> None:
    """Minimum time and iterations, the hard cap and the warm-up."""
    how_long.add_argument(
        "--time",
        type=positive_float,
        default=_MIN_TIME_S,
        metavar="S",
        help=f"minimum measured seconds per runtime (default: {_MIN_TIME_S:g})",
    )
    how_long.add_argument(
        "--iterations",
        type=positive_int,
        default=_MIN_ITERATIONS,
        metavar="N",
        help=f"minimum completed inferences per runtime (default: {_MIN_ITERATIONS})",
    )
    how_long.add_argument(
        "--max-time",
        type=positive_float,
        metavar="S",
        help=f"hard cap on measured seconds; reaching it makes the run not valid "
        f"(default: {_CAP_FACTOR:g} x --time)",
    )
    how_long.add_argument(
        "--warmup",
        type=non_negative_int,
        default=_WARMUP,
        metavar="N",
        help=f"untimed warm-up inferences after the first one (default: {_WARMUP})",
    )


def _add_tuning_arguments(tuning: argparse._ArgumentGroup) -> None:
    """Threads, streams and requests; unset means the runtime's own choice."""
    tuning.add_argument("--threads", type=positive_int, metavar="N", help="inference threads")
    tuning.add_argument(
        "--streams", type=positive_int, metavar="N", help="OpenVINO execution streams"
    )
    tuning.add_argument(
        "--requests",
        type=positive_int,
        metavar="N",
        help="parallel infer requests in throughput mode (default: OpenVINO's optimal number; "
        "ONNX Runtime 1)",
    )


def _add_output_arguments(output: argparse._ArgumentGroup) -> None:
    """Per-layer profiling and the output folder."""
    output.add_argument(
        "--per-layer",
        action="store_true",
        help="also profile per-layer times (OpenVINO performance counters, ORT profiling) in a "
        "separate session after the timed run, print the top layers, save layers.csv",
    )
    output.add_argument(
        "--out", metavar="DIR", help="output folder (default: a new folder under reports/)"
    )


def _options(args: argparse.Namespace):  # -> LatencyOptions (imported lazily)
    """Turn parsed arguments into :class:`rfbench.latency.LatencyOptions`."""
    from rfbench.latency import LatencyOptions, StopRule

    if args.model is None:
        from rfbench.models.reference_r50 import reference_model_path

        model = reference_model_path()
    else:
        from rfbench.models.files import check_model_file

        model = check_model_file(args.model)
    if args.runtime == "all":
        from rfbench.runtimes import runtime_targets

        builtin = ("openvino", "onnxruntime")
        runtimes = builtin + tuple(sorted(set(runtime_targets()) - set(builtin)))
    else:
        runtimes = (args.runtime,)
    rule = StopRule(args.time, args.iterations, args.max_time)
    return LatencyOptions(
        model=model,
        runtimes=runtimes,
        device=args.device,
        precision=args.precision,
        mode=args.mode,
        rule=rule,
        threads=args.threads,
        streams=args.streams,
        requests=args.requests,
        batch=args.batch,
        input_shape=args.input_shape,
        warmup=args.warmup,
        per_layer=args.per_layer,
        **_sized_options(args),
    )


def _sized_options(args: argparse.Namespace) -> dict:
    """``--input-size`` / ``--input-data`` as LatencyOptions fields (empty when not given)."""
    from rfbench.commands.options import parse_input_size
    from rfbench.errors import RfbenchError

    if args.input_data is None:
        if args.input_size is not None:
            raise RfbenchError(f"--input-size {args.input_size} needs --input-data DIR: the images to time")
        return {}
    if args.input_shape is not None:
        raise RfbenchError("--input-data takes each image's size: leave out --input-shape")
    policy = parse_input_size(args.input_size or "native")
    return {"input_size": policy, "input_data": Path(args.input_data)}


def run(args: argparse.Namespace) -> int:
    """Run the measurement, print the table, write results.json/.csv and samples.csv.

    Returns 0 when every run is valid, 1 when a run is not valid (cap reached), 130 when
    interrupted (results are still written).
    """
    from rfbench.latency import build_record, layers_csv_text, run_benchmark, samples_csv_text
    from rfbench.latency.records import LAYERS_FILE, SAMPLES_FILE
    from rfbench.latency.table import report_text
    from rfbench.report import write_report
    from rfbench.results.record import record_header
    from rfbench.results.writer import atomic_write_text, new_output_dir, write_results

    options = _options(args)
    out_dir = new_output_dir(args.out, "latency")
    log.info(
        "measuring %s on %s (%s mode) for >= %g s and >= %d inferences each",
        ", ".join(options.runtimes), options.device, options.mode,
        options.rule.min_time_s, options.rule.min_iterations,
    )  # fmt: skip
    report = run_benchmark(options)
    atomic_write_text(out_dir / SAMPLES_FILE, samples_csv_text(report.measurements))
    if report.layers:
        atomic_write_text(out_dir / LAYERS_FILE, layers_csv_text(report.layers))
    write_results(out_dir, build_record(report, record_header("latency")))
    write_report([out_dir], out_dir / "report.html")
    sys.stdout.write(report_text(report, str(out_dir)) + "\n")
    for run in report.runs:  # --input-data: latency per megapixel
        if run.get("latency_per_megapixel_ms") is not None:
            sizes = run["input_sizes"]
            sys.stdout.write(
                f"{run['runtime']}: {run['latency_per_megapixel_ms']:.2f} ms per megapixel, "
                f"{run['input_images']} images at {run['input_size_policy']} "
                f"({sizes['megapixels_min']:.2f}-{sizes['megapixels_max']:.2f} MP)\n"
            )
    if report.interrupted:
        return 130
    return 0 if report.valid else 1
