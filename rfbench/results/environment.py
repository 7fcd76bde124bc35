"""What machine and software a result was measured on."""

from __future__ import annotations

import functools
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = ("numpy", "opencv-python-headless", "openvino", "onnxruntime", "onnx")


def cpu_model_name() -> str:
    """The CPU model string from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _static_environment() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model_name(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_usable": usable,
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "hostname": platform.node(),
        "packages": {name: package_version(name) for name in TRACKED_PACKAGES},
    }


def describe_environment() -> dict[str, Any]:
    """Machine, OS and package versions, plus the 1-minute load average now."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {**_static_environment(), "loadavg_1min": load}
