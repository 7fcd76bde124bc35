"""FDDB detection files: per image its name, the detection count, then ``x y w h score`` lines
(top-left corner, width and height in pixels), as the official ``evaluate -f 0`` reads them.

Input is one file or a folder of ``fold-NN-out.txt`` files (as ``eval --model`` writes them).
A count written as a float (``12.0``, Pytorch_Retinaface's ``'{:.1f}'``) is read as that whole
number; extra tokens on a detection line are ignored, as the program's ``>>`` does. Names the
folds do not list, NaN or infinite values and negative widths or heights are refused naming the
file and line; boxes partly or wholly outside the image are kept (the evaluation clips them).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np

from rfbench.errors import InputFormatError, RfbenchError
from rfbench.fddb.folds import read_blocks
from rfbench.fileio import atomic_write_text


def detection_files(path: str | Path) -> list[Path]:
    """``path`` itself, or the ``*.txt`` files of a folder (sorted); RfbenchError if none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if files:
            return files
        raise RfbenchError(f"{path}: no FDDB detection files (*.txt) in this folder")
    raise RfbenchError(f"--predictions {path}: not found")


def read_detections(path: str | Path, names: set[str]) -> dict[str, np.ndarray]:
    """name -> (m, 5) float64 ``x y w h score`` of every file at ``path``."""
    out: dict[str, np.ndarray] = {}
    where: dict[str, str] = {}
    for file in detection_files(path):
        for name, line, rows in _parse(file):
            if name not in names:
                raise InputFormatError(f"{file}:{line}: image {name!r} is not in the chosen folds")
            if name in out:
                raise InputFormatError(f"{file}:{line}: image {name!r} appears again (first at {where[name]})")
            out[name], where[name] = rows, f"{file.name}:{line}"
    return out


def _parse(file: Path) -> list[tuple[str, int, np.ndarray]]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RfbenchError(f"{file}: cannot read: {exc}") from exc
    return read_blocks(lines, partial(_count, file), partial(_box, file))


def _count(file: Path, line: int, text: str | None) -> int:
    if text is None:
        raise InputFormatError(f"{file}:{line}: the file ends where a detection count should be")
    try:
        value = float(text.split()[0]) if text.split() else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value.is_integer() and value >= 0):
        raise InputFormatError(f"{file}:{line}: expected a detection count, got {text.strip()!r}")
    return int(value)


def _box(file: Path, line: int, text: str | None) -> list[float]:
    if text is None:
        raise InputFormatError(f"{file}:{line}: the file ends before the count's last detection")
    try:
        values = [float(v) for v in text.split()[:5]]
    except ValueError:
        values = []
    if len(values) != 5:
        raise InputFormatError(f"{file}:{line}: expected 'x y w h score', got {text.strip()!r}")
    if not all(math.isfinite(v) for v in values):
        raise InputFormatError(f"{file}:{line}: NaN or infinite value in {text.strip()!r}")
    if values[2] < 0 or values[3] < 0:
        raise InputFormatError(f"{file}:{line}: negative width or height in {text.strip()!r}")
    return values


def detections_text(names: list[str], detections: dict[str, np.ndarray], script_format: bool = False) -> str:
    """The text of one detection file for ``names`` (every one written, 0 when it has none).

    Default: the count, then ``x y w h score`` as ``%.9g`` (float32 values read back exactly).
    ``script_format``: Pytorch_Retinaface test_fddb.py's lines: the count as ``'{:.1f}'``
    (``12.0``), the box as whole numbers (the preset ``biubug6-fddb`` has truncated them) and the
    score as ``'{:.10f}'``.
    """
    parts = []
    for name in names:
        rows = detections.get(name, np.zeros((0, 5)))
        if script_format:
            parts.append(f"{name}\n{float(len(rows)):.1f}\n")
            parts.extend(f"{int(x)} {int(y)} {int(w)} {int(h)} {s:.10f}\n" for x, y, w, h, s in rows.tolist())
        else:
            parts.append(f"{name}\n{len(rows)}\n")
            parts.extend(f"{x:.9g} {y:.9g} {w:.9g} {h:.9g} {s:.9g}\n" for x, y, w, h, s in rows.tolist())
    return "".join(parts)


def write_fold_files(folder: Path, fold_names: dict[int, list[str]],
                     detections: dict[str, np.ndarray], script_format: bool = False) -> list[Path]:
    """``folder/fold-NN-out.txt`` per fold (written atomically, :func:`detections_text`);
    returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fold, names in sorted(fold_names.items()):
        path = folder / f"fold-{fold:02d}-out.txt"
        atomic_write_text(path, detections_text(names, detections, script_format))
        written.append(path)
    return written
