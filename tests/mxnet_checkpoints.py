"""MXNet checkpoints for the importer's tests, written and run without rfbench's importer.

- :func:`write_params`: an MXNet ``.params`` file (NDArray list, v2 arrays) from numpy arrays,
  written from the format's description, independently of :mod:`rfbench.models.importer`;
- :class:`SymbolForward`: a plain-numpy interpreter of a ``symbol.json`` (float64), the
  test's second opinion on what the imported graph computes. With ``weights=None`` it makes
  random weights as it goes (shapes from the operators' attributes), which is how the tests
  build a synthetic R50 checkpoint with the real names and shapes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def write_params(path: Path, args: dict[str, np.ndarray], aux: dict[str, np.ndarray]) -> None:
    """``mx.nd.save`` layout: list magic, arrays (v2 magic, dense, int64 dims, cpu, float32),
    then the ``arg:``/``aux:`` names."""
    items = [(f"arg:{k}", v) for k, v in args.items()] + [(f"aux:{k}", v) for k, v in aux.items()]
    with open(path, "wb") as out:
        out.write(struct.pack("<QQQ", 0x112, 0, len(items)))
        for _, array in items:
            out.write(struct.pack("<Iii", 0xF993FAC9, 0, array.ndim))
            out.write(struct.pack(f"<{array.ndim}q", *array.shape))
            out.write(struct.pack("<iii", 1, 0, 0))
            out.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
        out.write(struct.pack("<Q", len(items)))
        for name, _ in items:
            raw = name.encode()
            out.write(struct.pack("<Q", len(raw)) + raw)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.strip("()[] ").replace(" ", "").split(",") if v)


def _attrs(node: dict) -> dict[str, str]:
    merged: dict[str, str] = {}
    for key in ("param", "attr", "attrs"):
        merged.update(node.get(key) or {})
    return merged


def conv2d(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], pad: tuple[int, int],
           dilate: tuple[int, int], groups: int) -> np.ndarray:
    """(1, C, H, W) * (F, C/g, kh, kw) -> (1, F, Ho, Wo), by sliding windows and einsum."""
    _, c, _, _ = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x[0], ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    span = ((kh - 1) * dilate[0] + 1, (kw - 1) * dilate[1] + 1)
    win = sliding_window_view(xp, span, axis=(1, 2))[:, ::stride[0], ::stride[1], ::dilate[0], ::dilate[1]]
    win = win.reshape(groups, cg, *win.shape[1:])
    wg = w.reshape(groups, f // groups, cg, kh, kw)
    out = np.einsum("gchwij,gocij->gohw", win, wg, optimize=True)
    return out.reshape(1, f, *out.shape[2:])


class SymbolForward:
    """Run ``symbol.json`` on a (1, 3, H, W) input with numpy; ``weights`` None: random ones.

    After :meth:`run`, ``args`` and ``aux`` hold every weight used (float32 values)."""

    def __init__(self, symbol_path: Path, args: dict | None = None, aux: dict | None = None,
                 seed: int = 0) -> None:
        raw = json.loads(Path(symbol_path).read_text())
        self.nodes, self.heads = raw["nodes"], raw["heads"]
        self.random = args is None
        self.args = {} if args is None else {k: np.asarray(v, np.float32) for k, v in args.items()}
        self.aux = {} if aux is None else {k: np.asarray(v, np.float32) for k, v in aux.items()}
        self.rng = np.random.default_rng(seed)

    def _weight(self, name: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
        store = self.aux if kind in ("mean", "var") else self.args
        if name not in store:
            assert self.random, f"no weight {name}"
            if kind == "conv":
                fan_in = int(np.prod(shape[1:]))
                value = self.rng.normal(0, np.sqrt(2.0 / fan_in), shape)
            elif kind in ("gamma", "var"):
                value = self.rng.uniform(0.5, 1.5, shape)
            else:
                value = self.rng.normal(0, 0.1, shape)
            store[name] = value.astype(np.float32)
        assert store[name].shape == shape, (name, store[name].shape, shape)
        return store[name].astype(np.float64)

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Every head by its node name, float64."""
        values: dict[int, np.ndarray] = {}
        for index, node in enumerate(self.nodes):
            if node["op"] == "null":
                continue
            inputs = [values.get(i) for i, _, *_ in node["inputs"]]
            names = [self.nodes[i]["name"] for i, _, *_ in node["inputs"]]
            if names and names[0] == "data":
                inputs[0] = image.astype(np.float64)
            values[index] = self._op(node["op"], _attrs(node), inputs, names)
        return {self.nodes[i]["name"]: values[i] for i, _, *_ in self.heads}

    def _op(self, op: str, a: dict[str, str], x: list, names: list[str]) -> np.ndarray:
        if op == "Convolution":
            k = _ints(a["kernel"])
            groups = int(a.get("num_group", 1))
            w = self._weight(names[1], (int(a["num_filter"]), x[0].shape[1] // groups, *k), "conv")
            y = conv2d(x[0], w, _ints(a.get("stride", "(1,1)")), _ints(a.get("pad", "(0,0)")),
                       _ints(a.get("dilate", "(1,1)")), groups)
            if a.get("no_bias", "False") not in ("True", "1"):
                y = y + self._weight(names[2], (y.shape[1],), "bias").reshape(1, -1, 1, 1)
            return y
        if op == "BatchNorm":
            c = (x[0].shape[1],)
            gamma = self._weight(names[1], c, "gamma")
            if a.get("fix_gamma", "True") in ("True", "1"):
                gamma = np.ones(c)
            beta, mean = self._weight(names[2], c, "beta"), self._weight(names[3], c, "mean")
            var = self._weight(names[4], c, "var")
            eps = float(a.get("eps", 1e-3))
            scale = (gamma / np.sqrt(var + eps)).reshape(1, -1, 1, 1)
            return (x[0] - mean.reshape(1, -1, 1, 1)) * scale + beta.reshape(1, -1, 1, 1)
        if op == "Activation":
            assert a["act_type"] == "relu"
            return np.maximum(x[0], 0)
        if op == "Pooling":
            assert a.get("pool_type") == "max"
            k, s, p = _ints(a["kernel"]), _ints(a["stride"]), _ints(a["pad"])
            xp = np.pad(x[0], ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf)
            return sliding_window_view(xp, k, axis=(2, 3))[:, :, ::s[0], ::s[1]].max(axis=(4, 5))
        if op == "elemwise_add":
            return x[0] + x[1]
        if op == "Concat":
            return np.concatenate(x, axis=int(a.get("dim", 1)))
        if op == "Reshape":
            spec = _ints(a["shape"])
            shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(spec)]
            return x[0].reshape(shape)
        if op == "SoftmaxActivation":
            assert a["mode"] == "channel"
            e = np.exp(x[0] - x[0].max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if op == "UpSampling":
            s = int(a["scale"])
            return x[0].repeat(s, axis=2).repeat(s, axis=3)
        if op == "Crop":
            h, w = x[1].shape[2:]
            return x[0][:, :, :h, :w]
        raise AssertionError(f"the test's interpreter has no {op}")
