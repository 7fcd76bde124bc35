"""``rfbench eval --dataset fddb``: score FDDB detections (``--predictions``) with the official
program's ROC (:mod:`rfbench.fddb`), and write the results.

The results folder gets ``results.json`` (the eval record with its ``fddb`` part),
``results.csv`` (one row per ``--fp-at`` point), ``DiscROC.txt`` and ``ContROC.txt`` exactly as
the official program writes them, ``roc.csv`` (both curves, tidy) and ``report.html``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.fddb.evaluate import Roc, evaluate, image_sizes, tpr_at_fp
from rfbench.fddb.folds import FddbGroundTruth, load_folds, parse_folds

log = logging.getLogger(__name__)

DEFAULT_FP_AT = (1000.0,)
MATCHING = ("per score threshold, the overlap-sum-maximising assignment "
            "(scipy.optimize.linear_sum_assignment) of faces and detections that overlap")
_MAX_POINTS = 4000


def parse_fp_at(text: str | None) -> tuple[float, ...]:
    """``--fp-at 500,1000`` -> (500.0, 1000.0); default 1000 (the papers' operating point)."""
    if text is None:
        return DEFAULT_FP_AT
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise RfbenchError(f"--fp-at {text!r}: expected false-positive counts like 500,1000") from None
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise RfbenchError(f"--fp-at {text!r}: counts must be >= 0")
    return values


def run_fddb(args: argparse.Namespace) -> int:
    """The ``eval --dataset fddb`` command (after the common option checks)."""
    from rfbench.fddb.detections import read_detections
    from rfbench.results.outdir import prepare_output_dir

    if args.model:
        raise RfbenchError("--dataset fddb scores --predictions (FDDB detection files); running "
                           "a model over FDDB is not built yet: run it with your own script")
    fp_at = parse_fp_at(getattr(args, "fp_at", None))
    wall = time.perf_counter()
    gt = load_folds(args.data_root, parse_folds(getattr(args, "folds", None)))
    detections = read_detections(args.predictions, set(gt.names))
    with prepare_output_dir(args.out, "eval", force=args.force, keep=[args.predictions]) as out_dir:
        sizes = image_sizes(gt)
        start = time.perf_counter()
        roc = evaluate(gt, detections, sizes)
        evaluator_s = time.perf_counter() - start
        record = _record(args, gt, detections, roc, fp_at, evaluator_s, time.perf_counter() - wall)
        _write(out_dir, record, roc)
    if args.json:
        from rfbench.results.writer import record_json_text

        print(record_json_text(record), end="")
        return 0
    print(_table(gt, record))
    print(f"\nresults in {out_dir} (DiscROC.txt and ContROC.txt as the official program writes "
          "them; open report.html for the ROC plot)")
    return 0


def _thin(roc: Roc, tpr: np.ndarray) -> dict[str, list[Any]]:
    step = max(1, int(np.ceil(len(roc.fp) / _MAX_POINTS)))
    keep = np.unique(np.concatenate([np.arange(0, len(roc.fp), step), [len(roc.fp) - 1]])) \
        if len(roc.fp) else np.zeros(0, int)
    return {"thresholds": roc.thresholds[keep].tolist(), "tpr": tpr[keep].tolist(),
            "fp": roc.fp[keep].tolist()}


def _record(args: argparse.Namespace, gt: FddbGroundTruth, detections: dict[str, np.ndarray],
            roc: Roc, fp_at: tuple[float, ...], evaluator_s: float, wall_s: float) -> Any:
    from rfbench.results.eval_record import EvalRecord
    from rfbench.results.record import record_header

    points = []
    for fp in fp_at:
        disc, disc_i = tpr_at_fp(roc, fp)
        cont, cont_i = tpr_at_fp(roc, fp, continuous=True)
        points.append({"fp": fp, "tpr_discrete_step": disc, "tpr_discrete_interpolated": disc_i,
                       "tpr_continuous_step": cont, "tpr_continuous_interpolated": cont_i})
    without = sum(1 for n in gt.names if len(detections.get(n, ())) == 0)
    folds = ",".join(str(f) for f in gt.folds)
    return EvalRecord.build(
        record_header("eval"),
        predictions={"source": "files", "dir": str(args.predictions)},
        dataset={"name": "fddb", "split": f"folds {folds}", "data_root": str(args.data_root),
                 "gt_text": str(Path(args.data_root) / "FDDB-folds"),
                 "num_images_evaluated": len(gt.names), "num_images_without_predictions": without},
        protocols={"fddb": "FDDB ROC (official evaluate, rectangles, -f 0)"},
        metrics=[], protocol_params={"fddb": {"overlap": "pixel-count IoU of ellipse and rectangle",
                                               "discrete_match": "overlap > 0.5", "matching": MATCHING}},
        pr_curves={},
        fddb={"folds": list(gt.folds), "num_images": len(gt.names), "num_faces": gt.num_faces,
              "num_detections": int(sum(len(d) for d in detections.values())),
              "num_images_without_detections": without, "num_thresholds": len(roc.thresholds),
              "tpr_at_fp": points, "roc_discrete": _thin(roc, roc.tpr_disc),
              "roc_continuous": _thin(roc, roc.tpr_cont), "matching": MATCHING},
        timings={"evaluator_s": evaluator_s, "wall_s": wall_s},
    )


def _write(out_dir: Path, record: Any, roc: Roc) -> None:
    from rfbench.fileio import atomic_write_text
    from rfbench.report.fddb_roc import write_fddb_report
    from rfbench.results.writer import write_results

    atomic_write_text(out_dir / "DiscROC.txt", roc.disc_text())
    atomic_write_text(out_dir / "ContROC.txt", roc.cont_text())
    rows = ["threshold,tpr_discrete,tpr_continuous,fp"] + [
        f"{t!r},{d!r},{c!r},{f:g}" for t, d, c, f in
        zip(roc.thresholds.tolist(), roc.tpr_disc.tolist(), roc.tpr_cont.tolist(), roc.fp)]
    atomic_write_text(out_dir / "roc.csv", "\n".join(rows) + "\n")
    write_results(out_dir, record)
    write_fddb_report(record, out_dir / "report.html")


def _table(gt: FddbGroundTruth, record: Any) -> str:
    fddb = record.fddb
    lines = [f"dataset:    FDDB folds {','.join(map(str, gt.folds))}: {fddb.num_images} images, "
             f"{fddb.num_faces} faces, {fddb.num_detections:,} detections scored",
             f"evaluation: the official evaluate program's ROC ({fddb.num_thresholds:,} thresholds)",
             "", f"{'':12} {'discrete TPR %':>16} {'continuous TPR %':>18}"]
    for p in fddb.tpr_at_fp:
        lines.append(f"TPR at {p.fp:g} FP".ljust(12) + f" {p.tpr_discrete_step * 100:16.2f}"
                     f" {p.tpr_continuous_step * 100:18.2f}   (interpolated "
                     f"{p.tpr_discrete_interpolated * 100:.2f} / {p.tpr_continuous_interpolated * 100:.2f})")
    return "\n".join(lines)
