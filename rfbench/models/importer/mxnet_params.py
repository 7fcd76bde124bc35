"""MXNet's ``.params`` file (an NDArray list) read with numpy, no mxnet needed.

Layout (all little-endian), as ``mx.nd.save`` writes it:

- ``uint64`` list magic ``0x112``, ``uint64`` reserved (0);
- ``uint64`` array count, then each array:
  ``uint32`` array magic (``0xF993FAC9`` v2 or ``0xF993FACA`` v3; anything else is the ``ndim``
  of the legacy v0 layout), v2/v3: ``int32`` storage type (0 = dense, the only kind a
  checkpoint of these networks holds); the shape (``uint32`` ndim, then ``int64`` dims; v0:
  ``uint32`` dims); if the shape is not empty: ``int32`` device type, ``int32`` device id,
  ``int32`` dtype code, then ``prod(shape) * itemsize`` bytes of data;
- ``uint64`` name count, then each name as ``uint64`` length + bytes: ``arg:NAME`` for weights,
  ``aux:NAME`` for BatchNorm moving statistics.

The arrays are views into the file's bytes (read once): no copy beyond the file itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rfbench.errors import RfbenchError

LIST_MAGIC = 0x112
ARRAY_MAGIC_V2 = 0xF993FAC9
ARRAY_MAGIC_V3 = 0xF993FACA

#: MXNet's dtype codes (``mshadow::TypeFlag``).
DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8,
          6: np.int64}


@dataclass(frozen=True)
class MxnetParams:
    """The two name spaces of a checkpoint: ``args`` (weights, biases, gammas, betas) and
    ``aux`` (``moving_mean`` / ``moving_var``), each name -> array (its stored dtype)."""

    args: dict[str, np.ndarray]
    aux: dict[str, np.ndarray]

    def get(self, name: str) -> np.ndarray | None:
        """The array called ``name`` in either name space (args first)."""
        found = self.args.get(name)
        return found if found is not None else self.aux.get(name)


class _Reader:
    """Sequential little-endian reads over a bytes object; errors name the file and offset."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise RfbenchError(f"{self.path}: truncated MXNet .params file (ends at byte "
                               f"{len(self.data)} inside a header at byte {self.pos})")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def one(self, fmt: str) -> int:
        return self.take(fmt)[0]

    def array(self, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape, dtype=np.int64))
        size = count * np.dtype(dtype).itemsize
        if self.pos + size > len(self.data):
            raise RfbenchError(f"{self.path}: truncated MXNet .params file (an array of shape "
                               f"{list(shape)} needs {size} bytes at byte {self.pos}, the file "
                               f"has {len(self.data)})")
        out = np.frombuffer(self.data, dtype=np.dtype(dtype).newbyteorder("<"), count=count,
                            offset=self.pos).reshape(shape)
        self.pos += size
        return out


def read_params(path: str | Path) -> MxnetParams:
    """Read ``NAME-EPOCH.params``; RfbenchError (naming the file) for any malformed content."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read: {exc.strerror}") from exc
    reader = _Reader(data, path)
    magic, _reserved = reader.take("<QQ")
    if magic != LIST_MAGIC:
        raise RfbenchError(f"{path}: not an MXNet .params file (magic {magic:#x}, expected "
                           f"{LIST_MAGIC:#x})")
    arrays = [_read_array(reader, index) for index in range(reader.one("<Q"))]
    names = [_read_name(reader) for _ in range(reader.one("<Q"))]
    if len(names) != len(arrays):
        raise RfbenchError(f"{path}: {len(arrays)} arrays but {len(names)} names")
    return _split_names(path, names, arrays)


def _read_array(reader: _Reader, index: int) -> np.ndarray:
    """One NDArray at the reader's position (v0, v2 or v3 layout)."""
    head = reader.one("<I")
    if head in (ARRAY_MAGIC_V2, ARRAY_MAGIC_V3):
        storage = reader.one("<i")
        if storage not in (0, -1):
            raise RfbenchError(f"{reader.path}: array {index} is sparse (storage type {storage}); "
                               "a RetinaFace checkpoint holds dense arrays only")
        ndim = reader.one("<I" if head == ARRAY_MAGIC_V2 else "<i")
        shape = reader.take(f"<{ndim}q") if ndim > 0 else ()
    else:  # legacy v0: the word read was ndim, dims are uint32
        ndim = head
        if ndim > 32:
            raise RfbenchError(f"{reader.path}: array {index} has an unknown header {head:#x} "
                               "(not an MXNet NDArray)")
        shape = reader.take(f"<{ndim}I") if ndim > 0 else ()
    if ndim <= 0 or any(d < 0 for d in shape):
        return np.zeros((0,), np.float32)  # MXNet writes no data for an empty array
    reader.take("<ii")  # the device (type, id) it was saved from
    code = reader.one("<i")
    if code not in DTYPES:
        raise RfbenchError(f"{reader.path}: array {index} has unknown dtype code {code}")
    return reader.array(DTYPES[code], tuple(int(d) for d in shape))


def _read_name(reader: _Reader) -> str:
    length = reader.one("<Q")
    if reader.pos + length > len(reader.data):
        raise RfbenchError(f"{reader.path}: truncated MXNet .params file (a name of {length} "
                           f"bytes at byte {reader.pos})")
    raw = reader.data[reader.pos:reader.pos + length]
    reader.pos += length
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RfbenchError(f"{reader.path}: array name at byte {reader.pos - length} is not "
                           "UTF-8") from exc


def _split_names(path: Path, names: list[str], arrays: list[np.ndarray]) -> MxnetParams:
    """``arg:``/``aux:`` names into the two name spaces (a bare name counts as an arg)."""
    args: dict[str, np.ndarray] = {}
    aux: dict[str, np.ndarray] = {}
    for name, array in zip(names, arrays):
        space, sep, bare = name.partition(":")
        if not sep:
            args[name] = array
        elif space == "arg":
            args[bare] = array
        elif space == "aux":
            aux[bare] = array
        else:
            raise RfbenchError(f"{path}: array name {name!r} has prefix {space!r} (expected "
                               "'arg:' or 'aux:')")
    return MxnetParams(args, aux)
