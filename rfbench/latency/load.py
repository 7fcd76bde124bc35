"""How busy the machine was with other work while we measured.

Linux ``/proc/stat`` gives the machine's busy CPU time (all processes) and ``os.times()`` this
process's own CPU time (all its threads, e.g. the runtime's worker pool). Their difference over
a wall-clock interval is CPU time spent on other work; divided by the interval it reads as "cores
busy with other work". Hypervisor steal time is reported apart. Resolution is one clock tick
(usually 10 ms) per reading, so short intervals are coarse.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuSnapshot:
    """One reading: wall clock (ns), machine busy and steal CPU time (s), own CPU time (s).

    ``machine_busy_s`` / ``steal_s`` are None where ``/proc/stat`` is not readable.
    """

    wall_ns: int
    machine_busy_s: float | None
    steal_s: float | None
    self_cpu_s: float


def _read_proc_stat(path: Path = PROC_STAT) -> tuple[float, float] | None:
    """Machine-wide (busy, steal) CPU seconds since boot from the aggregate ``cpu`` line.

    Busy = user + nice + system + irq + softirq (guest time is already inside user/nice);
    idle and iowait are not busy; steal is returned separately.
    """
    try:
        with open(path, encoding="ascii") as handle:
            first = handle.readline().split()
    except OSError as exc:
        log.debug("cannot read %s: %s", path, exc)
        return None
    if not first or first[0] != "cpu" or len(first) < 8:
        return None
    ticks = [int(value) for value in first[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    steal = ticks[7] if len(ticks) > 7 else 0
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def snapshot() -> CpuSnapshot:
    """Take a :class:`CpuSnapshot` now."""
    machine = _read_proc_stat()
    own = os.times()
    return CpuSnapshot(
        wall_ns=time.perf_counter_ns(),
        machine_busy_s=machine[0] if machine else None,
        steal_s=machine[1] if machine else None,
        self_cpu_s=own.user + own.system,
    )


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


@dataclass
class LoadAccumulator:
    """Sums CPU-time deltas over one or more intervals (e.g. the chunks of one runtime)."""

    wall_s: float = 0.0
    self_cpu_s: float = 0.0
    machine_busy_s: float | None = 0.0
    steal_s: float | None = 0.0
    loadavg_before: list[float] | None = None
    loadavg_after: list[float] | None = None

    def add(self, before: CpuSnapshot, after: CpuSnapshot) -> None:
        """Add the interval between two snapshots (machine figures None once one is missing)."""
        self.wall_s += (after.wall_ns - before.wall_ns) / 1e9
        self.self_cpu_s += after.self_cpu_s - before.self_cpu_s
        self.machine_busy_s = _add_delta(self.machine_busy_s, before.machine_busy_s,
                                         after.machine_busy_s)
        self.steal_s = _add_delta(self.steal_s, before.steal_s, after.steal_s)

    def as_dict(self) -> dict[str, Any]:
        """Load figures for results.json (cores = CPU seconds per wall second)."""
        def per_wall(value: float | None) -> float | None:
            if value is None or self.wall_s <= 0:
                return None
            return round(value / self.wall_s, 3)

        others = None
        if self.machine_busy_s is not None:
            others = max(0.0, self.machine_busy_s - self.self_cpu_s)
        return {
            "wall_s": round(self.wall_s, 6),
            "own_cpu_cores": per_wall(self.self_cpu_s),
            "machine_busy_cores": per_wall(self.machine_busy_s),
            "other_busy_cores": per_wall(others),
            "steal_cores": per_wall(self.steal_s),
            "cpu_count_usable": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "loadavg_before": self.loadavg_before,
            "loadavg_after": self.loadavg_after,
            "method": "/proc/stat busy (user+nice+system+irq+softirq) minus os.times() of "
            "this process, over the measured intervals",
        }


def _add_delta(total: float | None, before: float | None, after: float | None) -> float | None:
    return None if total is None or before is None or after is None else total + (after - before)
