"""Where a quantized model goes, written so that an interruption leaves no half-written model.

Files are written under a hidden temporary folder inside the output folder and moved into
place with ``os.replace`` (atomic on one file system); the file a loader opens (the IR's
``.xml``, or the ``.onnx``) is moved last, so it never exists before its weights and sidecar.
The sidecar (:func:`provenance`) is defined in :mod:`rfbench.results.quantize_record`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.models.provenance import (  # noqa: F401 -- the sidecar is written here, read there
    provenance_field,
    read_provenance,
    sidecar_path,
)
from rfbench.results.writer import atomic_write_text, to_jsonable


def quantized_name(source: Path, fmt: str) -> str:
    """``retinaface.onnx`` -> ``retinaface-int8.xml`` (fmt "ir") or ``-int8.onnx`` ("onnx")."""
    return f"{source.stem}-int8{'.xml' if fmt == 'ir' else '.onnx'}"


def model_files(model_path: Path) -> list[Path]:
    """The files of a model: ``.xml`` + ``.bin`` for an IR, the ``.onnx`` otherwise."""
    model_path = Path(model_path)
    if model_path.suffix == ".xml":
        return [model_path, model_path.with_suffix(".bin")]
    return [model_path]


def check_free(model_path: Path) -> None:
    """RfbenchError when a model (or its sidecar) is already at ``model_path``."""
    taken = [p for p in (*model_files(model_path), sidecar_path(model_path)) if p.exists()]
    if taken:
        raise RfbenchError(f"{taken[0]} already exists: choose a new --out (a quantized model "
                           "is never overwritten)")


def provenance(*, source: dict[str, Any], tool: str, tool_version: str, runtime: str,
               settings: dict[str, Any], subset: dict[str, Any], preprocessing: dict[str, Any],
               wall_s: float, quantize_s: float) -> dict[str, Any]:
    """The sidecar (``<model stem>.quantize.json``) without ``quantized_model`` (added when
    the model is published, :func:`publish`, which validates it).

    ``source``: ``{"path", "name", "sha256"}`` of the float model; ``settings``: the quantizer
    call as recorded (preset, calibration method, ...); ``subset``:
    :meth:`rfbench.quantize.calibration.CalibrationSubset.as_dict` plus the data root;
    ``wall_s`` / ``quantize_s``: seconds for the whole command / inside the quantizer.
    """
    from rfbench import __version__
    from rfbench.results.quantize_record import SIDECAR_KIND, SIDECAR_VERSION

    return {
        "kind": SIDECAR_KIND, "version": SIDECAR_VERSION, "created_by": f"rfbench {__version__}",
        "source_model": source, "tool": tool, "tool_version": tool_version,
        "target_runtime": runtime, "settings": settings, "preset": settings.get("preset"),
        "calibration": subset, "preprocessing": preprocessing,
        "timings": {"wall_s": wall_s, "quantize_s": quantize_s},
    }


def publish(staged_model: Path, model_path: Path, sidecar: dict[str, Any]) -> str:
    """Move a staged model's files to ``model_path`` with its sidecar, the loader's file last.

    The sidecar gets ``quantized_model.path`` / ``sha256`` and is validated against its
    definition (:class:`~rfbench.results.quantize_record.Provenance`) before anything moves;
    returns that sha256.
    """
    from rfbench.models.files import model_sha256
    from rfbench.results.quantize_record import Provenance

    digest = model_sha256(staged_model)
    sidecar = {**sidecar, "quantized_model": {"path": str(model_path), "sha256": digest}}
    sidecar = Provenance.model_validate(to_jsonable(sidecar)).model_dump(mode="json",
                                                                          exclude_unset=True)
    staged = model_files(staged_model)
    final = model_files(model_path)
    for src, dst in zip(staged[1:], final[1:], strict=True):
        os.replace(src, dst)
    atomic_write_text(sidecar_path(model_path), json.dumps(to_jsonable(sidecar), indent=2) + "\n")
    os.replace(staged[0], final[0])
    return digest


def save_ir(model: Any, path: Path) -> None:
    """``openvino.save_model`` (weights kept as quantized; no FP16 compression of the rest)."""
    import openvino as ov

    ov.save_model(model, str(path), compress_to_fp16=False)
