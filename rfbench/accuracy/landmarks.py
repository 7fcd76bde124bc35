"""Landmarks of the confident detections, kept beside the WIDER prediction files for the report.

The submission format holds boxes only, so a model run also writes, per image,
``<run>/landmarks/<event>/<name>.txt`` (the folder beside ``predictions/``): the image name,
the row count, then one row per detection with score >= :data:`MIN_SCORE`:
``x y w h score`` exactly as in the prediction file (same float32 text, so rows match by
value) and the five landmark points ``x1 y1 ... x5 y5`` (left eye, right eye, nose, left and
right mouth corner) in original-image pixels. The prediction files are unchanged; only the
confident rows are kept (a few dozen per image even when a recipe keeps ~10k boxes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rfbench.decoder.detections import Detections
from rfbench.fileio import atomic_write_text
from rfbench.wider.image_ids import safe_join

LANDMARKS_DIR = "landmarks"
MIN_SCORE = 0.5  # the report draws detections at this score and up
_ROW = "%.9g %.9g %.9g %.9g %.9g" + " %.6g" * 10 + "\n"


def landmarks_dir_for(pred_dir: str | Path) -> Path:
    """The landmarks folder of a run whose prediction files are in ``pred_dir``."""
    return Path(pred_dir).parent / LANDMARKS_DIR


def landmarks_path(pred_dir: str | Path, image_id: str) -> Path:
    """The sidecar of ``image_id`` in the run whose prediction files are in ``pred_dir``."""
    return safe_join(landmarks_dir_for(pred_dir), image_id, ".txt")


def format_landmarks_file(image_id: str, dets: Detections, min_score: float = MIN_SCORE) -> str:
    """The sidecar text of one image: rows of (N, 15) ``x y w h score`` + 10 landmark values."""
    keep = dets.scores >= min_score
    boxes = np.asarray(dets.boxes[keep], dtype=np.float64)
    xywhs = np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2], dets.scores[keep]]
    xywhs = xywhs.astype(np.float32).astype(np.float64)  # the prediction file's values
    rows = np.c_[xywhs, np.asarray(dets.landmarks[keep], dtype=np.float64).reshape(-1, 10)]
    head = f"{image_id.rsplit('/', 1)[-1]}\n{len(rows)}\n"
    return head + (_ROW * len(rows)) % tuple(rows.ravel().tolist())


def write_landmarks_file(folder: str | Path, image_id: str, dets: Detections) -> Path:
    """Atomically write the sidecar of ``image_id`` under ``folder``; returns its path."""
    path = safe_join(folder, image_id, ".txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, format_landmarks_file(image_id, dets))
    return path


def read_landmarks_file(folder: str | Path, image_id: str) -> np.ndarray:
    """(N, 15) rows of one image's sidecar; (0, 15) when there is none."""
    path = safe_join(folder, image_id, ".txt")
    if not path.is_file():
        return np.zeros((0, 15))
    lines = path.read_text(encoding="utf-8").splitlines()[2:]
    values = [[float(v) for v in line.split()] for line in lines if line.strip()]
    return np.array([row for row in values if len(row) == 15], dtype=np.float64).reshape(-1, 15)
