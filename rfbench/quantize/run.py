"""``rfbench quantize`` end to end: spec, calibration subset, quantizer, model, records."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.quantize import output
from rfbench.quantize.calibration import (
    DEFAULT_SEED,
    DEFAULT_SUBSET_SIZE,
    CalibrationImages,
    draw_subset,
)
from rfbench.results.quantize_record import QuantizeRecord
from rfbench.results.record import record_header

RUNTIMES = ("openvino", "onnxruntime")


@dataclass(frozen=True)
class QuantizeOptions:
    """The user's choices (CLI options). ``eval_limit``: the ``--limit`` of the eval the model
    is meant for (calibration avoids those images); ``max_ap_drop``: AP points on the 64-px omz
    protocol (OpenVINO only); ``postprocess``: the eval preset accuracy control scores with."""

    model: Path
    data_root: Path
    out: Path | None = None
    runtime: str = "openvino"
    subset_size: int = DEFAULT_SUBSET_SIZE
    seed: int = DEFAULT_SEED
    eval_limit: int | None = None
    gt_text: Path | None = None
    images_dir: Path | None = None
    preset: str | None = None
    calibration_method: str = "minmax"
    max_ap_drop: float | None = None
    input_hw: tuple[int, int] | None = None
    layout: str | None = None
    channel_order: str | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    resize: str = "stretch"
    postprocess: str = "omz"


@dataclass
class QuantizeResult:
    out_dir: Path
    model_path: Path
    record: QuantizeRecord


def _check_options(options: QuantizeOptions) -> None:
    if options.runtime not in RUNTIMES:
        raise RfbenchError(f"--runtime {options.runtime!r}: choose from {', '.join(RUNTIMES)}")
    if options.runtime == "onnxruntime" and options.max_ap_drop is not None:
        raise RfbenchError("--max-ap-drop needs --runtime openvino (NNCF's accuracy control)")
    if options.runtime == "onnxruntime" and options.preset is not None:
        raise RfbenchError("--preset is NNCF's (--runtime openvino); ONNX Runtime takes "
                           "--calibration-method")
    if options.max_ap_drop is not None and options.max_ap_drop < 0:
        raise RfbenchError(f"--max-ap-drop must be >= 0 AP points, got {options.max_ap_drop:g}")


def _open_spec(options: QuantizeOptions) -> tuple[Any, Any]:
    """The model's ModelSpec and post-processing preset, as eval would settle them."""
    from rfbench.accuracy.model_run import ModelRunOptions, open_model

    run_options = ModelRunOptions(
        model=options.model, runtime=options.runtime, input_hw=options.input_hw,
        layout=options.layout, channel_order=options.channel_order, mean=options.mean,
        scale=options.scale, preset=options.postprocess, resize=options.resize)
    adapter, spec, preset = open_model(run_options)
    adapter.close()
    return spec, preset


def run_quantize(options: QuantizeOptions) -> QuantizeResult:
    """Quantize ``options.model``; returns where the model and its records went."""
    from rfbench.models.files import check_model_path, model_sha256
    from rfbench.results.writer import new_output_dir, write_results
    from rfbench.wider.ground_truth import find_images_dir, load_ground_truth

    start = time.perf_counter()
    _check_options(options)
    source = check_model_path(options.model)
    if options.runtime == "openvino":
        from rfbench.quantize.openvino_nncf import import_nncf

        import_nncf()  # the install hint before any work
    gt = load_ground_truth(options.data_root, gt_text=options.gt_text)
    subset = draw_subset(gt.image_ids, options.subset_size, options.seed, options.eval_limit)
    spec, preset = _open_spec(options)
    images = CalibrationImages(find_images_dir(options.data_root, options.images_dir), spec,
                               options.resize)
    images.check_readable(subset.image_ids)
    out_dir = new_output_dir(options.out, "quantize")
    fmt = "ir" if options.runtime == "openvino" else "onnx"
    model_path = out_dir / output.quantized_name(source, fmt)
    output.check_free(model_path)
    common = {
        "source": {"path": str(source), "name": source.name, "sha256": model_sha256(source)},
        "subset": {**subset.as_dict(), "data_root": str(options.data_root),
                   "images_dir": str(images.images_dir), "gt_text": gt.source.get("gt_text")},
        "preprocessing": {"resize": options.resize, "interpolation": "INTER_LINEAR",
                          "reader": "cv2.imread BGR uint8", "model_spec": spec.as_dict()},
    }
    eval_ids = gt.image_ids[: options.eval_limit] if options.eval_limit else gt.image_ids
    # staged in a hidden folder inside out_dir (same file system), removed on exit
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=out_dir,
                                     ignore_cleanup_errors=True) as tmp:
        staged = Path(tmp) / model_path.name
        if options.runtime == "openvino":
            done: Any = _nncf(options, source, images, subset.image_ids, eval_ids, gt, preset,
                              staged)
        else:
            from rfbench.quantize import onnxruntime_static as ort

            done = ort.quantize(source, images, subset.image_ids, staged,
                                options.calibration_method)
        sidecar = output.provenance(tool=done.tool, tool_version=done.tool_version,
                                    runtime=options.runtime, settings=done.settings,
                                    wall_s=time.perf_counter() - start,
                                    quantize_s=done.quantize_s, **common)
        digest = output.publish(staged, model_path, sidecar)
    quantized = {"path": str(model_path), "name": model_path.name, "sha256": digest,
                 "sidecar": str(output.sidecar_path(model_path)),
                 "size_bytes": sum(p.stat().st_size for p in output.model_files(model_path))}
    record = build_record(sidecar, quantized, done.precision, done.accuracy)
    write_results(out_dir, record)
    return QuantizeResult(out_dir, model_path, record)


def _nncf(options: QuantizeOptions, source: Path, images: CalibrationImages,
          calibration_ids: Sequence[str], eval_ids: Sequence[str], gt: Any, preset: Any,
          staged: Path) -> Any:
    """NNCF's outcome (:class:`~rfbench.quantize.openvino_nncf.NncfOutcome`), its IR saved at
    ``staged``."""
    from rfbench.quantize import openvino_nncf as nq

    if options.max_ap_drop is None:
        result = nq.quantize(source, images, calibration_ids, options.preset)
    else:
        from rfbench.quantize.validation import OmzValidator

        result = nq.quantize_with_accuracy_control(
            source, images, calibration_ids, eval_ids, OmzValidator(gt, images, preset),
            options.max_ap_drop, options.preset)
    output.save_ir(result.model, staged)
    return result


def build_record(sidecar: dict[str, Any], quantized: dict[str, Any], precision: dict[str, Any],
                 accuracy: dict[str, Any] | None) -> QuantizeRecord:
    """The results.json record (kind "quantize"); its ``csv_rows()`` give results.csv.

    ``sidecar``: :func:`rfbench.quantize.output.provenance` as written (with ``quantized_model``); ``quantized``:
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
