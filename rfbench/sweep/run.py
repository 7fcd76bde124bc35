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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.errors import RfbenchError
from rfbench.sweep.cell_latency import measure_latency
from rfbench.sweep.matrix import Cell, static_skip_reason
from rfbench.sweep.options import (
    IMAGE_CACHE,
    RayPlacement,
    SweepOptions,
)

if TYPE_CHECKING:
    from rfbench.results.sweep_record import CellLatency, SweepRecord

log = logging.getLogger(__name__)


REPORT_PAGE = "report.html"
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
        if options.run_command is None:
            raise RfbenchError("this sweep was built without a way to run rfbench eval")
        with contextlib.redirect_stdout(io.StringIO()):
            options.run_command(argv)
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {f"{m['protocol']}/{m['setting']}": m["ap"] for m in record["metrics"]}


def run_sweep(options: SweepOptions) -> SweepRecord:
    """Every cell of ``options``; returns the sweep record (also written to results.json).

    With ``options.ray`` one Ray connection serves the whole sweep (:mod:`rfbench.sweep.on_ray`).
    """
    if options.ray is None:
        return _run_cells(options, None)
    from rfbench.accuracy.placement import usable_cores
    from rfbench.accuracy.ray_pool import connect

    session = connect(options.ray.address, usable_cores())
    try:
        return _run_cells(options, session)
    finally:
        session.close()


def _run_cells(options: SweepOptions, session: Any) -> SweepRecord:
    from rfbench.quantize.output import model_files, read_provenance

    entries, ready = [], []
    for cell in options.cells:
        entry: dict[str, Any] = {"key": cell.key, "model": str(cell.model), "runtime": cell.runtime,
                                 "precision": cell.precision, "baseline": cell.baseline.key}
        reason = static_skip_reason(cell)
        try:
            if reason is None:
                model = int8_model(cell, options) if cell.precision == "int8" else cell.model
                made = read_provenance(model)
                size = sum(p.stat().st_size for p in model_files(model) if p.is_file())
                entry.update(model_run=str(model), model_size_bytes=size,
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
    by_key = {e["key"]: e for e in entries}
    cells = {c.key: c for c, _ in pending}
    for key, result in measured.items():
        if "error" in result:
            by_key[key].update(status="skipped", reason=result["error"])
        elif not result["interrupted"]:
            atomic_write_text(path(cells[key]), json.dumps(to_jsonable(result), indent=2) + "\n")
    for cell, _ in ready:
        entry = by_key[cell.key]
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


def options_from_args(args: argparse.Namespace, cells: Sequence[Cell],
                      run_command: Callable[[list[str]], Any] | None = None) -> SweepOptions:
    """The sweep's options from ``rfbench sweep``'s arguments; ``run_command(argv)`` runs an
    ``rfbench`` sub-command in this process (the cells' evals)."""
    return SweepOptions(run_command=run_command,
        cells=tuple(cells), out=args.out, data_root=args.data_root, gt_mat_dir=args.gt_mat_dir,
        limit=args.limit, protocol=args.protocol, preset=args.preset,
        latency_time_s=args.time, latency_iterations=args.iterations,
        latency_min_time_s=args.min_time, latency_min_iterations=args.min_iterations,
        subset_size=args.subset_size, seed=args.seed, calibration_method=args.calibration_method,
        image_cache_mb=getattr(args, "image_cache_mb", 4096),
        ray=None if args.ray is None else RayPlacement(None if args.ray == "local" else args.ray,
                                                       args.ship_images, args.workers))
