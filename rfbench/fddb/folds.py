"""FDDB's ground truth: ten folds of image names with their faces as ellipses.

``DATA_ROOT/FDDB-folds/FDDB-fold-NN.txt`` lists image names (``2002/08/11/big/img_591``, the
image being ``DATA_ROOT/originalPics/<name>.jpg``); ``FDDB-fold-NN-ellipseList.txt`` repeats
each name, then its face count, then one ``major_radius minor_radius angle cx cy  1`` line per
face (radii and centre in pixels, the angle in radians). All of FDDB: 2,845 images, 5,171 faces.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rfbench.errors import InputFormatError, RfbenchError

log = logging.getLogger(__name__)

FOLDS = tuple(range(1, 11))
FOLDS_DIR = "FDDB-folds"
IMAGES_DIR = "originalPics"


@dataclass(frozen=True)
class FddbGroundTruth:
    """``names`` in fold order, each image's ``fold`` and ``ellipses`` ((n, 5) float64:
    major radius, minor radius, angle in radians, centre x, centre y)."""

    data_root: Path
    folds: tuple[int, ...]
    names: list[str]
    fold_of: dict[str, int]
    ellipses: dict[str, np.ndarray]

    @property
    def num_faces(self) -> int:
        return sum(len(e) for e in self.ellipses.values())

    def image_path(self, name: str) -> Path:
        return self.data_root / IMAGES_DIR / f"{name}.jpg"


def parse_folds(text: str | None) -> tuple[int, ...] | None:
    """``--folds`` ``"1,3"`` / ``"1-10"`` -> sorted fold numbers; None (not given) stays None:
    every fold present under the data root."""
    if text is None:
        return None
    found: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            found.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise RfbenchError(f"--folds {text!r}: expected fold numbers like 1,3 or 1-10") from None
    if not found or not found <= set(FOLDS):
        raise RfbenchError(f"--folds {text!r}: FDDB has folds 1 to 10")
    return tuple(sorted(found))


def load_folds(data_root: str | Path, folds: tuple[int, ...] | None = None) -> FddbGroundTruth:
    """The chosen folds' names and ellipses (None: every ``FDDB-fold-NN.txt`` there);
    InputFormatError names the file and line."""
    root = Path(data_root)
    folder = root / FOLDS_DIR
    if not folder.is_dir():
        raise RfbenchError(f"{root}: no {FOLDS_DIR}/ folder (see datasets/README.md for FDDB's layout)")
    if folds is None:
        folds = tuple(f for f in FOLDS if (folder / f"FDDB-fold-{f:02d}.txt").is_file())
        if not folds:
            raise RfbenchError(f"{folder}: no FDDB-fold-NN.txt files")
        if len(folds) < len(FOLDS):
            log.warning("%s: scoring folds %s (the others are not there)", folder,
                        ",".join(map(str, folds)))
    names: list[str] = []
    fold_of: dict[str, int] = {}
    ellipses: dict[str, np.ndarray] = {}
    for fold in folds:
        listed = [name for name in _read_lines(folder / f"FDDB-fold-{fold:02d}.txt") if name]
        faces = read_ellipse_list(folder / f"FDDB-fold-{fold:02d}-ellipseList.txt")
        for name in listed:
            if name in fold_of:
                raise RfbenchError(f"{folder}: image {name} is listed twice (folds {fold_of[name]} and {fold})")
            if name not in faces:
                raise RfbenchError(f"{folder / f'FDDB-fold-{fold:02d}-ellipseList.txt'}: no faces for "
                                   f"{name}, which FDDB-fold-{fold:02d}.txt lists")
            names.append(name)
            fold_of[name] = fold
            ellipses[name] = faces[name]
    return FddbGroundTruth(root, tuple(folds), names, fold_of, ellipses)


def _read_lines(path: Path) -> list[str]:
    """The file's lines without line ends (``\\r`` kept out too); RfbenchError if unreadable."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise RfbenchError(f"{path}: not found (FDDB's folds need both FDDB-fold-NN.txt and "
                           "FDDB-fold-NN-ellipseList.txt)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RfbenchError(f"{path}: cannot read: {exc}") from exc


def read_blocks(lines: list[str], count: Callable[[int, str | None], int],
                row: Callable[[int, str | None], list[float]]) -> list[tuple[str, int, np.ndarray]]:
    """The blocks of an FDDB text (a name line, a count line, then that many rows of 5 values;
    blank lines between blocks skipped) as ``(name, line of the name, (count, 5) float64)``.
    ``count`` and ``row`` parse a line given its 1-based number and text (None past the end)."""
    found = []
    i = 0
    while i < len(lines):
        name = lines[i].strip()
        if not name:
            i += 1
            continue
        n = count(i + 2, lines[i + 1] if i + 1 < len(lines) else None)
        rows = [row(i + 3 + k, lines[i + 2 + k] if i + 2 + k < len(lines) else None)
                for k in range(n)]
        found.append((name, i + 1, np.array(rows, np.float64).reshape(-1, 5)))
        i += 2 + n
    return found


def read_ellipse_list(path: Path) -> dict[str, np.ndarray]:
    """name -> (n, 5) ellipses of one ``-ellipseList.txt``."""
    blocks = read_blocks(_read_lines(path), lambda line, text: _count(path, line, text or ""),
                         lambda line, text: _ellipse(path, line, text or ""))
    return {name: rows for name, _, rows in blocks}


def _count(path: Path, line: int, text: str) -> int:
    try:
        value = float(text.strip())
    except ValueError:
        raise InputFormatError(f"{path}:{line}: expected a face count, got {text.strip()!r}") from None
    if not value.is_integer() or value < 0:
        raise InputFormatError(f"{path}:{line}: face count {text.strip()!r} is not a whole number >= 0")
    return int(value)


def _ellipse(path: Path, line: int, text: str) -> list[float]:
    parts = text.split()
    try:
        values = [float(v) for v in parts[:5]]
    except ValueError:
        values = []
    if len(values) != 5 or not all(math.isfinite(v) for v in values):
        raise InputFormatError(f"{path}:{line}: expected 'major_radius minor_radius angle cx cy 1', "
                               f"got {text.strip()!r}")
    if values[0] < 0 or values[1] < 0:
        raise InputFormatError(f"{path}:{line}: negative ellipse radius in {text.strip()!r}")
    return values
