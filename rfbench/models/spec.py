"""What rfbench needs to know to feed a RetinaFace model and read its answer.

Input name, layout and size come from the model file (``--input-size`` for dynamic models);
the output layout (A: nine per-stride heads, B: loc/conf/landmarks) and the output-name
mapping come from the output names and shapes (:func:`rfbench.decoder.layout.resolve_layout`);
the pixel format defaults to the one of the layout's reference exports (spec: decoding.md)
and can be overridden.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from rfbench.decoder.layout import OutputLayout, resolve_layout
from rfbench.decoder.preprocess import PIXELS_LAYOUT_A, PIXELS_LAYOUT_B, PixelFormat
from rfbench.decoder.sizing import SizePolicy
from rfbench.errors import RfbenchError
from rfbench.models.files import read_input_shapes

log = logging.getLogger(__name__)

DEFAULT_INPUT_HW = (640, 640)

_Triple = tuple[float, float, float]


@dataclass(frozen=True)
class InputPlan:
    """The network input: ``name``, ``layout`` ("NCHW"/"NHWC"), ``hw`` (H, W) in pixels,
    ``dynamic`` (the file leaves H/W open), ``adapter_shape`` (the shape to compile with, or
    None when the file already fixes it; -1 marks H and W left open for a per-image policy),
    ``policy`` (the ``--input-size`` policy; a per-image one has ``hw`` None)."""

    name: str
    layout: str
    hw: tuple[int, int] | None
    dynamic: bool
    adapter_shape: tuple[int, ...] | None
    policy: SizePolicy | None = None

    @property
    def per_image(self) -> bool:
        """Each image fed at its own size (``native`` or ``short:long``)."""
        return self.policy is not None and self.policy.per_image

    def fixed_hw(self, what: str) -> tuple[int, int]:
        """(H, W) of a fixed-size plan; RfbenchError saying that ``what`` needs one otherwise."""
        if self.hw is None:
            raise RfbenchError(f"{what} runs at one fixed input size: give --input-size WxH, "
                               f"not {self.policy.text if self.policy else 'a per-image size'}")
        return self.hw


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to run and decode one model; ``as_dict()`` goes into results."""

    path: Path
    input: InputPlan
    pixels: PixelFormat
    pixels_source: str
    layout: OutputLayout

    def as_dict(self) -> dict[str, Any]:
        """Input height/width are None and ``input_size_policy`` is added for a per-image policy."""
        hw = self.input.hw
        out: dict[str, Any] = {
            "input_name": self.input.name,
            "input_layout": self.input.layout,
            "input_height": hw[0] if hw is not None else None,
            "input_width": hw[1] if hw is not None else None,
            "input_dynamic": self.input.dynamic,
            "pixel_format": self.pixels.as_dict(),
            "pixel_format_source": self.pixels_source,
            "output_layout": self.layout.as_dict(),
        }
        if self.input.per_image:
            assert self.input.policy is not None
            out["input_size_policy"] = self.input.policy.text
        return out


def plan_input(model_path: Path, input_hw: tuple[int, int] | SizePolicy | None) -> InputPlan:
    """Find the image input and its size.

    ``input_hw``: (H, W), or a :class:`~rfbench.decoder.sizing.SizePolicy` (``--input-size``);
    None: the model's fixed size, or 640x640 for a dynamic model. A per-image policy (native,
    short:long) needs a dynamic model: the plan then leaves H and W open (``hw`` None).
    """
    name, layout, fixed_h, fixed_w, batch = _image_input(model_path)
    if isinstance(input_hw, SizePolicy) and input_hw.per_image:  # H, W left open (-1), batch 1
        if fixed_h is not None or fixed_w is not None:
            fixed = f"{fixed_w or '?'}x{fixed_h or '?'}"
            raise RfbenchError(
                f"{model_path}: input '{name}' is fixed at {fixed}; --input-size {input_hw.text} "
                f"needs a model with a dynamic input size (use --input-size {fixed} or omit it)"
            )
        log.info("model input '%s' is dynamic: each image at its own size (%s)", name,
                 input_hw.rule)
        return InputPlan(name, layout, None, True, _batch_of_one(layout, -1, -1), input_hw)
    if isinstance(input_hw, SizePolicy):
        input_hw = input_hw.hw
    dynamic = fixed_h is None or fixed_w is None or batch is None
    hw: tuple[int, int]
    if fixed_h is not None and fixed_w is not None:
        if input_hw is not None and tuple(input_hw) != (fixed_h, fixed_w):
            raise RfbenchError(
                f"{model_path}: input '{name}' is fixed at {fixed_w}x{fixed_h}; "
                f"--input-size {input_hw[1]}x{input_hw[0]} does not fit"
            )
        hw = (fixed_h, fixed_w)
    else:
        hw = (input_hw[0], input_hw[1]) if input_hw is not None else DEFAULT_INPUT_HW
        log.info("model input '%s' is dynamic: using %dx%d", name, hw[1], hw[0])
    adapter_shape = _batch_of_one(layout, *hw) if dynamic else None
    hw = (int(hw[0]), int(hw[1]))
    return InputPlan(name, layout, hw, dynamic, adapter_shape, SizePolicy("fixed", hw=hw))


def _batch_of_one(layout: str, h: int, w: int) -> tuple[int, ...]:
    """The input shape ``layout`` gives one image of H x W."""
    return (1, 3, h, w) if layout == "NCHW" else (1, h, w, 3)


def has_dynamic_size(model_path: Path) -> bool:
    """True when the model's image input leaves its height or width open."""
    _, _, fixed_h, fixed_w, _ = _image_input(model_path)
    return fixed_h is None or fixed_w is None


