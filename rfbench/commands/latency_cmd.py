"""``rfbench latency``: how long one inference takes, and how many per second, measured honestly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rfbench.commands.eval_model import check_device_runtime
from rfbench.commands.latency_options import input_shape_for, sized_options
from rfbench.commands.options import (
    add_input_size_option,
    add_precision_option,
    add_results_options,
    model_file,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    precision_value,
    shape_arg,
)

# Mirrors rfbench.latency defaults (kept here so --help does not import numpy or runtimes).
_TIME_S = 30.0
_MIN_TIME_S = 10.0
_MIN_ITERATIONS = 20
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
inference are timed and reported apart; {_WARMUP} warm-up inferences (--warmup) are not counted.
Then each runtime is measured until its budget is spent: --time seconds (default {_TIME_S:g}) or
--iterations inferences, whichever comes first (like benchmark_app's -t and -niter). Only the
budget ends a run, so the wall time is predictable: the budget per runtime, plus read, compile
and warm-up. A separate validity rule judges the run afterwards: valid only with at least
--min-iterations samples (default {_MIN_ITERATIONS}) AND --min-time seconds measured (default
{_MIN_TIME_S:g}). After warm-up, the sample count the budget will give is estimated from the
warm-up latency and printed on stderr with the expected verdict, before measuring; the rule
never extends or cuts a run. A run that misses it, or is interrupted (Ctrl-C: the samples so
far are written, exit status 130), is reported NOT VALID with the reason.

Why {_TIME_S:g} s: on the R50 reference graph on a 2-core CPU one inference takes ~490 ms at
f32 (~250 ms at bf16) with AVX-512, ~1.04 s at f32 on an AVX2-only one, so {_TIME_S:g} s gives
~60 (~120) or ~29 samples, above the {_MIN_ITERATIONS}-sample minimum on both. The whole default run takes about {_TIME_S + 10:g} s on a
quiet machine: {_TIME_S:g} s measuring plus start-up, compile, warm-up and the HTML report.

Statistics: min, mean, std, p50, p90, p95, p99, p99.9, max in ms, every raw sample kept in
samples.csv. The load other processes put on the machine during the run is recorded.

Precision: f32 by default, as in rfbench eval, so a latency run and an accuracy run of the
same model are measured alike and runtimes compare like for like. --precision default lets
each runtime choose (OpenVINO picks bf16 on CPUs with AVX-512 BF16/AMX, about 2x faster than
f32, outputs differ ~1-2%; ONNX Runtime runs f32); the effective precision is printed and
recorded either way.

Input size: a model with a dynamic input runs at --input-size WxH (default 640x640, as in
eval and profile), at batch --batch; the shape used is printed and recorded. A fixed batch is
changed through the runtime (ONNX: the batch dimension rewritten and checked by ONNX's shape
inference; OpenVINO IR: Model.reshape), or refused in one line when the graph fixes it.

stdout: a header saying what was measured (model and sha256, runtime and version, device,
effective precision, threads/streams, input shape, mode), then the table; with --json only
the results record.
"""

