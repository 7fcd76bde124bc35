"""MXNet operators -> ONNX nodes: one function per operator, registered in :data:`OPS`.

Each translation gets the node, its inputs as :class:`Value` (ONNX name and channel count, when
known) and the :class:`Context` (the graph builder and the checkpoint's arrays), and returns
the node's output value. MXNet's defaults are spelled out where an attribute may be absent
(``BatchNorm``: ``eps`` 1e-3, ``fix_gamma`` true; ``Convolution``: stride 1, pad 0, ``no_bias``
false). Weights are checked against the shapes the attributes imply, and every mismatch names
the tensor. Operators or attribute values these translations do not cover are refused with the
node named, never approximated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.models.importer.mxnet_params import MxnetParams
from rfbench.models.importer.mxnet_symbol import (
    SymbolNode,
    attr_bool,
    attr_float,
    attr_int,
    attr_str,
    attr_tuple,
)
from rfbench.models.importer.onnx_graph import GraphBuilder


@dataclass(frozen=True)
class Value:
    """An ONNX value: its ``name`` and its channel count (dim 1; None once unknown)."""

    name: str
    channels: int | None


@dataclass
class Context:
    """What every translation needs: the builder, the arrays and the weights' file name."""

    builder: GraphBuilder
    params: MxnetParams
    params_path: str
    used: set[str]

    def array(self, node: SymbolNode, name: str) -> np.ndarray:
        """The checkpoint array ``name`` (args or aux); a missing one is an error naming both."""
        found = self.params.get(name)
        if found is None:
            raise RfbenchError(f"{self.params_path}: has no array '{name}' that {node.where()} "
                               "needs (is this the symbol of these weights?)")
        self.used.add(name)
        return found

    def checked(self, node: SymbolNode, name: str, shape: Sequence[int | None]) -> np.ndarray:
        """:meth:`array`, its shape checked against ``shape`` (None: any size there)."""
        array = self.array(node, name)
        if array.ndim != len(shape) or any(w is not None and w != d for w, d in zip(shape, array.shape)):
            want = "x".join("?" if d is None else str(d) for d in shape)
            raise RfbenchError(f"{self.params_path}: tensor '{name}' has shape "
                               f"{'x'.join(map(str, array.shape))}, {node.where()} needs {want}")
        return array


Translation = Callable[[Context, SymbolNode, list[Value]], Value]
OPS: dict[str, Translation] = {}


def _op(*names: str) -> Callable[[Translation], Translation]:
    def register(func: Translation) -> Translation:
        for name in names:
            OPS[name] = func
        return func
    return register


def _input_names(node: SymbolNode, inputs: list[Value], count: int) -> list[str]:
    if len(inputs) < count:
        raise RfbenchError(f"{node.where()}: expected {count} inputs, found {len(inputs)}")
    return [value.name for value in inputs[:count]]


