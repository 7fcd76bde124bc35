"""``rfbench eval --model``: run a model over WIDER val, write predictions, score them.

The output folder holds ``run.json`` (the settings that determine the predictions),
``predictions/<event>/<name>.txt`` and, at the end, ``results.json`` / ``results.csv``.
``--resume`` continues an interrupted run in the same folder if its settings match.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.accuracy.pipeline import PipelineStats, PredictionRun
from rfbench.decoder.postprocess import PostprocessPreset, get_preset
from rfbench.errors import RfbenchError
from rfbench.fileio import atomic_write_text
from rfbench.models.files import model_sha256
from rfbench.models.opening import DEFAULT_RUNTIME, RuntimeSettings
from rfbench.models.opening import open_model as open_checked_model
from rfbench.models.spec import ModelSpec
from rfbench.quantize.output import provenance_field

if TYPE_CHECKING:
    from rfbench.runtimes.base import RuntimeAdapter

if TYPE_CHECKING:
    from rfbench.results.eval_record import PredictionRunSummary

log = logging.getLogger(__name__)

MANIFEST = "run.json"
PREDICTIONS_DIR = "predictions"


@dataclass(frozen=True)
class ModelRunOptions:
    """The user's choices for a model run (CLI options, validated by the adapters)."""

    model: Path
    runtime: str | None = None
    device: str = "CPU"
    precision: str | None = "f32"
    threads: int | None = None
    streams: int | None = None
    input_hw: tuple[int, int] | None = None
    layout: str | None = None
    output_names: dict[str, str] | None = None
    channel_order: str | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    preset: str = "omz"
    resize: str = "stretch"
    strict: bool = False


def default_runtime() -> str:
    """OpenVINO reads both formats; it is the default (the model card's runtime)."""
    return DEFAULT_RUNTIME


def open_model(options: ModelRunOptions) -> tuple[RuntimeAdapter, ModelSpec, PostprocessPreset]:
    """Check, plan, load and compile the model (:func:`rfbench.models.opening.open_model`).

    Returns (adapter, ModelSpec, post-processing preset); the caller closes the adapter.
    """
    settings = RuntimeSettings(
        runtime=options.runtime or default_runtime(), device=options.device,
        precision=options.precision, threads=options.threads, streams=options.streams,
    )  # fmt: skip
    adapter, spec = open_checked_model(
        options.model, settings, input_hw=options.input_hw, layout=options.layout,
        output_names=options.output_names, channel_order=options.channel_order,
        mean=options.mean, scale=options.scale,
    )  # fmt: skip
    try:
        preset = get_preset(options.preset, spec.layout.kind)
    except BaseException:
        adapter.close()
        raise
    return adapter, spec, preset


def run_fingerprint(options: ModelRunOptions, spec: ModelSpec, adapter, preset, sha256: str) -> dict[str, Any]:
    """The settings that decide the predictions; a resumed run must match them exactly."""
    effective = adapter.describe()["effective"]
    return {
        "model_sha256": sha256,
        "runtime": adapter.name,
        "device": options.device,
        "precision_effective": effective.get("precision"),
        "preset": preset.as_dict(),
        "resize": options.resize,
        "model_spec": spec.as_dict(),
    }


def prepare_output(out_dir: Path, fingerprint: dict[str, Any], resume: bool) -> Path:
    """Create or check the prediction folder; refuse to mix runs with different settings."""
    manifest = out_dir / MANIFEST
    pred_dir = out_dir / PREDICTIONS_DIR
    if manifest.is_file():
        if not resume:
            raise RfbenchError(
                f"{out_dir} already holds a model run: add --resume to continue it, or choose a new --out"
            )
        previous = json.loads(manifest.read_text(encoding="utf-8"))
        changed = sorted(k for k in fingerprint if previous.get(k) != json.loads(json.dumps(fingerprint[k])))
        if changed:
            raise RfbenchError(
                f"cannot resume in {out_dir}: settings differ from the interrupted run ({', '.join(changed)})"
            )
    elif resume and pred_dir.is_dir():
        raise RfbenchError(f"cannot resume in {out_dir}: no {MANIFEST} describing the earlier run")
    pred_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, json.dumps(fingerprint, indent=2) + "\n")
    return pred_dir


def predict(options: ModelRunOptions, image_ids: list[str], images_dir: Path, out_dir: Path,
            resume: bool) -> tuple[dict[str, Any], PipelineStats, Path]:
    """Run the model over ``image_ids``; returns (run record fields, stats, prediction folder)."""
    adapter, spec, preset = open_model(options)
    with adapter:
        sha256 = model_sha256(spec.path)
        fingerprint = run_fingerprint(options, spec, adapter, preset, sha256)
        pred_dir = prepare_output(out_dir, fingerprint, resume)
        runner = PredictionRun(adapter.infer, spec, preset, options.resize, images_dir, pred_dir,
                               strict=options.strict)
        stats = runner.run(image_ids)
        record: dict[str, Any] = {
            "model": {"path": str(spec.path), "name": spec.path.name, "sha256": sha256, **spec.as_dict()},
        }
        record.update(provenance_field(spec.path))  # absent unless made by rfbench quantize
        record.update({
            "runtime": adapter.describe(),
            "preset": preset.as_dict(),
            "preprocessing": {"resize": options.resize, "interpolation": "INTER_LINEAR",
                              "reader": "cv2.imread BGR uint8"},
        })
    return record, stats, pred_dir



def stats_fields(stats: PipelineStats) -> PredictionRunSummary:
    """The eval record's ``prediction_run``: counts and timings of this run."""
    from rfbench.results.eval_record import FailedImage, PredictionRunSummary

    return PredictionRunSummary(
        images_total=stats.images_total,
        images_predicted_this_run=stats.images_predicted,
        images_resumed=stats.images_resumed,
        images_failed=len(stats.failed),
        failed_images=[FailedImage(image=i, reason=r) for i, r in stats.failed],
        num_detections_this_run=stats.num_detections,
        wall_s=stats.wall_s,
        inference_s=stats.infer_s,
        images_per_s=stats.images_per_s,
    )
