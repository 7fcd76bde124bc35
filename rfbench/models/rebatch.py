"""Running a model at batch N: via the input shape if its batch is dynamic, else a re-batched copy.

A fixed batch is changed the way the runtime itself would: an ONNX model gets its batch
dimension rewritten (what ONNX Runtime loads), checked with ONNX's strict shape inference; an
OpenVINO IR is reshaped with OpenVINO's ``Model.reshape`` and saved. A graph with batch 1
built into it (a ``Reshape`` to a constant ``[1, ...]``) fails that check and gives a one-line
error naming the model and ``--batch``, never the runtime's conversion log or a scratch file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from rfbench.errors import RfbenchError
from rfbench.models.files import load_onnx, onnx_graph_inputs, read_input_shapes

log = logging.getLogger(__name__)


def rebatch_onnx(model_path: Path, batch: int, out_dir: Path) -> Path:
    """Copy of an ONNX model whose inputs have a fixed batch ``batch`` (dim 0).

    Output batch dims become symbolic and intermediate shape annotations are dropped so the
    runtime re-infers them. Works for graphs whose reshapes keep the batch (e.g. ``Reshape`` with
    0 in dim 0, as the R50 reference graph); a graph with batch 1 baked in fails to load and
    the runtime's error says where.
    """
    import onnx

    model = load_onnx(model_path)
    for value in onnx_graph_inputs(model):
        dims = value.type.tensor_type.shape.dim
        if not dims:
            raise RfbenchError(f"{model_path.name}: input '{value.name}' is a scalar; no batch")
        dims[0].Clear()
        dims[0].dim_value = batch
    for value in model.graph.output:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]
    try:  # strict shape inference (with constant propagation) finds a batch fixed inside, e.g.
        # a Reshape to [1, -1, 10] feeding a Concat of batch-``batch`` tensors
        onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as exc:
        raise _fixed_batch_error(model_path, batch, _first_line(str(exc))) from None
    path = out_dir / f"{model_path.stem}-batch{batch}.onnx"
    onnx.save(model, str(path))
    log.debug("batch %d: rewrote %s as %s", batch, model_path.name, path)
    return path


def rebatch_openvino(model_path: Path, batch: int, out_dir: Path) -> Path:
    """An OpenVINO IR of ``model_path`` reshaped by OpenVINO to batch ``batch`` (dim 0), saved."""
    import openvino as ov

    from rfbench.runtimes.openvino.core import read_model

    model = read_model(model_path)
    shapes = {}
    for port in model.inputs:
        dims = list(port.get_partial_shape())
        if not dims:
            raise RfbenchError(f"{model_path.name}: input '{port.any_name}' is a scalar; no batch")
        shapes[port] = ov.PartialShape([batch, *dims[1:]])
    try:
        model.reshape(shapes)
    except RuntimeError as exc:
        raise _fixed_batch_error(model_path, batch, _first_line(str(exc))) from None
    path = out_dir / f"{model_path.stem}-batch{batch}.xml"
    ov.save_model(model, str(path), compress_to_fp16=False)
    log.debug("batch %d: reshaped %s with OpenVINO as %s", batch, model_path.name, path)
    return path


def _first_line(text: str) -> str:
    """The node that refuses the new batch, from ONNX's or OpenVINO's message, in a few words.

    ONNX: ``(op_type:Concat, node name: /Concat) ... Inferred=1 Declared=2`` -> ``Concat node
    '/Concat' gets batch 1, not 2``; OpenVINO: ``While validating node 'opset1::Concat output2``
    -> ``at node opset1::Concat output2``; otherwise the first line, cut at 100 characters.
    """
    onnx_node = re.search(r"op_type:(\w+), node name: ([^)]*)\)", text)
    dims = re.search(r"Inferred=(\d+) Declared=(\d+)", text)
    if onnx_node and dims:
        return (f"{onnx_node.group(1)} node '{onnx_node.group(2)}' gets batch {dims.group(1)}, "
                f"not {dims.group(2)}")
    ov_node = re.search(r"While validating node '([^(']+?)\s*\(", text)
    if ov_node:
        return f"at node {ov_node.group(1)}"
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= 100 else line[:97] + "..."


def _fixed_batch_error(model_path: Path, batch: int, reason: str) -> RfbenchError:
    return RfbenchError(
        f"--batch {batch}: {model_path.name} cannot be reshaped to batch {batch}, its graph fixes "
        f"the batch inside ({reason}); export it with a dynamic batch dimension or use --batch 1"
    )


def model_for_batch(
    path: Path, batch: int, input_shape: tuple[int, ...] | None, workdir: Callable[[], Path]
) -> tuple[Path, tuple[int, ...] | None]:
    """The model file to load and the ``input_shape`` to give the adapters, for ``--batch``.

    ``workdir()`` returns a scratch folder (created on demand) for a re-batched copy.
    Dynamic batch dims take ``batch`` through ``input_shape``; an ONNX model with a fixed batch
    is rewritten (:func:`rebatch_onnx`), an OpenVINO IR reshaped (:func:`rebatch_openvino`).
    """
    if batch == 1:
        return path, input_shape
    if input_shape is not None:
        return path, (batch, *input_shape[1:])
    declared = read_input_shapes(path)
    if len(declared) != 1:
        raise RfbenchError(f"--batch needs a one-input model; {path.name} has {list(declared)}")
    (dims,) = declared.values()
    if dims and dims[0] is None:
        rest = dims[1:]
        if any(d is None for d in rest):
            raise RfbenchError(
                f"{path.name}: input has dynamic dims {list(dims)}; give --input-size WxH"
            )
        return path, (batch, *(int(d) for d in rest if d is not None))
    if path.suffix.lower() == ".xml":
        return rebatch_openvino(path, batch, workdir()), None
    return rebatch_onnx(path, batch, workdir()), None
