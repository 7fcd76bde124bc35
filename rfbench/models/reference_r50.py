"""The architecture-exact RetinaFace-R50 reference graph (insightface MXNet, OMZ ``retinaface-resnet50``).

The trained weights are not obtainable, but latency and complexity do not depend on weight
values, so rfbench builds the exact architecture (``shared/spec/reference-r50.md``; its layer
records: :mod:`rfbench.models.r50_architecture`) as an ONNX graph with seeded, deterministic
weights (:mod:`rfbench.models.r50_weights`). BatchNorms are ``BatchNormalization`` nodes, as in
an exported MXNet graph, so the runtime's BN folding is exactly what the complexity counting
rule describes. The cache file name is the sha256 of the layer records plus the seed and
builder version (a change to any of them builds a new file, a few seconds, ~118 MB).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.fileio import atomic_write_bytes
from rfbench.models.r50_architecture import (
    INPUT_NAME,
    INPUT_SHAPE,
    architecture,
    output_names,
    output_shapes,
)
from rfbench.models.r50_weights import Materialiser

log = logging.getLogger(__name__)

# Bump BUILDER_VERSION whenever the weight generation changes (it is part of the cache key).
BUILDER_VERSION = 7
SEED = 20190601
OPSET = 17


def architecture_hash() -> str:
    """sha256 (hex) of the canonical description: layers, input, outputs, opset, seed, version."""
    description = {
        "model": "retinaface-resnet50 (insightface MXNet) reference",
        "input": [INPUT_NAME, list(INPUT_SHAPE)],
        "outputs": output_names(),
        "layers": architecture(),
        "opset": OPSET,
        "seed": SEED,
        "builder_version": BUILDER_VERSION,
    }
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_model() -> Any:
    """Build the reference graph in memory: an ``onnx.ModelProto`` (checked, ~118 MB of weights)."""
    import onnx
    from onnx import TensorProto, helper

    mat = Materialiser(SEED)
    special = {"conv": mat.conv, "bn": mat.bn, "softmax_pairs": mat.softmax_pairs}
    for layer in architecture():
        special.get(layer["op"], mat.simple)(layer)
    shapes = output_shapes()
    graph = helper.make_graph(
        mat.nodes,
        "retinaface_r50_reference",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in shapes.items()],
        initializer=mat.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rfbench.reference_r50",
        producer_version=str(BUILDER_VERSION),
        doc_string="RetinaFace-R50 (insightface MXNet, OMZ retinaface-resnet50) architecture with "
        f"seeded weights (seed {SEED}); input raw BGR 0..255. Not a trained model.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------------
# On-disk cache
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The user cache folder: ``$RFBENCH_CACHE``, else ``$XDG_CACHE_HOME/rfbench``, else ``~/.cache/rfbench``."""
    env = os.environ.get("RFBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rfbench"


def reference_file_name() -> str:
    """Cache file name: ``retinaface-r50-reference-<first 16 hex of the architecture hash>.onnx``."""
    return f"retinaface-r50-reference-{architecture_hash()[:16]}.onnx"


def reference_model_path() -> Path:
    """Path of the reference R50 ONNX graph in the user cache, built (once) if missing.

    The file is written atomically (temp file in the same folder, then ``os.replace``), so
    concurrent callers never see a partial file; at worst two processes both build it.
    """
    folder = cache_dir()
    path = folder / reference_file_name()
    if path.is_file():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RfbenchError(f"cannot create the cache folder {folder}: {exc.strerror} "
                           "(set RFBENCH_CACHE)") from exc
    log.info("building the reference R50 graph (one-time) into %s", path)
    data = build_model().SerializeToString()
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise RfbenchError(f"cannot write the reference graph to {path}: {exc.strerror} "
                           "(set RFBENCH_CACHE)") from exc
    log.info("wrote %s (%.1f MB)", path, len(data) / 1e6)
    return path

