"""``rfbench eval``: WIDER FACE accuracy of a prediction folder (or of a model, see --model)."""

from __future__ import annotations

import argparse
import logging
import time

log = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = "datasets/wider"

DESCRIPTION = """\
Score face detections on WIDER FACE val with two protocols:
  wider  the official eval_tools protocol: Easy / Medium / Hard AP (needs the
         wider_{easy,medium,hard}_val.mat lists from eval_tools)
  omz    the OpenVINO model card's protocol: AP on faces of 64 px and up
         (the model card's "AP 87.30%")
Predictions are read from a folder in the WIDER submission format
(<event>/<name>.txt: image name, box count, then 'x y w h score' lines).
"""

EPILOG = """\
examples:
  rfbench eval --dataset wider --data-root datasets/wider --predictions my_preds/
  rfbench eval --dataset wider --predictions my_preds/ --protocol omz --out reports/run1

The data root layout is described in datasets/README.md. Results (results.json,
results.csv) go to --out, by default a new folder under reports/.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="WIDER FACE AP (official Easy/Medium/Hard and the model card's 64 px protocol)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=("wider",), default="wider", help="dataset (default: wider)")
    data.add_argument("--data-root", default=DEFAULT_DATA_ROOT, metavar="DIR",
                      help=f"WIDER FACE root (default: {DEFAULT_DATA_ROOT})")
    data.add_argument("--gt-text", metavar="FILE",
                      help="GT text (default: DIR/wider_face_split/wider_face_val_bbx_gt.txt); "
                      "a text listing a subset of val evaluates that subset")
    data.add_argument("--gt-mat-dir", metavar="DIR",
                      help="folder with wider_{easy,medium,hard}_val.mat "
                      "(default: DIR/eval_tools/ground_truth or DIR/wider_face_split)")
    parser.add_argument("--predictions", metavar="PRED_DIR", required=True,
                        help="folder of prediction files <event>/<name>.txt to score")
    parser.add_argument("--protocol", choices=("all", "wider", "omz"), default="all",
                        help="which protocol(s) to run (default: all)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: a new folder under reports/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rfbench import scoring
    from rfbench.predictions import read_predictions
    from rfbench.results import base_record, new_output_dir, write_results
    from rfbench.wider import load_ground_truth

    protocols = scoring.protocols_for(args.protocol)
    wall_start = time.perf_counter()
    gt = load_ground_truth(args.data_root, gt_text=args.gt_text, mat_dir=args.gt_mat_dir,
                           require_settings="wider" in protocols)
    predictions, missing = read_predictions(args.predictions, gt.image_ids)
    results, eval_s = scoring.score(gt, predictions, protocols)
    wall_s = time.perf_counter() - wall_start
    out_dir = new_output_dir(args.out, "eval")
    record = base_record("eval")
    record.update({
        "dataset": {"name": "wider", "split": "val", "data_root": str(args.data_root), **gt.source,
                    "num_images_evaluated": gt.num_images},
        "predictions": {"source": "files", "dir": str(args.predictions),
                        "num_images_without_file": len(missing)},
        **scoring.accuracy_fields(results),
        "timings": {"evaluator_s": eval_s, "wall_s": wall_s},
    })
    context = {"rfbench_version": record["rfbench_version"], "predictions": str(args.predictions),
               "num_images_evaluated": gt.num_images}
    write_results(out_dir, record, scoring.csv_rows(results, context))
    print(scoring.format_table(results))
    print(f"\n{gt.num_images} images evaluated; results in {out_dir}")
    return 0
