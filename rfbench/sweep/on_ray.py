"""``rfbench sweep --ray [ADDRESS]``: the sweep's cells on a Ray cluster.

* One connection for the whole sweep (:func:`rfbench.accuracy.ray_pool.connect`: a local
  cluster started for it, or ``ADDRESS`` joined); every cell's eval then runs as
  ``rfbench eval --ray`` on it, its shards on restartable actors (each asks Ray for ``CPU``
  = its threads: sweep cells run on the CPU device, so that is the device resource they name).
* Latency is never spread: all cells are measured by one Ray task on one node, interleaved in
  rounds exactly as on one machine, reserving every CPU of that node (``num_cpus`` = the node's
  CPUs, plus Ray's ``node:<ip>`` resource to hold it there) so nothing else Ray schedules runs
  beside the measurement. Each cell's ``latency.json`` names the node (host, IP, CPU).
* The models (int8 ones are written by the driver under ``<out>/int8``) must be visible at
  the same path on that node; a node whose rfbench or runtime versions differ is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.errors import RfbenchError

if TYPE_CHECKING:
    from rfbench.sweep.matrix import Cell
    from rfbench.sweep.options import RayPlacement, SweepOptions

log = logging.getLogger(__name__)

LATENCY_START_TIMEOUT_S = 600.0  # the latency task must start (a node free) within this time


def eval_arguments(placement: RayPlacement) -> list[str]:
    """The ``rfbench eval`` options that put a cell's eval on the cluster."""
    argv = ["--ray"] + ([placement.address] if placement.address else [])
    argv += ["--ship-images"] if placement.ship_images else []
    argv += ["--workers", str(placement.workers)] if placement.workers else []
    return argv


def latency_node(ray: Any) -> dict[str, Any]:
    """The alive node with the most CPUs (ties: the first listed): ``ip``, ``cpus``, ``node_id``."""
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU")]
    if not nodes:
        raise RfbenchError("--ray: the cluster has no alive node with CPUs to measure latency on")
    best = max(nodes, key=lambda n: n["Resources"]["CPU"])
    return {"ip": best["NodeManagerAddress"], "cpus": int(best["Resources"]["CPU"]), "node_id": best["NodeID"]}


def measure_latency_on_ray(ray: Any, pending: Sequence[tuple[Cell, Path]], options: SweepOptions,
                           timeout_s: float) -> dict[str, Any]:
    """:func:`rfbench.sweep.cell_latency.measure_latency` of every pending cell, as one Ray task holding
    all CPUs of one node; ``{key: CellLatency dict or {"error": reason}}``."""
    node = latency_node(ray)
    task = ray.remote(_measure_here).options(
        num_cpus=node["cpus"], resources={f"node:{node['ip']}": 0.001}, max_retries=0)
    log.info("latency: %d cells on node %s (%d CPUs reserved)", len(pending), node["ip"], node["cpus"])
    ref = task.remote(list(pending), options, package_versions())
    ready, _ = ray.wait([ref], timeout=timeout_s)
    if not ready:
        ray.cancel(ref, force=True)
        raise RfbenchError(f"--ray: the latency run on node {node['ip']} did not finish within "
                           f"{timeout_s:.0f} s (is the node busy? it needs all {node['cpus']} CPUs free)")
    outcome = ray.get(ref)
    if "problem" in outcome:
        raise RfbenchError(outcome["problem"])
    return outcome["results"]


def package_versions() -> dict[str, str | None]:
    """rfbench's and both runtimes' installed versions (package metadata: nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    from rfbench import __version__

    found: dict[str, str | None] = {"rfbench": __version__}
    for name in ("openvino", "onnxruntime"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _measure_here(pending: list[tuple[Cell, Path]], options: SweepOptions,
                  driver: dict[str, str | None]) -> dict[str, Any]:
    """The Ray task: check this node (versions, model files), then measure as one machine does."""
    import socket

    from rfbench.sweep.cell_latency import measure_latency

    host, here = socket.gethostname(), package_versions()
    if here != driver:
        differ = ", ".join(f"{k} {here[k]} (driver: {driver[k]})" for k in driver if here.get(k) != driver[k])
        return {"problem": f"latency node {host} refused: {differ}; install the same versions on every node"}
    unseen = [str(model) for _, model in pending if not Path(model).is_file()]
    if unseen:
        return {"problem": f"latency node {host} cannot see the model {unseen[0]} "
                           "(the sweep folder must be on a filesystem shared with the cluster)"}
    return {"results": measure_latency(pending, options)}
