"""The few lines printed before a command's results: what was measured, from the typed record.

Every line comes from the record that ``results.json`` holds (:mod:`rfbench.results`), so the
terminal cannot say something the results do not: model file and sha256 prefix, runtime and
version, device, effective precision, threads/streams, input shape and layout, preset and its
recipe (:func:`rfbench.decoder.recipe.layout_recipe_line`), protocols and images. A value that
differs between the runs of one latency record is shown per runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.decoder.recipe import layout_recipe_line, recipe_text
from rfbench.results.record import shape_text

if TYPE_CHECKING:
    from rfbench.results.eval_record import EvalRecord
    from rfbench.results.latency_record import LatencyRecord
    from rfbench.results.profile_record import ProfileRecord

#: Characters of the sha256 shown (the full digest is in results.json).
SHA_PREFIX = 12
#: Shown for a value the record does not have (never Python's ``None``).
MISSING = "-"


def _lines(pairs: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in pairs) + 1
    return "\n".join(f"{label + ':':<{width}} {value}" for label, value in pairs)


def text(value: Any) -> str:
    """``value`` for a terminal cell: :data:`MISSING` for None, never ``"None"``."""
    return MISSING if value is None else str(value)


def short_version(version: str | None) -> str:
    """``"2026.4.1-22982-e213a147257-releases/2026/4"`` -> ``"2026.4.1"``."""
    return version.split("-", 1)[0] if version else MISSING


def model_line(name: str, sha256: str | None) -> str:
    """``"m.onnx (sha256 e0e19bad8494)"``."""
    return f"{name} (sha256 {sha256[:SHA_PREFIX]})" if sha256 else name


def device_text(device: str | None, full_name: str | None) -> str:
    """``"CPU (AMD EPYC)"``."""
    if full_name and full_name != device:
        return f"{text(device)} ({full_name})"
    return text(device)


# -- eval ------------------------------------------------------------------------------------------

def eval_header(record: EvalRecord) -> str:
    """The header of ``rfbench eval``: the model run (or the prediction files) and the data."""
    pairs: list[tuple[str, str]] = []
    if record.model is not None and record.runtime is not None:
        model, runtime = record.model, record.runtime
        eff = runtime.effective
        requested = runtime.requested.get("precision")
        precision = text(eff.get("precision"))
        if requested is None:
            precision += " (the runtime's default)"
        shape = shape_text(runtime.inputs[0].shape) if runtime.inputs else (
            f"{model.input_height}x{model.input_width}")
        size = f"{model.input_width}x{model.input_height}"
        input_note = (f", dynamic input run at {size} (--input-size WxH)" if model.input_dynamic
                      else "")
        if model.input_height is None:  # a per-image policy: no one size
            input_note = f", each image at its own size (--input-size {model.input_size_policy})"
        pairs += [
            ("model", model_line(model.name, model.sha256)),
            ("runtime", f"{runtime.runtime} {short_version(runtime.runtime_version)}"),
            ("device", device_text(runtime.device, runtime.device_full_name)),
            ("precision", precision),
            ("threads/streams", f"{text(eff.get('threads'))} / {text(eff.get('streams'))}"),
            ("input", f"{model.input_name} {shape} {model.input_layout}{input_note}"),
            ("pixels", f"{_pixels_text(model.pixel_format)} ({model.pixel_format_source})"),
            ("output layout", model.output_layout.kind),
        ]
        if (preset := record.preset) is not None:  # the recipe per layout where it differs
            recipe = layout_recipe_line(preset) or f"{preset.name}: {recipe_text(preset)}"
            pairs.append(("preset", recipe))
    else:
        pairs.append(("predictions", f"{record.predictions.dir} (scored as given)"))
    pairs.append(("protocols", ", ".join(record.protocols) or MISSING))
    data = record.dataset
    images = f"{data.num_images_evaluated} of {Path(data.gt_text).name} in {data.data_root}"
    if data.limit:
        images += f" (--limit: {data.limit})"
    pairs.append(("images", images))
    return _lines(pairs)


# -- latency ---------------------------------------------------------------------------------------

def latency_header(record: LatencyRecord) -> str:
    """The header of ``rfbench latency``: model, runtimes, device, precision, input, mode."""
    settings = record.settings
    runs = record.runs
    by_runtime = {run.runtime: run for run in runs}

    def each(fn: Any) -> str:
        """One value when every runtime has it, else ``"f32 (openvino), bf16 (onnxruntime)"``."""
        values = {name: fn(run) for name, run in by_runtime.items()}
        if len(set(values.values())) == 1:
            return next(iter(values.values()))
        return ", ".join(f"{value} ({runtime})" for runtime, value in values.items()) or MISSING

    requested = settings.precision or "the runtime's default"
    if settings.mode == "latency":
        api = "sync, 1 request"
    else:
        api = f"async, {each(lambda r: text(r.effective.get('requests')))} requests"
    pairs = [
        ("model", model_line(Path(settings.model).name, record.model_sha256)),
        ("runtime", ", ".join(f"{r.runtime} {short_version(r.runtime_version)}" for r in runs)
         or ", ".join(settings.runtimes)),
        ("device", each(lambda r: device_text(r.device, r.device_full_name))),
        ("precision", f"{each(lambda r: text(r.precision_effective))} (requested: {requested})"),
        ("threads/streams", each(lambda r: f"{text(r.effective.get('threads'))} / "
                                           f"{text(r.effective.get('streams'))}")),
        ("input", each(_inputs_text)),
        ("mode", f"{settings.mode} ({api}), batch {settings.batch}"),
    ]
    return _lines(pairs)


def _inputs_text(run: Any) -> str:
    """``"input0 1x3x640x640 float32"`` for each input of a run."""
    inputs = ", ".join(f"{t.name} {shape_text(t.shape)} {t.dtype}" for t in run.inputs or ())
    return inputs or MISSING


# -- profile ---------------------------------------------------------------------------------------

def profile_header(record: ProfileRecord, dynamic_input: bool = False) -> str:
    """The header of ``rfbench profile``: the model file and the input shapes counted at
    (``dynamic_input``: the file leaves the size open, so it was counted at ``--input-size``)."""
    shapes = ", ".join(f"{name} {shape_text(shape)}" for name, shape in record.input_shapes.items())
    if dynamic_input:
        shapes += ", dynamic input counted at this size (--input-size WxH)"
    return _lines([
        ("model", model_line(Path(record.model_path).name, record.model_sha256)),
        ("path", record.model_path),
        ("format", record.model_format),
        ("input", shapes or MISSING),
    ])


def _pixels_text(pixels: Any) -> str:
    """``RGB 0..255, no mean, no scale``: what the network is fed, as the record says."""
    from rfbench.decoder.preprocess import PixelFormat

    return PixelFormat(pixels.channel_order, tuple(pixels.mean), tuple(pixels.scale)).describe()
