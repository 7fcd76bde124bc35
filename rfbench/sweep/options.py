"""What a sweep is asked to do: its cells, data, latency budget and calibration
(:class:`SweepOptions`), and where it runs with ``--ray`` (:class:`RayPlacement`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.sweep.matrix import Cell

IMAGE_CACHE = "image-cache"


@dataclass(frozen=True)
class RayPlacement:
    """``--ray``: the cluster (``address`` None: a local one started for the sweep), whether
    cells' evals ship image bytes, and their actor count (None: one per cluster CPU // threads)."""

    address: str | None = None
    ship_images: bool = False
    workers: int | None = None


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
    #: runs an ``rfbench`` sub-command (argv) in this process: the cells' evals. Given by the
    #: command layer (``rfbench.commands.sweep_cmd``), so the sweep needs no CLI import.
    run_command: Callable[[list[str]], Any] | None = None
