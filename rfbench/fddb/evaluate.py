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
class Roc:
    """The merged curves (or one image's points, :data:`ImagePoints`): ``thresholds``
    ascending, the discrete and continuous true positive counts and the false positives at
    each; ``faces`` = N."""

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


ImagePoints = Roc  # one image's points: the same fields


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
    faces = overlaps.shape[0]
    if len(scores) == 0:
        zero = np.zeros(1)
        return ImagePoints(faces, np.array([DBL_MAX]), zero, zero, zero)
    thresholds, inverse = np.unique(scores, return_inverse=True)
    valid = np.bincount(inverse)[::-1].cumsum()[::-1].astype(np.float64)  # scores >= each
    tp_disc = np.zeros(len(thresholds))
    tp_cont = np.zeros(len(thresholds))
    order, ends = _levels(overlaps, scores)
    if len(order):
        sub = overlaps[:, order]
        level_of = inverse[order]  # threshold index of each overlapping detection, descending
        if np.count_nonzero(sub, axis=0).max() == 1:
            disc_at, cont_at = _separate_faces(sub, ends)
        else:
            disc_at, cont_at = _assignments(sub, ends)
        low = np.append(level_of[ends[1:]] + 1, 0)  # thresholds each prefix serves
        for k, end in enumerate(ends):
            tp_disc[low[k]:level_of[end] + 1] = disc_at[k]
            tp_cont[low[k]:level_of[end] + 1] = cont_at[k]
    return ImagePoints(faces, thresholds, tp_disc, tp_cont, valid - tp_disc)


