"""Theoretical complexity of a model: parameters, MACs and FLOPs under named counting rules.

A bare "GFLOPs" is ambiguous by 2x (some count a multiply-accumulate as one operation, most
papers as two) and by the treatment of biases, BatchNorms and element-wise layers. rfbench
therefore reports several figures, each with the rule that produced it (:data:`RULES`):

- ``params``: weights as the runtime sees them. A BatchNorm (or per-channel Mul/Add by
  constants) directly after a conv / fully connected layer is folded into it, the layer gaining
  a bias of Cout; every other BatchNorm stays a per-channel scale + shift (2*C parameters).
- ``gmacs``: multiply-accumulates of convolutions and matrix products.
- ``gflops_omz``: the OpenVINO model_analyzer rules of 2019, which produced the Open Model Zoo
  model cards' "GFLOPs": conv 2*(Cin/groups)*kh*kw per output element (bias not counted), ReLU
  and PReLU 2, pooling kh*kw, element-wise op on n tensors 2n-1, scale-shift 2, softmax 5,
  sigmoid 3, ELU 3, linear interpolation 9, data movement 0 (concat, reshape, nearest upsample).
- ``gflops_2x_macs``: 2 x MACs, the convention of most papers.
- ``gflops_model_analyzer_current``: today's model_analyzer: as 2019, but a conv/FC bias is a
  separate add (1 per output element) and element-wise add/sub/mul/div cost 1 per element
  (n-1 for n inputs), a scale-shift 1 per Multiply/Add it is made of.

Ops the 2019 tool did not know (Exp, Log, Tanh, ...) use the current per-element cost in both
rules. Ops with no rule here are listed in ``not_counted`` (count per type), never dropped
silently.

The model is read as the runtime sees it: ``.onnx`` with :mod:`onnx` plus shape inference,
``.xml`` (OpenVINO IR) with ``openvino.Core().read_model``; constant sub-graphs (shape
computations, weight decompression) are evaluated away and cost nothing. Both front-ends map
their ops onto one list of :class:`Layer` records, folded and counted by the same code.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.models.files import load_onnx, onnx_graph_inputs

log = logging.getLogger(__name__)

DEFAULT_INPUT_HW = (640, 640)

RULE_PARAMS = "runtime-folded-weights"
RULE_MACS = "conv-and-matmul-macs"
RULE_OMZ = "omz-model-analyzer-2019"
RULE_2X = "2x-macs"
RULE_CURRENT = "model-analyzer-current"

RULES: dict[str, str] = {
    RULE_PARAMS: "weights after the runtime folds each BatchNorm/per-channel affine directly "
    "after a conv or FC into it (+Cout bias); other BatchNorms count 2*C (scale + shift)",
    RULE_MACS: "multiply-accumulates of all convolutions and matrix products (Cin/groups*kh*kw "
    "per conv output element)",
    RULE_OMZ: "OpenVINO model_analyzer 2019 (Open Model Zoo cards): conv 2*Cin/g*kh*kw per "
    "output, bias free; ReLU 2; pool kh*kw; eltwise 2n-1; scale-shift 2; softmax 5; data moves 0",
    RULE_2X: "2 x MACs of convolutions and matrix products only (the convention of most papers)",
    RULE_CURRENT: "current model_analyzer: as 2019, plus 1 per output element for a conv/FC bias; "
    "element-wise add/sub/mul/div 1 per element; scale-shift 1 per Multiply/Add",
}

# kind -> (flops per output element under 2019 rules, under the current rules).
# conv/fc, scale-shift, eltwise and pooling are computed from their own attributes instead.
_PER_ELEMENT: dict[str, tuple[float, float]] = {
    "relu": (2, 2),
    "leaky relu": (2, 2),
    "prelu": (2, 2),
    "clamp": (2, 2),
    "elu": (3, 3),
    "sigmoid": (3, 3),
    "tanh": (6, 6),
    "hard sigmoid": (4, 4),
    "hswish": (4, 4),
    "exp": (1, 1),
    "log": (1, 1),
    "sqrt": (1, 1),
    "softmax": (5, 5),
    "log softmax": (6, 6),
    "interpolate (linear)": (9, 9),
}
_DATA_KINDS = (
    "concat", "reshape", "transpose", "slice", "gather", "upsample (nearest)", "identity", "pad",
    "broadcast",
)


@dataclass
class Layer:
    """One operation as the runtime sees it (front-end independent).

    ``kind`` is the counting category (``conv``, ``fc``, ``affine``, ``relu``, ``add``, ...),
    ``source`` the front-end op type. ``inputs`` are the non-constant tensors it reads,
    ``output`` the tensor it writes, ``out_shape`` that tensor's static shape (NCHW for convs).
    Kind-specific fields: ``macs_per_element`` (conv/fc: MACs per output element), ``weights``,
    ``bias`` and ``cout`` (conv/fc); ``scale`` / ``shift`` ('' | 'scalar' | 'channel': extent of
    the coefficients of an affine op) and ``n_ops`` (Multiply/Add ops it is made of);
    ``kernel`` (pooling window elements); ``n_inputs`` (element-wise ops); ``params`` (PReLU
    slopes); ``folded`` (names of the ops folded into it).
    """

    name: str
    kind: str
    source: str
    inputs: list[str]
    output: str
    out_shape: tuple[int, ...]
    macs_per_element: int = 0
    weights: int = 0
    bias: bool = False
    cout: int = 0
    kernel: int = 0
    n_inputs: int = 2
    n_ops: int = 1
    scale: str = ""  # affine: "" (none), "scalar" or "channel"
    shift: str = ""
    params: int = 0  # other params (PReLU slopes)
    folded: list[str] = field(default_factory=list)

    @property
    def elements(self) -> int:
        """Number of output elements."""
        return math.prod(self.out_shape)


@dataclass(frozen=True)
class Figure:
    """One reported figure: ``name`` (with unit), ``value``, the ``rule`` and its description."""

    name: str
    value: float
    rule: str
    description: str


@dataclass
class BreakdownRow:
    """Totals of one operation type: count, GFLOPs under both model_analyzer rules, GMACs, params."""

    op_type: str
    count: int = 0
    gflops_omz: float = 0.0
    gflops_current: float = 0.0
    gmacs: float = 0.0
    params: int = 0


@dataclass
class ComplexityReport:
    """Complexity of one model at one input shape (all figures from :func:`analyze`)."""

    model_path: Path
    input_shapes: dict[str, list[int]]
    params: int
    macs: int
    flops_omz: float
    flops_current: float
    breakdown: list[BreakdownRow]
    not_counted: dict[str, int]

    @property
    def flops_2x_macs(self) -> float:
        """2 x MACs (FLOPs)."""
        return 2.0 * self.macs

    def figures(self) -> list[Figure]:
        """The headline figures, units in names, each with its rule."""
        return [
            Figure("params", float(self.params), RULE_PARAMS, RULES[RULE_PARAMS]),
            Figure("mparams", self.params / 1e6, RULE_PARAMS, RULES[RULE_PARAMS]),
            Figure("gmacs", self.macs / 1e9, RULE_MACS, RULES[RULE_MACS]),
            Figure("gflops_omz", self.flops_omz / 1e9, RULE_OMZ, RULES[RULE_OMZ]),
            Figure("gflops_2x_macs", self.flops_2x_macs / 1e9, RULE_2X, RULES[RULE_2X]),
            Figure("gflops_model_analyzer_current", self.flops_current / 1e9, RULE_CURRENT,
                   RULES[RULE_CURRENT]),
        ]


# ---------------------------------------------------------------------------------------------
# Front-end independent graph
# ---------------------------------------------------------------------------------------------


@dataclass
class _Node:
    """A front-end op: ``op`` type, input/output tensor ids, attributes it needs."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]


