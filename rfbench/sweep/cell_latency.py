"""The latency of a sweep's cells: every pending cell measured interleaved in rounds, in this
process (or, through :mod:`rfbench.sweep.on_ray`, in one Ray task on one node)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.sweep.matrix import Cell
from rfbench.sweep.options import SweepOptions


def measure_latency(pending: Sequence[tuple[Cell, Path]], options: SweepOptions) -> dict[str, Any]:
    """Sync latency of every pending cell, interleaved in rounds (each cell gets the whole
    budget); ``{key: CellLatency as a dict, or {"error": reason}}``."""
    from rfbench.accuracy.ray_actor import describe_host
    from rfbench.latency.loop import measure, verdict
    from rfbench.latency.rules import StopRule
    from rfbench.latency.runner import INTERLEAVE_CHUNKS, LatencyOptions
    from rfbench.latency.session import open_session_adapter, start_session
    from rfbench.latency.stats import summarize_latencies_ns
    from rfbench.results.sweep_record import CellLatency
    from rfbench.results.writer import to_jsonable

    rule = StopRule(budget_time_s=options.latency_time_s,
                    budget_iterations=options.latency_iterations,
                    min_time_s=options.latency_min_time_s,
                    min_iterations=options.latency_min_iterations)
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
