"""The process's one OpenVINO Core, and the OpenVINO helpers shared by every stage.

Every OpenVINO model read in rfbench (adapters, model-file facts, complexity) goes through
:func:`shared_core` / :func:`read_model`: destroying a Core shortly after a compiled model that
ran asynchronously was released hangs or aborts the process on OpenVINO 2026.4.
Also here: the u8/f32 input element type folded into a model (:func:`fold_input_precision`),
device-string parsing and validation, and the small conversions of OpenVINO values
(element types, performance modes, partial shapes, port names) into plain Python.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openvino as ov

from rfbench.errors import RfbenchError

VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")


@functools.lru_cache(maxsize=1)
def shared_core() -> ov.Core:
    """The process's one ``ov.Core``, kept until exit.

    OpenVINO's advice is one Core per application, and it matters here: destroying a Core
    shortly after a compiled model that ran asynchronously was released hangs or aborts the
    process on OpenVINO 2026.4 ("Resource deadlock avoided"), so adapters never own one.
    """
    return ov.Core()


def one_line(exc: BaseException) -> str:
    """OpenVINO's multi-line messages reduced to their informative lines, on one line."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    keep = [ln for ln in lines if ln and not ln.startswith(("Exception from", "Check '"))]
    return " ".join(keep or [ln for ln in lines if ln][:1]) or type(exc).__name__


def split_device(device: str) -> tuple[str, list[str]]:
    """``"MULTI:CPU,GPU"`` -> ``("MULTI", ["CPU", "GPU"])``; ``"CPU"`` -> ``("CPU", [])``.

    Member decorations are removed: BATCH's ``GPU(4)`` -> ``GPU``, AUTO's exclusion ``-CPU`` -> ``CPU``.
    """
    head, _, rest = device.partition(":")
    members = []
    for item in rest.split(",") if rest else []:
        item = item.strip().lstrip("-").split("(")[0].strip()
        if item:
            members.append(item)
    return head.strip(), members


def validate_device(device: str, available: Sequence[str]) -> None:
    """Raise RfbenchError unless every physical device named in ``device`` is available."""
    head, members = split_device(device)
    if not head:
        raise RfbenchError("OpenVINO device is empty")
    listed = ", ".join(available) or "none"
    if head.upper() in VIRTUAL_DEVICES:
        if head.upper() in ("MULTI", "HETERO", "BATCH") and not members:
            raise RfbenchError(f"OpenVINO device '{device}' needs members, e.g. {head}:CPU")
        to_check = members
    else:
        if members:
            raise RfbenchError(
                f"OpenVINO device '{device}': only {'/'.join(VIRTUAL_DEVICES)} take members"
            )
        to_check = [head]
    for name in to_check:
        if not any(a == name or a.startswith(name + ".") for a in available):
            raise RfbenchError(f"OpenVINO device '{name}' is not available; available: {listed}")


def value_name(value: Any) -> Any:
    """``ov.Type.bf16`` -> ``"bf16"``; ``PerformanceMode.LATENCY`` or ``"LATENCY"`` ->
    ``"latency"``; dicts per device likewise; None stays None."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {dev: value_name(v) for dev, v in value.items()}
    if isinstance(value, ov.Type):
        return value.get_type_name()
    return str(getattr(value, "name", value)).lower()


def port_shape(port: Any) -> tuple[int | None, ...]:
    """A port's partial shape with dynamic dimensions as None."""
    return tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())


def port_name(port: Any, fallback: str) -> str:
    """The port's tensor name, else ``fallback`` (OpenVINO allows unnamed ports)."""
    return port.get_any_name() if port.get_names() else fallback


def read_model(path: str | Path) -> ov.Model:
    """``shared_core().read_model(path)``; one-line RfbenchError naming the file if unreadable."""
    try:
        return shared_core().read_model(str(path))
    except RuntimeError as exc:
        raise RfbenchError(f"OpenVINO cannot read model {path}: {one_line(exc)}") from None


def model_metadata(model: ov.Model) -> dict[str, str]:
    """The model's ``framework`` rt_info as strings: an ONNX model's ``metadata_props``, which
    OpenVINO keeps there (and saves into an IR converted from it)."""
    info = model.get_rt_info()
    section = info["framework"] if "framework" in info else None
    if not isinstance(section, dict):  # none, or a single value, not key -> value metadata
        return {}
    return {str(key): value.astype(str) if hasattr(value, "astype") else str(value)
            for key, value in section.items()}


def fold_input_precision(model: ov.Model, wanted: str | None, model_name: str) -> ov.Model:
    """``model`` with its float inputs fed as ``wanted`` ("u8" / "f32"), converted inside.

    ``PrePostProcessor`` sets the input tensors' element type, as benchmark_app does for image
    inputs; None returns ``model`` unchanged. RfbenchError when the model has no float input.
    """
    if wanted is None:
        return model
    element = ov.Type.u8 if wanted == "u8" else ov.Type.f32
    floats = [i for i, port in enumerate(model.inputs) if port.get_element_type().is_real()]
    if not floats:
        raise RfbenchError(f"{model_name}: --input-precision {wanted}: the model has no float input")
    ppp = ov.preprocess.PrePostProcessor(model)
    for index in floats:
        ppp.input(index).tensor().set_element_type(element)
    try:
        return ppp.build()
    except RuntimeError as exc:
        raise RfbenchError(f"{model_name}: cannot feed {wanted} inputs: {one_line(exc)}") from None


def fold_image_input(model: ov.Model, pixels: Any, model_name: str) -> ov.Model:
    """``model`` fed (1, H, W, 3) uint8 images in its own channel order (``pixels.channel_order``:
    the caller swaps BGR to RGB): ``PrePostProcessor`` converts to float32, subtracts
    ``pixels.mean``, divides by ``pixels.scale`` and lays the tensor out NCHW.

    Each step is exact in float32 for whole means and unit scales (the integers 0..255 and
    their differences), so the outputs are those of the float32 tensor rfbench would build
    (tested bit for bit; OpenVINO's own ``reverse_channels`` is not used: it changes the
    outputs in the last bits). RfbenchError naming the model when OpenVINO refuses it.
    """
    ppp = ov.preprocess.PrePostProcessor(model)
    port = ppp.input(0)
    port.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    port.model().set_layout(ov.Layout("NCHW"))
    steps = port.preprocess()
    steps.convert_element_type(ov.Type.f32)
    if any(pixels.mean):
        steps.mean([float(v) for v in pixels.mean])
    if any(v != 1 for v in pixels.scale):
        steps.scale([float(v) for v in pixels.scale])
    try:
        return ppp.build()
    except RuntimeError as exc:
        raise RfbenchError(f"{model_name}: cannot feed uint8 images: {one_line(exc)}") from None