@dataclass
class _Graph:
    """Nodes in topological order, static tensor shapes, constant tensors, graph outputs."""

    nodes: list[_Node]
    shapes: dict[str, tuple[int, ...] | None]
    consts: set[str]
    outputs: set[str]
    input_shapes: dict[str, list[int]]
    const_data: dict[str, Callable[[], bytes]] = field(default_factory=dict)

    def const_digest(self, tensor: str) -> str:
        """sha1 of a constant's bytes (dtype, shape, data) if known, else its tensor id."""
        loader = self.const_data.get(tensor)
        if loader is None:
            return f"id:{tensor}"
        return "sha1:" + hashlib.sha1(loader()).hexdigest()


def _propagate_constants(graph: _Graph, shape_ops: Iterable[str]) -> list[_Node]:
    """Mark outputs of constant-only nodes as constant; return the remaining (runtime) nodes.

    ``shape_ops`` (ONNX ``Shape``, OpenVINO ``ShapeOf``) produce constants when their input's
    shape is static, as every shape here is.
    """
    shape_ops = set(shape_ops)
    live = []
    for node in graph.nodes:
        data_inputs = [t for t in node.inputs if t and t not in graph.consts]
        if not data_inputs or node.op in shape_ops:
            graph.consts.update(node.outputs)
            loaders = [graph.const_data.get(t) for t in node.inputs if t]
            if node.op not in shape_ops and all(loaders):
                # a deterministic op of known constants: equal inputs give equal outputs
                for index, out in enumerate(node.outputs):
                    graph.const_data[out] = _derived_loader(node, index, loaders)
        else:
            live.append(node)
    return live


