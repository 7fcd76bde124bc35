"""Which Ray resources an actor asks for to run a model on a non-CPU ``--device``.

Ray places actors by resources, and it only detects CPUs and NVIDIA GPUs by itself. So:

* ``CPU`` asks for nothing besides ``num_cpus`` (= the actor's threads).
* ONNX Runtime's ``CUDA`` / ``TensorRT`` providers ask for Ray's own ``GPU`` resource (one per
  actor): Ray then gives each actor a GPU of its own through ``CUDA_VISIBLE_DEVICES``.
* Any other device (OpenVINO ``GPU``, ``GPU.1``, ``NPU``; ``HETERO:`` / ``MULTI:`` lists name each
  of their devices; other ONNX Runtime providers) asks for one unit of a custom resource
  ``device:<NAME>``, which the nodes that have it advertise when they join:
  ``ray start --address HEAD --resources='{"device:GPU": 1}'`` (one unit per actor the device
  should run at once).
* OpenVINO's ``AUTO`` picks a device on each node by itself, so it names none.

:func:`check_cluster_offers` turns a cluster that cannot host the actors into one line before
any actor is created (Ray would keep them pending, never placed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rfbench.errors import RfbenchError

RAY_GPU = "GPU"  # Ray's built-in resource for NVIDIA GPUs
_NVIDIA_PROVIDERS = ("CUDA", "TENSORRT")
_OPENVINO_LISTS = ("HETERO:", "MULTI:")


def device_resources(device: str) -> dict[str, float]:
    """The Ray resources one actor needs for ``device`` besides its CPUs: ``{}`` for ``CPU``
    and ``AUTO``, ``{"GPU": 1}`` for CUDA/TensorRT, else ``{"device:<NAME>": 1}`` per device."""
    text = device.strip()
    if text.upper().startswith("AUTO"):
        return {}
    for prefix in _OPENVINO_LISTS:
        if text.upper().startswith(prefix):
            text = text[len(prefix):]
    needed: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        name = item.removesuffix("ExecutionProvider").upper()
        if not name or name == "CPU":
            continue
        needed[RAY_GPU if name in _NVIDIA_PROVIDERS else f"device:{name}"] = 1.0
    return needed


def check_cluster_offers(needed: Mapping[str, float], cluster: Mapping[str, float], device: str,
                         workers: int | None) -> int | None:
    """Check that the cluster's resources (``ray.cluster_resources()``) can host the actors.

    Returns the actor count: ``workers`` as given, or, when None and a device resource is
    needed, as many as the cluster's units of it allow (None: nothing needed, the caller
    decides from the CPUs). Raises a one-line RfbenchError naming the resource when no node
    offers it, or when ``workers`` actors would need more units than the cluster has.
    """
    if not needed:
        return workers
    room = {name: math.floor(cluster.get(name, 0.0) / amount + 1e-9) for name, amount in needed.items()}
    for name, fits in room.items():
        if fits < 1:
            how = ("Ray finds NVIDIA GPUs by itself: is one visible to a node?" if name == RAY_GPU else
                   f"start the nodes that have it with ray start ... --resources='{{\"{name}\": 1}}'")
            raise RfbenchError(f"--ray --device {device}: no node of the cluster offers the Ray resource "
                               f"'{name}' ({how})")
    fits_all = min(room.values())
    if workers is not None and workers > fits_all:
        raise RfbenchError(f"--ray --device {device}: {workers} workers need {workers} units of "
                           f"{', '.join(repr(n) for n in needed)}, the cluster offers {fits_all}")
    return workers if workers is not None else fits_all


def size_on_cluster(cluster: dict[str, float], device: str, threads: int | None,
                    workers: int | None) -> tuple[int, dict[str, float], int, int, str]:
    """Actors and threads per actor for ``cluster`` (Ray's ``cluster_resources()``).

    Returns (the cluster's CPUs, the Ray resources one actor needs for ``device``,
    workers, threads per worker, where the thread count came from). RfbenchError when the
    cluster cannot hold them.
    """
    cluster_cpus = int(cluster.get("CPU", 0))
    needed = device_resources(device)
    workers = check_cluster_offers(needed, cluster, device, workers)
    if workers is None:
        workers = max(1, cluster_cpus // (threads or 1))
    threads_source = "--threads" if threads else "cluster CPUs // workers"
    threads = threads or max(1, cluster_cpus // workers)
    if workers * threads > cluster_cpus:
        raise RfbenchError(f"--ray: {workers} workers x {threads} threads need {workers * threads} "
                           f"CPUs, the cluster has {cluster_cpus}")
    return cluster_cpus, needed, workers, threads, threads_source