EPILOG = """\
examples:
  rfbench latency --device CPU
      OpenVINO, latency mode, f32, on the R50 reference graph
  rfbench latency --device CPU --precision default
      the runtime's own precision (bf16 on CPUs with AVX-512 BF16/AMX)
  rfbench latency --device CPU --runtime all --precision f32
      OpenVINO vs ONNX Runtime at f32, measured interleaved (A B A B), with ratios
  rfbench latency --model m-dynamic.onnx --input-size native --input-data WIDER_val/images
      each image's own size, as `eval --input-size native` feeds it: ms per image and per megapixel
  rfbench latency --device CPU --mode throughput --requests 4 --time 30
      throughput with 4 parallel requests for 30 s
  rfbench latency --model face.onnx --iterations 200 --min-time 0
      exactly 200 samples however long they take, valid without a minimum time
  rfbench latency --model face.onnx --precision bf16 --per-layer --out reports/bf16
      a model of your own, plus the slowest layers from the runtime's counters
  rfbench latency --model face.onnx --input-precision u8 --input-data photos/
      u8 input as benchmark_app feeds it, timed on real pre-processed images

output (--out, default reports/latency-<time>/): results.json (settings requested and
effective, statistics, validity, load, versions), results.csv (one row per runtime),
samples.csv (iteration, runtime, request_id, chunk, start_offset_ms, latency_ms) and, with
--per-layer, layers.csv.

--runtime all: the runtimes are loaded in one process and measured in alternating chunks
(A B A B, each chunk 1/5 of the budget, one untimed inference before each chunk), so drifting
machine load hits all alike; compare them by the ratio column, not across separate runs. The
budget is per runtime: '--runtime all --time 20' measures each runtime for 20 s, so the
measurement takes 2 x 20 s plus the untimed inferences (printed before measuring).

exit status: 0 every run valid, 1 a run not valid (validity rule not met), 2 bad input,
130 interrupted.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "latency",
        help="measure inference latency and throughput",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_what_arguments(parser.add_argument_group("what to run"))
    _add_duration_arguments(
        parser.add_argument_group("how long (the budget ends the run; validity is judged after)")
    )
    _add_tuning_arguments(
        parser.add_argument_group("runtime settings (default: the runtime decides)")
    )
    _add_output_arguments(parser.add_argument_group("output"))
    _add_input_arguments(parser.add_argument_group("inputs fed and per-layer profile"))
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
    add_precision_option(what)
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
    add_input_size_option(what, policies=True, extra_help=(
        "; native and SHORT:LONG need --input-data: each image is timed at the size eval feeds it, "
        "and latency per megapixel is reported too"))
    what.add_argument(
        "--input-shape",
        type=shape_arg,
        metavar="SHAPE",
        help="deprecated: the full input shape, e.g. 1x3x640x640; use --input-size WxH (and "
        "--batch); still needed only for a model whose input is not one image",
    )


def _add_duration_arguments(how_long: argparse._ArgumentGroup) -> None:
    """The budget (time, iterations), the validity rule and the warm-up."""
    how_long.add_argument(
        "--time",
        type=positive_float,
        metavar="S",
        help="time budget per runtime: measuring ends once S seconds are measured (the "
        f"inference then running is completed); default {_TIME_S:g} unless --iterations is given",
    )
    how_long.add_argument(
        "--iterations",
        type=positive_int,
        metavar="N",
        help="iteration budget per runtime: measuring ends after N completed inferences; "
        "with --time, whichever comes first (default: none)",
    )
    how_long.add_argument(
        "--min-time",
        type=non_negative_float,
        default=_MIN_TIME_S,
        metavar="S",
        help="validity: a run measured for less is NOT VALID; never extends a run "
        f"(default: {_MIN_TIME_S:g}; 0: no minimum)",
    )
    how_long.add_argument(
        "--min-iterations",
        type=positive_int,
        default=_MIN_ITERATIONS,
        metavar="N",
        help=f"validity: a run with fewer samples is NOT VALID (default: {_MIN_ITERATIONS})",
    )
    how_long.add_argument(
        "--warmup",
        type=non_negative_int,
        default=_WARMUP,
        metavar="N",
        help=f"untimed warm-up inferences after the first one (default: {_WARMUP})",
    )


def _add_tuning_arguments(tuning: argparse._ArgumentGroup) -> None:
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
    output.add_argument(
        "--per-layer",
        action="store_true",
        help="also profile per-layer times (OpenVINO performance counters, ORT profiling) in a "
        "separate session after the timed run, print the top layers, save layers.csv",
    )
    add_results_options(output)


def _add_input_arguments(inputs: argparse._ArgumentGroup) -> None:
    inputs.add_argument(
        "--input-precision",
        choices=("u8", "f32"),
        help="element type the image input is fed in: u8 folds the conversion into the model as "
        "benchmark_app does (OpenVINO PrePostProcessor; ONNX Runtime a Cast node in a copy of "
        "the model); default: the model's own (f32)",
    )
    inputs.add_argument(
        "--input-data",
        type=Path,
        metavar="DIR",
        help="time on these images (first 64, sorted), pre-processed as rfbench eval does, "
        "cycled over; default: random data from a fixed seed",
    )
    inputs.add_argument(
        "--per-layer-runs",
        type=positive_int,
        default=20,
        metavar="N",
        help="--per-layer: profiled inferences per runtime; each layer's median is shown "
        "(default: 20)",
    )


def _options(args: argparse.Namespace):  # -> LatencyOptions (imported lazily)
    """Turn parsed arguments into :class:`rfbench.latency.LatencyOptions`."""
    from rfbench.latency import LatencyOptions, StopRule
    from rfbench.latency.feeds import FeedOptions

    if args.model is None:
        from rfbench.models.reference_r50 import reference_model_path

        model = reference_model_path()
    else:
        from rfbench.models.files import check_model_file

        model = check_model_file(model_file(args))
    if args.runtime == "all":
        from rfbench.runtimes import runtime_targets

        builtin = ("openvino", "onnxruntime")
        runtimes = builtin + tuple(sorted(set(runtime_targets()) - set(builtin)))
    else:
        runtimes = (args.runtime,)
    check_device_runtime(args.device, args.runtime)
    budget_time = _TIME_S if args.time is None and args.iterations is None else args.time
    rule = StopRule(budget_time, args.iterations, args.min_time, args.min_iterations)
    as_given = ("device", "mode", "threads", "streams", "requests", "batch", "warmup", "per_layer")
    return LatencyOptions(
        model=model,
        runtimes=runtimes,
        precision=precision_value(args.precision),
        rule=rule,
        input_shape=input_shape_for(args, model),
        feed=FeedOptions(args.input_precision, args.input_data),
        layer_runs=args.per_layer_runs,
        **{name: getattr(args, name) for name in as_given},
        **sized_options(args),
    )


def run(args: argparse.Namespace) -> int:
    """Run the measurement, print the table, write results.json/.csv and samples.csv.

    Returns 0 when every run is valid, 1 when a run is not valid (validity rule), 130 when
    interrupted (results are still written).
    """
    from rfbench.commands.latency_progress import LatencyConsole
    from rfbench.latency import build_record, layers_csv_text, run_benchmark, samples_csv_text
    from rfbench.latency.records import LAYERS_FILE, SAMPLES_FILE
    from rfbench.report import write_report
    from rfbench.results.outdir import prepare_output_dir
    from rfbench.results.record import record_header
    from rfbench.results.writer import atomic_write_text, write_results

    options = _options(args)
    with prepare_output_dir(args.out, "latency", force=args.force) as out_dir:
        console = LatencyConsole(options, enabled=not getattr(args, "quiet", False))
        report = run_benchmark(options, events=console)
        record = build_record(report, record_header("latency"))
        try:
            atomic_write_text(out_dir / SAMPLES_FILE, samples_csv_text(report.measurements))
            if report.layers:
                atomic_write_text(out_dir / LAYERS_FILE, layers_csv_text(report.layers))
            write_results(out_dir, record)
            write_report([out_dir], out_dir / "report.html")
        finally:  # the statistics reach stdout even when a late write fails
            _print_results(args, record, report, out_dir)
    if report.interrupted:
        return 130
    return 0 if report.valid else 1


def _print_results(args: argparse.Namespace, record, report, out_dir) -> None:
    """stdout: the results record (``--json``), or the header and the latency tables."""
    from rfbench.latency.table import report_text

    if args.json:
        from rfbench.results.writer import record_json_text

        sys.stdout.write(record_json_text(record))
    else:
        from rfbench.commands.header import latency_header

        sys.stdout.write(latency_header(record) + "\n\n" + report_text(report, str(out_dir)) + "\n")
        for run in report.runs:  # --input-size native / SHORT:LONG: latency per megapixel too
            if run.get("latency_per_megapixel_ms") is not None:
                sizes = run["input_sizes"]
                sys.stdout.write(
                    f"{run['runtime']}: {run['latency_per_megapixel_ms']:.2f} ms per megapixel, "
                    f"{run['input_images']} images at {run['input_size_policy']} "
                    f"({sizes['megapixels_min']:.2f}-{sizes['megapixels_max']:.2f} MP)\n"
                )
