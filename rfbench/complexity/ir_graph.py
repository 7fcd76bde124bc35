"""OpenVINO IR front-end of the complexity count: an ``.xml`` + ``.bin`` as an :class:`OpGraph`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfbench.complexity.graph import OpGraph, OpNode, fix_input_dims


def load_ir_graph(path: Path, input_hw: tuple[int, int] | None) -> OpGraph:
    """Read an OpenVINO IR (.xml + .bin), reshape dynamic inputs, list its ops with shapes."""
    from rfbench.runtimes.openvino.core import read_model

    model = read_model(path)
    input_shapes = {}
    for port in model.inputs:
        pshape = port.get_partial_shape()
        dims = [d.get_length() if d.is_static else -1 for d in pshape]
        input_shapes[port.get_any_name()] = fix_input_dims(path, port.get_any_name(), dims,
                                                            input_hw)
    if any(not p.get_partial_shape().is_static for p in model.inputs):
        model.reshape({p.get_any_name(): input_shapes[p.get_any_name()] for p in model.inputs})
    nodes, shapes, consts, outputs, const_data, const_types = [], {}, set(), set(), {}, {}
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        outs = [f"{op.get_name()}:{i}" for i in range(op.get_output_size())]
        for i, name in enumerate(outs):
            ps = op.get_output_partial_shape(i)
            shapes[name] = tuple(d.get_length() for d in ps) if ps.is_static else None
        ins = [f"{v.get_node().get_name()}:{v.get_index()}" for v in op.input_values()]
        if kind == "Constant":
            consts.update(outs)
            const_data[outs[0]] = _ov_constant_bytes(op)
            const_types[outs[0]] = op.get_element_type().get_type_name()
            continue
        if kind == "Result":
            outputs.update(ins)
            continue
        if kind == "Parameter":
            continue
        nodes.append(OpNode(op.get_friendly_name(), kind, ins, outs, op.get_attributes()))
    return OpGraph(nodes, shapes, consts, outputs, input_shapes, const_data, const_types)


def _ov_constant_bytes(op: Any) -> Callable[[], bytes]:
    """A loader of an OpenVINO Constant's element type, shape and values as bytes."""

    def load() -> bytes:
        array = op.get_data()
        return f"{op.get_element_type()}{array.shape}".encode() + array.tobytes()

    return load
