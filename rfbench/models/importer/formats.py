"""Which checkpoint a file is, from its first bytes, and the files that go with it.

- insightface MXNet: ``NAME-symbol.json`` (the graph) + ``NAME-EPOCH.params`` (the weights,
  an NDArray list starting with the 64-bit magic ``0x112``); either file may be named, the
  other is found beside it by MXNet's naming (or given with ``--symbol``);
- Pytorch_Retinaface ``.pth``: the legacy torch pickle (protocol 2, then the long magic
  ``0x1950a86a20f9469cfc6c``) or the zip format (``PK\\x03\\x04``);
- a Git LFS pointer where the weights should be (a clone without ``git lfs pull``): refused with
  what to do; so are empty, unknown and model (``.onnx``/``.xml``) files.
"""

from __future__ import annotations

import glob
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from rfbench.errors import RfbenchError

MXNET = "insightface MXNet"
PTH = "Pytorch_Retinaface .pth"

_LFS_PREFIX = b"version https://git-lfs.github.com/spec/"
_TORCH_LEGACY = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_ZIP = b"PK\x03\x04"
_MXNET_LIST = struct.pack("<Q", 0x112)
_EPOCH = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d+)\.params$")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint to import: ``format`` (:data:`MXNET` or :data:`PTH`), ``weights`` (the
    ``.params`` or ``.pth`` file) and, for MXNet, ``symbol`` (its ``symbol.json``)."""

    format: str
    weights: Path
    symbol: Path | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """The files whose bytes make the model (the cache key hashes them)."""
        return (self.symbol, self.weights) if self.symbol is not None else (self.weights,)

    def describe(self) -> str:
        """One line: ``x-0000.params: insightface MXNet checkpoint (symbol x-symbol.json)``."""
        extra = f" (symbol {self.symbol.name})" if self.symbol is not None else ""
        return f"{self.weights}: {self.format} checkpoint{extra}"


def is_checkpoint(path: str | Path) -> bool:
    """True when ``path`` names a file ``rfbench import`` reads (by name, not opened)."""
    name = Path(path).name.lower()
    return name.endswith((".params", ".pth", ".pt", "-symbol.json", ".tar"))


def find_checkpoint(path: str | Path, symbol: str | Path | None = None) -> Checkpoint:
    """The checkpoint ``path`` names, its format detected from its first bytes.

    ``symbol``: the MXNet graph when it is not ``PREFIX-symbol.json`` beside the weights.
    RfbenchError (one line, naming the file) for anything that is not an importable checkpoint.
    """
    path = Path(path)
    head = _head(path)
    if path.name.lower().endswith(".json"):
        return _mxnet_from_symbol(path, symbol)
    if head.startswith(_LFS_PREFIX):
        raise RfbenchError(f"{path}: this is a Git LFS pointer ({_lfs_size(path)}), not the "
                           "weights: fetch the real file (git lfs pull, or download it again)")
    if head.startswith(_MXNET_LIST):
        return Checkpoint(MXNET, path, _symbol_for(path, symbol))
    if head.startswith(_TORCH_LEGACY) or head.startswith(_ZIP):
        if symbol is not None:
            raise RfbenchError(f"--symbol {symbol}: {path} is a .pth checkpoint, which needs no symbol")
        return Checkpoint(PTH, path)
    raise RfbenchError(f"{path}: not a checkpoint rfbench can import (expected insightface's "
                       "MXNet NAME-symbol.json + NAME-EPOCH.params, or a Pytorch_Retinaface "
                       f".pth; its first bytes are {head[:8].hex(' ')})")


def _head(path: Path) -> bytes:
    """The first 64 bytes; RfbenchError for a missing, unreadable, empty or non-file path."""
    if not path.exists():
        raise RfbenchError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise RfbenchError(f"checkpoint path is not a file: {path}")
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read: {exc.strerror}") from exc
    if not head:
        raise RfbenchError(f"{path}: empty file (0 bytes), not a checkpoint")
    return head


def _lfs_size(path: Path) -> str:
    """``the real file is N bytes`` from the pointer's ``size`` line, when it has one."""
    text = path.read_bytes()[:512].decode("utf-8", "replace")
    found = re.search(r"^size (\d+)$", text, re.MULTILINE)
    return f"the real file is {int(found.group(1)):,} bytes" if found else "no size given"


def _symbol_for(params: Path, symbol: str | Path | None) -> Path:
    """``PREFIX-symbol.json`` for ``PREFIX-EPOCH.params`` (or ``symbol`` when given)."""
    if symbol is not None:
        found = Path(symbol)
        _head(found)
        return found
    match = _EPOCH.match(params.name)
    prefix = match.group("prefix") if match else params.stem
    found = params.with_name(f"{prefix}-symbol.json")
    if not found.is_file():
        raise RfbenchError(f"{params}: the MXNet graph {found.name} is not beside it; give it "
                           "with --symbol PATH (rfbench import) or put it there")
    return found


def _mxnet_from_symbol(symbol: Path, given: str | Path | None) -> Checkpoint:
    """A ``-symbol.json`` was named: its ``.params`` beside it (the only epoch there)."""
    if given is not None:
        raise RfbenchError(f"{symbol}: name the .params file as the checkpoint when giving --symbol")
    prefix = symbol.name[: -len("-symbol.json")] if symbol.name.endswith("-symbol.json") else symbol.stem
    candidates = sorted(p for p in symbol.parent.glob(f"{glob.escape(prefix)}-*.params")
                        if _EPOCH.match(p.name))
    if not candidates:
        raise RfbenchError(f"{symbol}: no {prefix}-EPOCH.params beside it: name the weights "
                           "file as the checkpoint")
    if len(candidates) > 1:
        raise RfbenchError(f"{symbol}: several epochs beside it ({', '.join(p.name for p in candidates)}): "
                           "name the .params file to import")
    params = candidates[0]
    if not _head(params).startswith(_MXNET_LIST):
        return find_checkpoint(params)  # the LFS pointer and wrong-magic messages
    return Checkpoint(MXNET, params, symbol)
