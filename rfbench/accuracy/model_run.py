"""``rfbench eval --model``: run a model over WIDER val, write predictions, score them.

The output folder holds ``run.json`` (the settings that determine the predictions),
``predictions/<event>/<name>.txt`` and, at the end, ``results.json`` / ``results.csv``.
``--resume`` continues an interrupted run in the same folder if its settings match.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rfbench.accuracy.image_cache import ResizedImageCache
from rfbench.accuracy.options import ModelRunOptions as ModelRunOptions  # re-exported
from rfbench.accuracy.pipeline import PipelineStats, PredictionRun, warm_up_kernels
from rfbench.accuracy.placement import place_this_process
from rfbench.accuracy.sizing_run import image_sizer, size_request, sized_run_fields, tta_runner
from rfbench.decoder.postprocess import PostprocessPreset, get_preset
from rfbench.errors import RfbenchError
from rfbench.fileio import atomic_write_text, remove_stale_temporaries
from rfbench.models.files import model_sha256
from rfbench.models.opening import DEFAULT_RUNTIME, RuntimeSettings
from rfbench.models.opening import open_model as open_checked_model
from rfbench.models.provenance import provenance_field
from rfbench.models.spec import ModelSpec

if TYPE_CHECKING:
    from rfbench.decoder.sizing import ImageSizer
    from rfbench.decoder.tta import TtaPlan
    from rfbench.results.eval_record import PredictionRunSummary
    from rfbench.runtimes.base import RuntimeAdapter

log = logging.getLogger(__name__)

MANIFEST = "run.json"
PREDICTIONS_DIR = "predictions"


def open_model(options: ModelRunOptions) -> tuple[RuntimeAdapter, ModelSpec, PostprocessPreset]:
    """Check, plan, load and compile the model (:func:`rfbench.models.opening.open_model`).

    Returns (adapter, ModelSpec, post-processing preset); the caller closes the adapter.
    """
    settings = RuntimeSettings(
        runtime=options.runtime or DEFAULT_RUNTIME, device=options.device,
        precision=options.precision, threads=options.threads, streams=options.streams,
    )  # fmt: skip
    request = size_request(options)
    adapter, spec = open_checked_model(
        options.model, settings, input_hw=request, layout=options.layout,
        output_names=options.output_names, channel_order=options.channel_order,
        mean=options.mean, scale=options.scale, u8_images=u8_feed_possible(options, request),
    )  # fmt: skip
    try:
        preset = get_preset(options.preset, spec.layout.kind)
    except BaseException:
        adapter.close()
        raise
    return adapter, spec, preset


def u8_feed_possible(options: ModelRunOptions, request: Any) -> bool:
    """Whether the run may feed the resized uint8 image to the runtime (``options.u8_feed``):
    OpenVINO on CPU at f32 (bit-identical outputs checked for f32 and INT8 models; bf16 could
    not be checked on this machine), one fixed size, a stretch resize, no test-time
    augmentation (per-image sizes and letterbox canvases are built as float32 tensors)."""
    tta = options.tta is not None and options.tta.active
    return (options.u8_feed and (options.runtime or DEFAULT_RUNTIME) == "openvino"
            and options.device == "CPU" and options.precision in (None, "f32")
            and options.resize == "stretch" and not tta and not getattr(request, "per_image", False))


def input_feed_dtype(spec: ModelSpec, inputs: Sequence[Any]) -> np.dtype:
    """The type the image tensor is fed as: the model's input type, when it holds the pixels.

    Pre-processing makes float32 ``(pixel - mean) / scale`` (pixels 0..255, letterbox fill 0).
    A float16/float64 input gets them converted (float16 rounds them: warned); an integer input
    only when every value is a whole number it can hold (scale 1, whole means, in range), e.g.
    uint8 with mean 0: anything else would be wrapped or truncated, so it is refused. ``inputs``:
    the adapter's TensorInfo list. RfbenchError (naming the model and the input) when refused.
    """
    info = next((t for t in inputs if t.name == spec.input.name), None)
    dtype = np.dtype(info.dtype) if info is not None else np.dtype(np.float32)
    where = f"{spec.path}: input '{spec.input.name}' is {dtype}"
    if dtype == np.float32:
        return dtype
    if dtype.kind == "f":
        if dtype.itemsize < 4:
            log.warning("%s: the float32 pixels are converted to it (rounded)", where)
        return dtype
    mean, scale = spec.pixels.mean, spec.pixels.scale
    if dtype.kind in "iu":
        low, high = min(0.0 - m for m in mean), max(255.0 - m for m in mean)
        limits = np.iinfo(dtype)
        whole = all(float(m).is_integer() for m in mean) and all(s == 1.0 for s in scale)
        if whole and limits.min <= min(low, 0.0) and high <= limits.max:
            log.info("%s: the pixels (whole numbers %g..%g) are converted to it exactly", where, low, high)
            return dtype
        raise RfbenchError(
            f"{where}, but the pixels fed are (pixel - mean {list(mean)}) / scale {list(scale)}, "
            f"not whole numbers in {limits.min}..{limits.max}: refusing to feed wrapped or truncated values "
            "(give --mean/--scale the model expects, or export it with a float32 input)"
        )
    raise RfbenchError(f"{where}: rfbench feeds images as numbers (float32 pixels); this input type is not supported")


def _feeding(infer: Callable[[dict], dict], dtype: np.dtype) -> Callable[[dict], dict]:
    """``infer`` with every feed converted to ``dtype`` first (checked by :func:`input_feed_dtype`)."""
    if dtype == np.float32:
        return infer

    def converted(feeds: dict) -> dict:
        return infer({name: np.asarray(array).astype(dtype) for name, array in feeds.items()})

    return converted


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
        **({"tta": options.tta.as_dict()} if options.tta is not None and options.tta.active else {}),
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
        stale = remove_stale_temporaries(out_dir)  # a killed run's half-written files
        if stale:
            log.info("resuming: removed %d temporary file(s) an interrupted writer left", stale)
    elif resume and pred_dir.is_dir():
        raise RfbenchError(f"cannot resume in {out_dir}: no {MANIFEST} describing the earlier run")
    pred_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, json.dumps(fingerprint, indent=2) + "\n")
    return pred_dir


def open_run(options: ModelRunOptions, out_dir: Path, resume: bool,
             refuse: Callable[[ModelSpec], None] | None = None) -> tuple[
        RuntimeAdapter, ModelSpec, PostprocessPreset, dict[str, Any], np.dtype | None]:
    """Open the model (:func:`open_model`) and check or create the run's folder
    (:func:`prepare_output`); before anything is written, ``refuse(spec)`` may raise and an
    input type rfbench cannot feed is refused. Returns (adapter, spec, preset, the record's
    :func:`run_fields`, the feed dtype: None when the runtime takes the uint8 image); the caller
    closes the adapter."""
    adapter, spec, preset = open_model(options)
    try:
        if refuse is not None:
            refuse(spec)
        dtype = input_feed_dtype(spec, adapter.inputs) if adapter.image_pixels is None else None
        sha256 = model_sha256(spec.path)
        prepare_output(out_dir, run_fingerprint(options, spec, adapter, preset, sha256), resume)
        return adapter, spec, preset, run_fields(options, spec, adapter, preset, sha256), dtype
    except BaseException:
        adapter.close()
        raise


def predict(options: ModelRunOptions, image_ids: list[str], images_dir: Path, out_dir: Path,
            resume: bool) -> tuple[dict[str, Any], PipelineStats, Path]:
    """Run the model over ``image_ids``; returns (run record fields, stats, prediction folder)."""
    adapter, spec, preset, record, dtype = open_run(options, out_dir, resume)
    with adapter:
        pred_dir = Path(out_dir) / PREDICTIONS_DIR
        runner, sizer, tta = prediction_runner(options, adapter, spec, preset, images_dir, pred_dir, dtype)
        stats = runner.run(image_ids)
        cache = getattr(runner, "image_cache", None)
        if cache is not None:
            tally = cache.tally
            log.info("image cache %s: %d image(s) read from it, %d added, %d not added (full); %.1f MB",
                     options.image_cache, tally.hits, tally.added, tally.not_added, tally.folder_bytes / 2**20)
        record.update(sized_run_fields(runner, sizer, tta))
    return record, stats, pred_dir


def prediction_runner(options: ModelRunOptions, adapter: RuntimeAdapter, spec: ModelSpec,
                      preset: PostprocessPreset, images_dir: Path, pred_dir: Path,
                      dtype: np.dtype | None = None,
                      ) -> tuple[PredictionRun, ImageSizer | None, TtaPlan | None]:
    """The run that predicts images with an opened model (in this process or in a worker):
    feeds in the model's input type (``dtype``, default :func:`input_feed_dtype`), each image's
    own size when the plan says so, several views per image with test-time augmentation, as
    many images in flight as the runtime runs inferences at once (OpenVINO ``--streams``; one
    with a per-image size or the resized-image cache). Returns (runner, its sizer, the TTA plan)."""
    if adapter.image_pixels is None:
        infer = _feeding(adapter.infer, dtype if dtype is not None else input_feed_dtype(spec, adapter.inputs))
    else:  # the runtime takes the uint8 image itself
        infer = adapter.infer
    sizer = image_sizer(spec, preset)
    tta = options.tta if options.tta is not None and options.tta.active else None
    if tta is not None:
        return tta_runner(infer, spec, preset, images_dir, pred_dir, tta, options.strict), sizer, tta
    cache = ResizedImageCache(options.image_cache, options.image_cache_mb << 20) if options.image_cache else None
    runner = PredictionRun(infer, spec, preset, options.resize, images_dir, pred_dir,
                           strict=options.strict, sizer=sizer, image_cache=cache,
                           u8_images=adapter.image_pixels is not None,
                           lanes=adapter.infer_lanes if cache is None and sizer is None else 1)
    return runner, sizer, tta


def run_fields(options: ModelRunOptions, spec: ModelSpec, adapter: RuntimeAdapter,
               preset: PostprocessPreset, sha256: str) -> dict[str, Any]:
    """The eval record's model, runtime, preset and pre-processing parts of a model run."""
    return {
        "model": {"path": str(spec.path), "name": spec.path.name, "sha256": sha256, **spec.as_dict()},
        **provenance_field(spec.path),  # absent unless the model was made by rfbench quantize
        "runtime": adapter.describe(),
        "preset": preset.as_dict(),
        "preprocessing": {"resize": options.resize, "interpolation": "INTER_LINEAR",
                          "reader": "cv2.imread BGR uint8",
                          "feed": "u8 NHWC image, converted by the runtime" if adapter.image_pixels
                          is not None else "float32 tensor"},
    }


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


def open_placed(options: ModelRunOptions, cores: Sequence[int] | None) -> tuple[dict[str, Any], tuple]:
    """A worker's start: :func:`place_this_process`, then the model opened while numba's cached
    kernels load in a thread (~1 s of a ~3 s start). Returns (what ``place_this_process``
    returns, :func:`open_model`'s (adapter, spec, preset))."""
    placed = place_this_process(cores, options.runtime)
    threading.Thread(target=warm_up_kernels, name="rfbench-kernels", daemon=True).start()
    return placed, open_model(options)
