"""``rfbench import``: a published RetinaFace checkpoint (insightface MXNet, Pytorch_Retinaface
``.pth``) as an ONNX or OpenVINO IR model, with neither framework installed."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from rfbench.commands.options import INPUT_SIZE_OPTION, parse_size

log = logging.getLogger(__name__)

DESCRIPTION = """\
Turn a published RetinaFace checkpoint into a model file rfbench (and OpenVINO or ONNX Runtime)
runs, without MXNet or PyTorch:

  insightface MXNet   NAME-symbol.json + NAME-EPOCH.params (OMZ retinaface-resnet50's original
                      R50-symbol.json + R50-0000.params, or mnet.25): layout A, the nine
                      face_rpn_* heads; input 'data' RGB 0..255, no mean (insightface's own
                      pre-processing)
  Pytorch_Retinaface  a .pth state dict (OMZ retinaface-resnet50-pytorch's Resnet50_Final.pth,
                      or mobilenet0.25_Final.pth): layout B, outputs loc/conf/landmarks; input
                      'input0' BGR minus (104, 117, 123)

The format is detected from the file's bytes and printed. The model declares its pixel format
in its metadata, and every rfbench command feeds it that (an option contradicting it is
refused). Weights are kept f32 (an IR too: fp16 compression moves outputs by 0.03).

eval, latency, profile, quantize and sweep also take a checkpoint directly as --model: it is
imported once into the user cache (keyed by the files' sha256) and reused.

examples:
  rfbench import R50-0000.params --out r50.xml
  rfbench import weights.params --symbol R50-symbol.json --out r50.onnx --input-size 640x640
  rfbench import Resnet50_Final.pth --out r50-pytorch.onnx
  rfbench eval --dataset wider --data-root datasets/wider --model R50-0000.params
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="turn an insightface MXNet or Pytorch_Retinaface checkpoint into .onnx/.xml",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="NAME-EPOCH.params or NAME-symbol.json (MXNet), or a .pth file")
    parser.add_argument("--symbol", metavar="PATH",
                        help="the MXNet NAME-symbol.json, when it is not beside the .params under "
                             "MXNet's naming")
    parser.add_argument("--out", metavar="M.onnx|M.xml", required=True,
                        help="the model to write: .onnx, or .xml for an OpenVINO IR (its .bin "
                             "beside it)")
    parser.add_argument(INPUT_SIZE_OPTION, metavar="WxH|dynamic", dest="input_size",
                        default="dynamic",
                        help="fix the network input to WIDTHxHEIGHT, e.g. 640x640 (OMZ's size), "
                             "or leave height and width open (default: dynamic; rfbench then "
                             "runs it at 640x640 unless told otherwise)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Detect, convert, write; prints the detected format, what was built and the file(s)."""
    from rfbench.models.importer.convert import check_output_path, convert, write_model
    from rfbench.models.importer.formats import find_checkpoint

    input_hw = None if args.input_size.lower() == "dynamic" else parse_size(args.input_size)
    out = check_output_path(Path(args.out), args.force)
    checkpoint = find_checkpoint(args.checkpoint, args.symbol)
    print(checkpoint.describe())
    start = time.perf_counter()
    imported = convert(checkpoint, input_hw)
    write_model(imported, out)
    took = time.perf_counter() - start
    size = "dynamic HxW" if input_hw is None else f"{input_hw[1]}x{input_hw[0]}"
    print(f"  read: {imported.summary}")
    print(f"  model: input '{imported.input_name}' 1x3 {size}, {imported.pixels.describe()} "
          f"(declared in the model); layout {imported.layout}: {', '.join(imported.output_names)}")
    print(f"wrote {out}" + (f" and {out.with_suffix('.bin').name}" if out.suffix == ".xml" else "")
          + f" in {took:.1f} s")
    return 0
