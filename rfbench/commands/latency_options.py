"""``rfbench latency`` options that depend on the model and the inputs: the input shape to run a
dynamic model at (``--input-size``/``--input-shape``), the per-image sizes (``--input-size
native|SHORT:LONG``) and what is fed (``--input-precision``, ``--input-data``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rfbench.commands.options import input_size_of
from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)


def input_shape_for(args: argparse.Namespace, model: Path) -> tuple[int, ...] | None:
    """The input shape to run a dynamic ``model`` at (None: the model fixes it), from
    ``--input-size`` (or the deprecated ``--input-shape``); batch 1 here, ``--batch`` applies it.

    One image input with a dynamic size runs at ``--input-size`` or 640x640, as eval and profile
    do; any other dynamic input needs ``--input-shape`` (the error says so).
    """
    from rfbench.models.files import read_input_shapes
    from rfbench.models.spec import plan_input

    if args.input_shape is not None:
        if args.input_size:
            raise RfbenchError("give --input-size WxH or the deprecated --input-shape, not both")
        log.warning("--input-shape is deprecated: use --input-size WxH (and --batch)")
        return tuple(args.input_shape)
    policy = input_size_of(args)
    if policy is not None and policy.per_image:
        return None  # each --input-data image at its own size (rfbench.latency.sized)
    hw = policy.hw if policy is not None else None
    declared = read_input_shapes(model)
    (shape,) = declared.values() if len(declared) == 1 else (None,)
    if shape is None or len(shape) != 4:
        inputs = ", ".join(f"{k} {list(v)}" for k, v in declared.items())
        if hw is not None:
            raise RfbenchError(f"--input-size applies to a model with one image input (N,C,H,W or "
                               f"N,H,W,C); {model.name} has {inputs}: give --input-shape per input")
        if any(d is None for dims in declared.values() for d in dims):
            raise RfbenchError(f"{model.name}: dynamic inputs {inputs}; give --input-shape")
        return None
    return plan_input(model, hw).adapter_shape


def sized_options(args: argparse.Namespace) -> dict:
    """``--input-size native|SHORT:LONG`` as LatencyOptions fields (empty for a fixed size):
    each ``--input-data`` image timed at the size eval would feed it."""
    policy = input_size_of(args)
    if policy is None or not policy.per_image:
        return {}
    if args.input_data is None:
        raise RfbenchError(f"--input-size {args.input_size} needs --input-data DIR: the images to time")
    if args.input_shape is not None:
        raise RfbenchError(f"--input-size {args.input_size} takes each image's size: leave out --input-shape")
    if args.input_precision is not None:
        raise RfbenchError(f"--input-size {args.input_size} feeds the images as eval does: leave out --input-precision")
    return {"input_size": policy}
