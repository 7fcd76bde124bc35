"""OpenVINO compile properties of the OpenVINO adapter: the requested settings as properties,
the check that a physical device supports them, and the values read back after compiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import openvino as ov

from rfbench.errors import RfbenchError
from rfbench.runtimes.openvino.core import VIRTUAL_DEVICES, split_device

#: rfbench precision name -> OPTIMIZATION_CAPABILITIES entry.
CAPABILITY = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}
#: rfbench setting -> OpenVINO property it is sent as.
PROPERTY = {
    "precision": "INFERENCE_PRECISION_HINT",
    "threads": "INFERENCE_NUM_THREADS",
    "streams": "NUM_STREAMS",
    "performance_hint": "PERFORMANCE_HINT",
    "perf_counters": "PERF_COUNT",
}


def compile_config(requested: Mapping[str, Any], perf_counters: bool) -> dict[str, Any]:
    """The OpenVINO compile properties for the requested settings (``adapter.requested``)."""
    settings = {**requested, "perf_counters": perf_counters}
    if settings["performance_hint"]:
        settings["performance_hint"] = settings["performance_hint"].upper()
    return {prop: settings[key] for key, prop in PROPERTY.items() if settings[key]}


def check_device_support(
    core: ov.Core, device: str, precision: str | None, config: Mapping[str, Any]
) -> None:
    """For a physical device: every property supported, precision in its capabilities."""
    head, _ = split_device(device)
    if head.upper() in VIRTUAL_DEVICES:
        return  # checked after compiling, from the effective values
    supported = core.get_property(device, "SUPPORTED_PROPERTIES")
    for setting, prop in PROPERTY.items():
        if prop in config and prop not in supported:
            raise RfbenchError(f"OpenVINO device {device} does not support {setting} ({prop})")
    if precision:
        caps = [str(c) for c in core.get_property(device, "OPTIMIZATION_CAPABILITIES")]
        if CAPABILITY[precision] not in caps:
            raise RfbenchError(
                f"OpenVINO device {device} does not support precision {precision} "
                f"(capabilities: {', '.join(caps)})"
            )


def member_value(value: Any, key: str, member_props: Mapping[str, Mapping[str, Any]]) -> Any:
    """``value`` (a compiled-model property), else ``key`` from the member devices' properties
    (AUTO, MULTI, HETERO). Members that agree give one value; members that differ give
    ``{device: value}``.
    """
    if value is not None or not member_props:
        return value
    values = {dev: props.get(key) for dev, props in member_props.items()}
    distinct = {repr(v) for v in values.values()}
    return next(iter(values.values())) if len(distinct) == 1 else values


def full_device_name(core: ov.Core, devices: Sequence[str]) -> str:
    """``FULL_DEVICE_NAME`` of each device (the device string where it has none), ``" + "``-joined."""
    full = []
    for dev in devices:
        try:
            full.append(str(core.get_property(dev, "FULL_DEVICE_NAME")))
        except RuntimeError:
            full.append(dev)
    return " + ".join(full)