def _derived_loader(
    node: _Node, index: int, loaders: list[Callable[[], bytes]]
) -> Callable[[], bytes]:
    """Digest input of output ``index`` of a constant-folded op: its type, attributes, inputs."""

    def load() -> bytes:
        head = f"{node.op}:{index}:{sorted(node.attrs.items())!r}".encode()
        return head + b"".join(hashlib.sha1(f()).digest() for f in loaders)

    if node.op == "Identity":
        return loaders[0]
    return load


def _eliminate_common(nodes: list[_Node], graph: _Graph) -> list[_Node]:
    """Merge duplicate ops (same type, attributes and inputs, equal constants), as both
    runtimes' common-subexpression elimination does; later readers are redirected."""
    alias: dict[str, str] = {}
    seen: dict[tuple, _Node] = {}
    digests: dict[str, str] = {}
    keep = []
    for node in nodes:
        node.inputs = [alias.get(t, t) for t in node.inputs]
        key_inputs = []
        for t in node.inputs:
            if t in graph.consts:
                if t not in digests:
                    digests[t] = graph.const_digest(t)
                key_inputs.append(digests[t])
            else:
                key_inputs.append(t)
        key = (node.op, repr(sorted(node.attrs.items())), tuple(key_inputs), len(node.outputs))
        first = seen.get(key)
        if first is not None and not any(o in graph.outputs for o in node.outputs):
            alias.update(zip(node.outputs, first.outputs))
            continue
        seen.setdefault(key, node)
        keep.append(node)
    return keep


def _prune_dead(nodes: list[_Node], outputs: set[str]) -> list[_Node]:
    """Drop nodes none of whose outputs reach a graph output (runtimes never run them)."""
    needed = set(outputs)
    keep = []
    for node in reversed(nodes):
        if any(o in needed for o in node.outputs):
            keep.append(node)
            needed.update(t for t in node.inputs if t)
    return keep[::-1]


def _shape(graph: _Graph, tensor: str, model: Path) -> tuple[int, ...]:
    """Static shape of ``tensor``, or RfbenchError naming the model and tensor."""
    shape = graph.shapes.get(tensor)
    if shape is None or any(d is None or d < 0 for d in shape):
        raise RfbenchError(
            f"{model}: cannot infer a static shape for tensor {tensor!r} "
            "(pass --input-size for a dynamic model)"
        )
    return tuple(int(d) for d in shape)


def _affine_extent(const_shape: tuple[int, ...] | None, out_shape: tuple[int, ...]) -> str:
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


