"""The official FDDB ``evaluate`` program's ROC curves (spec: ``fddb.md``), reproduced.

Per image, for each distinct detection score ``t`` (ascending), the detections scoring ``>= t``
are matched to the faces from scratch: faces and detections whose overlaps with the other side
all are 0 are left out, and the assignment maximising the sum of overlap ratios is taken
(Hungarian; here :func:`scipy.optimize.linear_sum_assignment` on the overlapping detections;
all-zero rows and columns change no optimum). Matched pairs with overlap > 0 count: ``TPcont`` is the sum of their overlaps, ``TPdisc`` the number above 0.5 (strictly),
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
from rfbench.fddb.regions import EllipseMasks, image_size, rect_corners

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
    """The points of one image from its (faces, detections) overlap matrix and the scores.

    The matching at ``t`` depends only on the overlapping detections scoring ``>= t``, so it is
    computed once per score level of those (best first: each level's set is a prefix of them);
    every threshold then takes the matching of the overlapping detections that reach it, and
    ``FP`` = the detections reaching it - TPdisc.
    """
    from scipy.optimize import linear_sum_assignment

    faces = overlaps.shape[0]
    if len(scores) == 0:
        zero = np.zeros(1)
        return ImagePoints(faces, np.array([DBL_MAX]), zero, zero, zero)
    thresholds, inverse = np.unique(scores, return_inverse=True)
    valid = np.bincount(inverse)[::-1].cumsum()[::-1].astype(np.float64)  # scores >= each
    tp_disc = np.zeros(len(thresholds))
    tp_cont = np.zeros(len(thresholds))
    relevant = np.flatnonzero(overlaps.any(axis=0)) if faces else np.zeros(0, np.int64)
    if len(relevant):
        order = relevant[np.argsort(-scores[relevant], kind="stable")]
        sub = overlaps[:, order]
        level_of = inverse[order]  # threshold index of each overlapping detection, descending
        disc = cont = 0.0
        for n in range(1, len(order) + 1):
            if n < len(order) and level_of[n] == level_of[n - 1]:
                continue  # a tie: the level is complete only with all its detections
            part = sub[:, :n]
            rows, cols = linear_sum_assignment(part, maximize=True)
            matched = part[rows, cols]
            disc, cont = float(np.count_nonzero(matched > 0.5)), float(matched.sum())
            low = level_of[n] + 1 if n < len(order) else 0  # thresholds this set serves
            tp_disc[low:level_of[n - 1] + 1] = disc
            tp_cont[low:level_of[n - 1] + 1] = cont
    return ImagePoints(faces, thresholds, tp_disc, tp_cont, valid - tp_disc)


def merge(points: list[ImagePoints]) -> Roc:
    """The program's ``Results::merge`` over images: see the module docstring. Each image's
    point k covers the merged thresholds in (its threshold k-1, its threshold k]: a difference
    array over the merged thresholds, summed once."""
    faces = sum(p.faces for p in points)
    if not points:
        empty = np.zeros(0)
        return Roc(0, empty, empty, empty, empty)
    own = np.concatenate([p.thresholds for p in points])
    values = np.column_stack([np.concatenate([p.tp_disc for p in points]),
                              np.concatenate([p.tp_cont for p in points]),
                              np.concatenate([p.fp for p in points])])
    merged = np.unique(own)
    pos = np.searchsorted(merged, own)
    first = np.zeros(len(own), bool)
    first[np.cumsum([0] + [len(p.thresholds) for p in points[:-1]])] = True
    start = np.where(first, 0, np.concatenate(([0], pos[:-1] + 1)))
    diff = np.zeros((len(merged) + 1, 3))
    np.add.at(diff, start, values)
    np.add.at(diff, pos + 1, -values)
    total = np.cumsum(diff, axis=0)[: len(merged)].T
    return Roc(faces, merged, total[0], total[1], total[2])


def image_sizes(gt: FddbGroundTruth) -> dict[str, tuple[int, int]]:
    """(height, width) of every image, from its file's header (the program loads each image
    for its size alone)."""
    return {name: image_size(gt.image_path(name)) for name in gt.names}


def evaluate(gt: FddbGroundTruth, detections: dict[str, np.ndarray],
             sizes: dict[str, tuple[int, int]] | None = None) -> Roc:
    """The ROC of ``detections`` (name -> (m, 5) ``x y w h score``) over ``gt``'s images;
    ``sizes`` from :func:`image_sizes` (read here when None)."""
    sizes = image_sizes(gt) if sizes is None else sizes
    empty = np.zeros((0, 5))
    dets = [detections.get(name, empty) for name in gt.names]
    stacked = np.concatenate(dets) if dets else empty
    corners = np.split(rect_corners(stacked[:, :4]), np.cumsum([len(d) for d in dets])[:-1])
    points = []
    for name, image_dets, image_corners in zip(gt.names, dets, corners):
        masks = EllipseMasks(gt.ellipses[name], *sizes[name])
        overlaps = (masks.overlaps(image_dets[:, :4], image_corners) if len(image_dets)
                    else np.zeros((len(masks.areas), 0)))
        points.append(image_points(overlaps, image_dets[:, 4]))
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
