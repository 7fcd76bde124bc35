"""``rfbench eval --dataset fddb``: FDDB's ROC, as the official program computes it
(:mod:`rfbench.fddb`), of a model run over the folds' images or of detection files.

A model run (``--model``) writes ``detections/fold-NN-out.txt`` (FDDB's format) beside its
WIDER-style ``predictions/``; ``--predictions`` names one detection file or a folder of them.

The results folder gets ``results.json`` (the eval record with its ``fddb`` part),
``results.csv`` (one row per ``--fp-at`` point), ``DiscROC.txt`` and ``ContROC.txt`` exactly as
the official program writes them, ``roc.csv`` (both curves, tidy) and ``report.html``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.commands.eval_model import output_dir, print_record, resolve_model, run_model
from rfbench.errors import RfbenchError
from rfbench.fddb.evaluate import Roc, evaluate, image_sizes, tpr_at_fp
from rfbench.fddb.folds import IMAGES_DIR, FddbGroundTruth, load_folds, parse_folds

log = logging.getLogger(__name__)

DATA_ROOT = "datasets/fddb"
#: The flags only this dataset takes (None unless given).
OPTIONS = ("--folds", "--fp-at")
DETECTIONS_DIR = "detections"  # fold-NN-out.txt of a model run
LINKS_DIR = "images"  # links to the images, under the ids the model run takes
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


def add_arguments(data: argparse._ArgumentGroup) -> None:
    """FDDB's own options (each None unless given: ``eval`` refuses them for other datasets)."""
    data.add_argument("--folds", metavar="N,M-K", help="fddb: the folds to score (default: 1-10)")
    data.add_argument("--fp-at", metavar="FP,...", help="fddb: TPR read at these false-positive "
                      "counts (default: 1000, the papers' operating point)")


def run(args: argparse.Namespace) -> int:
    """The ``eval --dataset fddb`` command (after ``eval``'s common checks)."""
    from rfbench.fddb.detections import read_detections

    fp_at = parse_fp_at(args.fp_at)
    wall = time.perf_counter()
    resolve_model(args)
    gt = load_folds(args.data_root, parse_folds(args.folds))
    with output_dir(args) as out_dir:
        if args.model:
            run_fields = predict_folds(args, gt, out_dir)
            source = out_dir / DETECTIONS_DIR
        else:
            source = Path(args.predictions)
            run_fields = {"predictions": {"source": "files", "dir": str(source)}}
        detections = read_detections(source, set(gt.names))
        sizes = image_sizes(gt)
        start = time.perf_counter()
        roc = evaluate(gt, detections, sizes)
        evaluator_s = time.perf_counter() - start
        record = _record(args, run_fields, source, gt, detections, roc, fp_at, evaluator_s,
                         time.perf_counter() - wall)
        _write(out_dir, record, roc)
    if print_record(args, record):  # else the header: the model run or the files, the folds
        return 0
    print(_table(gt, record))
    print(f"\nresults in {out_dir} (DiscROC.txt and ContROC.txt as the official program writes "
          "them; open report.html for the ROC plot)")
    return 0


def predict_folds(args: argparse.Namespace, gt: FddbGroundTruth, out_dir: Path) -> dict[str, Any]:
    """Run ``--model`` over the folds' images and write ``out_dir/detections/fold-NN-out.txt``;
    returns the run's fields of the eval record.

    The model run is ``eval``'s own (:func:`rfbench.commands.eval_model.run_model`: workers,
    Ray, ``--resume``, progress), over WIDER-style ids ``<folder>/<name>`` (the name's folders
    joined by ``_``) whose images are links in ``out_dir/images/`` to ``originalPics/``; its
    WIDER prediction files become FDDB lines (:func:`rfbench.fddb.detections.detections_text`;
    preset ``biubug6-fddb``: test_fddb.py's own line format).
    """
    from rfbench.fddb.detections import write_fold_files
    from rfbench.wider.predictions import read_prediction_folder

    ids = link_images(gt, Path(args.images_dir) if args.images_dir else None, out_dir / LINKS_DIR)
    pred_dir, fields = run_model(args, list(ids), out_dir / LINKS_DIR, out_dir)
    reading = read_prediction_folder(pred_dir, list(ids))
    # the files hold float32 values as %.9g: back to those exact values ('{:.10f}' of a float32)
    detections = {name: reading.predictions[i].astype(np.float32).astype(np.float64)
                  for i, name in ids.items() if i in reading.predictions}
    folds: dict[int, list[str]] = {}
    for name in gt.names:
        folds.setdefault(gt.fold_of[name], []).append(name)
    write_fold_files(out_dir / DETECTIONS_DIR, folds, detections,
                     script_format=args.preset == "biubug6-fddb")
    return fields


def link_images(gt: FddbGroundTruth, images_dir: Path | None, links: Path) -> dict[str, str]:
    """``links/<folder>/<name>.jpg`` -> each image of ``gt`` (``images_dir``, default
    ``DATA_ROOT/originalPics``); returns {WIDER-style id: FDDB name}, in fold order.

    RfbenchError naming the first missing image (and how many are missing) before anything runs.
    """
    root = (images_dir or gt.data_root / IMAGES_DIR).resolve()
    ids: dict[str, str] = {}
    missing = [n for n in gt.names if not (root / f"{n}.jpg").is_file()]
    if missing:
        raise RfbenchError(f"{root / (missing[0] + '.jpg')}: image not found ({len(missing)} of the "
                           f"{len(gt.names)} images of folds {','.join(map(str, gt.folds))} are missing)")
    for name in gt.names:
        folder, _, leaf = name.rpartition("/")
        image_id = f"{folder.replace('/', '_') or '_'}/{leaf}"
        if ids.setdefault(image_id, name) != name:
            raise RfbenchError(f"FDDB names {ids[image_id]!r} and {name!r} map to one image id")
        link = links / f"{image_id}.jpg"
        target = root / f"{name}.jpg"
        if not (link.is_symlink() and Path(os.readlink(link)) == target):
            try:
                link.parent.mkdir(parents=True, exist_ok=True)
                link.unlink(missing_ok=True)
                link.symlink_to(target)
            except OSError as exc:  # a file system without symbolic links, a full disk
                raise RfbenchError(f"{link}: cannot link the image {target}: {exc.strerror}") from exc
    return ids


def _thin(roc: Roc, tpr: np.ndarray) -> dict[str, list[Any]]:
    step = max(1, int(np.ceil(len(roc.fp) / _MAX_POINTS)))
    keep = np.unique(np.concatenate([np.arange(0, len(roc.fp), step), [len(roc.fp) - 1]])) \
        if len(roc.fp) else np.zeros(0, int)
    return {"thresholds": roc.thresholds[keep].tolist(), "tpr": tpr[keep].tolist(),
            "fp": roc.fp[keep].tolist()}


def _record(args: argparse.Namespace, run_fields: dict[str, Any], source: Path, gt: FddbGroundTruth,
            detections: dict[str, np.ndarray], roc: Roc, fp_at: tuple[float, ...],
            evaluator_s: float, wall_s: float) -> Any:
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
        record_header("eval"), **run_fields,
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
              "roc_continuous": _thin(roc, roc.tpr_cont), "matching": MATCHING,
              "detection_files": str(source)},
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
