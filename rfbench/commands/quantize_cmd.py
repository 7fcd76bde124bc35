"""``rfbench quantize``: post-training INT8 of a RetinaFace model, calibrated on WIDER images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rfbench.commands.eval_wider import DATA_ROOT
from rfbench.commands.options import floats3, positive_int

if TYPE_CHECKING:
    from rfbench.results.quantize_record import QuantizeRecord

DESCRIPTION = """\
Quantize a model to INT8 after training, calibrated on images of a WIDER data root that go
through rfbench's own OMZ-exact pre-processing (what 'rfbench eval' feeds the model).
  --runtime openvino     NNCF (nncf.quantize); writes an OpenVINO IR (.xml + .bin)
  --runtime onnxruntime  ONNX Runtime's quantize_static (QDQ, per-channel); writes .onnx
Quantize for the runtime that will run the model: each runtime is fast on its own format.

The calibration images are drawn with --seed from the images the GT text lists, avoiding
the images an eval with --limit N (--eval-limit N) scores when enough others are left.
Beside the model: <name>.quantize.json (source sha256, tool and version, preset, the
calibration image ids, seed, wall time); results.json in --out says the same.
"""

EPILOG = """\
examples:
  rfbench quantize --model r50.onnx --data-root datasets/wider --out reports/r50-int8
  rfbench quantize --model m.onnx --runtime onnxruntime --calibration-method entropy
  rfbench quantize --model m.onnx --max-ap-drop 1.0 --eval-limit 500   # accuracy-aware
then:  rfbench eval --model reports/r50-int8/r50-int8.xml;  rfbench latency --model ...
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quantize", help="INT8 post-training quantization (NNCF for OpenVINO, ORT quantize_static)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, metavar="PATH",
                        help="float model (.onnx, or OpenVINO .xml for --runtime openvino)")
    parser.add_argument("--runtime", choices=("openvino", "onnxruntime"), default="openvino",
                        help="the runtime the INT8 model is for (default: openvino)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: a new folder under reports/)")
    _add_calibration_options(parser.add_argument_group("calibration"))
    _add_quantizer_options(parser.add_argument_group("quantizer"))
    _add_input_options(parser.add_argument_group("model input (as for rfbench eval)"))
    parser.set_defaults(func=run)


def _add_calibration_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--data-root", type=Path, default=Path(DATA_ROOT), metavar="DIR",
                       help=f"WIDER FACE root (default: {DATA_ROOT})")
    group.add_argument("--gt-text", type=Path, metavar="FILE",
                       help="GT text listing the images (default: as rfbench eval finds it)")
    group.add_argument("--images-dir", type=Path, metavar="DIR",
                       help="images folder (default: DIR/WIDER_val/images)")
    group.add_argument("--subset-size", type=positive_int, default=300, metavar="N",
                       help="calibration images (default: 300, NNCF's default; every image of a "
                       "smaller data root, with a warning)")
    group.add_argument("--seed", type=int, default=0, help="seed of the image draw (default: 0)")
    group.add_argument("--eval-limit", type=positive_int, metavar="N",
                       help="the --limit of the eval the model is for: calibration avoids those "
                       "first N images (default: eval scores every image)")


def _add_quantizer_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--preset", choices=("performance", "mixed"),
                       help="NNCF preset (openvino; default: NNCF's, performance)")
    group.add_argument("--calibration-method", choices=("minmax", "entropy", "percentile"),
                       default="minmax", help="ONNX Runtime calibration (default: minmax)")
    group.add_argument("--max-ap-drop", type=float, metavar="POINTS",
                       help="accuracy-aware (openvino): keep layers in float until the 64-px omz "
                       "AP on the eval images (--eval-limit) drops by at most POINTS")
    group.add_argument("--postprocess", choices=("omz", "insightface"), default="omz",
                       help="eval preset --max-ap-drop scores with (default: omz)")


def _add_input_options(group: argparse._ArgumentGroup) -> None:
    from rfbench.commands.options import add_input_size_option

    add_input_size_option(group)
    group.add_argument("--resize", choices=("stretch", "letterbox"), default="stretch",
                       help="as eval's --resize (default: stretch, like OMZ)")
    group.add_argument("--layout", choices=("A", "B"), help="force the output layout")
    group.add_argument("--channel-order", choices=("BGR", "RGB"), help="override the channel order")
    group.add_argument("--mean", type=floats3, metavar="B,G,R", help="override the per-channel mean")
    group.add_argument("--scale", type=floats3, metavar="B,G,R", help="override the per-channel scale")


def run(args: argparse.Namespace) -> int:
    from rfbench.commands.options import input_hw, model_file
    from rfbench.quantize.run import QuantizeOptions, run_quantize

    options = QuantizeOptions(
        model=model_file(args), data_root=args.data_root, out=args.out, runtime=args.runtime,
        subset_size=args.subset_size, seed=args.seed, eval_limit=args.eval_limit,
        gt_text=args.gt_text, images_dir=args.images_dir, preset=args.preset,
        calibration_method=args.calibration_method, max_ap_drop=args.max_ap_drop,
        input_hw=input_hw(args), layout=args.layout,
        channel_order=args.channel_order, mean=args.mean, scale=args.scale, resize=args.resize,
        postprocess=args.postprocess,
    )
    result = run_quantize(options)
    print(summary_text(result.record))
    print(f"\nINT8 model: {result.model_path}; records in {result.out_dir}")
    return 0


def summary_text(record: QuantizeRecord) -> str:
    """A few lines: tool, calibration, INT8 share, accuracy control, time."""
    q, cal, prec = record.quantizer, record.calibration, record.precision
    lines = [
        f"quantizer   {q.tool} {q.tool_version} ({q.function}) for {q.target_runtime}",
        f"calibration {cal.num_images} image(s)"
        + (f" (--subset-size {cal.requested_images}: all the data root has)"
           if cal.requested_images is not None and cal.requested_images > cal.num_images else "")
        + f", seed {cal.seed}, "
        + ("disjoint from the eval images" if cal.disjoint_from_eval
           else f"{cal.overlap_with_eval} also scored by eval"),
        f"int8 ops    {prec.compute_ops_int8} of {prec.compute_ops} compute operations",
    ]
    acc = record.accuracy_control
    if acc is not None:
        lines.append(
            f"omz 64px AP {_percent(acc.ap_float)} float -> {_percent(acc.ap_quantized)} int8 "
            f"(drop {_points(acc.ap_drop_points)} points, limit {acc.max_ap_drop_points:g}; "
            f"{acc.validation_images} images, {acc.validation_faces} faces); "
            f"{len(acc.layers_kept_in_float)} layer(s) kept in float")
    t = record.timings
    lines.append(f"time        {t.wall_s:.1f} s wall ({t.quantize_s:.1f} s in the quantizer)")
    return "\n".join(lines)


def _percent(ap: float | None) -> str:
    return "-" if ap is None else f"{ap * 100:.2f}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
