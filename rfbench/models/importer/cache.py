"""Checkpoints given where a model is expected (``eval``, ``latency``, ``profile``, ``quantize``,
``sweep``): imported once into the user cache and reused.

The cached model is ``<cache>/imported/<name>-<key>-<WxH|dynamic>.onnx``: the input fixed at
the size the command runs (what OMZ ships, and what ONNX Runtime's quantizer needs), or dynamic
for per-image sizes. The key is the sha256 of the importer version and the sha256 of each
checkpoint file: new bytes or a new importer make a new file, the same bytes under another
name reuse it. ``<cache>`` is that of the reference graph (``$RFBENCH_CACHE``,
``$XDG_CACHE_HOME/rfbench`` or ``~/.cache/rfbench``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from rfbench.errors import RfbenchError
from rfbench.models.files import file_sha256
from rfbench.models.importer.formats import Checkpoint, find_checkpoint, is_checkpoint

log = logging.getLogger(__name__)


def resolve_model(path: str | Path, input_hw: tuple[int, int] | None) -> Path:
    """``path`` itself for a model file; for a checkpoint, its imported model in the cache,
    with the input fixed at ``input_hw`` (H, W) or dynamic (None)."""
    if not is_checkpoint(path):
        return Path(path)
    return imported_model_path(find_checkpoint(path), input_hw)


def imported_model_path(checkpoint: Checkpoint, input_hw: tuple[int, int] | None) -> Path:
    """The cached import of ``checkpoint`` at ``input_hw``, made now when missing (logged)."""
    from rfbench.models.importer.convert import IMPORTER_VERSION, convert, write_model
    from rfbench.models.reference_r50 import cache_dir

    # the key: sha256 of the importer version and each checkpoint file's sha256
    parts = [f"rfbench-import-{IMPORTER_VERSION}"] + [file_sha256(p) for p in checkpoint.files]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    stem = checkpoint.weights.name.split(".")[0]
    size = "dynamic" if input_hw is None else f"{input_hw[1]}x{input_hw[0]}"
    target = cache_dir() / "imported" / f"{stem}-{key[:16]}-{size}.onnx"
    if target.is_file():
        log.info("%s: using its import in the cache, %s", checkpoint.weights, target)
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RfbenchError(f"cannot create the import cache {target.parent}: {exc.strerror} "
                           "(set RFBENCH_CACHE to a writable folder)") from exc
    start = time.perf_counter()
    write_model(convert(checkpoint, input_hw), target)
    log.warning("imported %s (%s) in %.1f s into the cache: %s (reused from now on)",
                checkpoint.weights, checkpoint.format, time.perf_counter() - start, target)
    return target
