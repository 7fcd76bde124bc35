"""Run a sweep: quantize the int8 cells (cached), evaluate every cell, measure the latency of
every cell interleaved in rounds, and write the sweep record and the trade-off.

Layout of the output folder (resumable: a cell whose files exist is not run again)::

    <out>/results.json (the sweep record)  results.csv (the tidy trade-off)  tradeoff.png
    <out>/report.html (the trade-off page: tables, AP-vs-latency scatter, Pareto front)
    <out>/cells/<cell key>/eval/results.json   (rfbench eval's folder)
    <out>/cells/<cell key>/latency.json
    <out>/int8/<model stem>-<sha256[:12]>-<runtime>-<calibration>/   (rfbench quantize's folder)
    <out>/image-cache/   (resized images: each decoded and resized once for all cells of a size)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.errors import RfbenchError
from rfbench.sweep.matrix import Cell, static_skip_reason
from rfbench.sweep.on_ray import RayPlacement

if TYPE_CHECKING:
    from rfbench.latency.rules import StopRule
    from rfbench.results.sweep_record import CellLatency, SweepRecord

log = logging.getLogger(__name__)


REPORT_PAGE = "report.html"
IMAGE_CACHE = "image-cache"
#: Latency of a cell: a 10 s budget, valid with >= 20 inferences in >= 5 s (R50 at f32 on a
#: 2-core CPU, ~490 ms per inference, gives ~21 in the budget).
DEFAULT_TIME_S = 10.0
DEFAULT_MIN_TIME_S = 5.0
DEFAULT_MIN_ITERATIONS = 20


@dataclass(frozen=True)
class SweepOptions:
    """Same data, protocols and preset for every cell; the latency budget of each cell
    (``latency_time_s`` s and/or ``latency_iterations``, first reached ends it) and its
    validity minimum; calibration settings of the int8 cells (the cache key)."""

    cells: tuple[Cell, ...]
    out: Path
    data_root: Path
    gt_mat_dir: Path | None = None
    limit: int | None = None
    protocol: str = "all"
    preset: str = "omz"
    latency_time_s: float | None = DEFAULT_TIME_S
    latency_iterations: int | None = None
    latency_min_time_s: float = DEFAULT_MIN_TIME_S
    latency_min_iterations: int = DEFAULT_MIN_ITERATIONS
    subset_size: int = 300
    seed: int = 0
    calibration_method: str = "minmax"
    ray: RayPlacement | None = None  # --ray: cells' evals and the latency run on a Ray cluster
    image_cache_mb: int = 4096  # bound of <out>/image-cache (0: none; not used with --ray)


def int8_model(cell: Cell, options: SweepOptions) -> Path:
    """The INT8 model of ``cell`` for its runtime: from the cache, else ``rfbench quantize``."""
    from rfbench.models.files import model_sha256
    from rfbench.quantize.output import quantized_name, read_provenance
    from rfbench.quantize.run import QuantizeOptions, run_quantize

    method = options.calibration_method if cell.runtime == "onnxruntime" else "nncf"
    folder = options.out / "int8" / (f"{cell.model.stem}-{model_sha256(cell.model)[:12]}-{cell.runtime}"
                                     f"-n{options.subset_size}-seed{options.seed}-{method}")
    model = folder / quantized_name(cell.model, "ir" if cell.runtime == "openvino" else "onnx")
    if read_provenance(model) is not None:
        log.info("int8 %s: cached %s", cell.key, model)
        return model
    for leftover in (model, model.with_suffix(".bin"), model.with_suffix(".quantize.json")):
        leftover.unlink(missing_ok=True)  # an earlier, interrupted or stale result
    run_quantize(QuantizeOptions(
        model=cell.model, data_root=options.data_root, out=folder, runtime=cell.runtime,
        subset_size=options.subset_size, seed=options.seed, eval_limit=options.limit,
        calibration_method=options.calibration_method))
    return model


def run_eval(cell: Cell, model: Path, options: SweepOptions) -> dict[str, float]:
    """``rfbench eval`` of one cell into its folder (reused when done); {"omz/64px": AP, ...}."""
    from rfbench.cli import build_parser
    from rfbench.sweep.on_ray import eval_arguments

    out = options.out / "cells" / cell.key / "eval"
    if not (out / "results.json").is_file():
        argv = ["eval", "--data-root", str(options.data_root), "--model", str(model),
                "--runtime", cell.runtime, "--protocol", options.protocol, "--preset", options.preset,
                "--out", str(out)]
        argv += ["--gt-mat-dir", str(options.gt_mat_dir)] if options.gt_mat_dir else []
        argv += ["--limit", str(options.limit)] if options.limit else []
        argv += ["--precision", cell.precision] if cell.precision != "int8" else []
        argv += eval_arguments(options.ray) if options.ray else []
        if options.image_cache_mb > 0 and options.ray is None:
            argv += ["--image-cache", str(options.out / IMAGE_CACHE), "--image-cache-mb", str(options.image_cache_mb)]
        if (out / "run.json").is_file():
            argv.append("--resume")
        args = build_parser().parse_args(argv)
        with contextlib.redirect_stdout(io.StringIO()):
            args.func(args)
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {f"{m['protocol']}/{m['setting']}": m["ap"] for m in record["metrics"]}


def stop_rule(options: SweepOptions) -> StopRule:
    """The :class:`~rfbench.latency.rules.StopRule` of every cell: budget and validity minimum."""
    from rfbench.latency.rules import StopRule as Rule

    return Rule(budget_time_s=options.latency_time_s,
                    budget_iterations=options.latency_iterations,
                    min_time_s=options.latency_min_time_s,
                    min_iterations=options.latency_min_iterations)


def measure_latency(pending: Sequence[tuple[Cell, Path]], options: SweepOptions) -> dict[str, Any]:
    """Sync latency of every pending cell, interleaved in rounds (each cell gets the whole
    budget); ``{key: CellLatency as a dict, or {"error": reason}}``."""
    from rfbench.accuracy.ray_actor import describe_host
    from rfbench.latency.loop import measure, verdict
    from rfbench.latency.runner import INTERLEAVE_CHUNKS, LatencyOptions
    from rfbench.latency.session import open_session_adapter, start_session
    from rfbench.latency.stats import summarize_latencies_ns
    from rfbench.results.sweep_record import CellLatency
    from rfbench.results.writer import to_jsonable

    rule = stop_rule(options)
    host = describe_host()
    node = {"host": host["host"], "cpu": host["cpu"], "cpus": host["cpus"]}
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        sessions = []
        for cell, model in pending:
            lat = LatencyOptions(model=model, runtimes=(cell.runtime,), rule=rule,
                                 precision=None if cell.precision == "int8" else cell.precision)
            try:
                sized = eval_sizes(model, options)
                adapter = open_session_adapter(cell.runtime, model, lat,
                                               None if sized is None else sized.adapter_shape)
            except RfbenchError as exc:
                results[cell.key] = {"error": str(exc)}
                continue
            stack.callback(adapter.close)
            sessions.append((cell, start_session(cell.key, adapter, lat, sized), adapter, sized))
        if not sessions:
            return results
        several = len(sessions) > 1
        chunk_s, chunk_iterations = rule.chunk_limits(INTERLEAVE_CHUNKS) if several else (None, None)
        runs = measure([(c.key, s.workload) for c, s, _, _ in sessions], rule, chunk_s=chunk_s,
                       chunk_iterations=chunk_iterations, rewarm=several)
        for (cell, _, adapter, sized), run in zip(sessions, runs, strict=True):
            valid, reason = verdict(run, rule)
            results[cell.key] = CellLatency.model_validate(to_jsonable({
                **summarize_latencies_ns(run.latencies_ns()), "iterations": run.completed,
                "measured_time_s": run.wall_ns / 1e9, "throughput_fps": run.throughput_per_s(),
                "interrupted": run.interrupted, "valid": valid, "invalid_reason": reason,
                "precision_effective": adapter.describe()["effective"].get("precision"),
                "load": run.load.as_dict(), "interleaved_with": [c.key for c, *_ in sessions],
                "node": node, "input_size_policy": None if sized is None else sized.policy.text,
                "input_images": None if sized is None else len(sized.tensors),
            })).model_dump(mode="json")
    return results


def eval_sizes(model: Path, options: SweepOptions) -> Any:
    """What a cell's latency runs on when its eval feeds each image at its own size (a preset
    whose recipe says ``native``, i.e. ``biubug6``, on a dynamic model): the first images of the
    data root at those sizes (:class:`rfbench.latency.sized.SizedInputs`); None: the model's
    fixed size (or 640x640), as its eval."""
    from rfbench.decoder.postprocess import get_preset, script_setting
    from rfbench.decoder.sizing import parse_size_policy
    from rfbench.latency.sized import load_sized_inputs
    from rfbench.models.spec import has_dynamic_size
    from rfbench.wider.ground_truth import find_images_dir

    default = script_setting(get_preset(options.preset, "B"), "default_input_size")
    if default is None or not has_dynamic_size(model):
        return None
    return load_sized_inputs(model, parse_size_policy(default),
                             find_images_dir(options.data_root, None))


def _model_size(model: Path) -> int:
    from rfbench.quantize.output import model_files

    return sum(p.stat().st_size for p in model_files(model) if p.is_file())


def run_sweep(options: SweepOptions) -> SweepRecord:
    """Every cell of ``options``; returns the sweep record (also written to results.json).

    With ``options.ray`` one Ray connection serves the whole sweep (:mod:`rfbench.sweep.on_ray`).
    """
    if options.ray is None:
        return _run_cells(options, None)
    from rfbench.sweep.on_ray import connect_sweep

    session = connect_sweep(options.ray)
    try:
        return _run_cells(options, session)
    finally:
        session.close()


def _run_cells(options: SweepOptions, session: Any) -> SweepRecord:
    from rfbench.quantize.output import read_provenance

    entries, ready = [], []
    for cell in options.cells:
        entry: dict[str, Any] = {"key": cell.key, "model": str(cell.model), "runtime": cell.runtime,
                                 "precision": cell.precision, "baseline": cell.baseline.key}
        reason = static_skip_reason(cell)
        try:
            if reason is None:
                model = int8_model(cell, options) if cell.precision == "int8" else cell.model
                made = read_provenance(model)
                entry.update(model_run=str(model), model_size_bytes=_model_size(model),
                             quantized_by_rfbench=made is not None)
                if made is not None and cell.precision == "int8":
                    entry["calibration_images"] = made["calibration"]["num_images"]
                entry["aps"] = run_eval(cell, model, options)
                ready.append((cell, model))
        except RfbenchError as exc:
            reason = str(exc)
        entry.update(status="skipped" if reason else "pending", reason=reason)
        entries.append(entry)
    _attach_latency(entries, ready, options, session)
    ray_settings = None
    if session is not None and options.ray is not None:
        ray_settings = {"address": session.address, "cluster_start_s": session.start_s,
                        "nodes": sum(1 for n in session.ray.nodes() if n.get("Alive")),
                        "ship_images": options.ray.ship_images}
    return entries_record(entries, options, ray_settings)


def _attach_latency(entries: list[dict[str, Any]], ready: Sequence[tuple[Cell, Path]],
                    options: SweepOptions, session: Any = None) -> None:
    from rfbench.results.writer import atomic_write_text, to_jsonable

    def path(cell: Cell) -> Path:
        return options.out / "cells" / cell.key / "latency.json"

    pending = [(c, m) for c, m in ready if not path(c).is_file()]
    if session is not None and pending:
        from rfbench.sweep.on_ray import LATENCY_START_TIMEOUT_S, measure_latency_on_ray

        per_cell_s = max(60.0, 3 * (options.latency_time_s or 200.0))
        measured = measure_latency_on_ray(session.ray, pending, options,
                                          LATENCY_START_TIMEOUT_S + per_cell_s * len(pending))
    else:
        measured = measure_latency(pending, options)
    for key, result in measured.items():
        if "error" not in result and not result["interrupted"]:
            cell = next(c for c, _ in pending if c.key == key)
            atomic_write_text(path(cell), json.dumps(to_jsonable(result), indent=2) + "\n")
        elif "error" in result:
            next(e for e in entries if e["key"] == key).update(status="skipped", reason=result["error"])
    for cell, _ in ready:
        entry = next(e for e in entries if e["key"] == cell.key)
        if entry["status"] == "skipped" or not path(cell).is_file():
            continue
        latency = read_cell_latency(path(cell))
        entry.update(status="done", latency_p50_ms=latency.latency_p50_ms,
                     latency_min_ms=latency.latency_min_ms,
                     throughput_fps=latency.throughput_fps,
                     other_busy_cores=latency.load.other_busy_cores,
                     latency_valid=latency.valid, latency_invalid_reason=latency.invalid_reason)


def read_cell_latency(path: Path) -> CellLatency:
    """A cell's ``latency.json`` through its definition; RfbenchError names a bad file."""
    from pydantic import ValidationError

    from rfbench.results.sweep_record import CellLatency

    try:
        return CellLatency.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RfbenchError(f"{path}: not a sweep cell latency ({first}); delete it to measure "
                           "the cell again") from exc