def _binary_layer(
    name: str, op: str, kind: str, graph: _Graph, node_inputs: Sequence[str], output: str,
    out_shape: tuple[int, ...],
) -> Layer:
    """Add/Sub/Mul/Div: affine candidate when one operand is a per-channel/scalar constant."""
    data = [t for t in node_inputs if t and t not in graph.consts]
    consts = [t for t in node_inputs if t and t in graph.consts]
    layer = Layer(name, kind, op, data, output, out_shape, n_inputs=len(node_inputs))
    if len(data) == 1 and len(consts) == 1 and kind in ("add", "sub", "mul", "div"):
        extent = _affine_extent(graph.shapes.get(consts[0]), out_shape)
        const_first = node_inputs[0] == consts[0]
        if extent and not (kind == "div" and const_first):
            layer.kind = "affine"
            if kind in ("mul", "div"):
                layer.scale = extent
            else:
                layer.shift = extent
                if kind == "sub" and const_first:  # c - x = (-1) * x + c
                    layer.scale = "scalar"
    return layer


# ---------------------------------------------------------------------------------------------
# ONNX front-end
# ---------------------------------------------------------------------------------------------

_ONNX_SIMPLE = {
    "Relu": "relu", "LeakyRelu": "leaky relu", "Clip": "clamp", "Elu": "elu",
    "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hard sigmoid", "HardSwish": "hswish",
    "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Softmax": "softmax", "LogSoftmax": "log softmax",
    "Concat": "concat", "Reshape": "reshape", "Flatten": "reshape", "Squeeze": "reshape",
    "Unsqueeze": "reshape", "Transpose": "transpose", "Slice": "slice", "Split": "slice",
    "Gather": "gather", "GatherElements": "gather", "GatherND": "gather", "Identity": "identity",
    "Cast": "identity", "Dropout": "identity", "Pad": "pad", "Tile": "broadcast",
    "Expand": "broadcast",
}
_ONNX_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max",
                "Min": "min", "Sum": "add"}


def _onnx_dims(value_info: Any) -> tuple[int, ...] | None:
    """Static dims of an ONNX ValueInfo (None for a missing shape; -1 for a symbolic dim)."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)


def _load_onnx(path: Path, input_hw: tuple[int, int] | None) -> _Graph:
    """Read an ONNX model, fix dynamic input dims (batch 1, H x W), infer all shapes."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = load_onnx(path)
    input_shapes = {}
    for value in onnx_graph_inputs(model):
        dims = value.type.tensor_type.shape.dim
        input_shapes[value.name] = _fix_input_dims(
            path, value.name, [d.dim_value if d.HasField("dim_value") else -1 for d in dims],
            input_hw,
        )
        for dim, size in zip(dims, input_shapes[value.name]):
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
    const_data = {}
    for init in g.initializer:
        shapes[init.name] = tuple(init.dims)
        const_data[init.name] = _onnx_tensor_bytes(init)
    nodes = []
    for index, node in enumerate(g.node):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            shapes[node.output[0]] = tuple(numpy_helper.to_array(attrs["value"]).shape)
            const_data[node.output[0]] = _onnx_tensor_bytes(attrs["value"])
            attrs = {}
        nodes.append(_Node(node.name or f"{node.op_type}_{index}", node.op_type,
                           list(node.input), list(node.output), attrs))
    return _Graph(nodes, shapes, consts, {o.name for o in g.output}, input_shapes, const_data)


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
    missing = [o for n in model.graph.node for o in n.output
               if o and (shapes.get(o) is None or any(d < 0 for d in shapes[o]))]
    if not missing:
        return
    import openvino as ov

    log.debug("%s: %d tensor shapes unknown to ONNX shape inference; asking OpenVINO",
              path, len(missing))
    try:
        ov_model = ov.Core().read_model(str(path))
        ov_model.reshape(input_shapes)
    except RuntimeError as exc:
        log.debug("OpenVINO could not read %s: %s", path, exc)
        return
    for op in ov_model.get_ordered_ops():
        for port in op.outputs():
            pshape = port.get_partial_shape()
            if pshape.is_static:
                for name in port.get_names():
                    if shapes.get(name) is None or any(d < 0 for d in shapes[name]):
                        shapes[name] = tuple(d.get_length() for d in pshape)


