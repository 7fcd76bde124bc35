"""Running a model at batch N: via the input shape if its batch is dynamic, else a re-batched copy."""

from __future__ import annotations

import logging
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
    path = out_dir / f"{model_path.stem}-batch{batch}.onnx"
    onnx.save(model, str(path))
    log.info("batch %d: rewrote %s as %s", batch, model_path.name, path)
    return path


def model_for_batch(
    path: Path, batch: int, input_shape: tuple[int, ...] | None, workdir: Callable[[], Path]
) -> tuple[Path, tuple[int, ...] | None]:
    """The model file to load and the ``input_shape`` to give the adapters, for ``--batch``.

    ``workdir()`` returns a scratch folder (created on demand) for a re-batched copy.
    Dynamic batch dims take ``batch`` through ``input_shape``; an ONNX model with a fixed batch
    is rewritten (:func:`rebatch_onnx`); other formats with a fixed batch are an error.
    """
    if batch == 1:
        return path, input_shape
    if input_shape is not None:
        return path, (batch, *input_shape[1:])
    if path.suffix.lower() != ".onnx":
        raise RfbenchError(
            f"--batch {batch} with {path.name}: give --input-shape for non-ONNX models"
        )
    declared = read_input_shapes(path)
    if len(declared) != 1:
        raise RfbenchError(f"--batch needs a one-input model; {path.name} has {list(declared)}")
    (dims,) = declared.values()
    if dims and dims[0] is None:
        rest = dims[1:]
        if any(d is None for d in rest):
            raise RfbenchError(
                f"{path.name}: input has dynamic dims {list(dims)}; give --input-shape"
            )
        return path, (batch, *(int(d) for d in rest if d is not None))
    return rebatch_onnx(path, batch, workdir()), None
