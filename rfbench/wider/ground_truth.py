"""WIDER FACE validation ground truth: the GT text and the easy/medium/hard ``.mat`` lists.

On-disk layout (as users download it; see ``datasets/README.md``)::

    <data_root>/WIDER_val/images/<event>/<name>.jpg
    <data_root>/wider_face_split/wider_face_val_bbx_gt.txt
    <data_root>/eval_tools/ground_truth/wider_{easy,medium,hard}_val.mat   (or in wider_face_split/)

The GT text drives which images are evaluated: a text listing a subset of val evaluates that
subset. The ``.mat`` files only supply, per image, which faces count in each setting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rfbench.errors import InputFormatError, RfbenchError
from rfbench.wider import gt_cache
from rfbench.wider.image_ids import image_id_problem
from rfbench.wider.textio import (
    GT_ROW_CHARS,
    GT_ROW_LINE,
    NEGATIVE_COUNT_LINE,
    parse_count,
    read_text_lines,
)

log = logging.getLogger(__name__)

SETTINGS = ("easy", "medium", "hard")
GT_TEXT_NAME = "wider_face_val_bbx_gt.txt"
GT_TEXT_PLACES = ("wider_face_split", ".", "eval_tools/ground_truth", "ground_truth")
MAT_PLACES = ("eval_tools/ground_truth", "wider_face_split", "ground_truth", ".")
IMAGES_PLACES = ("WIDER_val/images", "images")


def setting_mat_name(setting: str) -> str:
    """File name of the official list of evaluated faces for ``setting``."""
    return f"wider_{setting}_val.mat"


@dataclass(frozen=True)
class WiderGroundTruth:
    """Ground truth of the evaluated images, in GT-text order.

    Attributes:
        image_ids: ``"<event>/<name>"`` without extension, one per image.
        boxes_xywh: per image, (n, 4) float64 ``x, y, w, h`` in pixels: every face row of the
            image; the all-zero placeholder row of a face-less image is dropped (n = 0).
        invalid: per image, (n,) bool, the official ``invalid`` flag (all False if unknown).
        setting_indices: ``{"easy"|"medium"|"hard": per image (k,) int64}``, 0-based indices into
            that image's boxes of the faces evaluated in the setting; empty when no .mat was read.
        source: where the GT text and the setting lists came from (for results).
    """

    image_ids: list[str]
    boxes_xywh: list[np.ndarray]
    invalid: list[np.ndarray]
    setting_indices: dict[str, list[np.ndarray]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def from_arrays(
        image_ids: Sequence[str],
        boxes_xywh: Sequence[np.ndarray],
        setting_indices: dict[str, Sequence[np.ndarray]] | None = None,
        invalid: Sequence[np.ndarray] | None = None,
    ) -> WiderGroundTruth:
        """Build from plain arrays (tests, generated data). Shapes as in the class docstring."""
        boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes_xywh]
        if invalid is None:
            flags = [np.zeros(len(b), dtype=bool) for b in boxes]
        else:
            flags = [np.asarray(f, dtype=bool) for f in invalid]
        settings = {
            name: [np.asarray(ix, dtype=np.int64).reshape(-1) for ix in lists]
            for name, lists in (setting_indices or {}).items()
        }
        return WiderGroundTruth(list(image_ids), boxes, flags, settings)

    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    @property
    def num_boxes(self) -> int:
        return int(sum(len(b) for b in self.boxes_xywh))

    def num_faces(self, setting: str) -> int:
        """Faces counted in an official setting (sum of its per-image list lengths)."""
        return int(sum(len(ix) for ix in self.setting_indices[setting]))


def parse_gt_text(path: Path) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Parse an official WIDER GT text file (UTF-8, BOM and CRLF allowed; see ``textio``).

    Returns ``(image_ids, boxes_xywh, invalid)``; face-less images (count 0 or 1 followed by an
    all-zero row) get zero boxes. Raises InputFormatError naming the file and line on bad input.
    """
    return parse_gt_lines(path, read_text_lines(path, "ground truth"))


