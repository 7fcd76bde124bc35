"""Test-time augmentation: horizontal flip and a scale pyramid, merged by NMS or box voting.

The recipe is insightface's ``detection/retinaface/test_widerface.py`` in its default mode 1
(pyramid, flip, box voting) with ``RetinaFace.detect``:

* views: for each scale ``s`` of ``--scales`` the image is resized by ``s * base`` (``base``: the
  ``--input-size`` policy's scale for the image: 1 for ``native``, the short:long rule
  otherwise); with ``--flip`` each scale is also run on the horizontally flipped image
  (flipped first, then resized, as insightface does). insightface's pyramid is
  ``--input-size 800:1200 --scales 0.625,1,1.375,1.75,2.125 --flip --merge vote``
  (its TEST_SCALES 500..1700 relative to its target size 800).
* each view: the preset's threshold and clipping in that view's network pixels; a flipped
  view's boxes are mapped back by ``x -> W - 1 - x`` for layout A (insightface's inclusive
  pixels) and ``x -> W - x`` for layout B (continuous coordinates), landmarks likewise with the
  left/right points swapped; then divided by the view's scale.
* merge: all views' detections, sorted by score, then the preset's NMS (``nms``) or
  insightface's ``bbox_vote`` (``vote``, :func:`box_vote`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rfbench.decoder.detections import Detections
from rfbench.decoder.nms import pair_iou, score_order

MERGES = ("nms", "vote")
#: insightface's pyramid relative to its base size (TEST_SCALES 500..1700 over target 800).
INSIGHTFACE_SCALES = (0.625, 1.0, 1.375, 1.75, 2.125)
#: insightface's bbox_vote keeps at most this many boxes.
VOTE_KEEP = 750


@dataclass(frozen=True)
class TtaPlan:
    """The views of each image and how they are merged.

    Attributes:
        scales: factors applied to the size policy's scale, one view each (``(1.0,)``: none).
        flip: also run every scale on the horizontally flipped image.
        merge: ``"nms"`` (the preset's NMS) or ``"vote"`` (insightface's box voting).
        vote_iou: IoU at which boxes join a vote (the preset's NMS threshold).
    """

    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    merge: str = "nms"
    vote_iou: float = 0.4

    def __post_init__(self) -> None:
        if not self.scales or any(not (s > 0 and np.isfinite(s)) for s in self.scales):
            raise ValueError(f"scales must be finite numbers > 0, got {list(self.scales)}")
        if self.merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES}, not {self.merge!r}")

    @property
    def active(self) -> bool:
        """More than the plain single view."""
        return self.flip or tuple(self.scales) != (1.0,) or self.merge != "nms"

    def views(self) -> list[tuple[float, bool]]:
        """``(scale factor, flipped)`` per view, in insightface's order (scale, then flip)."""
        return [(s, f) for s in self.scales for f in ((False, True) if self.flip else (False,))]

    def as_dict(self) -> dict:
        return {"scales": list(self.scales), "flip": self.flip, "merge": self.merge,
                "vote_iou": self.vote_iou, "views": len(self.views())}


def parse_scales(text: str) -> tuple[float, ...]:
    """``"0.625,1,1.375"`` -> (0.625, 1.0, 1.375); ValueError when empty or not all > 0."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("expected a comma-separated list of scales, e.g. 0.625,1,1.375")
    try:
        scales = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError("expected numbers, e.g. 0.625,1,1.375") from None
    if any(not (s > 0 and np.isfinite(s)) for s in scales):
        raise ValueError("every scale must be a finite number > 0")
    return scales


def box_vote(dets: Detections, iou: float, keep: int = VOTE_KEEP) -> Detections:
    """insightface's ``bbox_vote`` on detections (any order; sorted by score here).

    Repeatedly: the top remaining box and every remaining box with IoU (+1 areas) >= ``iou``
    with it form a group and leave; a group of two or more becomes one box, the score-weighted
    mean of its boxes, with the group's highest score (landmarks: the top box's); a group of one
    is dropped unless it is the last box left (as insightface's loop does). The first ``keep``
    results are returned. insightface returns a dummy box when there is nothing at all; here
    nothing stays nothing.
    """
    order = score_order(dets.scores)
    boxes, scores, points = dets.boxes[order], dets.scores[order], dets.landmarks[order]
    remaining = np.arange(len(order))
    out_boxes: list[np.ndarray] = []
    out_scores: list[float] = []
    out_points: list[np.ndarray] = []
    while remaining.size and len(out_boxes) < keep:
        overlap = pair_iou(boxes, np.full(remaining.size, remaining[0]), remaining, plus_one=True)
        joins = overlap >= iou
        joins[0] = True  # the top box is in its own group (IoU 1, or 0 for a degenerate box)
        members, remaining = remaining[joins], remaining[~joins]
        if members.size == 1:
            if remaining.size == 0:
                out_boxes.append(boxes[members[0]])
                out_scores.append(scores[members[0]])
                out_points.append(points[members[0]])
            continue
        weights = scores[members]
        out_boxes.append((boxes[members] * weights[:, None]).sum(axis=0) / weights.sum())
        out_scores.append(weights.max())
        out_points.append(points[members[0]])
    if not out_boxes:
        return Detections.empty()
    return Detections(np.array(out_boxes).reshape(-1, 4), np.array(out_scores, dtype=np.float64),
                      np.array(out_points).reshape(-1, 5, 2))


def flip_offset(layout_kind: str) -> float:
    """``W - offset`` maps a flipped view back: 1 for layout A (inclusive pixels), 0 for B."""
    return 1.0 if layout_kind == "A" else 0.0


def merge_views(views: Sequence[Detections], plan: TtaPlan, nms_merge) -> Detections:
    """All views' candidates (original pixels) merged, score descending.

    ``nms_merge``: ``Detections -> Detections``, the preset's NMS (used for ``merge="nms"``).
    """
    parts = [v for v in views if len(v)]
    if not parts:
        return Detections.empty()
    merged = Detections.concat(parts)
    out = box_vote(merged, plan.vote_iou) if plan.merge == "vote" else nms_merge(merged)
    return out.take(score_order(out.scores))
