"""WIDER FACE submission files: ``<pred_dir>/<event>/<name>.txt``.

Format (what detectors write and the official tools read): line 1 the image name, line 2 the
number of boxes N, then N lines ``x y w h score`` (floats allowed, any order).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rfbench.errors import InputFormatError, RfbenchError
from rfbench.results.writer import atomic_write_text

log = logging.getLogger(__name__)

PREDICTION_SUFFIX = ".txt"


def prediction_path(pred_dir: str | Path, image_id: str) -> Path:
    """Where the prediction file of ``image_id`` (``"<event>/<name>"``) lives."""
    return Path(pred_dir) / f"{image_id}{PREDICTION_SUFFIX}"


def parse_prediction_text(path: Path, text: str) -> np.ndarray:
    """Parse one submission file's text -> (N, 5) float64 ``x y w h score`` in file order."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise InputFormatError(f"{path}: expected an image name line and a count line")
    try:
        count = int(lines[1].strip())
    except ValueError:
        raise InputFormatError(f"{path}:2: expected the number of boxes, got {lines[1].strip()!r}") from None
    body = lines[2:]
    if count < 0 or len(body) != count:
        raise InputFormatError(f"{path}:2: count says {count} boxes but {len(body)} box lines follow")
    if count == 0:
        return np.zeros((0, 5))
    try:
        values = np.array(" ".join(body).split(), dtype=np.float64)
    except ValueError:
        values = np.zeros(0)
    if values.size == 5 * count and np.isfinite(values).all():
        return values.reshape(count, 5)
    for k, line in enumerate(body):  # locate the bad line for the error message
        _parse_box_line(path, k + 3, line)
    raise InputFormatError(f"{path}: malformed box lines")  # unreachable in practice


def _parse_box_line(path: Path, line_no: int, line: str) -> np.ndarray:
    fields = line.split()
    if len(fields) != 5:
        raise InputFormatError(f"{path}:{line_no}: expected 'x y w h score', got {line.strip()!r}")
    try:
        values = np.array([float(f) for f in fields])
    except ValueError:
        raise InputFormatError(f"{path}:{line_no}: non-numeric value in {line.strip()!r}") from None
    if not np.isfinite(values).all():
        raise InputFormatError(f"{path}:{line_no}: non-finite value in {line.strip()!r}")
    return values


def list_prediction_files(pred_dir: Path) -> set[str]:
    """Image ids (``"<event>/<name>"``) of every ``*.txt`` one folder level below ``pred_dir``."""
    found = set()
    with os.scandir(pred_dir) as events:
        for event in events:
            if not event.is_dir():
                continue
            with os.scandir(event.path) as files:
                for entry in files:
                    if entry.name.endswith(PREDICTION_SUFFIX) and entry.is_file():
                        found.add(f"{event.name}/{entry.name[: -len(PREDICTION_SUFFIX)]}")
    return found


def read_predictions(
    pred_dir: str | Path, image_ids: Sequence[str]
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Read the prediction files of ``image_ids``.

    Returns ``(predictions, missing)``: ``predictions[image_id]`` is (N, 5) float64
    ``x y w h score`` in file order; ``missing`` lists images without a file (no detections;
    one warning with the count). A folder with no prediction file at all is an error, not AP 0.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise RfbenchError(f"predictions folder not found: {pred_dir}")
    present = list_prediction_files(pred_dir)
    if not present:
        raise RfbenchError(
            f"no prediction files in {pred_dir} (expected <event>/<name>.txt in WIDER submission format)"
        )
    predictions: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for image_id in image_ids:
        if image_id not in present:
            missing.append(image_id)
            continue
        path = prediction_path(pred_dir, image_id)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RfbenchError(f"{path}: cannot read: {exc}") from exc
        predictions[image_id] = parse_prediction_text(path, text)
    _warn_coverage(pred_dir, image_ids, present, missing)
    return predictions, missing


def _warn_coverage(pred_dir: Path, image_ids: Sequence[str], present: set[str], missing: list[str]) -> None:
    if missing:
        log.warning(
            "%d of %d images have no prediction file in %s (counted as no detections), e.g. %s",
            len(missing), len(image_ids), pred_dir, missing[0],
        )
    extra = len(present - set(image_ids))
    if extra:
        log.warning("%d prediction files in %s are for images not in the ground truth: ignored", extra, pred_dir)


def format_prediction_file(image_id: str, xywhs: np.ndarray) -> str:
    """Submission-format text for one image.

    Numbers are written as float32 with 9 significant digits, which reads back to exactly the
    same float32 value (detections come from float32 networks; this keeps files compact and
    writing fast: the OMZ layout-A recipe keeps ~9,000 boxes per image).
    """
    rows = np.asarray(xywhs, dtype=np.float64).reshape(-1, 5).astype(np.float32)
    head = f"{image_id.rsplit('/', 1)[-1]}\n{len(rows)}\n"
    return head + (_ROW_FORMAT * len(rows)) % tuple(rows.ravel().tolist())


_ROW_FORMAT = "%.9g %.9g %.9g %.9g %.9g\n"


def write_prediction_file(pred_dir: str | Path, image_id: str, xywhs: np.ndarray) -> Path:
    """Atomically write the prediction file of ``image_id`` under ``pred_dir``; returns its path."""
    path = prediction_path(pred_dir, image_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, format_prediction_file(image_id, xywhs))
    return path