def parse_gt_lines(path: Path, lines: list[str]) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """:func:`parse_gt_text` on the file's lines (``path`` only names the file in errors)."""
    ids: list[str] = []
    counts: list[int] = []
    row_lines: list[int] = []
    pos = 0
    while pos < len(lines):
        if not lines[pos].strip():
            pos += 1
            continue
        image_id, first_row, count = _parse_gt_header(path, lines, pos)
        ids.append(image_id)
        counts.append(count)
        row_lines.extend(range(first_row, first_row + count))
        pos = first_row + count
    if not ids:
        raise InputFormatError(f"{path}: no images in ground truth file")
    rows = _parse_gt_rows(path, lines, row_lines)
    boxes, flags = [], []
    for image_rows in np.split(rows, np.cumsum(counts)[:-1]):
        image_rows = image_rows[np.any(image_rows[:, :4] != 0, axis=1)]
        boxes.append(np.ascontiguousarray(image_rows[:, :4]))
        flags.append(image_rows[:, 7] != 0)
    return ids, boxes, flags


def _parse_gt_header(path: Path, lines: list[str], pos: int) -> tuple[str, int, int]:
    """Parse the name and count lines at ``lines[pos]``; returns (id, first row line, count)."""
    name = lines[pos].strip()
    if not name.lower().endswith((".jpg", ".jpeg", ".png")) or "/" not in name:
        raise InputFormatError(f"{path}:{pos + 1}: expected '<event>/<name>.jpg', got {name!r}")
    problem = image_id_problem(name.rsplit(".", 1)[0])
    if problem is not None:
        raise InputFormatError(f"{path}:{pos + 1}: image id {name!r} is not '<event>/<name>.jpg': {problem}")
    if pos + 1 >= len(lines):
        raise InputFormatError(f"{path}:{pos + 2}: missing face count for {name}")
    count = parse_count(lines[pos + 1])
    if count is None:
        if NEGATIVE_COUNT_LINE.fullmatch(lines[pos + 1]):
            raise InputFormatError(f"{path}:{pos + 2}: negative face count {lines[pos + 1].strip()}")
        raise InputFormatError(
            f"{path}:{pos + 2}: expected a face count (a plain whole number), got {lines[pos + 1].strip()!r}"
        )
    first_row = pos + 2
    # A face-less image may be written as count 0 followed by one all-zero row.
    if count == 0 and first_row < len(lines) and _is_zero_row(lines[first_row]):
        first_row += 1
    if first_row + count > len(lines):
        raise InputFormatError(f"{path}:{len(lines)}: file ends inside {name} ({count} faces)")
    return name.rsplit(".", 1)[0], first_row, count


def _is_zero_row(line: str) -> bool:
    return GT_ROW_LINE.fullmatch(line) is not None and all(float(f) == 0 for f in line.split())


def _parse_gt_rows(path: Path, lines: list[str], row_lines: list[int]) -> np.ndarray:
    """Parse face rows (``x y w h`` + up to 6 attributes) -> (n, 10) float64, zero-padded.

    Plain decimals only (see ``textio``); attributes must be whole and non-negative.
    """
    texts = [lines[i] for i in row_lines]
    widths = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
    joined = " ".join(texts)
    if len(texts) and np.all(widths == 10) and GT_ROW_CHARS.fullmatch(joined):
        try:
            rows = np.array(joined.split(), dtype=np.float64).reshape(-1, 10)
            if _attributes_are_whole(rows):
                return rows
        except ValueError:
            pass  # fall through to the line-by-line parse, which names the bad line
    rows = np.zeros((len(texts), 10))
    for k, (line_no, text) in enumerate(zip(row_lines, texts)):
        rows[k] = _parse_gt_row(path, line_no, text)
    return rows


def _parse_gt_row(path: Path, line_no: int, line: str) -> np.ndarray:
    """``x y w h [blur expression illumination invalid occlusion pose]`` -> (10,) float64."""
    fields = line.split()
    if len(fields) < 4 or len(fields) > 10:
        raise InputFormatError(
            f"{path}:{line_no + 1}: expected 'x y w h' and up to 6 attributes, got {line.strip()!r}"
        )
    if not GT_ROW_LINE.fullmatch(line):
        raise InputFormatError(
            f"{path}:{line_no + 1}: expected plain decimal numbers, got {line.strip()!r}"
        )
    row = np.zeros(10)  # negative w/h do occur in the official val GT: keep them
    row[: len(fields)] = [float(f) for f in fields]
    if not _attributes_are_whole(row[None]):
        raise InputFormatError(
            f"{path}:{line_no + 1}: attributes (after x y w h) must be whole numbers >= 0, got {line.strip()!r}"
        )
    return row


