"""``rfbench eval``: WIDER FACE accuracy of a model, or of a folder of prediction files."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from rfbench.accuracy.workers import add_scale_out_arguments
from rfbench.commands.options import (
    RegisteredRuntimes,
    add_input_size_option,
    add_precision_option,
    floats3,
    positive_int,
)

log = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = "datasets/wider"

DESCRIPTION = """\
Measure face-detection accuracy on WIDER FACE val with two protocols:
  wider  the official eval_tools protocol: Easy / Medium / Hard AP (needs the
         wider_{easy,medium,hard}_val.mat lists from eval_tools; with the default
         --protocol all and no .mat lists, as in Open Model Zoo's data layout, it is
         skipped with a one-line note and omz is scored)
  omz    the OpenVINO model card's protocol: AP on faces of 64 px and up
         (how the model card's "AP 87.30%" was measured)

Either run a model (--model): rfbench reads each image with OpenCV, resizes it to the
network input like OMZ, runs the runtime you choose, decodes the outputs (layout A:
insightface per-stride heads; layout B: biubug6 loc/conf/landmarks), post-processes with
a named preset, writes WIDER prediction files as it goes, then scores them.
Or score existing prediction files (--predictions) in the WIDER submission format
(<event>/<name>.txt: image name, box count, then 'x y w h score' lines).
"""

EPILOG = """\
presets:
  omz          the OMZ accuracy-checker recipe (the model card's number), one per output
               layout as OMZ's two model configs have it: layout A: per-stride NMS at 0.5,
               no score threshold; layout B: score > 0.02, top 750, one NMS at 0.4 (the
               same weights score differently through the two layouts; the recipe used is
               printed before the results)
  insightface  insightface's WIDER test recipe: score >= 0.02, one NMS at 0.4 with +1 areas
  biubug6      Pytorch_Retinaface test_widerface.py as it runs: score > 0.02, no top-k, one
               NMS at 0.4 with +1 areas, float32 resize, each image at its own size (dynamic
               models), boxes truncated to integers in the prediction files

input sizes (--input-size, dynamic models):
  WxH          every image resized to one size (default 640x640; the OMZ protocol)
  native       each image at its own size (Pytorch_Retinaface's "original size" rows)
  S:L          short side scaled to S unless the long side would exceed L (1600:2150 is
               Pytorch_Retinaface's recipe); sides below 32 px are padded and recorded

test-time augmentation (insightface's test_widerface.py mode 1; dynamic models, one global NMS):
  --scales F1,F2,...  one view per factor of the size policy's scale
  --flip              also each scale on the horizontally flipped image
  --merge vote        insightface's box voting instead of the preset's NMS
  insightface's pyramid: --preset insightface --input-size 800:1200
                         --scales 0.625,1,1.375,1.75,2.125 --flip --merge vote

examples:
  rfbench eval --dataset wider --data-root datasets/wider --model retinaface.xml
  rfbench eval --dataset wider --model r50.onnx --runtime onnxruntime --limit 100
  rfbench eval --dataset wider --model m.onnx --out reports/m --resume   # after Ctrl-C
  rfbench eval --dataset wider --predictions my_preds/ --protocol omz
  rfbench eval --dataset fddb --data-root datasets/fddb --predictions FDDB_dets.txt --fp-at 500,1000

The data root layout is described in datasets/README.md. Results (results.json,
results.csv, and with --model the predictions/) go to --out, by default a new folder
under reports/. stdout: a header saying what was measured (model and sha256, runtime,
device, effective precision, input, layout, preset recipe, protocols, images), then the AP
table; with --json only the results record.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="WIDER FACE AP of a model or of prediction files (official and model-card protocols)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_options(parser)
    source = parser.add_argument_group("what to evaluate (one of)").add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="PATH", help="model file (.onnx, or OpenVINO .xml with its .bin), or a published checkpoint (insightface MXNet NAME-0000.params, Pytorch_Retinaface .pth), imported once into the cache (see rfbench import)")
    source.add_argument("--predictions", metavar="PRED_DIR",
                        help="folder of prediction files to score (fddb: one detection file or a "
                        "folder of fold-NN-out.txt)")
    _add_model_options(parser)
    add_scale_out_arguments(parser)
    parser.add_argument("--protocol", choices=("all", "wider", "omz"), default="all",
                        help="which protocol(s) to run (default: all)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: a new folder under reports/)")
    parser.add_argument("--json", action="store_true",
                        help="print the results record (results.json) on stdout instead of the tables")
    parser.add_argument("--force", action="store_true",
                        help="replace the results of another run in --out (default: refuse)")
    parser.set_defaults(func=run)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=("wider", "fddb"), default="wider",
                      help="dataset (default: wider); fddb: FDDB's folds under --data-root, scored "
                      "with the official evaluate program's ROC (--predictions FDDB detection files)")
    data.add_argument("--folds", metavar="N,M-K", help="fddb: the folds to score (default: 1-10)")
    data.add_argument("--fp-at", metavar="FP,...", help="fddb: TPR read at these false-positive "
                      "counts (default: 1000, the papers' operating point)")
    data.add_argument("--data-root", default=DEFAULT_DATA_ROOT, metavar="DIR",
                      help=f"WIDER FACE root (default: {DEFAULT_DATA_ROOT})")
    data.add_argument("--gt-text", metavar="FILE",
                      help="GT text (default: DIR/wider_face_split/wider_face_val_bbx_gt.txt); "
                      "a text listing a subset of val evaluates that subset")
    data.add_argument("--gt-mat-dir", metavar="DIR",
                      help="folder with wider_{easy,medium,hard}_val.mat "
                      "(default: DIR/eval_tools/ground_truth or DIR/wider_face_split)")
    data.add_argument("--images-dir", metavar="DIR", help="images folder (default: DIR/WIDER_val/images)")
    data.add_argument("--limit", type=positive_int, metavar="N",
                      help="evaluate only the first N images of the GT list")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model run (with --model)")
    model.add_argument("--runtime", choices=RegisteredRuntimes(), default=None, metavar="NAME",
                       help="runtime: %(choices)s (default: openvino); 'rfbench runtimes' lists what is installed")
    model.add_argument("--device", default="CPU", help="device (OpenVINO: CPU, GPU, AUTO, ...; ORT: CPU or a provider)")
    add_precision_option(model)
    model.add_argument("--threads", type=positive_int, metavar="N", help="inference threads (default: runtime's)")
    model.add_argument("--streams", type=positive_int, metavar="N", help="OpenVINO streams (default: runtime's)")
    model.add_argument("--preset", choices=("omz", "insightface", "biubug6"), default="omz",
                       help="post-processing preset (default: omz, the model card's recipe)")
    model.add_argument("--resize", choices=("stretch", "letterbox"), default="stretch",
                       help="stretch to the input size like OMZ (default) or keep the aspect ratio")
    add_input_size_option(model, policies=True, extra_help="; preset biubug6 defaults to native")
    model.add_argument("--scales", metavar="F1,F2,...",
                       help="test-time scale pyramid: factors of the --input-size scale (default: 1)")
    model.add_argument("--flip", action="store_true", help="test-time horizontal flip of every scale")
    model.add_argument("--merge", choices=("nms", "vote"), default=None,
                       help="merge of the views: the preset's NMS (default) or insightface's box voting")
    model.add_argument("--layout", choices=("A", "B"), help="force the output layout (default: from output names)")
    model.add_argument("--output-name", action="append", metavar="ROLE=NAME",
                       help="map an output role to a name, e.g. loc=output0 (repeat for every role)")
    model.add_argument("--channel-order", choices=("BGR", "RGB"), help="override the pixel channel order")
    model.add_argument("--mean", type=floats3, metavar="B,G,R", help="override the per-channel mean")
    model.add_argument("--scale", type=floats3, metavar="B,G,R", help="override the per-channel scale")
    model.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    model.add_argument("--strict", action="store_true", help="stop at an unreadable image instead of skipping it")
    model.add_argument("--image-cache", metavar="DIR",
                       help="keep the resized images in DIR and reuse them in later runs at the same "
                       "input size (fixed sizes; rfbench sweep passes its own)")
    model.add_argument("--image-cache-mb", type=positive_int, default=4096, metavar="MB",
                       help="bound of --image-cache: add no image beyond MB megabytes (default 4096)")


def run(args: argparse.Namespace) -> int:
    from rfbench.commands.options import model_file
    from rfbench.errors import RfbenchError
    from rfbench.evaluation import scoring
    from rfbench.report import ScoredData, write_report
    from rfbench.results.eval_record import EvalRecord
    from rfbench.results.outdir import prepare_output_dir
    from rfbench.results.record import record_header
    from rfbench.results.writer import write_results
    from rfbench.wider.ground_truth import load_ground_truth, subset
    from rfbench.wider.predictions import read_prediction_folder

    if args.dataset == "fddb":
        from rfbench.commands.eval_fddb import run_fddb

        return run_fddb(args)
    if args.folds or args.fp_at:
        raise RfbenchError("--folds and --fp-at apply to --dataset fddb")
    if args.resume and not args.out:
        raise RfbenchError("--resume needs --out: the folder of the interrupted run")
    if args.resume and args.predictions:
        raise RfbenchError("--resume continues an interrupted --model run; "
                           "--predictions are always scored afresh: drop --resume")
    protocols = scoring.protocols_for(args.protocol)
    wall_start = time.perf_counter()
    if args.model:
        check_device_runtime(args.device, args.runtime)
        args.model = str(model_file(args))  # a checkpoint: its import in the cache
    gt = load_ground_truth(args.data_root, gt_text=args.gt_text, mat_dir=args.gt_mat_dir,
                           require_settings=protocols == ("wider",) or (
                               args.gt_mat_dir is not None and "wider" in protocols))
    protocols, skipped = scoring.protocols_available(protocols, gt)
    if args.limit:
        gt = subset(gt, args.limit)
    with prepare_output_dir(args.out, "eval", force=args.force, resume=args.resume,
                            keep=[args.predictions] if args.predictions else []) as out_dir:
        header = record_header("eval")
        if args.model:
            pred_dir, run_fields = _run_model(args, gt, out_dir)
        else:
            pred_dir = args.predictions
            run_fields = {"predictions": {"source": "files", "dir": str(pred_dir)}}
        reading = read_prediction_folder(pred_dir, gt.image_ids)
        results, eval_s = scoring.score(gt, reading.predictions, protocols)
        record = EvalRecord.build(
            header, **run_fields,
            dataset={"name": "wider", "split": "val", "data_root": str(args.data_root), **gt.source,
                     "num_images_evaluated": gt.num_images, **reading.stats_fields()},
            **scoring.accuracy_fields(results),
            timings={"evaluator_s": eval_s, "wall_s": time.perf_counter() - wall_start},
        )
        write_results(out_dir, record)
        report = write_report([out_dir], out_dir / "report.html",
                              scored={out_dir: ScoredData(gt, reading.predictions)})
    if args.json:
        from rfbench.results.writer import record_json_text

        if skipped:
            log.warning("%s", skipped)
        print(record_json_text(record), end="")
        return 0
    from rfbench.commands.header import eval_header

    print(eval_header(record))
    print()
    print(scoring.format_table(results))
    if skipped:
        print(f"note: {skipped}")
    print(f"\n{gt.num_images} images evaluated; results in {out_dir} (open {report.name} for plots)")
    return 0


def check_device_runtime(device: str, runtime: str | None) -> None:
    """An ONNX Runtime provider given as ``--device`` to OpenVINO: say which ``--runtime`` takes it."""
    from rfbench.errors import RfbenchError

    if device.endswith("ExecutionProvider") and runtime in (None, "openvino", "all"):
        raise RfbenchError(
            f"--device {device} is an ONNX Runtime execution provider, not an OpenVINO device; "
            "add --runtime onnxruntime"
        )


def _input_size(args: argparse.Namespace):
    """``--input-size`` as a size policy (None when not given); letterbox needs a fixed size."""
    from rfbench.commands.options import input_size_of
    from rfbench.errors import RfbenchError

    policy = input_size_of(args)
    if policy is not None and policy.per_image and args.resize == "letterbox":
        raise RfbenchError(f"--resize letterbox needs a fixed --input-size WxH, not {args.input_size!r}")
    return policy


def _tta_plan(args: argparse.Namespace):
    """``--scales`` / ``--flip`` / ``--merge`` as a TtaPlan (None when none is given)."""
    from rfbench.decoder.postprocess import get_preset
    from rfbench.decoder.tta import TtaPlan, parse_scales
    from rfbench.errors import RfbenchError

    if args.scales is None and not args.flip and args.merge is None:
        return None
    try:
        scales = parse_scales(args.scales) if args.scales is not None else (1.0,)
    except ValueError as exc:
        raise RfbenchError(f"--scales {args.scales!r}: {exc}") from None
    iou = get_preset(args.preset, "B").nms_iou_threshold
    return TtaPlan(scales=scales, flip=args.flip, merge=args.merge or "nms", vote_iou=iou)


def _run_model(args: argparse.Namespace, gt, out_dir):
    """Run the model; returns (prediction folder, the run's fields of the eval record)."""
    from rfbench.accuracy.model_run import ModelRunOptions, stats_fields
    from rfbench.accuracy.workers import predict_scaled
    from rfbench.commands.options import precision_value
    from rfbench.decoder.finite import NonFiniteOutputError
    from rfbench.errors import Interrupted, RfbenchError
    from rfbench.models.spec import parse_output_names
    from rfbench.wider.ground_truth import find_images_dir

    options = ModelRunOptions(
        model=args.model, runtime=args.runtime, device=args.device,
        precision=precision_value(args.precision), threads=args.threads, streams=args.streams,
        input_size=_input_size(args), tta=_tta_plan(args),
        layout=args.layout, output_names=parse_output_names(args.output_name),
        channel_order=args.channel_order, mean=args.mean, scale=args.scale,
        preset=args.preset, resize=args.resize, strict=args.strict,
        image_cache=Path(args.image_cache) if args.image_cache else None, image_cache_mb=args.image_cache_mb,
    )
    images_dir = find_images_dir(args.data_root, args.images_dir)
    try:
        fields, stats, pred_dir = predict_scaled(args, options, gt.image_ids, images_dir, out_dir, args.resume)
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

