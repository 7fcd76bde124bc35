"""Where ONNX Runtime runs: execution-provider names from a device string, and the core count.

ORT silently falls back to the CPU for an unknown provider, so names are checked against
``onnxruntime.get_available_providers()`` first; ORT's default thread count (one per physical
core) is not reported back by ORT, so it is computed here the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rfbench.errors import RfbenchError

CPU_PROVIDER = "CPUExecutionProvider"


def physical_core_count() -> int:
    """Physical cores this process may run on (unique core ids), else the logical count."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores = set()
    cpu = phys = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "processor":
                    cpu, phys = int(value), None
                elif key == "physical id":
                    phys = value.strip()
                elif key == "core id" and (allowed is None or cpu in allowed):
                    cores.add((phys, value.strip()))
    except (OSError, ValueError):
        cores = set()
    if cores:
        return len(cores)
    return len(allowed) if allowed else (os.cpu_count() or 1)


def resolve_providers(device: str, available: Sequence[str]) -> list[str]:
    """``"CPU"`` -> ``["CPUExecutionProvider"]``; ``"CUDA,CPU"`` -> full provider names.

    Raises RfbenchError naming the provider and listing the available ones when unknown.
    """
    providers = []
    for item in device.split(","):
        item = item.strip()
        if not item:
            continue
        if item.upper() == "CPU":
            item = CPU_PROVIDER
        elif item not in available and item + "ExecutionProvider" in available:
            item += "ExecutionProvider"
        if item not in available:
            raise RfbenchError(
                f"onnxruntime execution provider '{item}' is not available; "
                f"available: {', '.join(available)}"
            )
        providers.append(item)
    if not providers:
        raise RfbenchError("onnxruntime device/provider is empty")
    return providers
