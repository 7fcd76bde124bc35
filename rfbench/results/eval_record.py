"""The ``eval`` record: WIDER FACE (or FDDB) accuracy of a model run or of prediction files.

A model run (``eval --model``) has ``model``, ``runtime``, ``preset``, ``preprocessing`` and
``prediction_run``; scoring prediction files (``eval --predictions``) has none of them. Both
have ``predictions`` (where the scored files are), ``dataset``, the accuracy fields
(``protocols``, ``metrics``, ``protocol_params``, ``pr_curves``) and ``timings``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rfbench.results.quantize_record import Provenance
from rfbench.results.record import (
    OpenPart,
    OptReal,
    OutputLayout,
    Part,
    PixelFormat,
    Real,
    ResultRecord,
    Tensor,
)


class ModelInfo(Part):
    """The model file and how rfbench reads it (``ModelSpec.as_dict()`` plus the file)."""

    path: str
    name: str
    sha256: str
    input_name: str
    input_layout: str
    input_height: int | None  # px; None when each image has its own size (input_size_policy)
    input_width: int | None  # px
    input_dynamic: bool
    pixel_format: PixelFormat
    pixel_format_source: str
    output_layout: OutputLayout
    input_size_policy: str | None = None  # "native" or "SHORT:LONG"; absent for a fixed size


class RuntimeInfo(OpenPart):
    """``RuntimeAdapter.describe()``: requested vs effective settings (keys are the runtime's)."""

    runtime: str
    runtime_version: str | None
    model: str
    device: str
    device_full_name: str | None
    requested: dict[str, Any]
    effective: dict[str, Any]
    perf_counters: bool
    inputs: list[Tensor]
    outputs: list[Tensor]
    timings_ms: dict[str, OptReal]  # "read", "compile"


class Preset(Part):
    """Post-processing preset (``PostprocessPreset.as_dict()``): every setting of the recipe."""

    name: str
    layout_kind: str
    description: str
    score_threshold: OptReal
    score_inclusive: bool
    pre_nms_top_k: int | None
    nms_scope: str
    nms_iou_threshold: Real
    nms_suppress_equal: bool
    nms_plus_one: bool
    nms_in_original_pixels: bool
    clip_to_input: bool
    # preset biubug6 only (a ScriptPreset: the whole test script's settings):
    float32_boxes: bool | None = None
    prediction_boxes: str | None = None  # "float", "truncated" or "fddb"
    resize_float32: bool | None = None
    default_input_size: str | None = None


class Preprocessing(Part):
    """How images become network inputs."""

    resize: str  # "stretch" or "letterbox"; "scale" for a per-image size policy
    interpolation: str
    reader: str
    size_policy: str | None = None  # per-image policies: "native" or "SHORT:LONG"
    resize_dtype: str | None = None  # per-image policies: "uint8" or "float32"
    #: what the runtime is fed: "float32 tensor", or "u8 NHWC image, converted by the runtime"
    #: (OpenVINO's PrePostProcessor: the same outputs); absent in records before it existed
    feed: str | None = None


class SizeCount(Part):
    """One network input size and how many images were fed at it."""

    width: int  # px
    height: int  # px
    images: int


class InputSizes(Part):
    """The per-image size policy of a model run and the distribution of sizes it fed (this run)."""

    policy: str  # "native" or "SHORT:LONG"
    kind: str  # "native" or "short_long"
    rule: str
    images: int  # network inputs fed: images x views with --flip / --scales
    distinct_sizes: int
    sizes: list[SizeCount]  # most used first
    megapixels_min: OptReal
    megapixels_median: OptReal
    megapixels_max: OptReal
    min_side_px: int  # smaller sides were padded up to it
    images_padded: int
    padded_images: list[str]


class TestTimeAugmentation(Part):
    """``--flip`` / ``--scales`` / ``--merge``: the views of each image and how they were merged."""

    scales: list[Real]  # factors of the size policy's scale, one view each
    flip: bool
    merge: str  # "nms" or "vote"
    vote_iou: Real
    views: int
    recipe: str


class FailedImage(Part):
    image: str
    reason: str


class PredictionRunSummary(Part):
    """Counts and timings of the model run (this run only, when resumed)."""

    images_total: int
    images_predicted_this_run: int
    images_resumed: int
    images_failed: int
    failed_images: list[FailedImage]
    num_detections_this_run: int
    wall_s: Real
    inference_s: Real
    images_per_s: OptReal


class ScaleOut(Part):
    """How ``--workers N`` / ``--ray`` spread the model run (absent for a single-process run)."""

    mode: str  # "local processes" or "ray"
    workers: int
    threads_per_worker: int | None
    threads_source: str  # "--threads", "cores // workers" or "cluster CPUs // workers"
    cores: int  # this machine's usable cores (local processes) or the Ray cluster's CPUs
    shards: int
    max_attempts_per_shard: int
    retries: list[dict[str, Any]]  # one entry per shard started again after a worker died
    worker_starts: int  # processes started (local) or actor starts, restarts included (ray)
    worker_info: list[dict[str, Any]]  # per worker: pid, host, CPU, versions, cores, peak_rss_mb
    address: str | None = None  # ray: "local" (started for the run) or the cluster address joined
    nodes: int | None = None  # ray: alive nodes of the cluster
    ship_images: bool | None = None  # ray: image bytes sent through the object store
    cluster_start_s: float | None = None  # ray: seconds to start or join the cluster (0: already connected)
    placement: str | None = None  # how worker threads were put on cores (rfbench.accuracy.placement)
    device_resources: dict[str, float] | None = None  # ray: what each actor asked Ray for besides
    # its CPUs, for a non-CPU --device (rfbench.accuracy.ray_devices; {} on the CPU)


class PredictionsSource(Part):
    """Where the scored prediction files are: written by the model run, or given."""

    source: Literal["model", "files"]
    dir: str


class Dataset(Part):
    """The ground truth scored against (``limit``: present when ``--limit`` took a subset)."""

    name: str
    split: str
    data_root: str
    gt_text: str
    setting_lists: str | None = None  # folder of the easy/medium/hard .mat lists
    limit: str | None = None
    num_images_evaluated: int
    num_images_without_predictions: int
    #: boxes with a negative width or height in the scored files (kept, as the official tool
    #: keeps them); absent in records written before rfbench counted them
    num_negative_size_boxes: int | None = None


class Metric(Part):
    """``ProtocolResult.summary()``: AP (fraction, null when undefined) and its counts."""

    protocol: str
    setting: str
    ap: OptReal
    num_faces: int
    num_predictions: int
    num_images: int


class PrCurve(Part):
    """Precision/recall (fractions) at each score threshold, thinned to <= 4000 points."""

    precision: list[OptReal]
    recall: list[OptReal]
    thresholds: list[OptReal]


class FddbPoint(Part):
    """The true positive rates (fractions) at ``fp`` false positives: the ROC point with the
    largest FP <= ``fp`` ("step") and the line to the next point ("interpolated")."""

    fp: Real
    tpr_discrete_step: Real
    tpr_discrete_interpolated: Real
    tpr_continuous_step: Real
    tpr_continuous_interpolated: Real


class RocCurve(Part):
    """ROC points in ascending score threshold order (FP falling), thinned to <= 4000 points;
    the full curves are ``DiscROC.txt`` / ``ContROC.txt`` beside results.json."""

    thresholds: list[OptReal]
    tpr: list[Real]
    fp: list[Real]


class FddbResult(Part):
    """``eval --dataset fddb``: the official ``evaluate`` program's ROC curves, reproduced."""

    folds: list[int]
    num_images: int
    num_faces: int
    num_detections: int
    num_images_without_detections: int
    num_thresholds: int
    tpr_at_fp: list[FddbPoint]
    roc_discrete: RocCurve
    roc_continuous: RocCurve
    matching: str
    #: the FDDB detection files scored: --predictions, or a model run's fold-NN-out.txt folder
    detection_files: str | None = None


class Timings(Part):
    evaluator_s: Real
    wall_s: Real


class EvalRecord(ResultRecord):
    """``rfbench eval``: one row of ``results.csv`` per protocol/setting."""

    KIND: ClassVar[str] = "eval"

    kind: Literal["eval"]
    model: ModelInfo | None = None
    provenance: Provenance | None = None  # the model's rfbench quantize sidecar, if it has one
    runtime: RuntimeInfo | None = None
    preset: Preset | None = None
    preprocessing: Preprocessing | None = None
    input_sizes: InputSizes | None = None  # per-image size policies only
    test_time_augmentation: TestTimeAugmentation | None = None  # --flip / --scales only
    prediction_run: PredictionRunSummary | None = None
    scale_out: ScaleOut | None = None
    predictions: PredictionsSource
    dataset: Dataset
    protocols: dict[str, str]  # protocol name -> title
    metrics: list[Metric]
    protocol_params: dict[str, dict[str, Any]]  # protocol name -> its parameters
    pr_curves: dict[str, PrCurve]  # "protocol/setting" -> curve
    timings: Timings
    fddb: FddbResult | None = None  # --dataset fddb (its metrics list is then empty)

    def csv_rows(self) -> list[dict[str, Any]]:
        """One tidy row per protocol/setting, the run's context columns first."""
        context: dict[str, Any] = {"rfbench_version": self.rfbench_version}
        if self.model is not None and self.runtime is not None:
            effective = self.runtime.effective
            context.update({
                "model": self.model.name, "model_sha256": self.model.sha256,
                "runtime": self.runtime.runtime, "runtime_version": self.runtime.runtime_version,
                "device": self.runtime.device, "precision": effective.get("precision"),
                "threads": effective.get("threads"),
                "preset": self.preset.name if self.preset else None,
                "images_failed": self.prediction_run.images_failed if self.prediction_run else None,
                "images_per_s": self.prediction_run.images_per_s if self.prediction_run else None,
            })
        else:
            context["predictions"] = self.predictions.dir
        context["num_images_evaluated"] = self.dataset.num_images_evaluated
        if self.fddb is not None:
            return [{**context, "dataset": "fddb", **point.model_dump(mode="json")}
                    for point in self.fddb.tpr_at_fp]
        return [{**context, **metric.model_dump(mode="json")} for metric in self.metrics]

