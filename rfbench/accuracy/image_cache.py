"""Resized images kept on disk, so that runs over the same images decode and resize them once.

A sweep evaluates every cell (model x runtime x precision) on the same images at the same
input size; decoding a JPEG and resizing it took ~5 of the ~7 ms per image that are not
inference (``benchmarks/bench_stages.py``). The resized uint8 image does not depend on the
model's pixel format, so one entry serves every cell of a size: the first cell decodes and
resizes, the others read ``<folder>/<key>.npz`` (~0.2 ms) and only build their own tensor
(:func:`rfbench.decoder.preprocess.to_tensor`), so the tensors fed are bit for bit those of the
uncached path (tested).

The key is the SHA-256 of :data:`CACHE_VERSION`, the image file's resolved path, size and
modification time, the network size and the resize mode: an edited image is a new entry.
Each entry is one uncompressed ``<key>.npz``: the resized (h, w, 3) uint8 image and the
original (H, W), from which the original-to-network transform is recomputed. The folder is bounded: once it holds ``max_bytes``, images are
resized as usual and not added (no eviction; a sweep's images are all used once per cell).
Writes are atomic (temporary file, then rename), so concurrent workers can share a folder; the
bound is then per process, over what the folder held when the process opened it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rfbench.decoder.preprocess import ImageTransform, read_image, resize_image

log = logging.getLogger(__name__)

CACHE_VERSION = "rfbench-resized-1"
DEFAULT_MAX_MB = 4096


@dataclass
class CacheTally:
    """What one process did with the cache: images read from it, resized and added, resized
    but not added (the folder was full), and the folder's bytes as this process last saw them."""

    hits: int = 0
    added: int = 0
    not_added: int = 0
    folder_bytes: int = 0


def folder_bytes(folder: Path) -> int:
    """Bytes of the cache entries in ``folder`` (0 when it does not exist)."""
    try:
        with os.scandir(folder) as entries:
            return sum(e.stat().st_size for e in entries if e.name.endswith(".npz") and e.is_file())
    except FileNotFoundError:
        return 0


class ResizedImageCache:
    """Resized uint8 images of (image file, network size, resize mode) under ``folder``."""

    def __init__(self, folder: str | Path, max_bytes: int = DEFAULT_MAX_MB << 20) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tally = CacheTally(folder_bytes=folder_bytes(self.folder))

    def key(self, path: Path, network_hw: tuple[int, int], mode: str) -> str:
        stat = path.stat()
        text = f"{CACHE_VERSION}\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{network_hw}\0{mode}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]

    def resized(self, path: Path, network_hw: tuple[int, int], mode: str) -> tuple[np.ndarray, ImageTransform]:
        """:func:`resize_image` of the image at ``path`` (read with :func:`read_image`, whose
        errors pass through): from the cache when there, else made and added if room is left."""
        entry = self.folder / f"{self.key(path, network_hw, mode)}.npz"
        found = self._load(entry, network_hw, mode) if entry.is_file() else None
        if found is not None:
            self.tally.hits += 1
            return found
        image = read_image(path)
        resized, transform = resize_image(image, network_hw, mode)
        self._store(entry, resized, image.shape[:2])
        return resized, transform

    def _load(self, entry: Path, network_hw: tuple[int, int], mode: str) -> tuple[np.ndarray, ImageTransform] | None:
        try:
            with np.load(entry, allow_pickle=False) as data:
                resized, original = data["resized"], data["original_hw"]
            height, width = (int(v) for v in original)
        except Exception as exc:  # noqa: BLE001 - a damaged entry raises anything: resize again
            log.debug("image cache entry %s unreadable (%s); resizing again", entry, exc)
            return None
        if resized.dtype != np.uint8 or resized.ndim != 3 or resized.shape[2] != 3:
            return None
        return resized, _transform((height, width), resized.shape[:2], network_hw, mode)

    def _store(self, entry: Path, resized: np.ndarray, original_hw: tuple[int, ...]) -> None:
        size = resized.nbytes + 1024  # at most the zip and .npy headers (~540 bytes)
        if self.tally.folder_bytes + size > self.max_bytes:
            self.tally.not_added += 1
            return
        tmp_name = None
        try:
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as tmp:
                tmp_name = tmp.name
                np.savez(tmp, resized=resized, original_hw=np.array(original_hw, np.int64))
            os.replace(tmp_name, entry)
            size = entry.stat().st_size
        except OSError as exc:
            log.debug("image cache entry %s not written: %s", entry, exc)
            if tmp_name is not None and os.path.exists(tmp_name):
                os.unlink(tmp_name)
            self.tally.not_added += 1
            return
        self.tally.added += 1
        self.tally.folder_bytes += size


def _transform(original_hw: tuple[int, int], resized_hw: tuple[int, int], network_hw: tuple[int, int],
               mode: str) -> ImageTransform:
    """The transform :func:`resize_image` returns for an image of ``original_hw`` resized to
    ``resized_hw`` (the whole canvas for stretch, the pasted part for letterbox)."""
    if mode == "stretch":
        return ImageTransform.stretch(original_hw, network_hw)
    (oh, ow), (rh, rw) = original_hw, resized_hw
    return ImageTransform(rw / ow, rh / oh, 0.0, 0.0, (int(network_hw[0]), int(network_hw[1])))