def _onnx_layer(node: _Node, graph: _Graph, path: Path) -> Layer | None:
    """Map one live ONNX node onto a Layer (None: no rule, reported as not counted)."""
    op, out = node.op, node.outputs[0]
    out_shape = _shape(graph, out, path)
    data = [t for t in node.inputs if t and t not in graph.consts]
    if op in ("Conv", "ConvTranspose"):
        w_shape = _shape(graph, node.inputs[1], path)
        bias = len(node.inputs) > 2 and bool(node.inputs[2])
        layer = Layer(node.name, "conv", op, data, out, out_shape, weights=math.prod(w_shape),
                      bias=bias, cout=out_shape[1])
        if op == "Conv":
            layer.macs_per_element = math.prod(w_shape[1:])
        else:  # each input element scatters Cout/g*kh*kw MACs
            in_elems = math.prod(_shape(graph, node.inputs[0], path))
            layer.macs_per_element = in_elems * math.prod(w_shape[1:]) // layer.elements
        return layer
    if op in ("Gemm", "MatMul"):
        a_shape = _shape(graph, node.inputs[0], path)
        k = a_shape[-2] if node.attrs.get("transA", 0) else a_shape[-1]
        consts = [t for t in node.inputs[1:] if t and t in graph.consts]
        weights = sum(math.prod(_shape(graph, t, path)) for t in consts[:1])
        bias = op == "Gemm" and len(node.inputs) > 2 and bool(node.inputs[2])
        return Layer(node.name, "fc", op, data, out, out_shape, macs_per_element=k,
                     weights=weights, bias=bias, cout=out_shape[-1])
    if op == "BatchNormalization":
        return Layer(node.name, "affine", op, data[:1], out, out_shape, scale="channel",
                     shift="channel", n_ops=2)
    if op == "PRelu":
        slope = math.prod(_shape(graph, node.inputs[1], path))
        kind = "leaky relu" if slope == 1 else "prelu"
        return Layer(node.name, kind, op, data, out, out_shape, params=0 if slope == 1 else slope)
    if op in _ONNX_BINARY:
        return _binary_layer(node.name, op, _ONNX_BINARY[op], graph, node.inputs, out, out_shape)
    if op in ("MaxPool", "AveragePool"):
        kind = "max pool" if op == "MaxPool" else "avg pool"
        return Layer(node.name, kind, op, data, out, out_shape,
                     kernel=math.prod(node.attrs["kernel_shape"]))
    if op in ("GlobalAveragePool", "GlobalMaxPool"):
        in_shape = _shape(graph, node.inputs[0], path)
        kind = "avg pool" if op == "GlobalAveragePool" else "max pool"
        return Layer(node.name, kind, op, data, out, out_shape, kernel=math.prod(in_shape[2:]))
    if op in ("Resize", "Upsample"):
        mode = node.attrs.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        kind = "upsample (nearest)" if mode == "nearest" else "interpolate (linear)"
        return Layer(node.name, kind, op, data, out, out_shape)
    if op in _ONNX_SIMPLE:
        return Layer(node.name, _ONNX_SIMPLE[op], op, data, out, out_shape)
    return None


# ---------------------------------------------------------------------------------------------
# OpenVINO IR front-end
# ---------------------------------------------------------------------------------------------

_OV_SIMPLE = {
    "Relu": "relu", "Clamp": "clamp", "Elu": "elu", "Sigmoid": "sigmoid", "Tanh": "tanh",
    "HSigmoid": "hard sigmoid", "HardSigmoid": "hard sigmoid", "HSwish": "hswish", "Exp": "exp",
    "Log": "log", "Sqrt": "sqrt", "Softmax": "softmax", "LogSoftmax": "log softmax",
    "Concat": "concat", "Reshape": "reshape", "Squeeze": "reshape", "Unsqueeze": "reshape",
    "Transpose": "transpose", "StridedSlice": "slice", "Slice": "slice", "Split": "slice",
    "VariadicSplit": "slice", "Crop": "slice", "Gather": "gather", "GatherElements": "gather",
    "GatherND": "gather", "Convert": "identity", "Pad": "pad", "Tile": "broadcast",
    "Broadcast": "broadcast",
}
_OV_BINARY = {"Add": "add", "Subtract": "sub", "Multiply": "mul", "Divide": "div",
              "Maximum": "max", "Minimum": "min"}


