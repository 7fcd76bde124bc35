"""A published checkpoint -> an ONNX or OpenVINO IR model file that declares its pixels.

:func:`convert` reads the checkpoint (MXNet symbol + params, or a ``.pth`` state dict) and
builds the network; :func:`write_model` writes it as ``.onnx`` (weights streamed one at a
time) or as an OpenVINO IR (``.xml`` + ``.bin``, f32 weights: the default fp16 compression
moves outputs by 0.03). The model's metadata says which pixels it wants (insightface: RGB
0..255, no mean; Pytorch_Retinaface: BGR minus (104, 117, 123)), where it came from (format,
file names and sha256) and which importer made it; rfbench feeds it accordingly
(:func:`rfbench.models.spec.declared_pixels`). Nothing is written when anything fails.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.decoder.preprocess import PIXELS_LAYOUT_B, PixelFormat
from rfbench.errors import RfbenchError
from rfbench.models.files import MODEL_SUFFIXES, file_sha256
from rfbench.models.importer.formats import MXNET, Checkpoint
from rfbench.models.importer.onnx_graph import (
    make_model,
    tensor_protos,
    write_onnx,
    write_onnx_external,
)
from rfbench.models.spec import pixel_metadata

log = logging.getLogger(__name__)

#: Part of every imported model's metadata and of the import cache's key: bump it whenever
#: the translation of a checkpoint changes.
IMPORTER_VERSION = "1"
#: insightface's own pre-processing (RetinaFace.detect): the BGR image flipped to RGB, float
#: 0..255, no mean, no scale.
PIXELS_INSIGHTFACE = PixelFormat("RGB", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


@dataclass
class ImportedModel:
    """A converted checkpoint, not yet written: the ``ModelProto`` without its weights, the
    weights as ``TensorProto`` made on demand, and what the model is (for the one-line
    summaries)."""

    checkpoint: Checkpoint
    model: Any
    initializers: Callable[[], Iterable[Any]]
    layout: str
    pixels: PixelFormat
    summary: str

    def release_weights(self) -> None:
        """Drop the weights (after they were written): nothing can be written after this."""
        def released() -> Iterable[Any]:
            raise RuntimeError("the weights of this imported model were released after writing")
        self.initializers = released

    @property
    def input_name(self) -> str:
        return str(self.model.graph.input[0].name)

    @property
    def output_names(self) -> list[str]:
        return [out.name for out in self.model.graph.output]


def convert(checkpoint: Checkpoint, input_hw: tuple[int, int] | None) -> ImportedModel:
    """Read and translate ``checkpoint``; ``input_hw`` (H, W) fixes the input size, None
    leaves H and W dynamic. RfbenchError (one line) for anything wrong with the files."""
    convert_format = _convert_mxnet if checkpoint.format == MXNET else _convert_pth
    graph, weights, layout, pixels, summary = convert_format(checkpoint, input_hw)
    metadata = {
        **pixel_metadata(pixels),
        "rfbench.import.format": checkpoint.format,
        "rfbench.import.files": "; ".join(f"{p.name} sha256:{file_sha256(p)}" for p in checkpoint.files),
        "rfbench.import.version": IMPORTER_VERSION,
    }
    model = make_model(graph, metadata, "rfbench import")
    return ImportedModel(checkpoint, model, lambda: tensor_protos(weights), layout, pixels, summary)


def _convert_mxnet(checkpoint: Checkpoint, input_hw: tuple[int, int] | None) -> tuple[Any, ...]:
    """(graph, weights by name, layout, pixels, summary) of an MXNet checkpoint."""
    from rfbench.models.importer.mxnet_graph import translate
    from rfbench.models.importer.mxnet_params import read_params
    from rfbench.models.importer.mxnet_symbol import read_symbol

    assert checkpoint.symbol is not None
    symbol = read_symbol(checkpoint.symbol)
    params = read_params(checkpoint.weights)
    graph, weights, unused = translate(symbol, params, str(checkpoint.weights), input_hw)
    if unused:
        log.warning("%s: %d arrays the symbol does not use (first: %s)", checkpoint.weights,
                    len(unused), unused[0])
    ops = sum(symbol.op_counts().values())
    summary = (f"{ops} operators ({', '.join(f'{op} {n}' for op, n in symbol.op_counts().items())}), "
               f"{len(params.args) + len(params.aux)} arrays")
    return graph, weights, "A", PIXELS_INSIGHTFACE, summary


def _convert_pth(checkpoint: Checkpoint, input_hw: tuple[int, int] | None) -> tuple[Any, ...]:
    """(graph, weights by name, layout, pixels, summary) of a Pytorch_Retinaface state dict."""
    from rfbench.models.importer.pytorch_retinaface import build_onnx
    from rfbench.models.importer.torch_pickle import load_state_dict

    state = load_state_dict(checkpoint.weights)
    try:
        graph, weights = build_onnx(state, input_hw)
    except RfbenchError as exc:
        raise RfbenchError(f"{checkpoint.weights}: {exc}") from None
    backbone = "MobileNet-0.25" if "body.stage1.0.0.weight" in state else "ResNet-50"
    summary = (f"{len(state)} tensors ({sum(a.size for a in state.values()):,} values), "
               f"{backbone} backbone, {len(graph.node)} ONNX nodes")
    return graph, weights, "B", PIXELS_LAYOUT_B, summary


def check_output_path(out: Path, force: bool) -> Path:
    """``out`` ends in .onnx or .xml, its folder exists, and it is new (or ``force``)."""
    if out.suffix.lower() not in MODEL_SUFFIXES:
        raise RfbenchError(f"--out {out}: expected a .onnx or .xml (OpenVINO IR) file name")
    if not out.parent.is_dir():
        raise RfbenchError(f"--out {out}: folder {out.parent} does not exist")
    if out.exists() and not force:
        raise RfbenchError(f"--out {out}: exists (use --force to replace it)")
    return out


def write_model(imported: ImportedModel, out: Path) -> None:
    """Write ``imported`` to ``out`` (.onnx, or .xml + .bin); nothing is left on failure."""
    try:
        if out.suffix.lower() == ".onnx":
            write_onnx(out, imported.model, imported.initializers())
        else:
            _write_ir(imported, out)
    except OSError as exc:
        raise RfbenchError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc


def _write_ir(imported: ImportedModel, out: Path) -> None:
    """ONNX with external weights in a scratch folder beside ``out``, converted by OpenVINO
    (the metadata kept in its rt_info), saved with f32 weights, then the ``.bin`` and the
    ``.xml`` moved into place."""
    import openvino as ov

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}.") as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        write_onnx_external(onnx_path, imported.model, imported.initializers())
        imported.release_weights()  # the checkpoint's bytes are not needed while OpenVINO converts
        model = ov.Core().read_model(str(onnx_path))
        xml = Path(scratch) / out.name
        ov.save_model(model, str(xml), compress_to_fp16=False)
        del model
        os.replace(xml.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(xml, out)
