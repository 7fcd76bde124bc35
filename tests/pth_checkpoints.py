"""Pytorch_Retinaface checkpoints for the importer's tests, written and run without torch and
without rfbench's importer.

- :func:`write_pth`: a state dict as ``torch.save`` writes it, legacy (pickle stream) or zip
  format. The pickles name ``torch.FloatStorage`` and ``torch._utils._rebuild_tensor_v2`` as
  torch does; stand-ins under those names exist only while a file is written;
- :func:`resnet50_state`: random weights under the real key names and shapes of
  ``RetinaFace(cfg_re50)`` (torchvision ResNet-50 body, FPN, SSH, heads);
- :func:`forward`: the network of biubug6's ``models/retinaface.py`` / ``models/net.py`` in
  plain numpy (float64), the test's second opinion on the imported graph.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
import types
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from mxnet_checkpoints import conv2d
from numpy.lib.stride_tricks import sliding_window_view

MAGIC = 0x1950A86A20F9469CFC6C


class _Tensor:
    """What the pickle sees of a tensor: it reduces to ``_rebuild_tensor_v2(storage, ...)``."""

    def __init__(self, storage, shape: tuple[int, ...], rebuild) -> None:
        self.storage, self.shape, self.rebuild = storage, shape, rebuild

    def __reduce__(self):
        strides = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        return self.rebuild, (self.storage, 0, self.shape, strides, False, collections.OrderedDict())


class _Storage:
    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key, self.array = key, np.ascontiguousarray(array, "<f4")


@contextmanager
def _fake_torch():
    """``torch.FloatStorage`` and ``torch._utils._rebuild_tensor_v2`` as pickle finds them."""
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    storage_type = type("FloatStorage", (), {"__module__": "torch"})

    def rebuild(*args):  # never called: only pickled by name
        raise AssertionError
    rebuild.__module__, rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = storage_type, rebuild
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield storage_type, rebuild
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _pickle_state(state: dict[str, np.ndarray], prefix: str) -> tuple[bytes, list[_Storage]]:
    storages: list[_Storage] = []
    with _fake_torch() as (storage_type, rebuild):
        obj = collections.OrderedDict()
        for name, array in state.items():
            storages.append(_Storage(str(len(storages)), array))
            obj[prefix + name] = _Tensor(storages[-1], tuple(array.shape), rebuild)

        class Pickler(pickle.Pickler):
            def persistent_id(self, value):
                if isinstance(value, _Storage):
                    return ("storage", storage_type, value.key, "cpu", value.array.size)
                return None
        out = io.BytesIO()
        Pickler(out, protocol=2).dump(obj)
    return out.getvalue(), storages


def write_pth(path: Path, state: dict[str, np.ndarray], fmt: str = "legacy", prefix: str = "") -> None:
    """``torch.save(state_dict)`` in the ``legacy`` or ``zip`` format (keys with ``prefix``,
    e.g. ``module.``)."""
    data, storages = _pickle_state(state, prefix)
    if fmt == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("archive/data.pkl", data)
            archive.writestr("archive/byteorder", "little")
            for storage in storages:
                archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
            archive.writestr("archive/version", "3\n")
        return
    with open(path, "wb") as out:
        for header in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                                     "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, out, protocol=2)
        out.write(data)
        pickle.dump([s.key for s in storages], out, protocol=2)
        for storage in storages:
            out.write(struct.pack("<q", storage.array.size) + storage.array.tobytes())


# -- the network, in numpy ----------------------------------------------------------------------


def _conv_keys(state: dict, key: str, out: int, cin: int, k: int, bias: bool = False) -> None:
    state[f"{key}.weight"] = (0, (out, cin, k, k))
    if bias:
        state[f"{key}.bias"] = (1, (out,))


def _bn_keys(state: dict, key: str, c: int) -> None:
    for name, kind in (("weight", 2), ("bias", 1), ("running_mean", 1), ("running_var", 2)):
        state[f"{key}.{name}"] = (kind, (c,))


def resnet50_state(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights of ``RetinaFace(cfg_re50)`` under its real keys (~27M values)."""
    spec: dict[str, tuple[int, tuple[int, ...]]] = {}
    _conv_keys(spec, "body.conv1", 64, 3, 7)
    _bn_keys(spec, "body.bn1", 64)
    cin = 64
    for layer, (blocks, width) in enumerate(((3, 64), (4, 128), (6, 256), (3, 512)), start=1):
        for i in range(blocks):
            key = f"body.layer{layer}.{i}"
            for j, (cout, c, k) in enumerate(((width, cin, 1), (width, width, 3), (width * 4, width, 1)), 1):
                _conv_keys(spec, f"{key}.conv{j}", cout, c, k)
                _bn_keys(spec, f"{key}.bn{j}", cout)
            if i == 0:
                _conv_keys(spec, f"{key}.downsample.0", width * 4, cin, 1)
                _bn_keys(spec, f"{key}.downsample.1", width * 4)
            cin = width * 4
    _neck_keys(spec, (512, 1024, 2048), 256)
    rng = np.random.default_rng(seed)
    state = {}
    for name, (kind, shape) in spec.items():
        if kind == 0:
            state[name] = rng.normal(0, np.sqrt(1.0 / np.prod(shape[1:])), shape)
        elif kind == 2:
            state[name] = rng.uniform(0.5, 1.5, shape)
        else:
            state[name] = rng.normal(0, 0.1, shape)
        state[name] = state[name].astype(np.float32)
    return state


