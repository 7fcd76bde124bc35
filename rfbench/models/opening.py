"""One way to open a model: check the file once, plan the input, build the adapter and the spec.

:func:`open_adapter` alone serves ``rfbench latency`` (random data, any model); :func:`open_model`
is the whole RetinaFace path of ``rfbench eval --model``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.errors import RfbenchError
from rfbench.models.files import check_model_path
from rfbench.models.spec import ModelSpec, build_model_spec, plan_input

if TYPE_CHECKING:
    from rfbench.decoder.sizing import SizePolicy
    from rfbench.runtimes.base import RuntimeAdapter

#: The runtime used when none is named: OpenVINO reads both formats (the model card's runtime).
DEFAULT_RUNTIME = "openvino"


@dataclass(frozen=True)
class RuntimeSettings:
    """The runtime, device and settings to compile a model with (None = the runtime's default).

    Field meanings: :mod:`rfbench.runtimes.base` (the adapter constructor).
    """

    runtime: str = DEFAULT_RUNTIME
    device: str = "CPU"
    precision: str | None = None
    threads: int | None = None
    streams: int | None = None
    requests: int | None = None
    performance_hint: str | None = None
    perf_counters: bool = False
    input_precision: str | None = None


def open_adapter(
    model: Path,
    settings: RuntimeSettings,
    input_shape: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    image_input: Any = None,
) -> RuntimeAdapter:
    """``settings.runtime``'s adapter with ``model`` loaded and compiled (RfbenchError if not).

    ``input_shape``: the static shape for dynamic inputs; ``image_input``: see the adapter
    contract (:mod:`rfbench.runtimes.base`).
    """
    from rfbench.runtimes import get_runtime

    options = {name: value for name, value in asdict(settings).items() if name != "runtime"}
    if image_input is not None:
        options["image_input"] = image_input
    return get_runtime(settings.runtime)(model, input_shape=input_shape, **options)


def open_model(
    model: str | Path,
    settings: RuntimeSettings,
    *,
    input_hw: tuple[int, int] | SizePolicy | None = None,
    layout: str | None = None,
    output_names: Mapping[str, str] | None = None,
    channel_order: str | None = None,
    mean: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    u8_images: bool = False,
) -> tuple[RuntimeAdapter, ModelSpec]:
    """Check, plan, compile and describe a RetinaFace model; returns ``(adapter, spec)``.

    ``input_hw``: (H, W) or a size policy for a dynamic input (``--input-size``); ``layout`` / ``output_names``
    force the output layout or name the outputs; ``channel_order`` / ``mean`` / ``scale``
    override the layout's default pixel format. ``u8_images``: where the runtime can and the
    conversion is exact (NCHW input, whole means, unit scales), it is fed the resized uint8
    image and applies the pixel format itself (``adapter.image_pixels``). The caller owns (and
    closes) the adapter.
    """
    path = check_model_path(model)
    plan = plan_input(path, input_hw)
    options: dict[str, Any] = {"layout": layout, "output_names": output_names, "channel_order": channel_order,
               "mean": mean, "scale": scale}

    def exact_pixels(outputs: dict[str, Any], metadata: dict[str, str]) -> Any:
        pixels = build_model_spec(path, plan, outputs, metadata=metadata, **options).pixels
        exact = all(float(m).is_integer() for m in pixels.mean) and all(v == 1 for v in pixels.scale)
        return pixels if exact and plan.layout == "NCHW" else None

    adapter = open_adapter(path, settings, plan.adapter_shape, exact_pixels if u8_images else None)
    try:
        outputs: dict[str, Any] = {t.name: t.shape for t in adapter.outputs}
        spec = build_model_spec(path, plan, outputs, metadata=adapter.metadata, **options)
        if adapter.image_pixels is not None and adapter.image_pixels != spec.pixels:
            raise RfbenchError(f"{path}: the runtime's pixel format {adapter.image_pixels} is not "
                               f"the model's {spec.pixels}")
    except BaseException:
        adapter.close()
        raise
    return adapter, spec
