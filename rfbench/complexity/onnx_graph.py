"""ONNX front-end of the complexity count: an ``.onnx`` file as an :class:`OpGraph` with shapes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfbench.complexity.graph import OpGraph, OpNode, fix_input_dims
from rfbench.errors import RfbenchError
from rfbench.models.files import load_onnx, onnx_graph_inputs

log = logging.getLogger(__name__)


def _onnx_dims(value_info: Any) -> tuple[int, ...] | None:
    """Static dims of an ONNX ValueInfo (None for a missing shape; -1 for a symbolic dim)."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)


def load_onnx_graph(path: Path, input_hw: tuple[int, int] | None) -> OpGraph:
    """Read an ONNX model, fix dynamic input dims (batch 1, H x W), infer all shapes."""
    import onnx
    from onnx import shape_inference

    model = load_onnx(path)
    input_shapes = {}
    for value in onnx_graph_inputs(model):
        given = list(_onnx_dims(value) or ())
        input_shapes[value.name] = fix_input_dims(path, value.name, given, input_hw)
        for dim, size in zip(value.type.tensor_type.shape.dim, input_shapes[value.name]):
            dim.Clear()
            dim.dim_value = size
    try:
        model = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except (shape_inference.InferenceError, RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RfbenchError(f"{path}: ONNX shape inference failed: {first}") from exc
    g = model.graph
    shapes: dict[str, tuple[int, ...] | None] = {}
    for value in [*g.input, *g.value_info, *g.output]:
        dims = _onnx_dims(value)
        if dims is not None and (value.name not in shapes or shapes[value.name] is None):
            shapes[value.name] = dims
    consts = {init.name for init in model.graph.initializer}
    _fill_shapes_with_openvino(path, model, shapes, input_shapes)
    const_data, const_types = {}, {}

    def add_const(name: str, tensor: Any) -> None:  # an initializer or a Constant's TensorProto
        shapes[name] = tuple(tensor.dims)
        const_data[name] = _onnx_tensor_bytes(tensor)
        const_types[name] = _onnx_type_name(tensor.data_type)

    for init in g.initializer:
        add_const(init.name, init)
    nodes = []
    for index, node in enumerate(g.node):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            add_const(node.output[0], attrs["value"])
            attrs = {}
        nodes.append(OpNode(node.name or f"{node.op_type}_{index}", node.op_type,
                           list(node.input), list(node.output), attrs))
    return OpGraph(nodes, shapes, consts, {o.name for o in g.output}, input_shapes, const_data,
                   const_types)


def _onnx_type_name(data_type: int) -> str:
    """numpy name of an ONNX TensorProto data type ("int8", "float32"; "?" if unknown)."""
    from onnx import helper

    try:
        return str(helper.tensor_dtype_to_np_dtype(data_type).name)
    except (KeyError, ValueError, TypeError):
        return "?"


def _onnx_tensor_bytes(tensor: Any) -> Callable[[], bytes]:
    """A loader of an ONNX TensorProto's dtype, shape and values as bytes (for digests)."""

    def load() -> bytes:
        from onnx import numpy_helper

        array = numpy_helper.to_array(tensor)
        return f"{array.dtype}{array.shape}".encode() + array.tobytes()

    return load


def _fill_shapes_with_openvino(
    path: Path, model: Any, shapes: dict[str, tuple[int, ...] | None],
    input_shapes: dict[str, list[int]],
) -> None:
    """Fill node outputs that ONNX shape inference left unknown (e.g. a Resize whose sizes are
    computed from Shape ops) from OpenVINO's ONNX front-end, which propagates such values."""
    missing = [o for n in model.graph.node for o in n.output if o and _unknown(shapes.get(o))]
    if not missing:
        return
    from rfbench.runtimes.openvino.core import read_model

    log.debug("%s: %d tensor shapes unknown to ONNX shape inference; asking OpenVINO",
              path, len(missing))
    try:
        ov_model = read_model(path)
        ov_model.reshape(input_shapes)
    except (RfbenchError, RuntimeError) as exc:
        log.debug("OpenVINO could not read %s: %s", path, exc)
        return
    for op in ov_model.get_ordered_ops():
        for port in op.outputs():
            pshape = port.get_partial_shape()
            if pshape.is_static:
                for name in port.get_names():
                    if _unknown(shapes.get(name)):
                        shapes[name] = tuple(d.get_length() for d in pshape)


def _unknown(shape: tuple[int, ...] | None) -> bool:
    """True for a missing shape or one with a symbolic (-1) dimension."""
    return shape is None or any(d < 0 for d in shape)