def _image_input(model_path: Path) -> tuple[str, str, int | None, int | None, int | None]:
    """(name, "NCHW"/"NHWC", fixed H or None, fixed W or None, batch or None) of the one input."""
    shapes = read_input_shapes(model_path)
    if len(shapes) != 1:
        raise RfbenchError(f"{model_path}: expected one image input, found {len(shapes)}: {sorted(shapes)}")
    name, shape = next(iter(shapes.items()))
    if len(shape) != 4:
        raise RfbenchError(f"{model_path}: input '{name}' has shape {list(shape)}, expected 4-D NCHW or NHWC")
    layout = "NHWC" if shape[3] == 3 and shape[1] != 3 else "NCHW"
    h_dim, w_dim = (2, 3) if layout == "NCHW" else (1, 2)
    return name, layout, shape[h_dim], shape[w_dim], shape[0]


#: Metadata keys (ONNX ``metadata_props``) in which a model declares its pixel format; written
#: by ``rfbench import`` (insightface's MXNet models want RGB, where OMZ's converted IR wants BGR).
PIXEL_KEYS = {"channel_order": "rfbench.pixels.channel_order", "mean": "rfbench.pixels.mean",
              "scale": "rfbench.pixels.scale"}


def pixel_metadata(pixels: PixelFormat) -> dict[str, str]:
    """``pixels`` as the metadata entries of :data:`PIXEL_KEYS` (numbers space-separated)."""
    return {PIXEL_KEYS["channel_order"]: pixels.channel_order,
            PIXEL_KEYS["mean"]: " ".join(repr(float(v)) for v in pixels.mean),
            PIXEL_KEYS["scale"]: " ".join(repr(float(v)) for v in pixels.scale)}


def declared_pixels(model_path: Path, metadata: Mapping[str, str]) -> PixelFormat | None:
    """The pixel format a model declares in its metadata, or None when it declares none."""
    if PIXEL_KEYS["channel_order"] not in metadata:
        return None
    try:
        order = metadata[PIXEL_KEYS["channel_order"]].strip().upper()
        mean = tuple(float(v) for v in metadata.get(PIXEL_KEYS["mean"], "0 0 0").split())
        scale = tuple(float(v) for v in metadata.get(PIXEL_KEYS["scale"], "1 1 1").split())
    except ValueError:
        raise RfbenchError(f"{model_path}: its metadata {PIXEL_KEYS['mean']} / "
                           f"{PIXEL_KEYS['scale']} are not three numbers each") from None
    if order not in ("BGR", "RGB") or len(mean) != 3 or len(scale) != 3:
        raise RfbenchError(f"{model_path}: its metadata declares pixel format {order} mean "
                           f"{list(mean)} scale {list(scale)}; expected BGR or RGB and three "
                           "numbers each")
    return PixelFormat(order, cast(_Triple, mean), cast(_Triple, scale))


def choose_pixels(layout_kind: str, channel_order: str | None, mean: Sequence[float] | None,
                  scale: Sequence[float] | None, declared: PixelFormat | None = None,
                  model_path: Path | None = None) -> tuple[PixelFormat, str]:
    """The pixel format to feed, and where it came from.

    A model that declares its pixel format (``declared``) is fed exactly that: an override that
    contradicts it is refused, never fed. Otherwise the layout's default (that of the layout's
    reference exports: OMZ's BGR IR for A, biubug6's BGR minus mean for B) with any overrides.
    """
    asked: dict[str, Any] = {"channel_order": channel_order, "mean": _floats(mean),
                             "scale": _floats(scale)}
    overrides = {field: value for field, value in asked.items() if value is not None}
    if declared is not None:
        for field, value in overrides.items():
            own = getattr(declared, field)
            if value != own:
                shown, mine = (v if isinstance(v, str) else " ".join(f"{x:g}" for x in v)
                               for v in (value, own))
                raise RfbenchError(f"{model_path or 'the model'}: declares its input pixels as "
                                   f"{declared.describe()}; --{field.replace('_', '-')} {shown} "
                                   f"contradicts its {field.replace('_', ' ')} {mine} "
                                   "(omit the option)")
        return declared, "declared by the model"
    base = PIXELS_LAYOUT_A if layout_kind == "A" else PIXELS_LAYOUT_B
    if not overrides:
        return base, f"default for layout {layout_kind}"
    return replace(base, **overrides), "user"


def _floats(values: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


def build_model_spec(
    model_path: Path, plan: InputPlan, output_shapes: Mapping[str, Sequence[int | None]], *,
    metadata: Mapping[str, str] | None = None, layout: str | None = None, output_names: Mapping[str, str] | None = None,
    channel_order: str | None = None, mean: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
) -> ModelSpec:
    """Resolve the output layout from the compiled model's outputs and settle the pixels.

    Errors about the outputs name the model file.
    """
    try:
        resolved = resolve_layout(output_shapes, layout=layout, names=output_names)
    except RfbenchError as exc:
        raise RfbenchError(f"{model_path}: {exc}") from None
    declared = declared_pixels(model_path, metadata or {})
    pixels, source = choose_pixels(resolved.kind, channel_order, mean, scale, declared, model_path)
    return ModelSpec(Path(model_path), plan, pixels, source, resolved)


def parse_output_names(items: Sequence[str] | None) -> dict[str, str] | None:
    """``["loc=output0", "conf=output1"]`` -> {"loc": "output0", ...}."""
    if not items:
        return None
    names = {}
    for item in items:
        role, sep, name = item.partition("=")
        if not sep or not role or not name:
            raise RfbenchError(f"--output-name {item!r}: expected ROLE=NAME, e.g. loc=output0")
        names[role.strip()] = name.strip()
    return names
