"""The ``quantize`` record, and the provenance sidecar written beside every quantized model.

``rfbench quantize`` writes a :class:`QuantizeRecord` (``results.json``) into its output
folder and a :class:`Provenance` (``<model stem>.quantize.json``) beside the INT8 model. The
sidecar is the one place that says where a model came from: ``eval`` and ``latency`` of the
model copy it into their own records (their optional ``provenance`` field). Times are in s,
sizes in bytes, AP values fractions in [0, 1], AP drops in points (x 100).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rfbench.results.record import OptReal, OutputLayout, Part, PixelFormat, Real, ResultRecord

SIDECAR_KIND = "rfbench-quantize-provenance"
SIDECAR_VERSION = 1


class SourceModel(Part):
    """The float model that was quantized."""

    path: str
    name: str
    sha256: str


class QuantizedModelRef(Part):
    """The quantized model the sidecar describes (its sha256 ties the sidecar to the file)."""

    path: str
    sha256: str


class QuantizedModel(Part):
    """The quantized model as ``rfbench quantize`` wrote it (``.xml`` + ``.bin``, or ``.onnx``)."""

    path: str
    name: str
    sha256: str
    sidecar: str  # path of the provenance sidecar
    size_bytes: int  # all the model's files


class QuantizerSettings(Part):
    """The quantizer call as made: NNCF's (``preset``, ``target_device``, ...; ``max_drop`` and
    ``drop_type`` in accuracy-aware mode) or ONNX Runtime's ``quantize_static`` (``quant_format``,
    ``per_channel``, ``calibration_method``, ...); absent fields do not apply to that tool."""

    function: str
    subset_size: int
    preset: str | None = None
    target_device: str | None = None
    fast_bias_correction: bool | None = None
    max_drop: Real | None = None  # fraction (AP points / 100)
    drop_type: str | None = None
    quant_format: str | None = None
    per_channel: bool | None = None
    calibration_method: str | None = None
    activation_type: str | None = None
    weight_type: str | None = None
    pre_process: str | None = None


class Quantizer(QuantizerSettings):
    """:class:`QuantizerSettings` plus which tool made the model and for which runtime."""

    tool: str  # "nncf" or "onnxruntime"
    tool_version: str
    target_runtime: str


class Calibration(Part):
    """The calibration images (``CalibrationSubset.as_dict()`` plus where they are).

    ``eval_images``: how many images the eval the model is meant for scores; the subset
    avoids them when ``pool_images`` allows (``overlap_with_eval`` = how many it could not).
    """

    num_images: int  # the size used: requested_images, or every image of a smaller root
    requested_images: int | None = None  # --subset-size (absent in records before it was kept)
    seed: int
    pool_images: int
    eval_images: int
    disjoint_from_eval: bool
    overlap_with_eval: int
    image_ids: list[str]  # "<event>/<name>", in draw order
    data_root: str
    images_dir: str
    gt_text: str | None


class ModelSpecInfo(Part):
    """How rfbench reads the model (``ModelSpec.as_dict()``), as for ``eval``'s ``model``."""

    input_name: str
    input_layout: str
    input_height: int  # px
    input_width: int  # px
    input_dynamic: bool
    pixel_format: PixelFormat
    pixel_format_source: str
    output_layout: OutputLayout


class CalibrationPreprocessing(Part):
    """How calibration images become network inputs: exactly as ``rfbench eval`` feeds them."""

    resize: str
    interpolation: str
    reader: str
    model_spec: ModelSpecInfo


class QuantizeTimings(Part):
    wall_s: Real  # the whole command
    quantize_s: Real  # inside the quantizer


class Provenance(Part):
    """The sidecar ``<model stem>.quantize.json``: where a quantized model came from and how.

    ``quantized_model.sha256`` is the model's at writing time; a reader trusts the sidecar only
    while it matches (:func:`rfbench.quantize.output.read_provenance`).
    """

    kind: Literal["rfbench-quantize-provenance"]
    version: Literal[1]
    created_by: str  # "rfbench <version>"
    source_model: SourceModel
    tool: str
    tool_version: str
    target_runtime: str
    settings: QuantizerSettings
    preset: str | None
    calibration: Calibration
    preprocessing: CalibrationPreprocessing
    timings: QuantizeTimings
    quantized_model: QuantizedModelRef


class PrecisionSummary(Part):
    """Compute operations (convolutions, matrix products) run in INT8 and kept in float.

    NNCF IR: an op is INT8 when its activation input comes from a FakeQuantize; ONNX QDQ: when
    it comes from a DequantizeLinear. ``float_ops``: names of those kept in float.
    """

    compute_ops: int
    compute_ops_int8: int
    compute_ops_float: int
    float_ops: list[str]
    fake_quantize_ops: int | None = None  # NNCF IR
    quantize_linear_ops: int | None = None  # ONNX QDQ


class AccuracyControl(Part):
    """``--max-ap-drop``: NNCF's accuracy control on the ``omz`` 64-px AP, re-measured after."""

    protocol: str
    setting: str
    drop_type: str
    max_ap_drop_points: Real
    validation_images: int
    validation_image_ids: list[str]
    validation_faces: int
    ap_float: OptReal
    ap_quantized: OptReal
    ap_drop_points: OptReal
    reached: bool
    layers_kept_in_float: list[str]
    nncf_validations: int


class QuantizeRecord(ResultRecord):
    """``rfbench quantize``: one row of ``results.csv``."""

    KIND: ClassVar[str] = "quantize"

    kind: Literal["quantize"]
    source_model: SourceModel
    quantized_model: QuantizedModel
    quantizer: Quantizer
    calibration: Calibration
    preprocessing: CalibrationPreprocessing
    precision: PrecisionSummary
    accuracy_control: AccuracyControl | None  # null without --max-ap-drop
    timings: QuantizeTimings

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row: source and quantized model, tool, calibration, INT8 share, AP, times."""
        acc = self.accuracy_control
        cal = self.calibration
        return [{
            "source_model": self.source_model.name,
            "source_model_sha256": self.source_model.sha256,
            "quantized_model": self.quantized_model.name,
            "quantized_model_sha256": self.quantized_model.sha256,
            "quantized_size_bytes": self.quantized_model.size_bytes,
            "tool": self.quantizer.tool, "tool_version": self.quantizer.tool_version,
            "target_runtime": self.quantizer.target_runtime, "preset": self.quantizer.preset,
            "calibration_method": self.quantizer.calibration_method,
            "calibration_images": cal.num_images, "calibration_seed": cal.seed,
            "calibration_disjoint_from_eval": cal.disjoint_from_eval,
            "compute_ops_int8": self.precision.compute_ops_int8,
            "compute_ops_float": self.precision.compute_ops_float,
            "max_ap_drop_points": acc.max_ap_drop_points if acc else None,
            "ap_float_omz_64px": acc.ap_float if acc else None,
            "ap_quantized_omz_64px": acc.ap_quantized if acc else None,
            "wall_s": self.timings.wall_s, "quantize_s": self.timings.quantize_s,
        }]
