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
- ``gmacs_int8`` / ``int8_macs_share`` (quantized models only): the MACs of the convs and
  matrix products whose inputs are both 8-bit quantized, and their share of ``gmacs``
  (:mod:`~rfbench.complexity.int8`).

Ops the 2019 tool did not know (Exp, Log, Tanh, ...) use the current per-element cost in both
rules. Ops with no rule here are listed in ``not_counted`` (count per type), never dropped
silently.

The model is read as the runtime sees it (:mod:`~rfbench.complexity.onnx_graph`,
:mod:`~rfbench.complexity.ir_graph`), constant sub-graphs (shape computations, weight
decompression) cost nothing (:mod:`~rfbench.complexity.graph`), and both front-ends' ops map
through one op table (:mod:`~rfbench.complexity.ops`) onto the layers counted by
:mod:`~rfbench.complexity.counting`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rfbench.complexity.counting import (
    RULE_2X,
    RULE_CURRENT,
    RULE_MACS,
    RULE_OMZ,
    RULE_PARAMS,
    RULES,
    BreakdownRow,
    Figure,
    Layer,
    count_layers,
    fold,
    layer_cost,
)
from rfbench.complexity.graph import (
    DEFAULT_INPUT_HW,
    eliminate_common,
    propagate_constants,
    prune_dead,
)
from rfbench.complexity.int8 import DESCRIPTION as INT8_DESCRIPTION
from rfbench.complexity.int8 import RULE_INT8, int8_compute_names, is_quantized_graph
from rfbench.complexity.ir_graph import load_ir_graph
from rfbench.complexity.onnx_graph import load_onnx_graph
from rfbench.complexity.ops import ONNX, OPENVINO, to_layer
from rfbench.models.files import check_model_path

__all__ = [
    "DEFAULT_INPUT_HW", "RULES", "BreakdownRow", "ComplexityReport", "Figure", "Layer", "analyze",
    "count_layers", "model_layers",
]  # fmt: skip

log = logging.getLogger(__name__)


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
    int8_macs: int | None = None  # None: the model has no quantization ops

    def figures(self) -> list[Figure]:
        """The headline figures, units in names, each with its rule; ``gmacs_int8`` and
        ``int8_macs_share`` (fraction of all MACs) only for a model with quantization ops."""
        figures = [Figure(name, value, rule, RULES[rule]) for name, value, rule in (
            ("params", float(self.params), RULE_PARAMS),
            ("mparams", self.params / 1e6, RULE_PARAMS),
            ("gmacs", self.macs / 1e9, RULE_MACS),
            ("gflops_omz", self.flops_omz / 1e9, RULE_OMZ),
            ("gflops_2x_macs", 2.0 * self.macs / 1e9, RULE_2X),
            ("gflops_model_analyzer_current", self.flops_current / 1e9, RULE_CURRENT))]
        if self.int8_macs is not None:
            share = self.int8_macs / self.macs if self.macs else float("nan")
            figures += [Figure("gmacs_int8", self.int8_macs / 1e9, RULE_INT8, INT8_DESCRIPTION),
                        Figure("int8_macs_share", share, RULE_INT8, INT8_DESCRIPTION)]
        return figures


def model_layers(
    path: str | Path, input_hw: tuple[int, int] | None = None
) -> tuple[list[Layer], dict[str, int], dict[str, list[int]]]:
    """The folded layers of a model, the op types with no rule (counts), and the input shapes.

    ``input_hw`` = (height, width) for dynamic inputs (default 640x640).
    """
    path = check_model_path(path)
    if path.suffix.lower() == ".onnx":
        graph, dialect = load_onnx_graph(path, input_hw), ONNX
    else:
        graph, dialect = load_ir_graph(path, input_hw), OPENVINO
    live = propagate_constants(graph, dialect.shape_ops)
    int8_names = int8_compute_names(graph) if is_quantized_graph(graph) else None
    live = prune_dead(eliminate_common(live, graph), graph.outputs)
    if len(live) < len(graph.nodes):
        log.debug("%s: %d ops are constant or dead (not counted)", path,
                  len(graph.nodes) - len(live))
    layers = [to_layer(node, graph, path, dialect) for node in live]
    not_counted = Counter(node.op for node, layer in zip(live, layers) if layer is None)
    if not_counted:
        log.warning("%s: no counting rule for %s (not counted)", path,
                    ", ".join(f"{k} x{v}" for k, v in sorted(not_counted.items())))
    folded = fold([layer for layer in layers if layer is not None], graph.outputs)
    if int8_names is not None:
        for layer in folded:
            layer.int8 = layer.name in int8_names
    return folded, dict(not_counted), graph.input_shapes


def analyze(path: str | Path, input_hw: tuple[int, int] | None = None) -> ComplexityReport:
    """Complexity of the ``.onnx`` or ``.xml`` model at ``path`` (``input_hw`` = (H, W))."""
    layers, not_counted, input_shapes = model_layers(path, input_hw)
    params, macs, flops_omz, flops_current, rows = count_layers(layers)
    quantized = any(layer.int8 is not None for layer in layers)
    int8_macs = sum(layer_cost(layer)[0] for layer in layers if layer.int8) if quantized else None
    return ComplexityReport(Path(path), input_shapes, params, macs, flops_omz, flops_current,
                            rows, not_counted, int8_macs)
