"""``rfbench eval --model``'s model run, shared by every dataset: the options as a
:class:`~rfbench.accuracy.model_run.ModelRunOptions`, one run over a list of image ids (in one
process, ``--workers`` or ``--ray``), and its fields of the eval record; and what every dataset's
eval shares besides: the checkpoint import, the output folder and the header or JSON on stdout."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rfbench.accuracy.shards import MAX_ATTEMPTS
from rfbench.commands.options import input_size_of, model_file, precision_value
from rfbench.errors import Interrupted, RfbenchError

log = logging.getLogger(__name__)


def add_scale_out_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--workers`` option of ``rfbench eval``."""
    group = parser.add_argument_group("scale-out (with --model)")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="predict with N local worker processes, each opening the model once "
                       "with --threads threads (default: cores // N); shards of a lost worker "
                       f"are retried on another one, at most {MAX_ATTEMPTS} starts per shard (default: 1; "
                       "with --ray: N Ray actors, default one per cluster CPU // --threads, or per unit of a "
                       "non-CPU --device's Ray resource)")
    group.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                       help="predict on Ray actors: alone, on a local Ray cluster started for the run; "
                       "with ADDRESS (host:port, ray://host:port or auto), on that cluster "
                       "(needs pip install 'rfbench[ray]'); a non-CPU --device asks Ray for a resource "
                       "naming it (CUDA: Ray's GPU; others, e.g. OpenVINO GPU: 'device:GPU', which "
                       "such nodes offer with ray start --resources='{\"device:GPU\": 1}')")
    group.add_argument("--ship-images", action="store_true",
                       help="with --ray: send the image bytes through Ray's object store (default: "
                       "the data root must be visible at the same path on every node)")


def resolve_model(args: argparse.Namespace) -> None:
    """With ``--model``: check ``--device`` against ``--runtime`` and turn a checkpoint into its
    imported model in the cache (``args.model`` then names the model file run)."""
    if args.model:
        check_device_runtime(args.device, args.runtime)
        args.model = str(model_file(args))


def output_dir(args: argparse.Namespace) -> Any:
    """The eval's output folder (:func:`rfbench.results.outdir.prepare_output_dir`; ``--force``
    keeps the ``--predictions`` scored)."""
    from rfbench.results.outdir import prepare_output_dir

    return prepare_output_dir(args.out, "eval", force=args.force, resume=args.resume,
                              keep=[args.predictions] if args.predictions else [])


def print_record(args: argparse.Namespace, record: Any) -> bool:
    """stdout: the record (``--json``; returns True) or the header of what was measured and a
    blank line (returns False: the dataset's table follows)."""
    if args.json:
        from rfbench.results.writer import record_json_text

        print(record_json_text(record), end="")
        return True
    from rfbench.commands.header import eval_header

    print(eval_header(record))
    print()
    return False


def check_device_runtime(device: str, runtime: str | None) -> None:
    """An ONNX Runtime provider given as ``--device`` to OpenVINO: say which ``--runtime`` takes it."""
    if device.endswith("ExecutionProvider") and runtime in (None, "openvino", "all"):
        raise RfbenchError(
            f"--device {device} is an ONNX Runtime execution provider, not an OpenVINO device; "
            "add --runtime onnxruntime"
        )


def _input_size(args: argparse.Namespace):
    """``--input-size`` as a size policy (None when not given); letterbox needs a fixed size."""
    policy = input_size_of(args)
    if policy is not None and policy.per_image and args.resize == "letterbox":
        raise RfbenchError(f"--resize letterbox needs a fixed --input-size WxH, not {args.input_size!r}")
    return policy


def _tta_plan(args: argparse.Namespace):
    """``--scales`` / ``--flip`` / ``--merge`` as a TtaPlan (None when none is given)."""
    from rfbench.decoder.postprocess import get_preset
    from rfbench.decoder.tta import TtaPlan, parse_scales

    if args.scales is None and not args.flip and args.merge is None:
        return None
    try:
        scales = parse_scales(args.scales) if args.scales is not None else (1.0,)
    except ValueError as exc:
        raise RfbenchError(f"--scales {args.scales!r}: {exc}") from None
    iou = get_preset(args.preset, "B").nms_iou_threshold
    return TtaPlan(scales=scales, flip=args.flip, merge=args.merge or "nms", vote_iou=iou)


def run_model(args: argparse.Namespace, image_ids: list[str], images_dir: Path, out_dir: Path):
    """Run ``--model`` over ``images_dir/<id>.jpg`` for every id (``"<event>/<name>"``) into
    ``out_dir/predictions`` (WIDER files; resumable); returns (that folder, the run's fields of
    the eval record: model, runtime, prediction run and scale-out)."""
    from rfbench.accuracy.model_run import ModelRunOptions, stats_fields
    from rfbench.accuracy.workers import predict_scaled
    from rfbench.decoder.finite import NonFiniteOutputError
    from rfbench.models.spec import parse_output_names

    options = ModelRunOptions(
        model=args.model, runtime=args.runtime, device=args.device,
        precision=precision_value(args.precision), threads=args.threads, streams=args.streams,
        input_size=_input_size(args), tta=_tta_plan(args),
        layout=args.layout, output_names=parse_output_names(args.output_name),
        channel_order=args.channel_order, mean=args.mean, scale=args.scale,
        preset=args.preset, resize=args.resize, strict=args.strict,
        image_cache=Path(args.image_cache) if args.image_cache else None, image_cache_mb=args.image_cache_mb,
        u8_feed=getattr(args, "feed", "u8") == "u8",
    )
    try:
        fields, stats, pred_dir = predict_scaled(args, options, image_ids, images_dir, out_dir, args.resume)
    except NonFiniteOutputError as exc:
        raise RfbenchError(f"{exc}; the predictions of the images before it are kept in {out_dir}: "
                           "--resume continues from there") from exc
    except KeyboardInterrupt as exc:
        raise Interrupted(f"the predictions written so far are kept in {out_dir}; "
                          f"continue with the same command plus --resume --out {out_dir}") from exc
    fields["prediction_run"] = stats_fields(stats)
    fields["predictions"] = {"source": "model", "dir": str(pred_dir)}
    if stats.failed:
        log.warning("%d image(s) could not be read and count as having no detections", len(stats.failed))
    return pred_dir, fields

