"""The parsed ground truth kept in the user cache, keyed by the bytes of the files it came from.

Parsing the full val GT text (39,708 rows) and reading the three ``.mat`` setting lists (which
imports ``scipy.io``) took ~0.5 s of every ``rfbench eval``; the same files give the same
ground truth, so the checked result is stored once as an ``.npz`` under
``<cache>/ground-truth/<sha256 of the files>.npz`` and read back in a few milliseconds.

The key is the SHA-256 of :data:`CACHE_VERSION` and every input file's bytes (GT text, then
the easy/medium/hard ``.mat`` files when used), so an edited file is a new entry, never a stale
answer. Only ground truth that passed every check of
:func:`rfbench.wider.ground_truth.load_ground_truth` is stored. A cache that cannot be written
(read-only home) or an entry that cannot be read back (damaged, cut short) is skipped with a
debug line: the files are then parsed as before. ``RFBENCH_GT_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.fileio import atomic_file

log = logging.getLogger(__name__)

#: Bump when the stored arrays or the parsing change meaning.
CACHE_VERSION = b"rfbench-gt-cache-1"
SETTINGS = ("easy", "medium", "hard")

#: (image ids, boxes (n, 4) per image, invalid flags (n,) per image, setting indices per image)
Parsed = tuple[list[str], list[np.ndarray], list[np.ndarray], dict[str, list[np.ndarray]]]


def enabled() -> bool:
    return os.environ.get("RFBENCH_GT_CACHE", "1") != "0"


def cache_key(files: Sequence[Path]) -> str:
    """SHA-256 (hex) of the cache version and the bytes of ``files``, in order."""
    digest = hashlib.sha256(CACHE_VERSION)
    for path in files:
        data = Path(path).read_bytes()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def entry_path(key: str) -> Path:
    from rfbench.models.reference_r50 import cache_dir

    return cache_dir() / "ground-truth" / f"{key}.npz"


def _split(flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """``flat`` cut into consecutive pieces of ``lengths`` (copies, each contiguous)."""
    ends = np.cumsum(lengths)
    return [flat[end - n:end].copy() for end, n in zip(ends.tolist(), lengths.tolist())]


def load(key: str) -> Parsed | None:
    """The entry of ``key``, or None when there is none or it cannot be read back whole."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids = data["ids"].tolist()
            counts = data["counts"]
            boxes, invalid = data["boxes"], data["invalid"]
            if len(ids) != len(counts) or int(counts.sum()) != len(boxes) or len(invalid) != len(boxes):
                raise ValueError("inconsistent lengths")
            settings = {}
            for setting in SETTINGS:
                if f"{setting}_lengths" in data:
                    lengths = data[f"{setting}_lengths"]
                    if len(lengths) != len(ids):
                        raise ValueError(f"{setting}: {len(lengths)} lists for {len(ids)} images")
                    settings[setting] = _split(data[f"{setting}_indices"], lengths)
    except Exception as exc:  # noqa: BLE001 - a damaged entry raises anything: parse the files instead
        log.debug("ground-truth cache %s unreadable (%s: %s); parsing the files", path, type(exc).__name__, exc)
        return None
    return ids, _split(boxes, counts), _split(invalid, counts), settings


def store(key: str, parsed: Parsed) -> None:
    """Write the entry of ``key`` atomically; a cache that cannot be written is skipped."""
    ids, boxes, invalid, settings = parsed
    arrays: dict[str, Any] = {
        "ids": np.array(ids, dtype=str),
        "counts": np.array([len(b) for b in boxes], dtype=np.int64),
        "boxes": np.concatenate(boxes).reshape(-1, 4) if boxes else np.zeros((0, 4)),
        "invalid": np.concatenate(invalid) if invalid else np.zeros(0, bool),
    }
    for setting, lists in settings.items():
        arrays[f"{setting}_lengths"] = np.array([len(x) for x in lists], dtype=np.int64)
        arrays[f"{setting}_indices"] = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
    path = entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError as exc:
        log.debug("ground-truth cache not written (%s): %s", path, exc)
