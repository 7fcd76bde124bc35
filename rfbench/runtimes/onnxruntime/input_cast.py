"""A copy of an ONNX model whose float inputs are fed as another element type (``Cast`` inside).

ONNX Runtime has no pre-processing step of its own, so ``--input-precision u8`` is done the
way OpenVINO's PrePostProcessor does it: the graph input keeps its name but becomes uint8,
and a ``Cast`` to the original float type feeds every node that read it. The model file is
not touched; the copy is handed to ONNX Runtime as bytes.
"""

from __future__ import annotations

from pathlib import Path

from rfbench.errors import RfbenchError

#: rfbench input precision -> ONNX TensorProto element type name.
_ELEMENT = {"u8": "UINT8", "f32": "FLOAT"}
_FLOATS = ("FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16")


def model_with_input_type(model_path: Path, precision: str) -> bytes | None:
    """The serialised model with every float input fed as ``precision``; None if unchanged.

    RfbenchError when the model has no float input. External weights are loaded from beside
    the model file (the copy is self-contained, so a model over 2 GB cannot be converted).
    """
    import onnx

    proto = onnx.load(str(model_path))
    graph = proto.graph
    initialisers = {t.name for t in graph.initializer}
    target = getattr(onnx.TensorProto, _ELEMENT[precision])
    float_types = {getattr(onnx.TensorProto, name) for name in _FLOATS}
    inputs = [
        value for value in graph.input
        if value.name not in initialisers and value.type.tensor_type.elem_type in float_types
    ]  # fmt: skip
    if not inputs:
        raise RfbenchError(
            f"{model_path.name}: --input-precision {precision}: the model has no float input"
        )
    casts = []
    for value in inputs:
        original = value.type.tensor_type.elem_type
        if original == target:
            continue
        inner = f"{value.name}__rfbench_{precision}_cast"
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name == value.name:
                    node.input[i] = inner
        for output in graph.output:
            if output.name == value.name:
                raise RfbenchError(f"{model_path.name}: input '{value.name}' is also an output")
        casts.append(
            onnx.helper.make_node("Cast", [value.name], [inner], name=inner, to=original)
        )
        value.type.tensor_type.elem_type = target
    if not casts:
        return None
    for cast in reversed(casts):
        graph.node.insert(0, cast)
    return proto.SerializeToString()
