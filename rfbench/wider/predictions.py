"""WIDER FACE submission files: ``<pred_dir>/<event>/<name>.txt``.

Format (what detectors write and the official tools read): line 1 the image name, line 2 the
number of boxes N, then N lines ``x y w h score`` (floats allowed, any order). Files are UTF-8
(BOM and CRLF allowed); numbers are plain decimals with an optional exponent (see ``textio``).
A box with a negative width or height is kept as written, as the official tool keeps it, but
warned about and counted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rfbench.errors import InputFormatError, RfbenchError
from rfbench.results.writer import atomic_write_text
from rfbench.wider.image_ids import safe_join
from rfbench.wider.textio import (
    PREDICTION_ROW_CHARS,
    PREDICTION_ROW_LINE,
    parse_count,
    read_text_lines,
    split_lines,
)

log = logging.getLogger(__name__)

PREDICTION_SUFFIX = ".txt"
NEGATIVE_SIZE_WARNINGS = 5  # files warned about one by one; the rest go into one summary line


def prediction_path(pred_dir: str | Path, image_id: str) -> Path:
    """Where the prediction file of ``image_id`` (``"<event>/<name>"``) lives.

    RfbenchError if the id is not a plain ``<event>/<name>`` (it could point outside ``pred_dir``).
    """
    return safe_join(pred_dir, image_id, PREDICTION_SUFFIX)


def pending_ids(pred_dir: str | Path, image_ids: Sequence[str]) -> list[str]:
    """The ``image_ids`` without a prediction file in ``pred_dir`` yet, in order (all of them in
    a fresh or missing folder): what a resumed run still has to predict."""
    return [i for i in image_ids if not prediction_path(pred_dir, i).is_file()]


def parse_prediction_text(path: Path, text: str) -> np.ndarray:
    """Parse one submission file's text -> (N, 5) float64 ``x y w h score`` in file order."""
    return parse_prediction_lines(path, split_lines(text))


def parse_prediction_lines(path: Path, lines: list[str]) -> np.ndarray:
    """:func:`parse_prediction_text` on the file's lines (``path`` only names it in errors)."""
    body = prediction_body(path, lines)
    values = _values(" ".join(body), len(body))
    if values is not None:
        return values.reshape(len(body), 5)
    for k, line in enumerate(body):  # locate the bad line for the error message
        _parse_box_line(path, k + 3, line)
    raise InputFormatError(f"{path}: malformed box lines")  # unreachable in practice


def prediction_body(path: Path, lines: list[str]) -> list[str]:
    """The box lines of a submission file, after its name and count lines are checked (and
    trailing blank lines dropped); InputFormatError naming ``path`` and the line."""
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise InputFormatError(f"{path}: expected an image name line and a count line")
    count = parse_count(lines[1])
    if count is None:
        raise InputFormatError(
            f"{path}:2: expected the number of boxes (a plain whole number), got {lines[1].strip()!r}"
        )
    body = lines[2:]
    if len(body) != count:
        raise InputFormatError(f"{path}:2: count says {count} boxes but {len(body)} box lines follow")
    return body


def _values(joined: str, count: int) -> np.ndarray | None:
    """The ``5 * count`` finite numbers of box lines joined by blanks, or None when they are not
    that (the caller then finds the bad line)."""
    if count == 0:
        return np.zeros(0)
    if not PREDICTION_ROW_CHARS.fullmatch(joined):
        return None
    tokens = joined.split()
    try:  # Python's float: correctly rounded, and faster than numpy's string conversion
        values = np.fromiter(map(float, tokens), np.float64, len(tokens))
    except ValueError:
        return None
    return values if values.size == 5 * count and np.isfinite(values).all() else None


def parse_prediction_files(files: list[tuple[Path, list[str]]]) -> list[np.ndarray]:
    """:func:`parse_prediction_lines` of many files, their numbers converted in one call (an
    eval reads ~3,000 small files); the first bad file raises its own error."""
    bodies = [prediction_body(path, lines) for path, lines in files]
    joined = [" ".join(body) for body in bodies]
    tokens = [text.split() for text in joined]
    if all(len(t) == 5 * len(b) for t, b in zip(tokens, bodies)):
        values = _values(" ".join(joined), sum(len(b) for b in bodies))
        if values is not None:
            ends = np.cumsum([5 * len(b) for b in bodies])
            return [part.reshape(-1, 5) for part in np.split(values, ends[:-1])] if bodies else []
    return [parse_prediction_lines(path, lines) for path, lines in files]


def _parse_box_line(path: Path, line_no: int, line: str) -> np.ndarray:
    fields = line.split()
    if len(fields) != 5:
        raise InputFormatError(f"{path}:{line_no}: expected 'x y w h score', got {line.strip()!r}")
    if not PREDICTION_ROW_LINE.fullmatch(line):
        raise InputFormatError(
            f"{path}:{line_no}: expected plain decimal numbers, got {line.strip()!r}"
        )
    values = np.array([float(f) for f in fields])
    if not np.isfinite(values).all():  # an exponent can overflow: 1e999
        raise InputFormatError(f"{path}:{line_no}: non-finite value in {line.strip()!r}")
    return values


