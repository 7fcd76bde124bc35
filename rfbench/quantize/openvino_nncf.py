"""INT8 for OpenVINO with NNCF: ``nncf.quantize`` or ``nncf.quantize_with_accuracy_control``.

The source model (.onnx or .xml) is read with OpenVINO, quantized in memory (FakeQuantize on
activations, int8 weights) and handed back; :mod:`rfbench.quantize.output` writes the IR.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.quantize.calibration import CalibrationImages

#: Operations whose INT8 execution is the point of quantizing (weights + activations).
COMPUTE_OPS = ("Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData")


@dataclass
class NncfOutcome:
    """The quantized ``ov.Model`` and what was done: ``settings`` (the recorded NNCF call),
    ``precision`` (:func:`precision_summary`), ``accuracy`` (accuracy-aware mode only),
    ``quantize_s`` (seconds inside NNCF), the ``tool`` and its version."""

    model: Any
    settings: dict[str, Any]
    precision: dict[str, Any]
    quantize_s: float
    tool_version: str
    accuracy: dict[str, Any] | None = None
    tool: str = "nncf"


def import_nncf() -> Any:
    """``nncf``, or RfbenchError with the install hint. NNCF's log (its own stdout handler)
    is re-routed to rfbench's stderr logging at rfbench's level: stdout stays for results."""
    try:
        import nncf
    except ImportError as exc:
        raise RfbenchError("NNCF is not installed: pip install 'rfbench[quantize]'") from exc
    nncf_log = logging.getLogger("nncf")
    for handler in list(nncf_log.handlers):
        nncf_log.removeHandler(handler)
    nncf_log.propagate = True
    nncf_log.setLevel(logging.getLogger("rfbench").getEffectiveLevel())
    return nncf


def nncf_errors() -> tuple[type[BaseException], ...]:
    """The exception types NNCF raises for a model or dataset it cannot handle."""
    import nncf.errors as errors

    names = ("ValidationError", "InternalError", "UnsupportedModelError", "UnsupportedDatasetError",
             "UnsupportedBackendError", "ParameterNotSupportedError", "InvalidQuantizerGroupError")
    return (RuntimeError, ValueError, *(getattr(errors, n) for n in names if hasattr(errors, n)))


def read_model(path: Path) -> Any:
    """``ov.Model`` of an .onnx or .xml file; RfbenchError naming an unreadable one."""
    import openvino as ov

    try:
        return ov.Core().read_model(str(path))
    except RuntimeError as exc:
        raise RfbenchError(f"{path}: OpenVINO cannot read it ({str(exc).splitlines()[0]})") from exc


def precision_summary(model: Any) -> dict[str, Any]:
    """Which compute operations of an ``ov.Model`` run in INT8.

    An operation counts as INT8 when its activation input (input 0) comes from a FakeQuantize
    (how NNCF marks a quantized input); the others stay in floating point. Returns counts and
    the friendly names of the floating-point ones.
    """
    int8: list[str] = []
    kept: list[str] = []
    for op in model.get_ordered_ops():
        if op.get_type_name() not in COMPUTE_OPS:
            continue
        source = op.input_value(0).get_node().get_type_name()
        (int8 if source == "FakeQuantize" else kept).append(op.get_friendly_name())
    return {"compute_ops": len(int8) + len(kept), "compute_ops_int8": len(int8),
            "compute_ops_float": len(kept), "float_ops": kept,
            "fake_quantize_ops": sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops())}


def _run_nncf(function: str, source: Path, images: CalibrationImages, image_ids: Sequence[str],
              preset: str | None, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``nncf.<function>(model, calibration, *args, subset_size=, preset=, **kwargs)`` on
    ``source`` calibrated on every one of ``image_ids``: (the quantized model, seconds)."""
    nncf = import_nncf()
    model = read_model(source)
    calibration = nncf.Dataset(list(image_ids), images.tensor)
    if preset is not None:
        kwargs["preset"] = nncf.QuantizationPreset(preset)
    start = time.perf_counter()
    try:
        with redirect_stdout(sys.stderr):  # NNCF draws its progress bars on stdout
            quantized = getattr(nncf, function)(model, calibration, *args,
                                                subset_size=len(image_ids), **kwargs)
    except nncf_errors() as exc:
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        raise RfbenchError(f"{source}: NNCF cannot quantize it ({reason})") from exc
    return quantized, time.perf_counter() - start


def _settings(function: str, preset: str | None, subset_size: int, **extra: Any) -> dict[str, Any]:
    """The NNCF call as recorded (results.json order: function, preset, subset_size, extra...)."""
    return {"function": function, "preset": preset or "performance (NNCF default)",
            "subset_size": subset_size, **extra, "target_device": "ANY",
            "fast_bias_correction": True}


def quantize(source: Path, images: CalibrationImages, image_ids: Sequence[str],
             preset: str | None = None) -> NncfOutcome:
    """``nncf.quantize`` of ``source`` calibrated on ``image_ids`` (every one of them used)."""
    quantized, seconds = _run_nncf("quantize", source, images, image_ids, preset)
    settings = _settings("nncf.quantize", preset, len(image_ids))
    return NncfOutcome(quantized, settings, precision_summary(quantized), seconds,
                       str(import_nncf().__version__))


def quantize_with_accuracy_control(source: Path, images: CalibrationImages,
                                   image_ids: Sequence[str], validation_ids: Sequence[str],
                                   validator: Any, max_ap_drop_points: float,
                                   preset: str | None = None) -> NncfOutcome:
    """``nncf.quantize_with_accuracy_control``: keep layers in floating point until the 64-px
    omz AP on ``validation_ids`` drops by at most ``max_ap_drop_points`` (AP points, absolute).

    ``validator``: :class:`rfbench.quantize.validation.OmzValidator`. The AP of the float and
    of the result are measured again with the same validator, apart from NNCF's own runs.
    """
    import openvino as ov

    nncf = import_nncf()
    quantized, seconds = _run_nncf(
        "quantize_with_accuracy_control", source, images, image_ids, preset,
        nncf.Dataset(list(validation_ids)), validator, max_drop=max_ap_drop_points / 100.0,
        drop_type=nncf.DropType.ABSOLUTE)
    validations = validator.calls
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}  # as NNCF's own validations and eval's default:
    # OpenVINO's CPU default is bf16 where the CPU has AVX-512 BF16 or AMX
    float_ap, _ = validator(ov.Core().compile_model(read_model(source), "CPU", f32), validation_ids)
    int8_ap, _ = validator(ov.Core().compile_model(quantized, "CPU", f32), validation_ids)
    precision = precision_summary(quantized)
    accuracy = {
        "protocol": "omz", "setting": "64px", "drop_type": "absolute",
        "max_ap_drop_points": max_ap_drop_points, "validation_images": len(validation_ids),
        "validation_image_ids": list(validation_ids),
        "validation_faces": int(validator.counted_faces(validation_ids)),
        "ap_float": float_ap, "ap_quantized": int8_ap,
        "ap_drop_points": (float_ap - int8_ap) * 100.0,
        "reached": (float_ap - int8_ap) * 100.0 <= max_ap_drop_points + 1e-9,
        "layers_kept_in_float": precision["float_ops"], "nncf_validations": validations,
    }
    settings = _settings("nncf.quantize_with_accuracy_control", preset, len(image_ids),
                         max_drop=max_ap_drop_points / 100.0, drop_type="ABSOLUTE")
    return NncfOutcome(quantized, settings, precision, seconds, str(nncf.__version__), accuracy)