def _attributes_are_whole(rows: np.ndarray) -> bool:
    """Columns 4.. of (n, 10) rows hold non-negative whole numbers."""
    attributes = rows[:, 4:]
    return bool(np.all((attributes >= 0) & (attributes == np.floor(attributes))))


def read_setting_lists(mat_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """Read the easy/medium/hard .mat files in ``mat_dir``.

    Returns ``{setting: {image_id: gt_list (k,) int64, 0-based}}`` (row indices of the faces
    evaluated in that setting; the .mat rows are the GT text's rows, in the same order).
    """
    import scipy.io

    out: dict[str, dict[str, np.ndarray]] = {}
    for setting in SETTINGS:
        path = Path(mat_dir) / setting_mat_name(setting)
        try:
            mat = scipy.io.loadmat(str(path), variable_names=["event_list", "file_list", "gt_list"])
            out[setting] = _setting_table(mat)
        except Exception as exc:  # noqa: BLE001 - scipy's reader of a damaged file raises anything
            # (MatReadError for a file smaller than its header, OSError "could not read bytes" for
            # a cut file, IndexError, TypeError, UnboundLocalError were all seen), as does a table
            # of the wrong shape: each means "not a valid .mat"; the message keeps scipy's words.
            raise RfbenchError(f"{path}: not a WIDER ground-truth .mat file ({type(exc).__name__}: {exc})") from exc
    return out


def _setting_table(mat: dict) -> dict[str, np.ndarray]:
    """``{image_id: 0-based gt_list}`` of one loaded .mat."""
    table: dict[str, np.ndarray] = {}
    events, files, gt_lists = mat["event_list"], mat["file_list"], mat["gt_list"]
    for e in range(events.shape[0]):
        event = str(events[e, 0][0])
        for i in range(files[e, 0].shape[0]):
            name = str(files[e, 0][i, 0][0])
            table[f"{event}/{name}"] = np.asarray(gt_lists[e, 0][i, 0], dtype=np.int64).reshape(-1) - 1
    return table


def attach_setting_lists(
    ids: list[str], boxes: list[np.ndarray], lists: dict[str, dict[str, np.ndarray]], mat_dir: Path
) -> dict[str, list[np.ndarray]]:
    """Per-setting 0-based indices into each image's boxes; checks they fit the GT text."""
    settings: dict[str, list[np.ndarray]] = {}
    for setting, table in lists.items():
        mat_path = Path(mat_dir) / setting_mat_name(setting)
        per_image = []
        for image_id, image_boxes in zip(ids, boxes):
            gt_list = table.get(image_id)
            if gt_list is None:
                raise RfbenchError(f"{mat_path}: has no entry for image {image_id} of the GT text")
            bad = gt_list[(gt_list < 0) | (gt_list >= len(image_boxes))]
            if len(bad):
                raise RfbenchError(
                    f"{mat_path}: face index {int(bad[0]) + 1} (1-based) out of range for {image_id}, "
                    f"which has {len(image_boxes)} faces in the GT text (text and .mat disagree)"
                )
            per_image.append(gt_list)
        settings[setting] = per_image
    return settings


def find_gt_text(data_root: Path, gt_text: str | Path | None = None) -> Path:
    """The GT text to use: ``gt_text`` if given, else the first standard place under the root."""
    if gt_text is not None:
        if not Path(gt_text).is_file():
            raise RfbenchError(f"ground truth text not found: {gt_text}")
        return Path(gt_text)
    tried = [Path(data_root) / place / GT_TEXT_NAME for place in GT_TEXT_PLACES]
    found = next((path for path in tried if path.is_file()), None)
    if found is None:
        raise RfbenchError(
            f"no {GT_TEXT_NAME} under data root {data_root}; looked in: "
            + ", ".join(str(p) for p in tried) + " (see datasets/README.md, or pass --gt-text)"
        )
    return found


def find_mat_dir(data_root: Path, mat_dir: str | Path | None = None) -> tuple[Path | None, list[Path]]:
    """Folder holding all three setting .mat files, or None with the folders looked in."""
    candidates = [Path(mat_dir)] if mat_dir is not None else [Path(data_root) / p for p in MAT_PLACES]
    found = (f for f in candidates if all((f / setting_mat_name(s)).is_file() for s in SETTINGS))
    return next(found, None), candidates


def load_ground_truth(
    data_root: str | Path,
    *,
    gt_text: str | Path | None = None,
    mat_dir: str | Path | None = None,
    require_settings: bool = False,
) -> WiderGroundTruth:
    """Load the val GT under ``data_root`` (see the module docstring for the layout).

    ``gt_text`` / ``mat_dir`` override where the text and the .mat files are looked for. Without
    .mat files the result has no ``setting_indices`` (the official protocol cannot run); with
    ``require_settings`` that is an error listing every folder looked in.
    """
    root = Path(data_root)
    if not root.is_dir():
        raise RfbenchError(f"data root not found: {root} (see datasets/README.md, or pass --data-root)")
    text_path = find_gt_text(root, gt_text)
    folder, tried = find_mat_dir(root, mat_dir)
    if folder is None and require_settings:
        names = ", ".join(setting_mat_name(s) for s in SETTINGS)
        raise RfbenchError(
            f"the official protocol needs {names}; looked in: "
            + ", ".join(str(p) for p in tried) + " (get eval_tools from the WIDER site, or pass --gt-mat-dir)"
        )
    ids, boxes, flags, settings = _parsed(text_path, folder)
    source = {"gt_text": str(text_path)}
    if folder is not None:
        source["setting_lists"] = str(folder)
    log.info("ground truth: %d images, %d boxes from %s", len(ids), sum(map(len, boxes)), text_path)
    return WiderGroundTruth(ids, boxes, flags, settings, source)


def find_images_dir(data_root: str | Path, images_dir: str | Path | None = None) -> Path:
    """Folder holding ``<event>/<name>.jpg`` (``WIDER_val/images`` under the data root)."""
    if images_dir is not None:
        if not Path(images_dir).is_dir():
            raise RfbenchError(f"images folder not found: {images_dir}")
        return Path(images_dir)
    tried = [Path(data_root) / p for p in IMAGES_PLACES]
    found = next((folder for folder in tried if folder.is_dir()), None)
    if found is None:
        looked = ", ".join(map(str, tried))
        raise RfbenchError(f"no WIDER val images under data root; looked in: {looked}")
    return found


def subset(gt: WiderGroundTruth, limit: int) -> WiderGroundTruth:
    """The first ``limit`` images of ``gt`` (in GT-text order)."""
    return WiderGroundTruth(
        gt.image_ids[:limit], gt.boxes_xywh[:limit], gt.invalid[:limit],
        {name: lists[:limit] for name, lists in gt.setting_indices.items()},
        {**gt.source, "limit": str(limit)},
    )


def _parsed(text_path: Path, folder: Path | None) -> gt_cache.Parsed:
    """The checked GT of ``text_path`` (and the setting lists in ``folder``), from the cache
    (:mod:`rfbench.wider.gt_cache`) when these exact files were parsed before."""
    files = [text_path] + ([folder / setting_mat_name(s) for s in SETTINGS] if folder is not None else [])
    key = gt_cache.cache_key(files) if gt_cache.enabled() else None
    cached = gt_cache.load(key) if key is not None else None
    if cached is not None:
        log.debug("ground truth of %s from the cache", text_path)
        return cached
    ids, boxes, flags = parse_gt_text(text_path)
    duplicates = len(ids) - len(set(ids))
    if duplicates:
        raise InputFormatError(f"{text_path}: {duplicates} image(s) listed more than once")
    settings: dict[str, list[np.ndarray]] = {}
    if folder is not None:
        settings = attach_setting_lists(ids, boxes, read_setting_lists(folder), folder)
    if key is not None:
        gt_cache.store(key, (ids, boxes, flags, settings))
    return ids, boxes, flags, settings
