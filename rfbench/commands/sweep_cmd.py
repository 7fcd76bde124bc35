"""``rfbench sweep``: model x runtime x precision, each cell's AP and latency, the trade-off."""

from __future__ import annotations

import argparse
from pathlib import Path

from rfbench.commands.eval_wider import DATA_ROOT
from rfbench.commands.options import model_file, non_negative_float, positive_float, positive_int
from rfbench.errors import RfbenchError
from rfbench.sweep.options import (
    DEFAULT_MIN_ITERATIONS,
    DEFAULT_MIN_TIME_S,
    DEFAULT_TIME_S,
    IMAGE_CACHE,
)

DESCRIPTION = """\
Run a matrix of configurations and end with the answer: which model x runtime x precision
is fastest at an AP you accept, on this machine.
  every cell: rfbench eval (same data, protocols and preset for all) and sync latency;
  latency of all cells measured interleaved in rounds, so machine noise cancels; each
  cell gets the whole budget (--time / --iterations, the first reached ends it) and is
  valid with at least --min-time s and --min-iterations inferences (a cell that is not
  is marked so in the table, not dropped);
  int8: quantize the model for that runtime (rfbench quantize; cached by source sha256 and
  calibration settings); cells that cannot run are listed with the reason.
Interrupted? Run the same command again: only the missing cells run.
Out: results.json (sweep record), results.csv (tidy trade-off rows), report.html (the
trade-off page: table and AP-vs-p50 scatter per setting, Pareto front marked), tradeoff.png,
cells/<cell>/ (eval folder, latency.json), int8/.
"""

EPILOG = """\
examples:
  rfbench sweep --model r50.onnx,m.xml --runtime openvino,onnxruntime --precision f32,bf16,int8
  rfbench sweep --config sweep.toml --out reports/sweep-1
  rfbench sweep --model r50.onnx --precision f32,int8 --ray head-node:6379

TOML: models = [...], runtimes = [...], precisions = [...], and optional tables
  [data] data_root, gt_mat_dir, limit, protocol, preset
  [latency] time_s, iterations (the budget), min_time_s, min_iterations (validity)
  [quantize] subset_size, seed, calibration_method        (command-line options win)
"""

DEFAULTS = {"data_root": DATA_ROOT, "protocol": "all", "preset": "omz",
            "min_time": DEFAULT_MIN_TIME_S,
            "min_iterations": DEFAULT_MIN_ITERATIONS, "subset_size": 300, "seed": 0,
            "calibration_method": "minmax"}
PROTOCOLS = ("all", "wider", "omz")
PRESETS = ("omz", "insightface", "biubug6")
#: (TOML table, key) -> the option it gives (a key is its option's name, ``_s`` for seconds).
TOML_KEYS = {(table, key): key.removesuffix("_s") for table, keys in (
    ("data", ("data_root", "gt_mat_dir", "limit", "protocol", "preset")),
    ("latency", ("time_s", "iterations", "min_time_s", "min_iterations")),
    ("quantize", ("subset_size", "seed", "calibration_method"))) for key in keys}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="AP and latency of a model x runtime x precision matrix, with the trade-off",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    matrix = parser.add_argument_group("the matrix (or --config)")
    matrix.add_argument("--config", type=Path, metavar="TOML", help="sweep file (see below)")
    matrix.add_argument("--model", metavar="A.onnx,B.xml", help="model files, comma-separated")
    matrix.add_argument("--runtime", metavar="LIST", help="openvino,onnxruntime (default: openvino)")
    matrix.add_argument("--precision", metavar="LIST", help="f32,bf16,int8 (default: f32,int8)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="sweep folder (default: a new folder under reports/; give the same one to resume)")
    data = parser.add_argument_group("data (same for every cell)")
    data.add_argument("--data-root", metavar="DIR", help=f"WIDER FACE root (default: {DATA_ROOT})")
    data.add_argument("--gt-mat-dir", metavar="DIR", help="folder of the easy/medium/hard .mat files")
    data.add_argument("--limit", type=positive_int, metavar="N", help="first N GT images only")
    data.add_argument("--protocol", choices=PROTOCOLS, help="default: all")
    data.add_argument("--preset", choices=PRESETS,
                      help="post-processing (default: omz); biubug6 runs a dynamic model at each "
                      "image's native size, in its eval and its latency (the data root's first "
                      "images)")
    other = parser.add_argument_group("latency and int8")
    other.add_argument("--time", type=positive_float, metavar="S",
                       help=f"latency time budget per cell, s (default: {DEFAULT_TIME_S:g} "
                       "unless --iterations is given)")
    other.add_argument("--iterations", type=positive_int, metavar="N",
                       help="latency iteration budget per cell (default: none; with --time, "
                       "the first reached ends the cell's run)")
    other.add_argument("--min-time", type=non_negative_float, metavar="S",
                       help=f"a cell's latency is valid with at least S s measured "
                       f"(default: {DEFAULT_MIN_TIME_S:g})")
    other.add_argument("--min-iterations", type=positive_int, metavar="N",
                       help=f"... and at least N inferences (default: {DEFAULT_MIN_ITERATIONS})")
    other.add_argument("--subset-size", type=positive_int, metavar="N", help="int8 calibration images (default: 300; all of a "
                       "smaller data root, with a warning)")
    other.add_argument("--seed", type=int, help="calibration draw seed (default: 0)")
    other.add_argument("--calibration-method", choices=("minmax", "entropy", "percentile"),
                       help="ONNX Runtime int8 calibration (default: minmax)")
    other.add_argument("--image-cache-mb", type=int, default=4096, metavar="MB",
                       help="resized images kept in OUT/image-cache, so that each image is decoded "
                       "and resized once per input size for all cells: at most MB megabytes "
                       "(default 4096; 0: no cache; not used with --ray)")
    cluster = parser.add_argument_group("on a Ray cluster (pip install 'rfbench[ray]')")
    cluster.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                         help="each cell's eval on Ray actors (rfbench eval --ray) and the latency of "
                         "all cells on one node, holding all its CPUs (recorded per cell); alone: a "
                         "local Ray cluster started for the sweep; with ADDRESS (host:port, "
                         "ray://host:port or auto): that cluster, which must see the sweep folder")
    cluster.add_argument("--ship-images", action="store_true",
                         help="with --ray: send image bytes through Ray's object store")
    cluster.add_argument("--workers", type=positive_int, metavar="N",
                         help="with --ray: actors per cell's eval (default: one per cluster CPU // threads)")
    parser.set_defaults(func=run)