def _load_ir(path: Path, input_hw: tuple[int, int] | None) -> _Graph:
    """Read an OpenVINO IR (.xml + .bin), reshape dynamic inputs, list its ops with shapes."""
    import openvino as ov

    try:
        model = ov.Core().read_model(str(path))
    except RuntimeError as exc:
        raise RfbenchError(f"{path}: cannot read the OpenVINO IR: {str(exc).splitlines()[0]}") from exc
    input_shapes = {}
    for port in model.inputs:
        pshape = port.get_partial_shape()
        dims = [d.get_length() if d.is_static else -1 for d in pshape]
        input_shapes[port.get_any_name()] = _fix_input_dims(path, port.get_any_name(), dims,
                                                            input_hw)
    if any(not p.get_partial_shape().is_static for p in model.inputs):
        model.reshape({p.get_any_name(): input_shapes[p.get_any_name()] for p in model.inputs})
    nodes, shapes, consts, outputs, const_data = [], {}, set(), set(), {}

    def tid(value: Any) -> str:
        return f"{value.get_node().get_name()}:{value.get_index()}"

    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        outs = [f"{op.get_name()}:{i}" for i in range(op.get_output_size())]
        for i, name in enumerate(outs):
            ps = op.get_output_partial_shape(i)
            shapes[name] = tuple(d.get_length() for d in ps) if ps.is_static else None
        ins = [tid(v) for v in op.input_values()]
        if kind == "Constant":
            consts.update(outs)
            const_data[outs[0]] = _ov_constant_bytes(op)
            continue
        if kind == "Result":
            outputs.update(ins)
            continue
        if kind == "Parameter":
            continue
        nodes.append(_Node(op.get_friendly_name(), kind, ins, outs, op.get_attributes()))
    return _Graph(nodes, shapes, consts, outputs, input_shapes, const_data)


def _ov_constant_bytes(op: Any) -> Callable[[], bytes]:
    """A loader of an OpenVINO Constant's element type, shape and values as bytes."""

    def load() -> bytes:
        array = op.get_data()
        return f"{op.get_element_type()}{array.shape}".encode() + array.tobytes()

    return load


def _ir_layer(node: _Node, graph: _Graph, path: Path) -> Layer | None:
    """Map one live OpenVINO op onto a Layer (None: no rule, reported as not counted)."""
    op, out = node.op, node.outputs[0]
    out_shape = _shape(graph, out, path)
    data = [t for t in node.inputs if t and t not in graph.consts]
    if op in ("Convolution", "GroupConvolution", "ConvolutionBackpropData",
              "GroupConvolutionBackpropData"):
        w_shape = _shape(graph, node.inputs[1], path)
        per_group = w_shape[2:] if op.startswith("Group") else w_shape[1:]
        layer = Layer(node.name, "conv", op, data, out, out_shape, weights=math.prod(w_shape),
                      cout=out_shape[1])
        if "Backprop" in op:
            in_elems = math.prod(_shape(graph, node.inputs[0], path))
            layer.macs_per_element = in_elems * math.prod(per_group) // layer.elements
        else:
            layer.macs_per_element = math.prod(per_group)
        return layer
    if op == "MatMul":
        a_shape = _shape(graph, node.inputs[0], path)
        k = a_shape[-2] if node.attrs.get("transpose_a") else a_shape[-1]
        consts = [t for t in node.inputs[1:] if t in graph.consts]
        weights = sum(math.prod(_shape(graph, t, path)) for t in consts)
        return Layer(node.name, "fc", op, data, out, out_shape, macs_per_element=k,
                     weights=weights, cout=out_shape[-1])
    if op == "BatchNormInference":
        return Layer(node.name, "affine", op, data[:1], out, out_shape, scale="channel",
                     shift="channel", n_ops=2)
    if op == "PRelu":
        slope = math.prod(_shape(graph, node.inputs[1], path))
        kind = "leaky relu" if slope == 1 else "prelu"
        return Layer(node.name, kind, op, data, out, out_shape, params=0 if slope == 1 else slope)
    if op in _OV_BINARY:
        return _binary_layer(node.name, op, _OV_BINARY[op], graph, node.inputs, out, out_shape)
    if op in ("MaxPool", "AvgPool"):
        kind = "max pool" if op == "MaxPool" else "avg pool"
        return Layer(node.name, kind, op, data, out, out_shape,
                     kernel=math.prod(node.attrs["kernel"]))
    if op == "Interpolate":
        mode = str(node.attrs.get("mode", "nearest"))
        kind = "upsample (nearest)" if mode == "nearest" else "interpolate (linear)"
        return Layer(node.name, kind, op, data, out, out_shape)
    if op in _OV_SIMPLE:
        return Layer(node.name, _OV_SIMPLE[op], op, data, out, out_shape)
    return None


