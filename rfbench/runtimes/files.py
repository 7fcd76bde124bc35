"""The model file a runtime is given: it exists, is a file, and an IR's ``.bin`` is beside it.

Checked once by every adapter (:class:`rfbench.runtimes.base.RuntimeAdapter`) and by the
commands before any work (:mod:`rfbench.models.files` re-exports these).
"""

from __future__ import annotations

from pathlib import Path

from rfbench.errors import RfbenchError


def weights_path(model_path: Path) -> Path | None:
    """The ``.bin`` beside an OpenVINO ``.xml``; None for other formats."""
    return model_path.with_suffix(".bin") if model_path.suffix.lower() == ".xml" else None


def check_model_file(path: str | Path) -> Path:
    """The one check that a model path can be loaded: it is a file, and an ``.xml`` has its ``.bin``.

    Any format (a third-party runtime may read others); RfbenchError names the missing,
    empty (0-byte) or non-file path.
    """
    path = Path(path)
    if not path.exists():
        raise RfbenchError(f"model file not found: {path}")
    if not path.is_file():
        raise RfbenchError(f"model path is not a file: {path}")
    if path.stat().st_size == 0:  # ONNX parses b"" as an empty graph: never a model
        raise RfbenchError(f"model file is empty (0 bytes): {path}")
    weights = weights_path(path)
    if weights is not None and not weights.is_file():
        raise RfbenchError(f"model weights not found: {weights} (needed by {path})")
    return path