@dataclass
class PredictionReading:
    """What :func:`read_prediction_folder` read.

    Attributes:
        predictions: ``{image_id: (N, 5) float64 x y w h score}`` in file order.
        missing: images of the GT without a prediction file (scored as no detections).
        num_negative_size_boxes: boxes with width or height < 0, kept like the official tool.
        files_with_negative_size: how many files hold such boxes.
    """

    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    num_negative_size_boxes: int = 0
    files_with_negative_size: int = 0

    def stats_fields(self) -> dict[str, int]:
        """results.json fields about the reading (counts)."""
        return {"num_images_without_predictions": len(self.missing),
                "num_negative_size_boxes": self.num_negative_size_boxes}


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
    :func:`read_prediction_folder` returns the same plus the negative-size box count.
    """
    reading = read_prediction_folder(pred_dir, image_ids)
    return reading.predictions, reading.missing


def read_prediction_folder(pred_dir: str | Path, image_ids: Sequence[str]) -> PredictionReading:
    """Read the prediction files of ``image_ids`` (see :func:`read_predictions`), with counts.

    Boxes with a negative width or height are kept; the first files holding them are warned
    about with file:line, then one summary warning gives the totals.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise RfbenchError(f"predictions folder not found: {pred_dir}")
    present = list_prediction_files(pred_dir)
    if not present:
        raise RfbenchError(
            f"no prediction files in {pred_dir} (expected <event>/<name>.txt in WIDER submission format)"
        )
    found = [image_id for image_id in image_ids if image_id in present]
    paths = [prediction_path(pred_dir, image_id) for image_id in found]
    parsed = parse_prediction_files([(p, read_text_lines(p, "prediction file")) for p in paths])
    missing = [image_id for image_id in image_ids if image_id not in present]
    reading = PredictionReading(dict(zip(found, parsed)), missing)
    sizes = np.concatenate([b[:, 2:4] for b in parsed]) if parsed else np.zeros((0, 2))
    if (sizes < 0).any():  # rare: then file by file, for the warnings
        for path, boxes in zip(paths, parsed):
            _note_negative_sizes(reading, path, boxes)
    _warn_coverage(pred_dir, image_ids, present, reading.missing)
    if reading.files_with_negative_size:
        log.warning("%d box(es) with a negative width or height in %d prediction file(s) of %s: kept "
                    "as written, as the official tool keeps them",
                    reading.num_negative_size_boxes, reading.files_with_negative_size, pred_dir)
    return reading


def _note_negative_sizes(reading: PredictionReading, path: Path, boxes: np.ndarray) -> None:
    rows = np.flatnonzero((boxes[:, 2] < 0) | (boxes[:, 3] < 0))  # width or height < 0
    if not len(rows):
        return
    reading.num_negative_size_boxes += len(rows)
    reading.files_with_negative_size += 1
    if reading.files_with_negative_size <= NEGATIVE_SIZE_WARNINGS:
        log.warning("%s:%d: box with a negative width or height %s (kept; %d such box(es) in this file)",
                    path, rows[0] + 3, boxes[rows[0], :4].tolist(), len(rows))


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

    Numbers are written as float32 with 9 significant digits (``%.9g``, by
    :func:`rfbench.wider.g9text.rows_text`), which reads back to exactly the same float32 value
    (detections come from float32 networks; this keeps files compact and writing fast: the OMZ
    layout-A recipe keeps ~9,000 boxes per image).
    """
    from rfbench.wider.g9text import rows_text  # numba: imported when used

    rows = _submission_rows(xywhs)
    return f"{image_id.rsplit('/', 1)[-1]}\n{len(rows)}\n" + rows_text(rows)


def _submission_rows(xywhs: np.ndarray) -> np.ndarray:
    """(N, 5) float32 rows as written (float64 input beyond float32's range becomes inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(xywhs, dtype=np.float64).reshape(-1, 5).astype(np.float32)


def write_prediction_file(pred_dir: str | Path, image_id: str, xywhs: np.ndarray) -> Path:
    """Atomically write the prediction file of ``image_id`` under ``pred_dir``; returns its path.

    RfbenchError (and no file) if a value is NaN or inf as written (float32): a prediction file
    never holds a number the readers would refuse.
    """
    path = prediction_path(pred_dir, image_id)
    rows = _submission_rows(xywhs)
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if len(bad):
        raise RfbenchError(
            f"{path}: refusing to write {len(bad)} box(es) with NaN or inf values for {image_id} "
            f"(first: {rows[bad[0]].tolist()}); nothing was written for this image"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, format_prediction_file(image_id, rows))
    return path
