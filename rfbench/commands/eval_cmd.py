"""``rfbench eval``: the accuracy of a model, or of prediction files, on a dataset of
:data:`DATASETS` (WIDER FACE AP, FDDB ROC): the parser, the common checks, the dispatch."""

from __future__ import annotations

import argparse
import importlib
import logging
from typing import Any

from rfbench.commands.eval_model import add_scale_out_arguments
from rfbench.commands.options import (
    RegisteredRuntimes,
    add_input_size_option,
    add_precision_option,
    add_results_options,
    floats3,
    positive_int,
)
from rfbench.decoder import PRESET_NAMES
from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

#: ``--dataset`` NAME -> the module that evaluates it: ``DATA_ROOT`` (the default --data-root),
#: ``OPTIONS`` (the flags only it takes, each None unless given), ``add_arguments(group)`` and
#: ``run(args) -> exit status``. A new dataset is one module and one line here.
DATASETS = {"wider": "rfbench.commands.eval_wider", "fddb": "rfbench.commands.eval_fddb"}

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

--dataset fddb: FDDB's folds (--folds) scored as the official evaluate program
scores them (discrete and continuous ROC, TPR at --fp-at false positives), of a
model run over originalPics/ (fold-NN-out.txt written as it goes) or of FDDB
detection files (--predictions: one file or a folder of fold-NN-out.txt).
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
  biubug6-fddb Pytorch_Retinaface test_fddb.py: biubug6 at each image's own size, lines
               written as its FDDB_dets.txt (int x1, y1 and int(x2 - x1 + 1), ...)

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
  rfbench eval --dataset fddb --model mobilenet0.25_Final.pth --preset biubug6-fddb

The data root layout is described in datasets/README.md. Results (results.json,
results.csv, and with --model the predictions/) go to --out, by default a new folder
under reports/. stdout: a header saying what was measured (model and sha256, runtime,
device, effective precision, input, layout, preset recipe, protocols, images), then the AP
table; with --json only the results record.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="accuracy of a model or of prediction files: WIDER FACE AP (official and "
        "model-card protocols), FDDB ROC",
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
    add_results_options(parser)
    parser.set_defaults(func=run)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=tuple(DATASETS), default="wider",
                      help="dataset (default: wider); fddb: FDDB's folds under --data-root, scored "
                      "with the official evaluate program's ROC")
    data.add_argument("--data-root", metavar="DIR",
                      help="the dataset's root (default: " + ", ".join(
                          f"{name}: {_dataset(name).DATA_ROOT}" for name in DATASETS) + ")")
    data.add_argument("--images-dir", metavar="DIR",
                      help="images folder (default: DIR/WIDER_val/images; fddb: DIR/originalPics)")
    for name in DATASETS:
        _dataset(name).add_arguments(data)


def _dataset(name: str) -> Any:
    """The module of ``--dataset name`` (see :data:`DATASETS`)."""
    return importlib.import_module(DATASETS[name])


def refuse_other_datasets_options(args: argparse.Namespace) -> None:
    """RfbenchError for an option (given, i.e. not None) of a dataset other than ``--dataset``."""
    for name in (other for other in DATASETS if other != args.dataset):
        for flag in _dataset(name).OPTIONS:
            if getattr(args, flag.lstrip("-").replace("-", "_"), None) is not None:
                raise RfbenchError(f"{flag} applies to --dataset {name}, not {args.dataset}")


def run(args: argparse.Namespace) -> int:
    """``rfbench eval``: the common checks, then the chosen dataset's ``run``."""
    refuse_other_datasets_options(args)
    if args.resume and not args.out:
        raise RfbenchError("--resume needs --out: the folder of the interrupted run")
    if args.resume and args.predictions:
        raise RfbenchError("--resume continues an interrupted --model run; "
                           "--predictions are always scored afresh: drop --resume")
    dataset = _dataset(args.dataset)
    if args.data_root is None:
        args.data_root = dataset.DATA_ROOT
    return int(dataset.run(args))


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model run (with --model)")
    model.add_argument("--runtime", choices=RegisteredRuntimes(), default=None, metavar="NAME",
                       help="runtime: %(choices)s (default: openvino); 'rfbench runtimes' lists what is installed")
    model.add_argument("--device", default="CPU", help="device (OpenVINO: CPU, GPU, AUTO, ...; ORT: CPU or a provider)")
    add_precision_option(model)
    model.add_argument("--threads", type=positive_int, metavar="N", help="inference threads (default: runtime's)")
    model.add_argument("--streams", type=positive_int, metavar="N",
                       help="OpenVINO streams: N images in flight in this process, each through every stage in "
                            "a thread of its own (a small model: --threads CORES --streams CORES; default: 1)")
    model.add_argument("--preset", choices=PRESET_NAMES, default="omz",
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
    model.add_argument("--feed", choices=("u8", "f32"), default="u8",
                       help="u8 (default): OpenVINO on CPU at one stretched size is fed the resized "
                       "uint8 image and converts it itself (the same outputs, bit for bit; faster); "
                       "f32: always the float32 tensor rfbench builds (other runtimes and per-image "
                       "sizes always get it)")
    model.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    model.add_argument("--strict", action="store_true", help="stop at an unreadable image instead of skipping it")
    model.add_argument("--image-cache", metavar="DIR",
                       help="keep the resized images in DIR and reuse them in later runs at the same "
                       "input size (fixed sizes; rfbench sweep passes its own)")
    model.add_argument("--image-cache-mb", type=positive_int, default=4096, metavar="MB",
                       help="bound of --image-cache: add no image beyond MB megabytes (default 4096)")