def _neck_keys(spec: dict, ins: tuple[int, int, int], out: int) -> None:
    for i, c in enumerate(ins, 1):
        _conv_keys(spec, f"fpn.output{i}.0", out, c, 1)
        _bn_keys(spec, f"fpn.output{i}.1", out)
    for name in ("merge1", "merge2"):
        _conv_keys(spec, f"fpn.{name}.0", out, out, 3)
        _bn_keys(spec, f"fpn.{name}.1", out)
    for s in (1, 2, 3):
        for name, cout, cin in (("conv3X3", out // 2, out), ("conv5X5_1", out // 4, out),
                                ("conv5X5_2", out // 4, out // 4), ("conv7X7_2", out // 4, out // 4),
                                ("conv7x7_3", out // 4, out // 4)):
            _conv_keys(spec, f"ssh{s}.{name}.0", cout, cin, 3)
            _bn_keys(spec, f"ssh{s}.{name}.1", cout)
    for head, size in (("ClassHead", 2), ("BboxHead", 4), ("LandmarkHead", 10)):
        for i in range(3):
            _conv_keys(spec, f"{head}.{i}.conv1x1", 2 * size, out, 1, bias=True)


class _Np:
    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.s = {k: v.astype(np.float64) for k, v in state.items()}

    def conv(self, key, x, stride=1, pad=0, groups=1, bias=False):
        y = conv2d(x, self.s[f"{key}.weight"], (stride, stride), (pad, pad), (1, 1), groups)
        return y + self.s[f"{key}.bias"].reshape(1, -1, 1, 1) if bias else y

    def bn(self, key, x):
        s = self.s
        scale = s[f"{key}.weight"] / np.sqrt(s[f"{key}.running_var"] + 1e-5)
        return (x - s[f"{key}.running_mean"].reshape(1, -1, 1, 1)) * scale.reshape(1, -1, 1, 1) \
            + s[f"{key}.bias"].reshape(1, -1, 1, 1)

    def cbr(self, key, x, stride, pad, leaky, groups=1):
        y = self.bn(f"{key}.1", self.conv(f"{key}.0", x, stride, pad, groups))
        return y if leaky is None else np.where(y > 0, y, y * leaky)


def _relu(x):
    return np.maximum(x, 0)


def _interpolate_nearest(x, size):
    """``F.interpolate(mode="nearest", size=size)``: src = floor(dst * (in / out) as float32)."""
    rows = [min(int(np.floor(np.float32(i) * np.float32(x.shape[2] / size[0]))), x.shape[2] - 1)
            for i in range(size[0])]
    cols = [min(int(np.floor(np.float32(j) * np.float32(x.shape[3] / size[1]))), x.shape[3] - 1)
            for j in range(size[1])]
    return x[:, :, rows][:, :, :, cols]


def _backbone(n: _Np, x):
    if "body.stage1.0.0.weight" in n.s:
        strides = {"stage1": (2, 1, 2, 1, 2, 1), "stage2": (2, 1, 1, 1, 1, 1), "stage3": (2, 1)}
        x, out = n.cbr("body.stage1.0", x, 2, 1, 0.1), []
        for stage, ss in strides.items():
            for i, st in enumerate(ss):
                if stage == "stage1" and i == 0:
                    continue
                k = f"body.{stage}.{i}"
                c = n.s[f"{k}.0.weight"].shape[0]
                y = n.bn(f"{k}.1", n.conv(f"{k}.0", x, st, 1, c))
                y = np.where(y > 0, y, 0.1 * y)
                y = n.bn(f"{k}.4", n.conv(f"{k}.3", y))
                x = np.where(y > 0, y, 0.1 * y)
            out.append(x)
        return out, 0.1
    x = _relu(n.bn("body.bn1", n.conv("body.conv1", x, 2, 3)))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    x = sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))
    out = []
    for layer, blocks in ((1, 3), (2, 4), (3, 6), (4, 3)):
        for i in range(blocks):
            k, st = f"body.layer{layer}.{i}", (2 if layer > 1 and i == 0 else 1)
            y = _relu(n.bn(f"{k}.bn1", n.conv(f"{k}.conv1", x)))
            y = _relu(n.bn(f"{k}.bn2", n.conv(f"{k}.conv2", y, st, 1)))
            y = n.bn(f"{k}.bn3", n.conv(f"{k}.conv3", y))
            if i == 0:
                x = n.bn(f"{k}.downsample.1", n.conv(f"{k}.downsample.0", x, st))
            x = _relu(x + y)
        if layer > 1:
            out.append(x)
    return out, 0.0


def forward(state: dict[str, np.ndarray], image: np.ndarray) -> dict[str, np.ndarray]:
    """``RetinaFace(phase="test")(image)`` in numpy: {"loc", "conf", "landmarks"}."""
    n = _Np(state)
    (c1, c2, c3), leaky = _backbone(n, image.astype(np.float64))
    o1, o2, o3 = (n.cbr(f"fpn.output{i}", c, 1, 0, leaky) for i, c in enumerate((c1, c2, c3), 1))
    o2 = n.cbr("fpn.merge2", o2 + _interpolate_nearest(o3, o2.shape[2:]), 1, 1, leaky)
    o1 = n.cbr("fpn.merge1", o1 + _interpolate_nearest(o2, o1.shape[2:]), 1, 1, leaky)
    feats = []
    for i, f in enumerate((o1, o2, o3), 1):
        k = f"ssh{i}"
        a = n.cbr(f"{k}.conv3X3", f, 1, 1, None)
        b1 = n.cbr(f"{k}.conv5X5_1", f, 1, 1, leaky)
        b = n.cbr(f"{k}.conv5X5_2", b1, 1, 1, None)
        c = n.cbr(f"{k}.conv7x7_3", n.cbr(f"{k}.conv7X7_2", b1, 1, 1, leaky), 1, 1, None)
        feats.append(_relu(np.concatenate([a, b, c], axis=1)))
    out = {}
    for head, size, name in (("BboxHead", 4, "loc"), ("ClassHead", 2, "conf"), ("LandmarkHead", 10, "landmarks")):
        parts = [n.conv(f"{head}.{i}.conv1x1", f, bias=True).transpose(0, 2, 3, 1).reshape(1, -1, size)
                 for i, f in enumerate(feats)]
        out[name] = np.concatenate(parts, axis=1)
    e = np.exp(out["conf"] - out["conf"].max(axis=-1, keepdims=True))
    out["conf"] = e / e.sum(axis=-1, keepdims=True)
    return out


def benchmark_checkpoints(scratch: Path) -> dict[str, Path]:
    """For benchmarks/bench_import.py: synthetic R50 .pth files in both formats."""
    state = resnet50_state()
    found = {}
    for fmt in ("legacy", "zip"):
        path = scratch / f"Resnet50_{fmt}.pth"
        write_pth(path, state, fmt)
        found[f"R50 (.pth {fmt}, synthetic)"] = path
    return found
