"""Runtime adapters and the registry that finds them.

``RUNTIMES`` maps a runtime name to ``"module:Class"``; the module is imported only when the
runtime is asked for, so rfbench works with either runtime missing. Third-party packages add a
runtime by declaring an entry point in group ``rfbench.runtimes``::

    [project.entry-points."rfbench.runtimes"]
    tensorrt = "my_pkg.trt:TensorRTAdapter"   # a subclass of rfbench.runtimes.RuntimeAdapter

The adapter contract (constructor, ``infer``, ``sync_runner``, ``run_async``, ``layer_times``,
``describe``) is documented in :mod:`rfbench.runtimes.base`.
"""

from __future__ import annotations

import importlib
import logging
from importlib import metadata

from rfbench.errors import RfbenchError
from rfbench.runtimes.base import (
    PERFORMANCE_HINTS,
    PRECISIONS,
    AsyncRunResult,
    RuntimeAdapter,
    RuntimeInfo,
    TensorInfo,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rfbench.runtimes"

RUNTIMES: dict[str, str] = {
    "openvino": "rfbench.runtimes.openvino.adapter:OpenVINOAdapter",
    "onnxruntime": "rfbench.runtimes.onnxruntime.adapter:ONNXRuntimeAdapter",
}

__all__ = [
    "ENTRY_POINT_GROUP",
    "PERFORMANCE_HINTS",
    "PRECISIONS",
    "RUNTIMES",
    "AsyncRunResult",
    "RuntimeAdapter",
    "RuntimeInfo",
    "TensorInfo",
    "get_runtime",
    "list_runtimes",
    "runtime_targets",
]


def runtime_targets() -> dict[str, str]:
    """``{name: "module:Class"}``: the built-in runtimes plus those from entry points.

    A built-in name wins over an entry point of the same name (logged).
    """
    targets = dict(RUNTIMES)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in targets and targets[ep.name] != ep.value:
            log.warning(
                "runtime entry point '%s' (%s) ignored: the name is built in", ep.name, ep.value
            )
            continue
        targets[ep.name] = ep.value
    return targets


def get_runtime(name: str) -> type[RuntimeAdapter]:
    """The adapter class registered as ``name``.

    Raises RfbenchError listing the known runtimes when ``name`` is unknown, and a one-line
    install hint when the runtime's package is not installed.
    """
    targets = runtime_targets()
    key = name.lower()
    if key not in targets:
        raise RfbenchError(
            f"unknown runtime '{name}'; known runtimes: {', '.join(sorted(targets))}"
        )
    return _load_target(key, targets[key])


def _load_target(name: str, target: str) -> type[RuntimeAdapter]:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if name in RUNTIMES and missing.split(".")[0] == name:  # a built-in's package is its name
            raise RfbenchError(f"runtime '{name}' is not installed: pip install {name}") from exc
        raise RfbenchError(f"runtime '{name}' ({target}) cannot be imported: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, RuntimeAdapter)):
        raise RfbenchError(f"runtime '{name}': {target} is not a RuntimeAdapter subclass")
    return cls


def list_runtimes() -> list[RuntimeInfo]:
    """Every registered runtime with its version and devices, or why it is unavailable."""
    infos = []
    for name, target in sorted(runtime_targets().items()):
        try:
            cls = get_runtime(name)
            info = RuntimeInfo(
                name=name,
                target=target,
                available=True,
                version=cls.version(),
                devices=tuple(cls.available_devices()),
                device_names=cls.device_names(),
            )
        except RfbenchError as exc:
            info = RuntimeInfo(name=name, target=target, available=False, error=str(exc))
        infos.append(info)
    return infos