# ---------------------------------------------------------------------------------------------
# Shared: input sizes, folding, counting
# ---------------------------------------------------------------------------------------------


def _fix_input_dims(
    path: Path, name: str, dims: list[int], input_hw: tuple[int, int] | None
) -> list[int]:
    """Concrete input dims: batch 1, dynamic H x W from ``input_hw`` (default 640x640).

    An explicit ``input_hw`` that contradicts a static 4-D image input is an error (the model's
    constants, e.g. anchors, may be tied to that size).
    """
    if len(dims) != 4:
        if any(d < 0 for d in dims):
            raise RfbenchError(f"{path}: input {name!r} has dynamic dims {dims}; only NCHW "
                               "image inputs can be fixed with --input-size")
        return dims
    hw = input_hw or DEFAULT_INPUT_HW
    fixed = [1 if dims[0] < 0 else dims[0], dims[1], hw[0] if dims[2] < 0 else dims[2],
             hw[1] if dims[3] < 0 else dims[3]]
    if fixed[1] < 0:
        raise RfbenchError(f"{path}: input {name!r} has a dynamic channel count")
    if input_hw is not None and tuple(fixed[2:]) != tuple(input_hw):
        raise RfbenchError(
            f"{path}: input {name!r} has a fixed size {dims[3]}x{dims[2]} (WxH); "
            f"--input-size {input_hw[1]}x{input_hw[0]} applies only to dynamic models"
        )
    return fixed


def _fold(layers: list[Layer], graph_outputs: set[str]) -> list[Layer]:
    """Fold runtime-fusable affine ops; return the layers as the runtime runs them.

    1. A per-channel/scalar affine op (BatchNorm, Mul/Div/Add/Sub by a constant) that is the
       only consumer of a conv/FC output is folded into it (a shift gives it a bias).
    2. Chains of such affine ops elsewhere merge into one scale-shift (its ``n_ops`` adds up).
    """
    consumers: Counter[str] = Counter(t for layer in layers for t in layer.inputs)
    by_input: dict[str, list[Layer]] = {}
    for layer in layers:
        for t in layer.inputs:
            by_input.setdefault(t, []).append(layer)
    removed: set[int] = set()

    def sole_affine_consumer(tensor: str) -> Layer | None:
        users = by_input.get(tensor, [])
        if (consumers[tensor] == 1 and tensor not in graph_outputs and len(users) == 1
                and users[0].kind == "affine" and users[0].inputs == [tensor]):
            return users[0]
        return None

    for layer in layers:
        if id(layer) in removed or layer.kind not in ("conv", "fc", "affine"):
            continue
        while (nxt := sole_affine_consumer(layer.output)) is not None:
            removed.add(id(nxt))
            layer.output = nxt.output
            layer.folded.append(nxt.name)
            if layer.kind == "affine":
                layer.n_ops += nxt.n_ops
                if layer.shift and nxt.scale:  # s * (x + b): the shift is rescaled
                    layer.shift = _wider(layer.shift, nxt.scale)
                layer.scale = _wider(layer.scale, nxt.scale)
                layer.shift = _wider(layer.shift, nxt.shift)
            elif nxt.shift:
                layer.bias = True
    return [layer for layer in layers if id(layer) not in removed]


def _wider(a: str, b: str) -> str:
    """The wider of two coefficient extents ('' < 'scalar' < 'channel')."""
    order = {"": 0, "scalar": 1, "channel": 2}
    return a if order[a] >= order[b] else b


