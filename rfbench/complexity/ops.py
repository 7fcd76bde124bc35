"""The one op table of the complexity count: front-end op types -> counting kinds and builders.

Each row of :data:`OP_TABLE` names a counting kind, the builder that makes a :class:`Layer` of
it, and the op types that are that operation in ONNX and in OpenVINO IR. The builders are
shared by both front-ends; where the two formats differ (attribute names, a conv bias input)
the :class:`Dialect` of the front-end says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.complexity.counting import Layer
from rfbench.complexity.graph import OpGraph, OpNode, static_shape


@dataclass(frozen=True)
class Dialect:
    """How one model format spells what the builders read.

    ``bias_input``: convs and Gemm take their bias as a third input (ONNX; OpenVINO adds it as a
    separate op). ``kernel_attr``: the pooling window attribute. ``transpose_a_attr``: the
    matrix product's "first operand transposed" attribute. ``shape_ops``: the ops whose output
    is a constant once the input shapes are fixed.
    """

    name: str
    bias_input: bool
    kernel_attr: str
    transpose_a_attr: str
    shape_ops: tuple[str, ...]


ONNX = Dialect("onnx", bias_input=True, kernel_attr="kernel_shape", transpose_a_attr="transA",
               shape_ops=("Shape", "Size"))
OPENVINO = Dialect("openvino", bias_input=False, kernel_attr="kernel",
                   transpose_a_attr="transpose_a", shape_ops=("ShapeOf",))

#: ``builder(node, graph, path, kind, dialect) -> Layer``.
Builder = Callable[[OpNode, OpGraph, Path, str, Dialect], Layer]


def affine_extent(const_shape: tuple[int, ...] | None, out_shape: tuple[int, ...]) -> str:
    """'scalar' or 'channel' if a constant operand broadcasts as a per-channel coefficient."""
    if const_shape is None:
        return ""
    if math.prod(const_shape) == 1:
        return "scalar"
    if len(const_shape) > len(out_shape) or len(out_shape) < 2:
        return ""
    aligned = (1,) * (len(out_shape) - len(const_shape)) + tuple(const_shape)
    others = [d for i, d in enumerate(aligned) if i != 1]
    if all(d == 1 for d in others) and aligned[1] == out_shape[1]:
        return "channel"
    return ""


def _data(node: OpNode, graph: OpGraph) -> list[str]:
    """The node's non-constant inputs."""
    return [t for t in node.inputs if t and t not in graph.consts]


def _has_bias(node: OpNode, dialect: Dialect) -> bool:
    return dialect.bias_input and len(node.inputs) > 2 and bool(node.inputs[2])


def _simple(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect,
            **fields: Any) -> Layer:
    """An op whose cost follows from its kind and output size alone (``fields``: the
    kind-specific :class:`Layer` fields the other builders add)."""
    out_shape = static_shape(graph, node.outputs[0], path)
    return Layer(node.name, kind, _data(node, graph), node.outputs[0], out_shape, **fields)