def resolve(args: argparse.Namespace) -> tuple[argparse.Namespace, list[str], list[str], list[str]]:
    """Merge command line over TOML over defaults; returns (args, models, runtimes, precisions)."""
    from rfbench.sweep.matrix import PRECISIONS, RUNTIMES, read_config, split_list

    config = read_config(args.config) if args.config else {}
    for (table, key), dest in TOML_KEYS.items():
        if getattr(args, dest) is None and key in config.get(table, {}):
            setattr(args, dest, config[table][key])
    for dest, value in DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    for dest, choices in (("protocol", PROTOCOLS), ("preset", PRESETS)):
        if getattr(args, dest) not in choices:  # a TOML value (argparse checked the command line)
            raise RfbenchError(f"{args.config}: [data] {dest} = {getattr(args, dest)!r}: choose from "
                               f"{', '.join(choices)}")
    if args.time is None and args.iterations is None:
        args.time = DEFAULT_TIME_S  # as rfbench latency: a time budget unless --iterations
    if args.out is None and config.get("out"):
        args.out = Path(config["out"])
    models = args.model or config.get("models")
    if not models:
        raise RfbenchError("give --model A.onnx,B.xml or a --config with models = [...]")
    args.data_root = Path(args.data_root)
    args.gt_mat_dir = Path(args.gt_mat_dir) if args.gt_mat_dir else None
    return (args, [str(model_file(args, m)) for m in split_list(models, "model")],
            split_list(args.runtime or config.get("runtimes") or "openvino", "runtime", RUNTIMES),
            split_list(args.precision or config.get("precisions") or "f32,int8", "precision", PRECISIONS))


def run(args: argparse.Namespace) -> int:
    from rfbench.results.writer import new_output_dir
    from rfbench.sweep.matrix import build_cells
    from rfbench.sweep.run import options_from_args, run_sweep
    from rfbench.sweep.tradeoff import format_table

    args, models, runtimes, precisions = resolve(args)
    if args.ray is None and (args.ship_images or args.workers):
        raise RfbenchError("--ship-images and --workers of rfbench sweep need --ray")
    cells = build_cells(models, runtimes, precisions)
    args.out = new_output_dir(args.out, "sweep")
    record = run_sweep(options_from_args(args, cells, run_command=run_eval_command))
    print(format_table([row.model_dump() for row in record.tradeoff],
                       [cell.model_dump() for cell in record.skipped]))
    state = "complete" if record.complete else "incomplete: run the same command again to finish"
    cache = args.out / IMAGE_CACHE
    if cache.is_dir():
        from rfbench.accuracy.image_cache import folder_bytes

        print(f"\nimage cache: {folder_bytes(cache) / 2**20:.1f} MB in {cache} (bound {args.image_cache_mb} MB; "
              "safe to delete)")
    print(f"\n{len(cells)} cells, {len(record.skipped)} skipped; sweep {state}; results in {args.out} "
          "(open report.html for the trade-off)")
    return 0


def run_eval_command(argv: list[str]) -> int:
    """``rfbench eval ARGV`` in this process (a sweep cell's eval), through eval's own parser."""
    from rfbench.commands import eval_cmd

    parser = argparse.ArgumentParser(prog="rfbench")
    eval_cmd.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))
