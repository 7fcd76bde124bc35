"""Which convolutions and matrix products of a quantized model run in INT8 (rule :data:`RULE_INT8`).

A post-training INT8 model says where it is quantized in its graph, not in a precision flag:

- OpenVINO IR from NNCF: a ``FakeQuantize`` (``levels`` <= 256) on a conv's activation input,
  and the conv's weights stored as an ``i8``/``u8`` constant decompressed by
  ``Convert`` -> (``Subtract`` zero point) -> ``Multiply`` scale (or a ``FakeQuantize`` on the
  float weights). OpenVINO's low-precision transformations then run that conv in INT8.
- ONNX QDQ (ONNX Runtime's ``quantize_static``, NNCF's ONNX backend): a ``DequantizeLinear``
  of 8-bit data (its zero point ``int8``/``uint8``, or none: ``uint8``) on each input.

A conv or matrix product counts as INT8 when BOTH inputs are 8-bit quantized by these marks,
an activation possibly reaching the op through quantization-agnostic data movement
(``MaxPool``, reshapes, transposes, slices, a ``Concat`` of quantized inputs), as the runtimes'
transformations propagate it. Its MACs (rule ``conv-and-matmul-macs``) are then INT8 MACs.
"""

from __future__ import annotations

from rfbench.complexity.graph import OpGraph, OpNode

RULE_INT8 = "int8-quantized-conv-and-matmul-macs"
DESCRIPTION = (
    "share of conv/matmul MACs whose activation and weight inputs are both 8-bit quantized: "
    "IR: a FakeQuantize (<= 256 levels) on the activation, possibly through MaxPool/reshape/"
    "transpose/slice/Concat, and weights from an i8/u8 constant (or a FakeQuantize); ONNX QDQ: "
    "a DequantizeLinear of 8-bit data on each input"
)

#: Front-end op types of convolutions and matrix products (both dialects).
COMPUTE_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "Convolution", "GroupConvolution",
               "ConvolutionBackpropData", "GroupConvolutionBackpropData")
#: Ops that mark a quantized tensor.
QUANTIZE_OPS = ("FakeQuantize", "DequantizeLinear", "QuantizeLinear")
#: Ops a quantized activation passes through unchanged in precision.
AGNOSTIC_OPS = ("MaxPool", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten",
                "StridedSlice", "Slice", "Split", "VariadicSplit", "Concat", "Identity")
#: Ops that decompress stored low-precision weights (constant sub-graphs only).
DECOMPRESSION_OPS = ("Convert", "Cast", "Subtract", "Sub", "Multiply", "Mul", "Reshape",
                     "Transpose", "Unsqueeze", "Squeeze")
EIGHT_BIT_TYPES = ("i8", "u8", "int8", "uint8")
MAX_LEVELS = 256


def is_quantized_graph(graph: OpGraph) -> bool:
    """True when the graph holds any quantization op (FakeQuantize, Q/DQ)."""
    return any(node.op in QUANTIZE_OPS for node in graph.nodes)


def int8_compute_names(graph: OpGraph) -> set[str]:
    """Names of the conv / matmul nodes of ``graph`` that run in INT8 (see the module doc).

    Call after :func:`~rfbench.complexity.graph.propagate_constants` (it marks the weight
    decompression sub-graphs constant). Names are the nodes' names, as the layers keep them.
    """
    producer: dict[str, OpNode] = {out: node for node in graph.nodes for out in node.outputs}
    memo: dict[str, bool] = {}

    def quantized(tensor: str, depth: int = 0) -> bool:
        if tensor not in memo:
            memo[tensor] = depth < 64 and _quantized(tensor, depth)
        return memo[tensor]

    def _quantized(tensor: str, depth: int) -> bool:
        node = producer.get(tensor)
        if node is None:  # a Constant (or an initializer, or a graph input)
            return tensor in graph.consts and graph.const_types.get(tensor) in EIGHT_BIT_TYPES
        if node.op == "FakeQuantize":
            return int(node.attrs.get("levels", MAX_LEVELS + 1)) <= MAX_LEVELS
        if node.op == "DequantizeLinear":
            zero_point = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
            return zero_point is None or graph.const_types.get(zero_point) in EIGHT_BIT_TYPES
        if tensor in graph.consts:
            return node.op in DECOMPRESSION_OPS and any(
                quantized(t, depth + 1) for t in node.inputs if t)
        if node.op in AGNOSTIC_OPS:
            data = [t for t in node.inputs if t and t not in graph.consts]
            return bool(data) and all(quantized(t, depth + 1) for t in data)
        return False

    return {node.name for node in graph.nodes if node.op in COMPUTE_OPS and len(node.inputs) >= 2
            and quantized(node.inputs[0]) and quantized(node.inputs[1])}
