"""Facts about a model file that need no compilation: its hash and its declared inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.runtimes.files import check_model_file, weights_path

MODEL_SUFFIXES = (".onnx", ".xml")


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file, read in 1 MiB chunks; RfbenchError names an unreadable file."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read: {exc.strerror}") from exc
    return digest.hexdigest()


def check_model_path(path: str | Path) -> Path:
    """:func:`check_model_file` for the formats rfbench itself reads (``.onnx``, ``.xml``)."""
    path = check_model_file(path)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise RfbenchError(f"{path}: unsupported model format (expected {' or '.join(MODEL_SUFFIXES)})")
    return path


def model_sha256(path: str | Path) -> str:
    """sha256 identifying a model: the file's, or for ``.xml`` of the .xml and .bin together."""
    path = Path(path)
    weights = weights_path(path)
    if weights is None:
        return file_sha256(path)
    return hashlib.sha256((file_sha256(path) + file_sha256(weights)).encode()).hexdigest()


def read_input_shapes(path: str | Path) -> dict[str, tuple[int | None, ...]]:
    """Declared input shapes (None for a dynamic dimension) of a checked model, not compiled.

    ``path`` must have passed :func:`check_model_path` (callers check once, up front).
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return _onnx_input_shapes(path)
    from rfbench.runtimes.openvino.core import port_shape, read_model

    return {port.get_any_name(): port_shape(port) for port in read_model(path).inputs}


def load_onnx(path: str | Path, *, with_weights: bool = True) -> Any:
    """``onnx.load`` of ``path`` (an ``onnx.ModelProto``); RfbenchError names an unreadable file.

    ``with_weights=False`` skips external weight files (enough for names and shapes).
    """
    import onnx
    from google.protobuf.message import DecodeError
    from onnx.checker import ValidationError  # e.g. external data outside the model's folder

    try:
        return onnx.load(str(path), load_external_data=with_weights)
    except (OSError, ValueError, DecodeError, ValidationError) as exc:
        raise RfbenchError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from exc


def onnx_graph_inputs(model: Any) -> list[Any]:
    """The real inputs (``ValueInfoProto``) of an ONNX ``ModelProto``: initializers excluded."""
    initializers = {init.name for init in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def _onnx_input_shapes(path: Path) -> dict[str, tuple[int | None, ...]]:
    """Through OpenVINO's ONNX front end (~10 ms, no conversion), not ``import onnx``: onnx
    imports ml_dtypes, whose extension takes 1.1-1.4 s to load here, paid again by every eval
    worker process. Initializers are constants there, not inputs (as :func:`onnx_graph_inputs`)."""
    from openvino.frontend import FrontEndManager

    try:
        model = FrontEndManager().load_by_framework("onnx").load(str(path))
        ports = [(port.get_names()[0], model.get_partial_shape(port)) for port in model.get_inputs()]
    except Exception as exc:  # noqa: BLE001 -- the front end raises plain RuntimeErrors and more
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RfbenchError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {first})") from exc
    return {name: tuple(d.get_length() if d.is_static and d.get_length() > 0 else None for d in shape)
            for name, shape in ports}

