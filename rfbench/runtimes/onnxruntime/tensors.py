"""ONNX Runtime tensor facts for the ONNX Runtime adapter: element types as numpy dtypes,
declared shapes with symbolic dims as None, and output shapes worked out for fixed input shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.runtimes.base import TensorInfo

log = logging.getLogger(__name__)

#: ONNX tensor type string -> numpy dtype.
ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
PRECISION_OF = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float16): "f16",
    np.dtype(np.float64): "f64",
}


def declared_shape(dims: Sequence[Any]) -> tuple[int | None, ...]:
    """ORT's shape (ints, symbolic names, None) with every non-int dim as None."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


def tensor_dtype(type_str: str, where: str) -> np.dtype:
    """The numpy dtype of an ORT tensor type string; ``where`` (the model) names a bad one."""
    if type_str not in ORT_DTYPES:
        raise RfbenchError(f"{where}: unsupported tensor type {type_str}")
    return np.dtype(ORT_DTYPES[type_str])


def infer_output_shapes(
    model_path: Path, inputs: Sequence[TensorInfo]
) -> dict[str, tuple[int | None, ...]]:
    """Output shapes of ``model_path`` for the fixed input shapes of ``inputs``, via ORT's
    symbolic shape inference.

    Best effort: returns {} (dims stay None) when the model defeats the inference.
    """
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        proto = onnx.load(str(model_path))
        fixed = {t.name: [int(d or 0) for d in t.shape] for t in inputs}  # all static
        for value in proto.graph.input:
            if value.name in fixed:
                dims = value.type.tensor_type.shape.dim
                for dim, size in zip(dims, fixed[value.name], strict=True):
                    dim.Clear()
                    dim.dim_value = size
        for value in proto.graph.output:
            value.type.tensor_type.ClearField("shape")
        inferred = SymbolicShapeInference.infer_shapes(proto, auto_merge=True)
    except Exception as exc:  # noqa: BLE001 - best effort: any failure leaves dims None
        log.info("%s: output shapes unknown until run (%s)", model_path.name, exc)
        return {}
    if inferred is None:
        return {}
    shapes = {}
    for value in inferred.graph.output:
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = tuple(
            d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims
        )
    return {k: v for k, v in shapes.items() if v}