def _levels(overlaps: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The detections (columns of ``overlaps``) that overlap some face, best score first
    (stable), and the position among them of each score level's last."""
    relevant = np.flatnonzero(overlaps.any(axis=0))
    order = relevant[np.argsort(-scores[relevant], kind="stable")]
    return order, np.flatnonzero(np.append(scores[order][1:] != scores[order][:-1], True))


def _assignments(sub: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(TPdisc, TPcont) of the overlap-sum-maximising assignment of each prefix ``sub[:, :e + 1]``
    (``sub``: (faces, detections) overlaps, best score first; ``ends``: each level's last column)."""
    from scipy.optimize import linear_sum_assignment

    disc, cont = np.zeros(len(ends)), np.zeros(len(ends))
    for k, end in enumerate(ends):
        part = sub[:, :end + 1]
        rows, cols = linear_sum_assignment(part, maximize=True)
        matched = part[rows, cols]
        disc[k], cont[k] = np.count_nonzero(matched > 0.5), matched.sum()
    return disc, cont


def _separate_faces(sub: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_assignments` when every detection overlaps one face only: no two faces compete,
    so the maximum-sum assignment gives each face its best overlap so far (the same sums and
    TPdisc whichever of equal overlaps an assignment takes)."""
    best = np.maximum.accumulate(sub, axis=1)[:, ends]  # (faces, levels)
    return np.count_nonzero(best > 0.5, axis=0).astype(np.float64), best.sum(axis=0)


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
    ``sizes`` from :func:`image_sizes` (read here when None).

    The same curves as :func:`merge` of every image's :func:`image_points`, computed at once:
    each image's TPdisc and TPcont change only where a detection that overlaps a face joins
    (best score first), so those changes are added at their thresholds over all images and the
    curves are their sums from the top threshold down; FP = detections scoring ``>= t`` - TPdisc.
    Images where no detection overlaps two faces take each face's best overlap so far
    (:func:`_separate_faces`, vectorised over all of them); the others are assigned per level.
    """
    sizes = image_sizes(gt) if sizes is None else sizes
    empty = np.zeros((0, 5))
    dets = [np.asarray(detections.get(name, empty), np.float64).reshape(-1, 5) for name in gt.names]
    stacked = np.concatenate(dets) if dets else empty
    scores = stacked[:, 4]
    count_d = np.array([len(d) for d in dets], np.int64)
    thresholds = np.unique(np.concatenate([scores, [DBL_MAX] if (count_d == 0).any() else []]))
    pos = np.searchsorted(thresholds, scores)
    pairs = _Pairs(gt, stacked, count_d, sizes)
    d_disc, d_cont = np.zeros(len(thresholds)), np.zeros(len(thresholds))
    _add_separate(pairs, scores, pos, d_disc, d_cont)
    _add_crowded(pairs, scores, pos, d_disc, d_cont)
    valid = np.bincount(pos, minlength=len(thresholds)).astype(np.float64)
    top_down = (lambda a: np.cumsum(a[::-1])[::-1])  # noqa: E731 - sum over thresholds >= t
    tp_disc = top_down(d_disc)
    return Roc(int(pairs.count_f.sum()), thresholds, tp_disc, top_down(d_cont), top_down(valid) - tp_disc)


class _Pairs:
    """Every (face, detection) pair of every image, image by image, faces major: ``face``,
    ``det`` (global indices), ``image`` and ``ratio`` (overlap) per pair; ``start`` of each
    image's pairs, so ``ratio[start[i]:start[i] + F * D].reshape(F, D)`` is image i's matrix."""

    def __init__(self, gt: FddbGroundTruth, stacked: np.ndarray, count_d: np.ndarray,
                 sizes: dict[str, tuple[int, int]]) -> None:
        ellipses = [gt.ellipses[name] for name in gt.names]
        self.count_f = np.array([len(e) for e in ellipses], np.int64)
        self.count_d = count_d
        hw = np.array([sizes[name] for name in gt.names], np.int64).reshape(-1, 2)
        masks = EllipseMasks(np.concatenate(ellipses).reshape(-1, 5) if ellipses else np.zeros((0, 5)),
                             np.repeat(hw[:, 0], self.count_f), np.repeat(hw[:, 1], self.count_f))
        per = self.count_f * count_d
        self.start_f, self.start_d = np.cumsum(self.count_f) - self.count_f, np.cumsum(count_d) - count_d
        self.start = np.cumsum(per) - per
        self.image = np.repeat(np.arange(len(per)), per)
        within = np.arange(int(per.sum())) - self.start[self.image]
        columns = count_d[self.image]
        self.face = self.start_f[self.image] + within // np.maximum(columns, 1)
        self.det = self.start_d[self.image] + within % np.maximum(columns, 1)
        corners = rect_corners(stacked[:, :4])
        self.ratio = masks.pair_overlaps(self.face, corners[self.det], hw[self.image, 0], hw[self.image, 1])
        touching = np.bincount(self.det[self.ratio > 0], minlength=len(stacked))
        self.crowded = np.zeros(len(per), bool)  # a detection of the image overlaps two faces
        self.crowded[np.repeat(np.arange(len(per)), count_d)[touching >= 2]] = True


def _add_separate(pairs: _Pairs, scores: np.ndarray, pos: np.ndarray, d_disc: np.ndarray,
                  d_cont: np.ndarray) -> None:
    """Add the TP changes of the images where each detection overlaps one face at most: a
    detection raises its face's best overlap so far (exact: by integer ranks of the values)."""
    keep = (pairs.ratio > 0) & ~pairs.crowded[pairs.image]
    face, det, value = pairs.face[keep], pairs.det[keep], pairs.ratio[keep]
    if len(face) == 0:
        return
    order = np.lexsort((-scores[det], face))  # by face, best score first
    face, det, value = face[order], det[order], value[order]
    levels, rank = np.unique(value, return_inverse=True)
    width = len(levels) + 1
    best = levels[np.maximum.accumulate(face * width + rank + 1) - face * width - 1]
    first = np.r_[True, face[1:] != face[:-1]]
    before = np.where(first, 0.0, np.r_[0.0, best[:-1]])
    d_cont += np.bincount(pos[det], weights=best - before, minlength=len(d_cont))
    d_disc += np.bincount(pos[det], weights=(best > 0.5).astype(np.float64) - (before > 0.5),
                          minlength=len(d_disc))


def _add_crowded(pairs: _Pairs, scores: np.ndarray, pos: np.ndarray, d_disc: np.ndarray,
                 d_cont: np.ndarray) -> None:
    """Add the TP changes of the other images: the assignment redone at each score level of
    their overlapping detections (:func:`_assignments`)."""
    for i in np.flatnonzero(pairs.crowded):
        f, d, at = int(pairs.count_f[i]), int(pairs.count_d[i]), int(pairs.start[i])
        sub = pairs.ratio[at:at + f * d].reshape(f, d)
        order, ends = _levels(sub, scores[pairs.start_d[i]:pairs.start_d[i] + d])
        disc, cont = _assignments(sub[:, order], ends)
        where = pos[pairs.start_d[i] + order[ends]]
        d_disc[where] += np.diff(disc, prepend=0.0)
        d_cont[where] += np.diff(cont, prepend=0.0)


def tpr_at_fp(roc: Roc, fp: float, continuous: bool = False) -> tuple[float, float]:
    """(step, interpolated) TPR at ``fp`` false positives: the point with the largest FP <=
    ``fp`` (the highest TPR among ties), and the linear interpolation with the next point."""
    tpr = roc.tpr_cont if continuous else roc.tpr_disc
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
