"""The ``quantize`` result record and the provenance sidecar beside the quantized model.

Both are defined once, in :mod:`rfbench.results.quantize_record` (:class:`QuantizeRecord`,
:class:`Provenance`); they are built here, one function each. The record starts from
:func:`rfbench.results.record.record_header` and is written by
:func:`rfbench.results.writer.write_results`; the sidecar's fields are the record's provenance.
"""

from __future__ import annotations

from typing import Any

from rfbench.results.quantize_record import SIDECAR_KIND, SIDECAR_VERSION, QuantizeRecord
from rfbench.results.record import record_header


def provenance(*, source: dict[str, Any], tool: str, tool_version: str, runtime: str,
               settings: dict[str, Any], subset: dict[str, Any], preprocessing: dict[str, Any],
               wall_s: float, quantize_s: float) -> dict[str, Any]:
    """The sidecar (``<model stem>.quantize.json``) without ``quantized_model`` (added when
    the model is published, :func:`rfbench.quantize.output.publish`, which validates it).

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
                 accuracy: dict[str, Any] | None) -> QuantizeRecord:
    """The results.json record (kind "quantize"); its ``csv_rows()`` give results.csv.

    ``sidecar``: :func:`provenance` as written (with ``quantized_model``); ``quantized``:
    ``{"path", "name", "sha256", "sidecar", "size_bytes"}``; ``precision``: INT8 / float
    compute-op counts; ``accuracy``: the accuracy-aware outcome, or None.
    """
    return QuantizeRecord.build(
        record_header("quantize"),
        source_model=sidecar["source_model"], quantized_model=quantized,
        quantizer={**sidecar["settings"], "tool": sidecar["tool"],
                   "tool_version": sidecar["tool_version"],
                   "target_runtime": sidecar["target_runtime"]},
        calibration=sidecar["calibration"], preprocessing=sidecar["preprocessing"],
        precision=precision, accuracy_control=accuracy, timings=sidecar["timings"],
    )
