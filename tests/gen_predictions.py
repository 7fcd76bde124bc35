"""Realistic generated predictions over WIDER FACE ground truth, with a fixed seed (tests only).

``generate_predictions(image_ids, gt_boxes, seed)`` returns ``GeneratedPredictions``:
``predictions`` maps an image id to an ``(m, 5)`` float64 array ``x y w h score`` in *file order*
(deliberately not sorted by score for most images); images in ``missing`` get no file at all and
are absent from ``predictions``; images in ``empty`` get a file with count 0 (a ``(0, 5)`` array).

What is in there, on purpose:
* jittered copies of GT boxes with IoU spread from ~0.3 to 1 (hits, near misses), with detection
  probability and score growing with face size;
* duplicates: a second, lower-scoring hit on an already hit face;
* false positives of random size and place, mostly low score;
* tied scores: scores written with 2 or 3 decimals on many images (ties within and across images),
  and explicit exact repeats;
* one prediction scoring exactly 1.0 and one exactly 0.0, both on face-less images (so the
  global min and max of the official normalisation come from images that have no faces);
* predictions on face-less images; images with no prediction file; images with an empty file.

``write_submission(pred_dir, gen)`` writes WIDER submission files ``<dir>/<event>/<name>.txt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_SEED = 20240611
IMAGE_WIDTH = 1024.0


@dataclass
class GeneratedPredictions:
    image_ids: list[str]
    predictions: dict[str, np.ndarray]
    missing: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)

    def as_list(self) -> list[np.ndarray | None]:
        """Per image in ``image_ids`` order; ``None`` where there is no file."""
        return [self.predictions.get(i) for i in self.image_ids]

    @property
    def total(self) -> int:
        return int(sum(len(p) for p in self.predictions.values()))


def _jitter(rng: np.random.Generator, box: np.ndarray, spread: float) -> np.ndarray:
    """A box near ``box`` (x y w h): shift and rescale by relative amounts ~ spread."""
    x, y, w, h = (float(v) for v in box)
    size = max(w, h, 2.0)
    dx, dy = rng.normal(0.0, spread, 2) * size
    sw, sh = np.exp(rng.normal(0.0, spread, 2))
    nw = max(w * sw, 1.5)
    nh = max(h * sh, 1.5)
    cx = x + w / 2.0 + dx
    cy = y + h / 2.0 + dy
    return np.array([cx - nw / 2.0, cy - nh / 2.0, nw, nh])


def _score(rng: np.random.Generator, base: float, spread: float) -> float:
    return float(np.clip(base + rng.normal(0.0, spread), 0.011, 0.995))


def generate_predictions(
    image_ids: Sequence[str], gt_boxes: Sequence[np.ndarray], seed: int = DEFAULT_SEED
) -> GeneratedPredictions:
    rng = np.random.default_rng(seed)
    image_ids = list(image_ids)
    n_images = len(image_ids)
    faceless = [i for i in range(n_images) if len(gt_boxes[i]) == 0]
    # which images get no file / an empty file (never the face-less ones: they carry predictions)
    candidates = [i for i in range(n_images) if len(gt_boxes[i]) > 0]
    picks = rng.permutation(candidates)
    n_missing = max(1, n_images // 40)
    n_empty = max(1, n_images // 60)
    missing = set(picks[:n_missing].tolist())
    empty = set(picks[n_missing : n_missing + n_empty].tolist())

    predictions: dict[str, np.ndarray] = {}
    for i, image_id in enumerate(image_ids):
        if i in missing:
            continue
        if i in empty:
            predictions[image_id] = np.zeros((0, 5), dtype=np.float64)
            continue
        gt = np.asarray(gt_boxes[i], dtype=np.float64).reshape(-1, 4)
        height = max(768.0, float((gt[:, 1] + gt[:, 3]).max()) + 20.0) if len(gt) else 768.0
        rows: list[list[float]] = []
        for box in gt:
            face = max(float(box[3]), 1.0)
            p_detect = 0.12 + 0.85 * (1.0 - np.exp(-face / 18.0))
            if rng.random() >= p_detect:
                continue
            quality = rng.choice([0.04, 0.1, 0.2, 0.35], p=[0.4, 0.35, 0.17, 0.08])
            jb = _jitter(rng, box, quality)
            base = 0.35 + 0.6 * (1.0 - np.exp(-face / 25.0)) - 0.8 * (quality - 0.04)
            rows.append([*jb, _score(rng, base, 0.12)])
            if rng.random() < 0.07:  # duplicate: a second hit on the same face, lower score
                rows.append([*_jitter(rng, box, 0.06), _score(rng, base - 0.25, 0.1)])
        n_fp = rng.poisson(5.5 if len(gt) else 4.0)
        for _ in range(n_fp):
            size = float(np.exp(rng.uniform(np.log(6.0), np.log(260.0))))
            w = size * float(np.exp(rng.normal(0.0, 0.15)))
            x = rng.uniform(-0.05 * w, IMAGE_WIDTH - 0.95 * w)
            y = rng.uniform(-0.05 * size, height - 0.95 * size)
            rows.append([x, y, w, size, _score(rng, 0.1, 0.15)])
        preds = np.array(rows, dtype=np.float64).reshape(-1, 5)

        style = rng.random()
        if style < 0.3:  # detector writes 3 decimals
            preds[:, 4] = np.round(preds[:, 4], 3)
        elif style < 0.45:  # 2 decimals: many ties
            preds[:, 4] = np.round(preds[:, 4], 2)
        if len(preds) >= 4 and rng.random() < 0.2:  # exact repeats of one score
            j = rng.integers(len(preds))
            k = rng.choice(len(preds), size=2, replace=False)
            preds[k, 4] = preds[j, 4]
        if rng.random() < 0.25:  # integer boxes, like some detectors write
            preds[:, :4] = np.round(preds[:, :4])
            preds[:, 2:4] = np.maximum(preds[:, 2:4], 2.0)
        # file order: some sorted by score (descending), most not
        if rng.random() < 0.3:
            preds = preds[np.argsort(-preds[:, 4], kind="stable")]
        else:
            preds = preds[rng.permutation(len(preds))]
        predictions[image_id] = preds

    # the global extremes of the official normalisation sit on face-less images
    if faceless:
        lo = image_ids[faceless[0]]
        hi = image_ids[faceless[-1]]
        predictions[hi] = np.vstack([predictions[hi], [[300.0, 200.0, 40.0, 48.0, 1.0]]])
        predictions[lo] = np.vstack([[[500.0, 300.0, 30.0, 30.0, 0.0]], predictions[lo]])
    return GeneratedPredictions(
        image_ids=image_ids,
        predictions=predictions,
        missing=[image_ids[i] for i in sorted(missing)],
        empty=[image_ids[i] for i in sorted(empty)],
    )


def format_prediction_file(image_id: str, preds: np.ndarray) -> str:
    """WIDER submission text: image name, count, then ``x y w h score`` (exact float repr)."""
    name = image_id.rsplit("/", 1)[-1]
    lines = [name, str(len(preds))]
    for row in np.asarray(preds, dtype=np.float64).reshape(-1, 5):
        lines.append(" ".join(repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


def write_submission(pred_dir: Path, gen: GeneratedPredictions) -> int:
    """Write ``<pred_dir>/<event>/<name>.txt`` for every image that has predictions (possibly
    none: count 0); images in ``gen.missing`` get no file. Returns the number of files written."""
    written = 0
    for image_id, preds in gen.predictions.items():
        path = Path(pred_dir) / f"{image_id}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(format_prediction_file(image_id, preds))
        written += 1
    return written
