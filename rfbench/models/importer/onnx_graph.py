"""Building an imported network as ONNX, and writing it without holding the model twice.

:class:`GraphBuilder` collects nodes and weights (numpy arrays, kept as they are: views into the
checkpoint's bytes) and makes the graph without its initializers; :func:`write_onnx` then
writes the ``ModelProto`` with each weight serialized one at a time (protobuf's repeated fields
concatenate), so a 118 MB checkpoint needs about its own size again, not three times it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.fileio import atomic_file

OPSET = 17
#: ONNX ``GraphProto.initializer`` and ``ModelProto.graph`` field numbers (onnx.proto).
_GRAPH_INITIALIZER_FIELD = 5
_MODEL_GRAPH_FIELD = 7


class GraphBuilder:
    """Nodes and named weights of one graph; node output names are unique per builder."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.weights: dict[str, np.ndarray] = {}
        self._count = 0
        self._names: set[str] = set()

    def weight(self, name: str, array: np.ndarray) -> str:
        """Register ``array`` (made float32 unless integer) as initializer ``name``; returns it."""
        if name in self.weights:
            return name
        if array.dtype.kind == "f" and array.dtype != np.float32:
            array = array.astype(np.float32)
        self.weights[name] = array
        return name

    def const(self, hint: str, values: Sequence[float] | Sequence[int], dtype: type) -> str:
        """A small constant (shape, scales, axes) as an initializer named after ``hint``."""
        return self.weight(self._fresh(hint), np.asarray(values, dtype=dtype))

    def node(self, op: str, inputs: Sequence[str], name: str | None = None,
             outputs: Sequence[str] | None = None, **attrs: Any) -> str:
        """Append node ``op``; returns its (first) output name: ``name`` when given and not
        taken yet, else a fresh one made from it."""
        import onnx.helper

        node_name = name if name and name not in self._names else self._fresh(name or op.lower())
        self._names.add(node_name)  # MXNet allows two nodes of one name (R50 has two _plus0)
        outs = list(outputs) if outputs else [node_name]
        self.nodes.append(onnx.helper.make_node(op, list(inputs), outs, name=node_name, **attrs))
        return outs[0]

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}__{self._count}"

    def graph(self, name: str, inputs: Sequence[Any], outputs: Sequence[Any]) -> Any:
        """The ``GraphProto`` without initializers (they are written by :func:`write_onnx`)."""
        import onnx.helper

        return onnx.helper.make_graph(self.nodes, name, list(inputs), list(outputs))


def tensor_info(name: str, dims: Sequence[int | str]) -> Any:
    """A float32 graph input or output ``name`` of shape ``dims`` (a string: a dynamic dim)."""
    import onnx.helper

    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(dims))


def image_input(name: str, hw: tuple[int, int] | None) -> Any:
    """The image input ``1x3xHxW`` float32 (``height``/``width`` when ``hw`` is None)."""
    return tensor_info(name, [1, 3, *(hw if hw is not None else ("height", "width"))])


def make_model(graph: Any, metadata: Mapping[str, str], producer: str) -> Any:
    """A ``ModelProto`` around ``graph`` (opset :data:`OPSET`) with ``metadata_props``."""
    import onnx.helper

    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name=producer)
    model.ir_version = 8
    onnx.helper.set_model_props(model, dict(metadata))
    return model


def tensor_protos(weights: Mapping[str, np.ndarray]) -> Iterable[Any]:
    """Each weight as a ``TensorProto``, made only when it is written."""
    from onnx import numpy_helper

    for name, array in weights.items():
        yield numpy_helper.from_array(np.ascontiguousarray(array), name)


def write_onnx(path: Path, model: Any, initializers: Iterable[Any]) -> None:
    """Write ``model`` (its graph without initializers) plus ``initializers`` atomically.

    The file parses to the ModelProto ``onnx.save`` would write for the model with the
    initializers appended to its graph (protobuf concatenates repeated fields; the graph field
    comes last, which readers accept), but only one serialized tensor is in memory at a time.
    """
    graph = model.graph
    model.ClearField("graph")
    head = model.SerializeToString()
    graph_head = graph.SerializeToString()
    model.graph.CopyFrom(graph)
    with tempfile.TemporaryFile(dir=path.parent) as spool:  # until the graph's length is known
        size = len(graph_head)
        for tensor in initializers:
            blob = tensor.SerializeToString()
            entry = _key(_GRAPH_INITIALIZER_FIELD) + _varint(len(blob))
            size += len(entry) + len(blob)
            spool.write(entry)
            spool.write(blob)
        spool.seek(0)
        with atomic_file(path) as tmp, open(tmp, "wb", buffering=1 << 20) as out:
            out.write(head)
            out.write(_key(_MODEL_GRAPH_FIELD) + _varint(size))
            out.write(graph_head)
            shutil.copyfileobj(spool, out, 1 << 22)


def write_onnx_external(path: Path, model: Any, initializers: Iterable[Any]) -> None:
    """Write ``model`` with its weights in ``<path>.data`` (ONNX external data), each tensor's
    bytes written as it comes: for OpenVINO to convert, which maps that file instead of
    parsing a second copy of the weights (a scratch file, not atomic)."""
    from onnx import StringStringEntryProto, TensorProto, numpy_helper

    data_path = path.with_name(path.name + ".data")
    graph = model.graph
    with open(data_path, "wb") as data:
        for tensor in initializers:
            raw = (tensor.raw_data if tensor.HasField("raw_data")
                   else numpy_helper.to_array(tensor).tobytes())
            where = {"location": data_path.name, "offset": str(data.tell()), "length": str(len(raw))}
            data.write(raw)
            data.write(b"\0" * (-len(raw) % 64))
            graph.initializer.append(TensorProto(
                name=tensor.name, dims=tensor.dims, data_type=tensor.data_type,
                data_location=TensorProto.EXTERNAL,
                external_data=[StringStringEntryProto(key=k, value=v) for k, v in where.items()]))
    try:
        path.write_bytes(model.SerializeToString())
    finally:
        del graph.initializer[:]


def _key(field: int) -> bytes:
    return _varint(field << 3 | 2)  # wire type 2: length-delimited


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
