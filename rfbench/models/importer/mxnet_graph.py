"""An insightface MXNet checkpoint (``symbol.json`` + ``.params``) as an ONNX graph.

Every node of the symbol, in file order, goes through its translation in
:data:`rfbench.models.importer.mxnet_ops.OPS`; variables are the checkpoint's arrays, except
the one that is not in the ``.params`` file: the image input (``data`` in insightface's
symbols), kept under its own name as ``1x3xHxW`` float32 (H and W fixed or left dynamic). The
outputs are the symbol's heads under their node names (the nine
``face_rpn_*_stride{32,16,8}`` of a RetinaFace), so rfbench recognises layout A.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.models.importer.mxnet_ops import OPS, Context, Value
from rfbench.models.importer.mxnet_params import MxnetParams
from rfbench.models.importer.mxnet_symbol import Symbol, SymbolNode
from rfbench.models.importer.onnx_graph import GraphBuilder, image_input, tensor_info


def translate(symbol: Symbol, params: MxnetParams, params_path: str,
              input_hw: tuple[int, int] | None) -> tuple[Any, dict[str, np.ndarray], list[str]]:
    """(the ONNX graph without initializers, its weights by name, the checkpoint's arrays the
    symbol does not use) of the symbol with the checkpoint's weights; ``input_hw`` None:
    dynamic H, W.

    RfbenchError names the node for an unknown operator and the tensor for a shape mismatch.
    """
    ctx = Context(GraphBuilder(), params, params_path, set())
    values: dict[int, Value] = {}
    input_name: str | None = None
    needed = _needed_nodes(symbol)
    for node in symbol.nodes:
        if node.index not in needed:
            continue
        if node.op != "null":
            values[node.index] = _translate_node(ctx, node, values)
        elif params.get(node.name) is not None:
            values[node.index] = Value(node.name, None)
        elif input_name is not None:  # the one variable that is not a weight is the image
            raise RfbenchError(f"{symbol.path} does not match {params_path}: its variables "
                               f"'{input_name}' and '{node.name}' are not in the weights (only "
                               "the image input may be; is this the symbol of these weights?)")
        else:
            input_name = node.name
            values[node.index] = Value(node.name, 3)
    if input_name is None:
        raise RfbenchError(f"{symbol.path}: the symbol has no image input (every variable is a "
                           f"weight in {params_path})")
    outputs = []
    for head in symbol.heads:
        if head[1] != 0:
            raise RfbenchError(f"{symbol.path}: head {head} is not a node's first output")
        out = values[head[0]]  # 1 x C x h x w, its spatial size left to the runtimes to infer
        outputs.append(tensor_info(out.name, [1, out.channels or f"{out.name}_c",
                                              f"{out.name}_h", f"{out.name}_w"]))
    graph = ctx.builder.graph(symbol.path.name.removesuffix(".json"),
                              [image_input(input_name, input_hw)], outputs)
    unused = sorted((set(params.args) | set(params.aux)) - ctx.used)
    return graph, ctx.builder.weights, unused


def _needed_nodes(symbol: Symbol) -> set[int]:
    """Indices of the nodes the heads depend on (a symbol may carry dead training branches)."""
    needed: set[int] = set()
    stack = [index for index, _ in symbol.heads]
    while stack:
        index = stack.pop()
        if index not in needed:
            needed.add(index)
            stack.extend(source for source, _ in symbol.nodes[index].inputs)
    return needed


def _translate_node(ctx: Context, node: SymbolNode, values: dict[int, Value]) -> Value:
    translation = OPS.get(node.op)
    if translation is None:
        raise RfbenchError(f"{node.where()}: operator '{node.op}' is not supported by rfbench "
                           f"import (supported: {', '.join(sorted(OPS))})")
    inputs = []
    for source, output in node.inputs:
        if output != 0:
            raise RfbenchError(f"{node.where()}: reads output {output} of node #{source}; only "
                               "first outputs are translated")
        inputs.append(values[source])
    return translation(ctx, node, inputs)