def entries_record(entries: list[dict[str, Any]], options: SweepOptions,
                   ray_settings: dict[str, Any] | None = None) -> SweepRecord:
    """The sweep record (kind "sweep"): results.json, results.csv (trade-off rows), tradeoff.png."""
    from rfbench.report.sweep_page import write_sweep_page
    from rfbench.results.record import record_header
    from rfbench.results.sweep_record import SweepRecord
    from rfbench.results.writer import write_results
    from rfbench.sweep.tradeoff import plot_tradeoff, tradeoff_rows

    rows = tradeoff_rows(entries)
    record = SweepRecord.build(
        record_header("sweep"),
        settings={"data_root": str(options.data_root),
                  "gt_mat_dir": str(options.gt_mat_dir) if options.gt_mat_dir else None,
                  "limit": options.limit, "protocol": options.protocol, "preset": options.preset,
                  "latency_budget_time_s": options.latency_time_s,
                  "latency_budget_iterations": options.latency_iterations,
                  "latency_min_time_s": options.latency_min_time_s,
                  "latency_min_iterations": options.latency_min_iterations,
                  "int8_calibration": {"subset_size": options.subset_size, "seed": options.seed,
                                       "ort_calibration_method": options.calibration_method},
                  "ray": ray_settings},
        cells=entries, skipped=[e for e in entries if e["status"] == "skipped"],
        tradeoff=rows, complete=all(e["status"] != "pending" for e in entries),
    )
    write_results(options.out, record)
    plot_tradeoff(rows, options.out / "tradeoff.png")
    write_sweep_page(record, options.out / REPORT_PAGE)
    return record


def options_from_args(args: argparse.Namespace, cells: Sequence[Cell]) -> SweepOptions:
    return SweepOptions(
        cells=tuple(cells), out=args.out, data_root=args.data_root, gt_mat_dir=args.gt_mat_dir,
        limit=args.limit, protocol=args.protocol, preset=args.preset,
        latency_time_s=args.time, latency_iterations=args.iterations,
        latency_min_time_s=args.min_time, latency_min_iterations=args.min_iterations,
        subset_size=args.subset_size, seed=args.seed, calibration_method=args.calibration_method,
        image_cache_mb=getattr(args, "image_cache_mb", 4096),
        ray=None if args.ray is None else RayPlacement(None if args.ray == "local" else args.ray,
                                                       args.ship_images, args.workers))