def _conv(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """Convolution: Cin/groups*kh*kw MACs per output element (grouped weights: one dim more)."""
    w_shape = static_shape(graph, node.inputs[1], path)
    per_group = w_shape[2:] if node.op.startswith("Group") else w_shape[1:]
    layer = _simple(node, graph, path, kind, dialect, macs_per_element=math.prod(per_group),
                    weights=math.prod(w_shape), bias=_has_bias(node, dialect))
    layer.cout = layer.out_shape[1]
    return layer


def _conv_transposed(
    node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect
) -> Layer:
    """Transposed convolution: each input element scatters Cout/groups*kh*kw MACs."""
    layer = _conv(node, graph, path, kind, dialect)
    in_elems = math.prod(static_shape(graph, node.inputs[0], path))
    layer.macs_per_element = in_elems * layer.macs_per_element // layer.elements
    return layer


def _matmul(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """Matrix product (ONNX Gemm/MatMul, OpenVINO MatMul): K MACs per output element."""
    a_shape = static_shape(graph, node.inputs[0], path)
    k = a_shape[-2] if node.attrs.get(dialect.transpose_a_attr, 0) else a_shape[-1]
    consts = [t for t in node.inputs[1:] if t and t in graph.consts]
    weights = sum(math.prod(static_shape(graph, t, path)) for t in consts[:1])
    layer = _simple(node, graph, path, kind, dialect, macs_per_element=k, weights=weights,
                    bias=node.op == "Gemm" and _has_bias(node, dialect))
    layer.cout = layer.out_shape[-1]
    return layer


def _batchnorm(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """Inference BatchNorm: a per-channel scale and shift (two ops)."""
    layer = _simple(node, graph, path, kind, dialect, scale="channel", shift="channel", n_ops=2)
    layer.inputs = layer.inputs[:1]
    return layer


def _prelu(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """PReLU; with one shared slope it is a leaky ReLU (no parameters counted)."""
    slope = math.prod(static_shape(graph, node.inputs[1], path))
    return _simple(node, graph, path, "leaky relu" if slope == 1 else "prelu", dialect,
                   params=0 if slope == 1 else slope)


def _binary(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """Add/Sub/Mul/Div: affine candidate when one operand is a per-channel/scalar constant."""
    layer = _simple(node, graph, path, kind, dialect, n_inputs=len(node.inputs))
    consts = [t for t in node.inputs if t and t in graph.consts]
    if len(layer.inputs) == 1 and len(consts) == 1 and kind in ("add", "sub", "mul", "div"):
        extent = affine_extent(graph.shapes.get(consts[0]), layer.out_shape)
        const_first = node.inputs[0] == consts[0]
        if extent and not (kind == "div" and const_first):
            layer.kind = "affine"
            if kind in ("mul", "div"):
                layer.scale = extent
            else:
                layer.shift = extent
                if kind == "sub" and const_first:  # c - x = (-1) * x + c
                    layer.scale = "scalar"
    return layer


def _pool(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """Pooling over a window of ``kernel`` elements (a global one: the whole H x W input)."""
    if node.op.startswith("Global"):
        window = static_shape(graph, node.inputs[0], path)[2:]
    else:
        window = node.attrs[dialect.kernel_attr]
    return _simple(node, graph, path, kind, dialect, kernel=math.prod(window))


def _resize(node: OpNode, graph: OpGraph, path: Path, kind: str, dialect: Dialect) -> Layer:
    """Resize / Upsample / Interpolate: nearest is data movement, anything else linear."""
    mode = node.attrs.get("mode", "nearest")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    kind = "upsample (nearest)" if mode == "nearest" else "interpolate (linear)"
    return _simple(node, graph, path, kind, dialect)


#: (builder, counting kind, ONNX op types, OpenVINO op types): the one op table.
OP_TABLE: tuple[tuple[Builder, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (_conv, "conv", ("Conv",), ("Convolution", "GroupConvolution")),
    (_conv_transposed, "conv", ("ConvTranspose",),
     ("ConvolutionBackpropData", "GroupConvolutionBackpropData")),
    (_matmul, "fc", ("Gemm", "MatMul"), ("MatMul",)),
    (_batchnorm, "affine", ("BatchNormalization",), ("BatchNormInference",)),
    (_prelu, "prelu", ("PRelu",), ("PRelu",)),
    (_binary, "add", ("Add", "Sum"), ("Add",)),
    (_binary, "sub", ("Sub",), ("Subtract",)),
    (_binary, "mul", ("Mul",), ("Multiply",)),
    (_binary, "div", ("Div",), ("Divide",)),
    (_binary, "max", ("Max",), ("Maximum",)),
    (_binary, "min", ("Min",), ("Minimum",)),
    (_pool, "max pool", ("MaxPool",), ("MaxPool",)),
    (_pool, "avg pool", ("AveragePool",), ("AvgPool",)),
    (_pool, "max pool", ("GlobalMaxPool",), ()),
    (_pool, "avg pool", ("GlobalAveragePool",), ()),
    (_resize, "interpolate", ("Resize", "Upsample"), ("Interpolate",)),
    (_simple, "relu", ("Relu",), ("Relu",)),
    (_simple, "leaky relu", ("LeakyRelu",), ()),
    (_simple, "clamp", ("Clip",), ("Clamp",)),
    (_simple, "elu", ("Elu",), ("Elu",)),
    (_simple, "sigmoid", ("Sigmoid",), ("Sigmoid",)),
    (_simple, "tanh", ("Tanh",), ("Tanh",)),
    (_simple, "hard sigmoid", ("HardSigmoid",), ("HSigmoid", "HardSigmoid")),
    (_simple, "hswish", ("HardSwish",), ("HSwish",)),
    (_simple, "exp", ("Exp",), ("Exp",)),
    (_simple, "log", ("Log",), ("Log",)),
    (_simple, "sqrt", ("Sqrt",), ("Sqrt",)),
    (_simple, "softmax", ("Softmax",), ("Softmax",)),
    (_simple, "log softmax", ("LogSoftmax",), ("LogSoftmax",)),
    (_simple, "concat", ("Concat",), ("Concat",)),
    (_simple, "reshape", ("Reshape", "Flatten", "Squeeze", "Unsqueeze"),
     ("Reshape", "Squeeze", "Unsqueeze")),
    (_simple, "transpose", ("Transpose",), ("Transpose",)),
    (_simple, "slice", ("Slice", "Split"),
     ("StridedSlice", "Slice", "Split", "VariadicSplit", "Crop")),
    (_simple, "gather", ("Gather", "GatherElements", "GatherND"),
     ("Gather", "GatherElements", "GatherND")),
    (_simple, "identity", ("Identity", "Cast", "Dropout"), ("Convert",)),
    (_simple, "pad", ("Pad",), ("Pad",)),
    (_simple, "broadcast", ("Tile", "Expand"), ("Tile", "Broadcast")),
)


_BY_DIALECT: dict[str, dict[str, tuple[Builder, str]]] = {
    ONNX.name: {op: (builder, kind) for builder, kind, ops, _ in OP_TABLE for op in ops},
    OPENVINO.name: {op: (builder, kind) for builder, kind, _, ops in OP_TABLE for op in ops},
}


def to_layer(node: OpNode, graph: OpGraph, path: Path, dialect: Dialect) -> Layer | None:
    """Map one live op onto a Layer (None: no rule for its type, reported as not counted)."""
    entry = _BY_DIALECT[dialect.name].get(node.op)
    if entry is None:
        return None
    builder, kind = entry
    return builder(node, graph, path, kind, dialect)