@_op("Convolution")
def convolution(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """2-D convolution, NCHW, with groups and dilation; the bias unless ``no_bias``."""
    if attr_str(node, "layout", "nchw") not in ("nchw", "none"):
        raise RfbenchError(f"{node.where()}: layout {node.attrs['layout']} is not supported (NCHW only)")
    kernel = attr_tuple(node, "kernel")
    if len(kernel) != 2:
        raise RfbenchError(f"{node.where()}: kernel {kernel} is not 2-D")
    filters, groups = attr_int(node, "num_filter", 0), attr_int(node, "num_group", 1)
    stride, pad = attr_tuple(node, "stride", (1, 1)), attr_tuple(node, "pad", (0, 0))
    dilate = attr_tuple(node, "dilate", (1, 1))
    data = inputs[0]
    per_group = data.channels // groups if data.channels is not None else None
    weight = ctx.checked(node, _arg(node, inputs, 1, "weight"), (filters, per_group, *kernel))
    names = [data.name, ctx.builder.weight(inputs[1].name, weight)]
    if not attr_bool(node, "no_bias", False):
        bias = ctx.checked(node, _arg(node, inputs, 2, "bias"), (filters,))
        names.append(ctx.builder.weight(inputs[2].name, bias))
    out = ctx.builder.node("Conv", names, name=node.name, kernel_shape=list(kernel),
                           strides=list(stride or (1, 1)), pads=[*pad, *pad] if pad else [0] * 4,
                           dilations=list(dilate or (1, 1)), group=groups)
    return Value(out, filters)


def _arg(node: SymbolNode, inputs: list[Value], index: int, what: str) -> str:
    """The checkpoint name of input ``index`` (the variable feeding it)."""
    if len(inputs) <= index:
        raise RfbenchError(f"{node.where()}: has no {what} input")
    return inputs[index].name


@_op("BatchNorm")
def batch_norm(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Inference BatchNorm with the moving statistics, this node's own ``eps`` (MXNet default
    1e-3) and gamma fixed to 1 when ``fix_gamma`` (MXNet's default: true)."""
    if attr_int(node, "axis", 1) != 1:
        raise RfbenchError(f"{node.where()}: axis {node.attrs['axis']} is not supported (channel axis 1 only)")
    _input_names(node, inputs, 5)
    channels = inputs[0].channels
    arrays = [ctx.checked(node, value.name, (channels,)) for value in inputs[1:5]]
    if attr_bool(node, "fix_gamma", True):
        arrays[0] = np.ones_like(arrays[0], dtype=np.float32)
        inputs[1] = Value(f"{inputs[1].name}__fixed_to_1", channels)
    names = [inputs[0].name] + [ctx.builder.weight(v.name, a) for v, a in zip(inputs[1:5], arrays)]
    out = ctx.builder.node("BatchNormalization", names, name=node.name,
                           epsilon=attr_float(node, "eps", 1e-3))
    return Value(out, arrays[0].shape[0] if channels is None else channels)


_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
                "softsign": "Softsign"}


@_op("Activation")
def activation(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """relu, sigmoid, tanh, softrelu (softplus), softsign."""
    kind = attr_str(node, "act_type", "")
    if kind not in _ACTIVATIONS:
        raise RfbenchError(f"{node.where()}: act_type '{kind}' is not supported "
                           f"({', '.join(_ACTIVATIONS)})")
    return Value(ctx.builder.node(_ACTIVATIONS[kind], _input_names(node, inputs, 1), name=node.name),
                 inputs[0].channels)


@_op("LeakyReLU")
def leaky_relu(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """``act_type`` leaky (``slope``, MXNet default 0.25) or prelu (a learned gamma per channel)."""
    kind = attr_str(node, "act_type", "leaky")
    data = inputs[0]
    if kind == "leaky":
        out = ctx.builder.node("LeakyRelu", [data.name], name=node.name,
                               alpha=attr_float(node, "slope", 0.25))
    elif kind == "prelu":
        gamma = ctx.checked(node, _arg(node, inputs, 1, "gamma"), (data.channels,))
        slope = ctx.builder.weight(inputs[1].name, gamma.reshape(-1, 1, 1))
        out = ctx.builder.node("PRelu", [data.name, slope], name=node.name)
    else:
        raise RfbenchError(f"{node.where()}: act_type '{kind}' is not supported (leaky, prelu)")
    return Value(out, data.channels)


@_op("Pooling")
def pooling(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """max / avg pooling (MXNet's avg counts the padding), ``global_pool``, and the
    ``pooling_convention`` valid (floor) or full (ceil)."""
    kind = attr_str(node, "pool_type", "max")
    data = inputs[0]
    if kind not in ("max", "avg"):
        raise RfbenchError(f"{node.where()}: pool_type '{kind}' is not supported (max, avg)")
    if attr_bool(node, "global_pool", False):
        op = "GlobalMaxPool" if kind == "max" else "GlobalAveragePool"
        return Value(ctx.builder.node(op, [data.name], name=node.name), data.channels)
    kernel = attr_tuple(node, "kernel")
    stride, pad = attr_tuple(node, "stride", (1, 1)), attr_tuple(node, "pad", (0, 0))
    convention = attr_str(node, "pooling_convention", "valid")
    if convention not in ("valid", "full"):
        raise RfbenchError(f"{node.where()}: pooling_convention '{convention}' is not supported")
    extra: dict[str, Any] = {} if kind == "max" else {"count_include_pad": 1}
    out = ctx.builder.node("MaxPool" if kind == "max" else "AveragePool", [data.name],
                           name=node.name, kernel_shape=list(kernel), strides=list(stride),
                           pads=[*pad, *pad], ceil_mode=int(convention == "full"), **extra)
    return Value(out, data.channels)


@_op("elemwise_add", "_plus", "_Plus", "broadcast_add")
def add(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Element-wise sum of two tensors."""
    out = ctx.builder.node("Add", _input_names(node, inputs, 2), name=node.name)
    return Value(out, inputs[0].channels or inputs[1].channels)


@_op("Concat", "concat")
def concat(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Concatenation along ``dim`` (MXNet default 1)."""
    dim = attr_int(node, "dim", 1)
    count = attr_int(node, "num_args", len(inputs))
    names = _input_names(node, inputs, count)
    channels: int | None = None
    if dim == 1 and all(v.channels is not None for v in inputs[:count]):
        channels = sum(v.channels or 0 for v in inputs[:count])
    return Value(ctx.builder.node("Concat", names, name=node.name, axis=dim), channels)


@_op("Reshape", "reshape")
def reshape(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Reshape with MXNet's codes 0 (copy this dimension) and -1 (infer), which ONNX's
    Reshape reads the same way; -2, -3, -4 and ``reverse`` are refused."""
    shape = attr_tuple(node, "shape")
    if any(d < -1 for d in shape) or attr_bool(node, "reverse", False):
        raise RfbenchError(f"{node.where()}: shape {node.attrs['shape']} uses MXNet's special "
                           "codes -2/-3/-4 or reverse, which rfbench import does not translate")
    target = ctx.builder.const(f"{node.name}_shape", shape, np.int64)
    out = ctx.builder.node("Reshape", [inputs[0].name, target], name=node.name)
    return Value(out, shape[1] if len(shape) > 1 and shape[1] > 0 else None)


@_op("SoftmaxActivation")
def softmax_activation(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """``mode=channel``: a softmax over axis 1 at each position (the heads' two classes)."""
    mode = attr_str(node, "mode", "instance")
    if mode != "channel":
        raise RfbenchError(f"{node.where()}: mode '{mode}' is not supported (channel only)")
    return Value(ctx.builder.node("Softmax", [inputs[0].name], name=node.name, axis=1),
                 inputs[0].channels)


@_op("softmax")
def softmax(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """``softmax(axis=...)`` (MXNet default -1); temperature 1 only."""
    if attr_float(node, "temperature", 1.0) != 1.0:
        raise RfbenchError(f"{node.where()}: a softmax temperature is not supported")
    return Value(ctx.builder.node("Softmax", [inputs[0].name], name=node.name,
                                  axis=attr_int(node, "axis", -1)), inputs[0].channels)


@_op("UpSampling")
def upsampling(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Nearest upsampling by an integer ``scale``: every pixel repeated scale x scale times."""
    if attr_str(node, "sample_type", "nearest") != "nearest" or attr_int(node, "num_args", 1) != 1:
        raise RfbenchError(f"{node.where()}: only nearest upsampling of one input is supported")
    scale = float(attr_int(node, "scale", 1))
    scales = ctx.builder.const(f"{node.name}_scales", [1.0, 1.0, scale, scale], np.float32)
    out = ctx.builder.node("Resize", [inputs[0].name, "", scales], name=node.name, mode="nearest",
                           coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return Value(out, inputs[0].channels)


@_op("Crop")
def crop(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Crop the first input to the height and width of the second (``num_args`` 2) or to
    ``h_w``, from ``offset`` (y, x); ``center_crop`` is refused."""
    if attr_bool(node, "center_crop", False):
        raise RfbenchError(f"{node.where()}: center_crop is not supported")
    oy, ox = attr_tuple(node, "offset", (0, 0))
    b = ctx.builder
    if attr_int(node, "num_args", len(inputs)) == 2:
        hw = b.node("Slice", [b.node("Shape", [inputs[1].name]), b.const("c2", [2], np.int64),
                              b.const("c4", [4], np.int64)])
        ends = b.node("Add", [hw, b.const(f"{node.name}_offset", [oy, ox], np.int64)])
    else:
        h, w = attr_tuple(node, "h_w")
        ends = b.const(f"{node.name}_ends", [oy + h, ox + w], np.int64)
    starts = b.const(f"{node.name}_starts", [oy, ox], np.int64)
    out = b.node("Slice", [inputs[0].name, starts, ends, b.const("axes_hw", [2, 3], np.int64)],
                 name=node.name)
    return Value(out, inputs[0].channels)


@_op("Dropout", "_copy", "identity", "BlockGrad", "stop_gradient")
def identity(ctx: Context, node: SymbolNode, inputs: list[Value]) -> Value:
    """Operators that do nothing at inference."""
    return Value(ctx.builder.node("Identity", [inputs[0].name], name=node.name), inputs[0].channels)
