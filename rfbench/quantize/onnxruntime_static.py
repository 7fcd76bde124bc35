"""INT8 for ONNX Runtime with its own ``quantize_static`` (QDQ, per-channel weights).

Quantize for the runtime that will run the model: an NNCF QDQ model is fast on OpenVINO but
not on ORT's CPU provider, while ORT's own QDQ model is. The source must be ONNX. The model is
first put through ORT's ``quant_pre_process`` (shape inference and graph optimisation, as ORT
recommends before static quantization); calibration feeds rfbench's pre-processing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.quantize.calibration import CalibrationImages

ACTIVATION_TYPE = "QUInt8"  # u8 activations, s8 weights: the x86 CPU provider's fast path
WEIGHT_TYPE = "QInt8"


@dataclass
class OrtOutcome:
    """What :func:`quantize` did: ``settings`` (recorded), ``quantize_s`` (seconds in ORT),
    ``precision`` (QDQ node counts of the written model), the ``tool`` and its version; no
    ``accuracy`` control."""

    settings: dict[str, Any]
    quantize_s: float
    precision: dict[str, Any]
    tool_version: str
    accuracy: None = None
    tool: str = "onnxruntime"


def calibration_reader(images: CalibrationImages, image_ids: Sequence[str]) -> Any:
    """An ``onnxruntime.quantization.CalibrationDataReader`` yielding one ``{input: tensor}``
    per image id, then None (ORT's protocol); ``rewind()`` restarts it."""
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.rewind()

        def get_next(self) -> dict[str, Any] | None:
            return next(self._feeds, None)

        def rewind(self) -> None:
            self._feeds = (images.feeds(image_id) for image_id in image_ids)

    return _Reader()


def _method(name: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    table = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile}
    if name not in table:
        raise RfbenchError(f"--calibration-method {name!r}: choose from {', '.join(table)}")
    return table[name]


def quantize(source: Path, images: CalibrationImages, image_ids: Sequence[str], out_path: Path,
             method: str = "minmax") -> OrtOutcome:
    """Write ORT's static QDQ INT8 model of ``source`` (ONNX) to ``out_path``."""
    import onnxruntime
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if source.suffix.lower() != ".onnx":
        raise RfbenchError(f"{source}: --runtime onnxruntime quantizes ONNX models only "
                           "(an OpenVINO IR: use the default --runtime openvino)")
    calibrate = _method(method)
    prepared = out_path.with_name(f"{out_path.stem}-preprocessed.onnx")
    start = time.perf_counter()
    try:
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared), str(out_path), calibration_reader(images, image_ids),
            quant_format=QuantFormat.QDQ, per_channel=True, calibrate_method=calibrate,
            activation_type=getattr(QuantType, ACTIVATION_TYPE),
            weight_type=getattr(QuantType, WEIGHT_TYPE))
    except Exception as exc:  # noqa: BLE001 -- ORT's shape inference raises plain Exception too
        first = (str(exc).strip().splitlines() or [""])[0]
        raise RfbenchError(f"{source}: ONNX Runtime cannot quantize it ({type(exc).__name__}: "
                           f"{first})") from exc
    finally:
        prepared.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    settings = {"function": "onnxruntime.quantization.quantize_static", "quant_format": "QDQ",
                "per_channel": True, "calibration_method": method,
                "activation_type": ACTIVATION_TYPE, "weight_type": WEIGHT_TYPE,
                "pre_process": "onnxruntime.quantization.shape_inference.quant_pre_process",
                "subset_size": len(image_ids)}
    return OrtOutcome(settings, seconds, qdq_summary(out_path), str(onnxruntime.__version__))


def qdq_summary(path: Path) -> dict[str, Any]:
    """Counts of compute nodes (Conv, MatMul, Gemm) whose input 0 comes from a
    DequantizeLinear (run in INT8 by ORT's QDQ fusion) and of the others (float)."""
    from rfbench.models.files import load_onnx

    graph = load_onnx(path).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    int8: list[str] = []
    kept: list[str] = []
    for node in graph.node:
        if node.op_type in ("Conv", "MatMul", "Gemm", "ConvTranspose"):
            quantized = producer.get(node.input[0]) == "DequantizeLinear"
            (int8 if quantized else kept).append(node.name)
    return {"compute_ops": len(int8) + len(kept), "compute_ops_int8": len(int8),
            "compute_ops_float": len(kept), "float_ops": kept,
            "quantize_linear_ops": sum(n.op_type == "QuantizeLinear" for n in graph.node)}


