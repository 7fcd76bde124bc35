"""Where a worker process's threads run: a core slice of its own, or no pinning at all.

OpenVINO's CPU plugin pins its inference threads to cores (``ENABLE_CPU_PINNING``, on by default
on Linux) counting from the first core of the process's affinity mask, so two worker processes
of one thread each both run on core 0: two such processes of the MobileNet fixture gave
12.8 + 13.0 img/s together, the rate of one core (``benchmarks/bench_pinning.py``). So:

* a local worker whose slice fits (``workers x threads <= usable cores``) gets its own cores
  (``os.sched_setaffinity``), and OpenVINO pins inside them: 23.4 + 26.6 img/s;
* otherwise (more threads than cores, a Ray actor that cannot know which cores its node's other
  actors took) OpenVINO's pinning is turned off on the process's shared ``Core``, leaving the
  placement to the OS (24.9 + 24.5 img/s).

What was done goes into the worker's record (``cpu_affinity``, ``cpu_pinning``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def usable_cores() -> int:
    """How many cores this process may run on (its affinity mask; ``os.cpu_count()`` elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def core_slices(workers: int, threads: int, cores: Sequence[int] | None = None) -> list[tuple[int, ...]] | None:
    """Disjoint core sets of ``threads`` cores for each of ``workers`` workers, from ``cores``
    (default: this process's affinity mask, in order); None when they do not fit."""
    if cores is None:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cores or workers * threads > len(cores):
        return None
    return [tuple(cores[k * threads:(k + 1) * threads]) for k in range(workers)]


def place_this_process(cores: Sequence[int] | None, runtime: str | None) -> dict[str, Any]:
    """Restrict this (worker) process to ``cores``, or, with none, turn OpenVINO's thread
    pinning off. Call it from the main thread before any other thread starts (the affinity is
    the calling thread's, inherited by the threads it starts) and before the model is compiled.
    Returns what goes into the worker's record."""
    placed: dict[str, Any] = {"cpu_affinity": None, "cpu_pinning": "runtime default"}
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(cores))
        placed["cpu_affinity"] = sorted(cores)
    elif runtime in (None, "openvino"):
        from rfbench.runtimes.openvino.core import shared_core

        shared_core().set_property("CPU", {"ENABLE_CPU_PINNING": False})
        placed["cpu_pinning"] = False
    log.debug("worker placement: %s", placed)
    return placed


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB (``VmHWM``: since its ``exec``; getrusage's
    maxrss would also count the parent's memory copied by the fork before it), None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            line = next(line for line in handle if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return round(int(line.split()[1]) / 1024, 1)
