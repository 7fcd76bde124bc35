"""``rfbench eval --dataset wider``: WIDER FACE val AP of a model or of prediction files, with the
official Easy/Medium/Hard protocol and the model card's 64-px protocol (:mod:`rfbench.evaluation`).

Registered in :data:`rfbench.commands.eval_cmd.DATASETS`; the common options (``--model`` and the
model run, ``--out``, ``--json``) are ``eval``'s own.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from rfbench.commands.eval_model import output_dir, print_record, resolve_model, run_model
from rfbench.commands.options import positive_int

log = logging.getLogger(__name__)

DATA_ROOT = "datasets/wider"
#: The flags only this dataset takes (None unless given).
OPTIONS = ("--protocol", "--gt-text", "--gt-mat-dir", "--limit")


def add_arguments(data: argparse._ArgumentGroup) -> None:
    """WIDER's own options (each None unless given: ``eval`` refuses them for other datasets)."""
    data.add_argument("--protocol", choices=("all", "wider", "omz"), default=None,
                      help="wider: which protocol(s) to run (default: all)")
    data.add_argument("--gt-text", metavar="FILE",
                      help="wider: GT text (default: DIR/wider_face_split/wider_face_val_bbx_gt.txt); "
                      "a text listing a subset of val evaluates that subset")
    data.add_argument("--gt-mat-dir", metavar="DIR",
                      help="wider: folder with wider_{easy,medium,hard}_val.mat "
                      "(default: DIR/eval_tools/ground_truth or DIR/wider_face_split)")
    data.add_argument("--limit", type=positive_int, metavar="N",
                      help="wider: evaluate only the first N images of the GT list")


def run(args: argparse.Namespace) -> int:
    """Load the GT, run the model or read the predictions, score, write results and report."""
    from rfbench.evaluation import scoring

    protocols = scoring.protocols_for(args.protocol or "all")
    wall_start = time.perf_counter()
    resolve_model(args)
    gt, protocols, skipped = _ground_truth(args, protocols)
    with output_dir(args) as out_dir:
        record, results, report = _evaluate(args, gt, protocols, out_dir, wall_start)
    return _print_results(args, record, results, skipped, gt, out_dir, report)


def _ground_truth(args: argparse.Namespace, protocols: tuple[str, ...]) -> tuple[Any, tuple[str, ...], str | None]:
    """(GT, the protocols it can score, a note on those skipped or None); ``--limit`` applied."""
    from rfbench.evaluation import scoring
    from rfbench.wider.ground_truth import load_ground_truth, subset

    gt = load_ground_truth(args.data_root, gt_text=args.gt_text, mat_dir=args.gt_mat_dir,
                           require_settings=protocols == ("wider",) or (
                               args.gt_mat_dir is not None and "wider" in protocols))
    protocols, skipped = scoring.protocols_available(protocols, gt)
    if args.limit:
        gt = subset(gt, args.limit)
    return gt, protocols, skipped


def _evaluate(args: argparse.Namespace, gt: Any, protocols: tuple[str, ...], out_dir: Any,
              wall_start: float) -> tuple[Any, Any, Any]:
    """Predict (``--model``) or take ``--predictions``, score, write results.json/csv and the
    report; returns (the eval record, the scoring results, the report's path)."""
    from rfbench.evaluation import scoring
    from rfbench.report import ScoredData, write_report
    from rfbench.results.eval_record import EvalRecord
    from rfbench.results.record import record_header
    from rfbench.results.writer import write_results
    from rfbench.wider.predictions import read_prediction_folder

    header = record_header("eval")
    if args.model:
        from rfbench.wider.ground_truth import find_images_dir

        pred_dir, run_fields = run_model(args, gt.image_ids, find_images_dir(args.data_root, args.images_dir),
                                         out_dir)
    else:
        pred_dir = args.predictions
        run_fields = {"predictions": {"source": "files", "dir": str(pred_dir)}}
    reading = read_prediction_folder(pred_dir, gt.image_ids)
    results, eval_s, matches = scoring.score_with_matches(gt, reading.predictions, protocols)
    record = EvalRecord.build(
        header, **run_fields,
        dataset={"name": "wider", "split": "val", "data_root": str(args.data_root), **gt.source,
                 "num_images_evaluated": gt.num_images, **reading.stats_fields()},
        **scoring.accuracy_fields(results),
        timings={"evaluator_s": eval_s, "wall_s": time.perf_counter() - wall_start},
    )
    write_results(out_dir, record)
    report = write_report([out_dir], out_dir / "report.html",
                          scored={out_dir: ScoredData(gt, reading.predictions, matches)})
    return record, results, report


def _print_results(args: argparse.Namespace, record: Any, results: Any, skipped: str | None,
                   gt: Any, out_dir: Any, report: Any) -> int:
    """stdout: the record (``--json``) or the header and the AP table."""
    from rfbench.evaluation import scoring

    if args.json and skipped:
        log.warning("%s", skipped)
    if print_record(args, record):
        return 0
    print(scoring.format_table(results))
    if skipped:
        print(f"note: {skipped}")
    print(f"\n{gt.num_images} images evaluated; results in {out_dir} (open {report.name} for plots)")
    return 0
