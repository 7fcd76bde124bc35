"""The ``quantize`` result record and the provenance sidecar beside the quantized model.

Both are built here, in one function each, as plain dicts: the record starts from
:func:`rfbench.results.writer.base_record` and is written by
:func:`rfbench.results.writer.write_results`; the sidecar is the record's provenance part.
"""

from __future__ import annotations

from typing import Any

from rfbench.results.writer import base_record

SIDECAR_KIND = "rfbench-quantize-provenance"
SIDECAR_VERSION = 1


def provenance(*, source: dict[str, Any], tool: str, tool_version: str, runtime: str,
               settings: dict[str, Any], subset: dict[str, Any], preprocessing: dict[str, Any],
               wall_s: float, quantize_s: float) -> dict[str, Any]:
    """The sidecar (``<model stem>.quantize.json``): where the model came from and how.

    ``source``: ``{"path", "name", "sha256"}`` of the float model; ``settings``: the quantizer
    call as recorded (preset, calibration method, ...); ``subset``:
    :meth:`rfbench.quantize.calibration.CalibrationSubset.as_dict` plus the data root;
    ``wall_s`` / ``quantize_s``: seconds for the whole command / inside the quantizer.
    """
    from rfbench import __version__

    return {
        "kind": SIDECAR_KIND, "version": SIDECAR_VERSION, "created_by": f"rfbench {__version__}",
        "source_model": source, "tool": tool, "tool_version": tool_version,
        "target_runtime": runtime, "settings": settings, "preset": settings.get("preset"),
        "calibration": subset, "preprocessing": preprocessing,
        "timings": {"wall_s": wall_s, "quantize_s": quantize_s},
    }


def build_record(sidecar: dict[str, Any], quantized: dict[str, Any], precision: dict[str, Any],
                 accuracy: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """results.json record (kind "quantize") and its one CSV row.

    ``sidecar``: :func:`provenance` as written (with ``quantized_model``); ``quantized``:
    ``{"path", "name", "sha256", "size_bytes"}``; ``precision``: INT8 / float compute-op counts;
    ``accuracy``: the accuracy-aware outcome, or None.
    """
    record = base_record("quantize")
    record.update({
        "source_model": sidecar["source_model"], "quantized_model": quantized,
        "quantizer": {"tool": sidecar["tool"], "tool_version": sidecar["tool_version"],
                      "target_runtime": sidecar["target_runtime"], **sidecar["settings"]},
        "calibration": sidecar["calibration"], "preprocessing": sidecar["preprocessing"],
        "precision": precision, "accuracy_control": accuracy, "timings": sidecar["timings"],
    })
    row = {
        "source_model": sidecar["source_model"]["name"],
        "source_model_sha256": sidecar["source_model"]["sha256"],
        "quantized_model": quantized["name"], "quantized_model_sha256": quantized["sha256"],
        "quantized_size_bytes": quantized["size_bytes"], "tool": sidecar["tool"],
        "tool_version": sidecar["tool_version"], "target_runtime": sidecar["target_runtime"],
        "preset": sidecar["settings"].get("preset"),
        "calibration_method": sidecar["settings"].get("calibration_method"),
        "calibration_images": sidecar["calibration"]["num_images"],
        "calibration_seed": sidecar["calibration"]["seed"],
        "calibration_disjoint_from_eval": sidecar["calibration"]["disjoint_from_eval"],
        "compute_ops_int8": precision["compute_ops_int8"],
        "compute_ops_float": precision["compute_ops_float"],
        "max_ap_drop_points": accuracy["max_ap_drop_points"] if accuracy else None,
        "ap_float_omz_64px": accuracy["ap_float"] if accuracy else None,
        "ap_quantized_omz_64px": accuracy["ap_quantized"] if accuracy else None,
        "wall_s": sidecar["timings"]["wall_s"], "quantize_s": sidecar["timings"]["quantize_s"],
    }
    return record, [row]
