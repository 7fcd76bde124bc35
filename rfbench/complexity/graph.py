"""The front-end independent op graph: constants folded away, duplicates merged, dead ops dropped.

Both front-ends (:mod:`~rfbench.complexity.onnx_graph`, :mod:`~rfbench.complexity.ir_graph`)
produce an :class:`OpGraph`; the clean-ups here then leave the ops a runtime really executes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError

DEFAULT_INPUT_HW = (640, 640)


@dataclass
class OpNode:
    """A front-end op: ``op`` type, input/output tensor ids, attributes it needs."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]


@dataclass
class OpGraph:
    """Nodes in topological order, static tensor shapes, constant tensors, graph outputs."""

    nodes: list[OpNode]
    shapes: dict[str, tuple[int, ...] | None]
    consts: set[str]
    outputs: set[str]
    input_shapes: dict[str, list[int]]
    const_data: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    #: element type of stored constants ("i8", "f32" in IR; "int8", "float32" in ONNX)
    const_types: dict[str, str] = field(default_factory=dict)

    def const_digest(self, tensor: str) -> str:
        """sha1 of a constant's bytes (dtype, shape, data) if known, else its tensor id."""
        loader = self.const_data.get(tensor)
        if loader is None:
            return f"id:{tensor}"
        return "sha1:" + hashlib.sha1(loader()).hexdigest()


def propagate_constants(graph: OpGraph, shape_ops: Iterable[str]) -> list[OpNode]:
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
            known = [graph.const_data.get(t) for t in node.inputs if t]
            loaders = [f for f in known if f is not None]
            if node.op not in shape_ops and len(loaders) == len(known):
                # a deterministic op of known constants: equal inputs give equal outputs
                for index, out in enumerate(node.outputs):
                    graph.const_data[out] = _derived_loader(node, index, loaders)
        else:
            live.append(node)
    return live


def _derived_loader(
    node: OpNode, index: int, loaders: list[Callable[[], bytes]]
) -> Callable[[], bytes]:
    """Digest input of output ``index`` of a constant-folded op: its type, attributes, inputs."""

    def load() -> bytes:
        head = f"{node.op}:{index}:{sorted(node.attrs.items())!r}".encode()
        return head + b"".join(hashlib.sha1(f()).digest() for f in loaders)

    if node.op == "Identity":
        return loaders[0]
    return load


def eliminate_common(nodes: list[OpNode], graph: OpGraph) -> list[OpNode]:
    """Merge duplicate ops (same type, attributes and inputs, equal constants), as both
    runtimes' common-subexpression elimination does; later readers are redirected."""
    alias: dict[str, str] = {}
    seen: dict[tuple, OpNode] = {}
    digest = functools.cache(graph.const_digest)  # each constant's bytes hashed once
    keep = []
    for node in nodes:
        node.inputs = [alias.get(t, t) for t in node.inputs]
        key_inputs = tuple(digest(t) if t in graph.consts else t for t in node.inputs)
        key = (node.op, repr(sorted(node.attrs.items())), key_inputs, len(node.outputs))
        first = seen.get(key)
        if first is not None and not any(o in graph.outputs for o in node.outputs):
            alias.update(zip(node.outputs, first.outputs))
            continue
        seen.setdefault(key, node)
        keep.append(node)
    return keep


def prune_dead(nodes: list[OpNode], outputs: set[str]) -> list[OpNode]:
    """Drop nodes none of whose outputs reach a graph output (runtimes never run them)."""
    needed = set(outputs)
    keep = []
    for node in reversed(nodes):
        if any(o in needed for o in node.outputs):
            keep.append(node)
            needed.update(t for t in node.inputs if t)
    return keep[::-1]


def static_shape(graph: OpGraph, tensor: str, model: Path) -> tuple[int, ...]:
    """Static shape of ``tensor``, or RfbenchError naming the model and tensor."""
    shape = graph.shapes.get(tensor)
    if shape is None or any(d is None or d < 0 for d in shape):
        raise RfbenchError(
            f"{model}: cannot infer a static shape for tensor {tensor!r} "
            "(pass --input-size for a dynamic model)"
        )
    return tuple(int(d) for d in shape)


def fix_input_dims(
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
