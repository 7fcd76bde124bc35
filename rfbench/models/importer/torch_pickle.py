"""A PyTorch ``.pth`` state dict read with numpy through a restricted unpickler (no torch).

Two container formats, as ``torch.save`` writes them:

- legacy (torch < 1.6, e.g. Pytorch_Retinaface's release): five pickles in a row: the long
  magic ``0x1950a86a20f9469cfc6c``, the protocol version (1001), the system info (byte order,
  type sizes), the object (tensors refer to storages by persistent id), the list of storage
  keys; then each storage in that order as an ``int64`` element count and its raw bytes;
- zip (torch >= 1.6): ``<archive>/data.pkl`` (the object), ``<archive>/data/<key>`` (each
  storage's raw bytes), ``<archive>/byteorder`` (absent: little-endian).

The unpickler resolves only the globals a state dict needs (:data:`ALLOWED`): ``OrderedDict``,
the tensor and parameter rebuild functions (replaced here by numpy versions) and the typed
storage classes (replaced by their dtypes). Any other global (``os.system``, ``builtins.eval``,
a class of the training code) is refused when the pickle names it, before anything is called,
with a one-line error naming it. Tensors are numpy views into the file's bytes (memory-mapped):
no copy when they are contiguous float32, as a state dict's are.
"""

from __future__ import annotations

import collections
import mmap
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

#: Storage class name -> element dtype (little-endian unless the file says otherwise): what
#: ``torch.FloatStorage`` (etc.) stands for here.
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageRef:
    """A persistent id: storage ``key`` of ``numel`` elements of ``dtype``; in the first pass
    over a legacy file, before the storages are read, it stands in for the storage."""

    key: str
    dtype: Any
    numel: int


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: Any) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2`` in numpy: a strided view of the storage (the
    first pass over a legacy file, before the storages are read, gives back the placeholder)."""
    if isinstance(storage, _StorageRef):
        return storage
    if not isinstance(storage, np.ndarray):
        raise TypeError("a tensor whose storage is not a storage")
    size, stride, offset = tuple(int(v) for v in size), tuple(int(v) for v in stride), int(offset)
    if len(size) != len(stride) or offset < 0 or any(v < 0 for v in (*size, *stride)):
        raise ValueError(f"a tensor of size {list(size)} and stride {list(stride)}")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if last >= storage.size:
        raise ValueError(f"a tensor of size {list(size)} reaches past its storage")
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride),
                                           writeable=False)


def _rebuild_parameter(data: np.ndarray, *_: Any) -> np.ndarray:
    """``torch._utils._rebuild_parameter`` (a Parameter is its data here)."""
    return data


#: (module, name) -> the stand-in the restricted unpickler gives for it.
ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): np.dtype(dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class _Refused(Exception):
    """A global outside :data:`ALLOWED` (turned into an RfbenchError naming the file)."""


class _Unpickler(pickle.Unpickler):
    """``find_class`` answers only from :data:`ALLOWED`; persistent ids become storage refs."""

    def __init__(self, stream: Any, storages: dict[str, np.ndarray] | None) -> None:
        super().__init__(stream)
        self.storages = storages
        self.refs: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], np.dtype)):
            raise ValueError(f"an unknown persistent id {pid!r:.80}")
        _, kind, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise ValueError("a storage view (torch < 0.4), which rfbench does not read")
        ref = _StorageRef(str(key), kind, int(numel))
        self.refs[ref.key] = ref
        if self.storages is None:  # legacy: the bytes come after the pickle; a placeholder now
            return ref
        return self.storages[ref.key].view(ref.dtype)[: ref.numel]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """``path``'s state dict: name -> float32 array (``module.`` prefixes stripped,
    ``num_batches_tracked`` dropped). RfbenchError names the file for anything else."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            handle.seek(0)
            zipped = mapped[:4] == b"PK\x03\x04"
            obj = _load_zip(handle, mapped) if zipped else _load_legacy(handle, mapped)
    except _Refused as exc:
        raise RfbenchError(f"{path}: refusing to load: the pickle asks for global '{exc}' "
                           "(a state dict needs only tensors)") from None
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, zipfile.BadZipFile, OverflowError, UnicodeDecodeError) as exc:
        raise RfbenchError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: "
                           f"{str(exc)[:120]})") from None
    return _state_dict(path, obj)


def _load_legacy(handle: Any, mapped: mmap.mmap) -> Any:
    """The legacy format: header pickles, object, storage keys, then the storages' bytes."""
    header = _Unpickler(handle, None)
    if header.load() != LEGACY_MAGIC:
        raise ValueError("wrong magic number")
    _Unpickler(handle, None).load()  # protocol version
    info = _Unpickler(handle, None).load()
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise ValueError("a big-endian checkpoint")
    start = handle.tell()
    first = _Unpickler(handle, None)
    first.load()
    keys = _Unpickler(handle, None).load()
    storages, offset = {}, handle.tell()
    for key in keys:
        ref = first.refs[str(key)]
        if offset + 8 > len(mapped):
            raise ValueError(f"truncated before storage {key}")
        (count,) = np.frombuffer(mapped, "<i8", 1, offset)
        size = int(count) * np.dtype(ref.dtype).itemsize
        if count < 0 or offset + 8 + size > len(mapped):
            raise ValueError(f"truncated: storage {key} needs {size} bytes at byte {offset + 8}")
        storages[str(key)] = np.frombuffer(mapped, np.uint8, size, offset + 8)
        offset += 8 + size
    handle.seek(start)
    return _Unpickler(handle, storages).load()


def _load_zip(handle: Any, mapped: mmap.mmap) -> Any:
    """The zip format: ``data.pkl`` with its storages in ``data/<key>`` (stored, so mapped)."""
    import io

    with zipfile.ZipFile(handle) as archive:
        names = archive.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ValueError("a zip without data.pkl (not a torch.save archive)")
        prefix = pkl[: -len("data.pkl")]
        order = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
        if order.strip() != "little":
            raise ValueError("a big-endian checkpoint")
        storages = {n[len(prefix) + 5:]: _member_bytes(archive, mapped, n)
                    for n in names if n.startswith(prefix + "data/")}
        return _Unpickler(io.BytesIO(archive.read(pkl)), storages).load()


def _member_bytes(archive: zipfile.ZipFile, mapped: mmap.mmap, name: str) -> np.ndarray:
    """A member's bytes: a view of the mapped file when stored (torch stores, never deflates)."""
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        return np.frombuffer(archive.read(name), np.uint8)
    header = np.frombuffer(mapped, "<u2", 2, info.header_offset + 26)
    start = info.header_offset + 30 + int(header[0]) + int(header[1])
    return np.frombuffer(mapped, np.uint8, info.file_size, start)


def _state_dict(path: Path, obj: Any) -> dict[str, np.ndarray]:
    """The tensors of ``obj`` (a state dict, or a dict holding one under ``state_dict`` /
    ``model``) as float32 arrays under their names without ``module.``."""
    if isinstance(obj, dict) and not any(isinstance(v, np.ndarray) for v in obj.values()):
        obj = obj.get("state_dict", obj.get("model", obj))
    if not isinstance(obj, dict) or not obj:
        raise RfbenchError(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")
    state: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        name = str(key).removeprefix("module.")
        if name.endswith("num_batches_tracked"):
            continue
        if not isinstance(value, np.ndarray):
            raise RfbenchError(f"{path}: entry '{key}' is a {type(value).__name__}, not a tensor")
        state[name] = value if value.dtype == np.float32 and value.flags.c_contiguous else \
            np.ascontiguousarray(value, dtype=np.float32)
    return state