def _layer_cost(layer: Layer) -> tuple[int, float, float, int, str]:
    """(MACs, FLOPs under 2019 rules, FLOPs under current rules, params, breakdown label)."""
    n = layer.elements
    if layer.kind in ("conv", "fc"):
        macs = n * layer.macs_per_element
        bias = layer.cout if layer.bias else 0
        return macs, 2.0 * macs, 2.0 * macs + (n if layer.bias else 0), layer.weights + bias, \
            layer.kind
    if layer.kind == "affine":
        channels = layer.out_shape[1] if len(layer.out_shape) > 1 else 1
        params = channels * ((layer.scale == "channel") + (layer.shift == "channel"))
        return 0, 2.0 * n, float(layer.n_ops * n), params, "scale-shift"
    if layer.kind in ("add", "sub", "mul", "div", "max", "min"):
        return 0, float((2 * layer.n_inputs - 1) * n), float((layer.n_inputs - 1) * n), 0, \
            layer.kind
    if layer.kind in ("max pool", "avg pool"):
        return 0, float(layer.kernel * n), float(layer.kernel * n), 0, layer.kind
    if layer.kind in _PER_ELEMENT:
        old, new = _PER_ELEMENT[layer.kind]
        return 0, old * n, new * n, layer.params, layer.kind
    if layer.kind in _DATA_KINDS:
        return 0, 0.0, 0.0, 0, layer.kind
    raise ValueError(f"no cost rule for kind {layer.kind!r}")


def count_layers(layers: Sequence[Layer]) -> tuple[int, int, float, float, list[BreakdownRow]]:
    """Sum (params, MACs, FLOPs 2019, FLOPs current) and per-type rows over folded layers."""
    rows: dict[str, BreakdownRow] = {}
    params = macs = 0
    flops_omz = flops_current = 0.0
    for layer in layers:
        l_macs, l_omz, l_cur, l_params, label = _layer_cost(layer)
        row = rows.setdefault(label, BreakdownRow(label))
        row.count += 1
        row.gflops_omz += l_omz / 1e9
        row.gflops_current += l_cur / 1e9
        row.gmacs += l_macs / 1e9
        row.params += l_params
        params += l_params
        macs += l_macs
        flops_omz += l_omz
        flops_current += l_cur
    ordered = sorted(rows.values(), key=lambda r: (-r.gflops_omz, -r.params, r.op_type))
    return params, macs, flops_omz, flops_current, ordered


def model_layers(
    path: str | Path, input_hw: tuple[int, int] | None = None
) -> tuple[list[Layer], dict[str, int], dict[str, list[int]]]:
    """The folded layers of a model, the op types with no rule (counts), and the input shapes.

    ``input_hw`` = (height, width) for dynamic inputs (default 640x640).
    """
    path = Path(path)
    if not path.is_file():
        raise RfbenchError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        graph, to_layer, shape_ops = _load_onnx(path, input_hw), _onnx_layer, ("Shape", "Size")
    elif suffix == ".xml":
        graph, to_layer, shape_ops = _load_ir(path, input_hw), _ir_layer, ("ShapeOf",)
    else:
        raise RfbenchError(f"{path}: unsupported model format {suffix!r} (expected .onnx or .xml)")
    layers, not_counted = [], Counter()
    live = _propagate_constants(graph, shape_ops)
    live = _prune_dead(_eliminate_common(live, graph), graph.outputs)
    if len(live) < len(graph.nodes):
        log.debug("%s: %d ops are constant or dead (not counted)", path,
                  len(graph.nodes) - len(live))
    for node in live:
        layer = to_layer(node, graph, path)
        if layer is None:
            not_counted[node.op] += 1
        else:
            layers.append(layer)
    if not_counted:
        log.warning("%s: no counting rule for %s (not counted)", path,
                    ", ".join(f"{k} x{v}" for k, v in sorted(not_counted.items())))
    return _fold(layers, graph.outputs), dict(not_counted), graph.input_shapes


def analyze(path: str | Path, input_hw: tuple[int, int] | None = None) -> ComplexityReport:
    """Complexity of the ``.onnx`` or ``.xml`` model at ``path`` (``input_hw`` = (H, W))."""
    layers, not_counted, input_shapes = model_layers(path, input_hw)
    params, macs, flops_omz, flops_current, rows = count_layers(layers)
    return ComplexityReport(Path(path), input_shapes, params, macs, flops_omz, flops_current,
                            rows, not_counted)

