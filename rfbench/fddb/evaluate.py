"""The official FDDB ``evaluate`` program's ROC curves (spec: ``fddb.md``), reproduced.

Per image, for each distinct detection score ``t`` (ascending), the detections scoring ``>= t``
are matched to the faces from scratch: faces and detections whose overlaps with the other side
all are 0 are left out, and the assignment maximising the sum of overlap ratios is taken
(Hungarian; here :func:`scipy.optimize.linear_sum_assignment`). Matched pairs with overlap > 0
count: ``TPcont`` is the sum of their overlaps, ``TPdisc`` the number above 0.5 (strictly),
and ``FP`` = detections scoring ``>= t`` minus ``TPdisc``. The matching is re-run only when a
detection that overlaps some face joins the set (the others cannot change it). An image
without detections has one point at ``DBL_MAX`` with nothing found.

Across images the thresholds are the union of all scores (plus ``DBL_MAX`` when an image had no
detection); at each, every image contributes its point at the smallest of its own thresholds
``>= t``, or nothing found when it has none. Points come out in ascending threshold order, as
the program writes ``DiscROC.txt`` (``TPdisc/N FP threshold``) and ``ContROC.txt``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from rfbench.fddb.folds import FddbGroundTruth
from rfbench.fddb.regions import EllipseMasks, image_size

DBL_MAX = sys.float_info.max


@dataclass(frozen=True)
class ImagePoints:
    """One image's points: ``thresholds`` ascending and, at each, ``tp_disc``, ``tp_cont``, ``fp``."""

    faces: int
    thresholds: np.ndarray
    tp_disc: np.ndarray
    tp_cont: np.ndarray
    fp: np.ndarray


@dataclass(frozen=True)
class Roc:
    """The merged curves: ``thresholds`` ascending, the discrete and continuous true positive
    counts and the false positives at each; ``faces`` = N."""

    faces: int
    thresholds: np.ndarray
    tp_disc: np.ndarray
    tp_cont: np.ndarray
    fp: np.ndarray

    @property
    def tpr_disc(self) -> np.ndarray:
        return self.tp_disc / self.faces if self.faces else np.zeros_like(self.tp_cont)

    @property
    def tpr_cont(self) -> np.ndarray:
        return self.tp_cont / self.faces if self.faces else np.zeros_like(self.tp_cont)

    def disc_text(self) -> str:
        """``DiscROC.txt`` as the program prints it (6 significant digits)."""
        return "".join(f"{_g(t)} {_g(f)} {_g(s)}\n"
                       for t, f, s in zip(self.tpr_disc, self.fp, self.thresholds))

    def cont_text(self) -> str:
        """``ContROC.txt``."""
        return "".join(f"{_g(t)} {_g(f)}\n" for t, f in zip(self.tpr_cont, self.fp))


def _g(value: float) -> str:
    """C++ ``ostream << double`` at the default precision: ``%g``."""
    return f"{float(value):g}"


def image_points(overlaps: np.ndarray, scores: np.ndarray) -> ImagePoints:
    """The points of one image from its (faces, detections) overlap matrix and the scores."""
    from scipy.optimize import linear_sum_assignment

    faces = overlaps.shape[0]
    if len(scores) == 0:
        zero = np.zeros(1)
        return ImagePoints(faces, np.array([DBL_MAX]), zero, zero, zero)
    thresholds = np.unique(scores)
    tp_disc = np.zeros(len(thresholds))
    tp_cont = np.zeros(len(thresholds))
    fp = np.zeros(len(thresholds))
    relevant = overlaps.sum(axis=0) > 0
    last_key: bytes | None = None
    disc = cont = 0.0
    for k in range(len(thresholds) - 1, -1, -1):  # the valid set grows as t falls
        valid = scores >= thresholds[k]
        columns = np.flatnonzero(valid & relevant)
        key = columns.tobytes()
        if key != last_key:
            disc, cont = _match(overlaps[:, columns], linear_sum_assignment)
            last_key = key
        tp_disc[k], tp_cont[k], fp[k] = disc, cont, valid.sum() - disc
    return ImagePoints(faces, thresholds, tp_disc, tp_cont, fp)


def _match(sub: np.ndarray, assign) -> tuple[float, float]:
    """(TPdisc, TPcont) of the overlap-sum-maximising assignment on ``sub``."""
    if sub.size == 0:
        return 0.0, 0.0
    rows = np.flatnonzero(sub.sum(axis=1) > 0)
    if len(rows) == 0:
        return 0.0, 0.0
    sub = sub[rows]
    r, c = assign(sub, maximize=True)
    matched = sub[r, c]
    matched = matched[matched > 0]
    return float(np.count_nonzero(matched > 0.5)), float(matched.sum())


def merge(points: list[ImagePoints]) -> Roc:
    """The program's ``Results::merge`` over images: see the module docstring."""
    faces = sum(p.faces for p in points)
    if not points:
        empty = np.zeros(0)
        return Roc(0, empty, empty, empty, empty)
    all_thresholds = np.unique(np.concatenate([p.thresholds for p in points]))
    size = len(all_thresholds)
    diff = np.zeros((size + 1, 3))
    for p in points:
        pos = np.searchsorted(all_thresholds, p.thresholds)
        start = np.concatenate(([0], pos[:-1] + 1))
        values = np.column_stack([p.tp_disc, p.tp_cont, p.fp])
        np.add.at(diff, start, values)
        np.add.at(diff, pos + 1, -values)
    total = np.cumsum(diff, axis=0)[:size].T
    return Roc(faces, all_thresholds, total[0], total[1], total[2])


def evaluate(gt: FddbGroundTruth, detections: dict[str, np.ndarray]) -> Roc:
    """The ROC of ``detections`` (name -> (m, 5) ``x y w h score``) over ``gt``'s images."""
    points = []
    for name in gt.names:
        dets = detections.get(name, np.zeros((0, 5)))
        height, width = image_size(gt.image_path(name))
        masks = EllipseMasks(gt.ellipses[name], height, width)
        overlaps = masks.overlaps(dets[:, :4]) if len(dets) else np.zeros((len(masks.areas), 0))
        points.append(image_points(overlaps, dets[:, 4]))
    return merge(points)


def tpr_at_fp(roc: Roc, fp: float, continuous: bool = False) -> tuple[float, float]:
    """(step, interpolated) TPR at ``fp`` false positives: the point with the largest FP <=
    ``fp`` (the highest TPR among ties), and the linear interpolation with the next point."""
    tpr = roc.tpr_cont if continuous else roc.tpr_disc
    if len(tpr) == 0:
        return 0.0, 0.0
    below = roc.fp <= fp
    if not below.any():
        return 0.0, 0.0
    best_fp = roc.fp[below].max()
    step = float(tpr[below & (roc.fp == best_fp)].max())
    above = roc.fp > fp
    if not above.any():
        return step, step
    next_fp = roc.fp[above].min()
    next_tpr = float(tpr[above & (roc.fp == next_fp)].min())
    share = (fp - best_fp) / (next_fp - best_fp)
    return step, step + share * (next_tpr - step)
