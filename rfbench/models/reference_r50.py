"""The architecture-exact RetinaFace-R50 reference graph (insightface MXNet, OMZ ``retinaface-resnet50``).

The trained weights are not obtainable, but latency and complexity do not depend on weight
values, so rfbench builds the exact architecture (see ``shared/spec/reference-r50.md``) as an
ONNX graph with seeded, deterministic weights:

- ResNet-50 v2 (pre-activation) backbone, bias-free convolutions, BatchNorm epsilon 2e-5, with
  ``bn_data`` (gamma fixed to 1) normalising the raw BGR 0..255 input inside the net;
- the SSH neck (laterals, nearest 2x upsampling, aggregation convs) and one SSH detection module
  per stride, every conv with a bias and a BatchNorm after it;
- per stride (32, 16, 8) the heads ``face_rpn_cls_prob_reshape_stride{s}`` (1x4xHxW, a real
  two-class softmax via Reshape(0,2,-1,0) -> Softmax(axis=1) -> Reshape(0,4,-1,0)),
  ``face_rpn_bbox_pred_stride{s}`` (1x8xHxW) and ``face_rpn_landmark_pred_stride{s}`` (1x20xHxW).

BatchNorms are ``BatchNormalization`` nodes, as in an exported MXNet graph, so the runtime's
BN folding is exactly what the complexity counting rule describes.

The graph is described first as a list of plain layer records (:func:`architecture`); the cache
file name is the sha256 of that description plus the seed and builder version, so a change to
any of them builds a new file. :func:`reference_model_path` returns the cached file, building
it once (a few seconds, ~118 MB) when missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

# Bump BUILDER_VERSION whenever the weight generation changes (it is part of the cache key).
BUILDER_VERSION = 7
SEED = 20190601
OPSET = 17
INPUT_NAME = "data"
INPUT_SHAPE = (1, 3, 640, 640)
BN_EPS = 2e-5
STRIDES = (32, 16, 8)
NUM_ANCHORS = 2
# Per-channel BGR statistics of natural images (0..255), used as bn_data's running stats so the
# normalised input is O(1), as the trained model's bn_data does.
_PIXEL_MEAN = (104.0, 117.0, 123.0)
_PIXEL_STD = (57.4, 57.1, 58.4)


def output_names() -> list[str]:
    """The nine output names in model order: (cls, bbox, landmark) for strides 32, 16, 8."""
    names = []
    for s in STRIDES:
        names += [
            f"face_rpn_cls_prob_reshape_stride{s}",
            f"face_rpn_bbox_pred_stride{s}",
            f"face_rpn_landmark_pred_stride{s}",
        ]
    return names


def output_shapes() -> dict[str, tuple[int, int, int, int]]:
    """Output name -> NCHW shape at the 640x640 input (H = W = 640 / stride)."""
    shapes = {}
    for s in STRIDES:
        hw = INPUT_SHAPE[2] // s
        shapes[f"face_rpn_cls_prob_reshape_stride{s}"] = (1, 2 * NUM_ANCHORS, hw, hw)
        shapes[f"face_rpn_bbox_pred_stride{s}"] = (1, 4 * NUM_ANCHORS, hw, hw)
        shapes[f"face_rpn_landmark_pred_stride{s}"] = (1, 10 * NUM_ANCHORS, hw, hw)
    return shapes


# ---------------------------------------------------------------------------------------------
# Architecture description: a list of layer records (plain dicts, JSON-serialisable)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Planner:
    """Collects layer records and tracks each tensor's channel count (shapes follow from strides)."""

    layers: list[dict[str, Any]]
    channels: dict[str, int]

    def conv(self, name: str, x: str, cout: int, k: int, stride: int = 1, bias: bool = False) -> str:
        """k x k convolution (pad k//2) of tensor ``x``; returns the output tensor name."""
        self.layers.append(
            {"op": "conv", "name": name, "inputs": [x], "cin": self.channels[x], "cout": cout,
             "k": k, "stride": stride, "pad": k // 2, "bias": bias}
        )
        self.channels[name] = cout
        return name

    def bn(self, name: str, x: str, fix_gamma: bool = False) -> str:
        """BatchNormalization (inference, epsilon 2e-5) over the channels of ``x``."""
        self.layers.append(
            {"op": "bn", "name": name, "inputs": [x], "c": self.channels[x], "eps": BN_EPS,
             "fix_gamma": fix_gamma}
        )
        self.channels[name] = self.channels[x]
        return name

    def unary(self, op: str, name: str, x: str, **attrs: Any) -> str:
        """A shape-preserving op ('relu', 'upsample2x' changes H, W only, 'maxpool' too)."""
        self.layers.append({"op": op, "name": name, "inputs": [x], **attrs})
        self.channels[name] = self.channels[x]
        return name

    def add(self, name: str, a: str, b: str) -> str:
        """Element-wise sum of two tensors of equal shape."""
        self.layers.append({"op": "add", "name": name, "inputs": [a, b]})
        self.channels[name] = self.channels[a]
        return name

    def concat(self, name: str, xs: list[str]) -> str:
        """Concatenation over channels."""
        self.layers.append({"op": "concat", "name": name, "inputs": list(xs)})
        self.channels[name] = sum(self.channels[x] for x in xs)
        return name

    def cbr(self, name: str, x: str, cout: int, k: int, relu: bool = True) -> str:
        """SSH-style conv (with bias) + BatchNorm (+ ReLU)."""
        y = self.bn(f"{name}_bn", self.conv(name, x, cout, k, bias=True))
        return self.unary("relu", f"{name}_relu", y) if relu else y


def _backbone(p: _Planner, x: str) -> tuple[str, str, str]:
    """ResNet-50 v2 (pre-activation); returns the taps (c1 stride 8, c2 stride 16, c3 stride 32)."""
    x = p.bn("bn_data", x, fix_gamma=True)
    x = p.conv("conv0", x, 64, 7, stride=2)
    x = p.unary("relu", "relu0", p.bn("bn0", x))
    x = p.unary("maxpool", "pooling0", x, k=3, stride=2, pad=1)
    taps = {}
    for stage, (units, width, stride) in enumerate(
        zip((3, 4, 6, 3), (256, 512, 1024, 2048), (1, 2, 2, 2)), start=1
    ):
        for unit in range(1, units + 1):
            u = f"stage{stage}_unit{unit}"
            s = stride if unit == 1 else 1
            act1 = p.unary("relu", f"{u}_relu1", p.bn(f"{u}_bn1", x))
            y = p.conv(f"{u}_conv1", act1, width // 4, 1)
            act2 = p.unary("relu", f"{u}_relu2", p.bn(f"{u}_bn2", y))
            if unit == 1:
                taps[stage] = act2
            y = p.conv(f"{u}_conv2", act2, width // 4, 3, stride=s)
            y = p.unary("relu", f"{u}_relu3", p.bn(f"{u}_bn3", y))
            y = p.conv(f"{u}_conv3", y, width, 1)
            shortcut = p.conv(f"{u}_sc", act1, width, 1, stride=s) if unit == 1 else x
            x = p.add(f"{u}_plus", y, shortcut)
    c3 = p.unary("relu", "relu1", p.bn("bn1", x))
    return taps[3], taps[4], c3


def _ssh_module(p: _Planner, name: str, x: str) -> str:
    """SSH detection module: 3x3 branch (256) + context branches (128 + 128), concat, ReLU."""
    a = p.cbr(f"{name}_conv1", x, 256, 3, relu=False)
    ctx = p.cbr(f"{name}_context_conv1", x, 128, 3)
    b = p.cbr(f"{name}_context_conv2", ctx, 128, 3, relu=False)
    c = p.cbr(f"{name}_context_conv3_1", ctx, 128, 3)
    c = p.cbr(f"{name}_context_conv3_2", c, 128, 3, relu=False)
    return p.unary("relu", f"{name}_relu", p.concat(f"{name}_concat", [a, b, c]))


def architecture() -> list[dict[str, Any]]:
    """The reference graph as an ordered list of layer records (the canonical description)."""
    p = _Planner(layers=[], channels={INPUT_NAME: INPUT_SHAPE[1]})
    c1, c2, c3 = _backbone(p, INPUT_NAME)
    c3_lat = p.cbr("ssh_c3_lateral", c3, 256, 1)
    c2_lat = p.cbr("ssh_c2_lateral", c2, 256, 1)
    c2_sum = p.add("ssh_c2_plus", c2_lat, p.unary("upsample2x", "ssh_c3_up", c3_lat))
    c2_aggr = p.cbr("ssh_c2_aggr", c2_sum, 256, 3)
    c1_red = p.cbr("ssh_m1_red_conv", c1, 256, 1)
    c1_sum = p.add("ssh_c1_plus", c1_red, p.unary("upsample2x", "ssh_c2_up", c2_aggr))
    c1_aggr = p.cbr("ssh_c1_aggr", c1_sum, 256, 3)
    features = {
        8: _ssh_module(p, "ssh_m1_det", c1_aggr),
        16: _ssh_module(p, "ssh_m2_det", c2_aggr),
        32: _ssh_module(p, "ssh_m3_det", c3_lat),
    }
    for s in STRIDES:
        f = features[s]
        score = p.conv(f"face_rpn_cls_score_stride{s}", f, 2 * NUM_ANCHORS, 1, bias=True)
        p.unary("softmax_pairs", f"face_rpn_cls_prob_reshape_stride{s}", score)
        p.conv(f"face_rpn_bbox_pred_stride{s}", f, 4 * NUM_ANCHORS, 1, bias=True)
        p.conv(f"face_rpn_landmark_pred_stride{s}", f, 10 * NUM_ANCHORS, 1, bias=True)
    return p.layers


def architecture_hash() -> str:
    """sha256 (hex) of the canonical description: layers, input, outputs, opset, seed, version."""
    description = {
        "model": "retinaface-resnet50 (insightface MXNet) reference",
        "input": [INPUT_NAME, list(INPUT_SHAPE)],
        "outputs": output_names(),
        "layers": architecture(),
        "opset": OPSET,
        "seed": SEED,
        "builder_version": BUILDER_VERSION,
    }
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Materialisation: layer records -> ONNX nodes with seeded weights
# ---------------------------------------------------------------------------------------------


class _Materialiser:
    """Turns layer records into ONNX nodes + initializers with seeded weights.

    Weight scales: convolutions are He-scaled (std sqrt(2 / fan_in)); each BatchNorm's running
    variance is set to the tracked second moment of its input (times a random factor in
    0.8..1.25) so that every BN output is O(1), as in a trained network. ``moment`` tracks the
    expected mean square of every tensor under these weights (ReLU halves it).
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.moment: dict[str, float] = {INPUT_NAME: float(np.mean(np.square(_PIXEL_MEAN)))}

    def _const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def _normal(self, shape: tuple[int, ...], std: float) -> np.ndarray:
        return (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(
            np.float32, copy=False
        )

    def conv(self, layer: dict[str, Any]) -> None:
        """Conv node: He-scaled weights (box/landmark heads: x0.25), optional bias."""
        from onnx import helper

        name, x = layer["name"], layer["inputs"][0]
        cin, cout, k = layer["cin"], layer["cout"], layer["k"]
        fan_in = cin * k * k
        head_scale = _head_scale(name)
        w = self._normal((cout, cin, k, k), head_scale * np.sqrt(2.0 / fan_in))
        if _is_head(name):
            # The head input is a ReLU output (all channels with a similar positive mean):
            # zero-sum weights per output channel keep w . x centred on the bias.
            w -= w.mean(axis=(1, 2, 3), keepdims=True)
        inputs = [x, self._const(f"{name}_weight", w)]
        if layer["bias"]:
            if name.startswith("face_rpn_cls_score"):
                b = _score_bias(name, cout)
            else:  # non-zero, as trained biases are (a runtime drops an all-zero bias add)
                b = self._normal((cout,), 0.05 if _is_head(name) else 0.1)
            inputs.append(self._const(f"{name}_bias", b.astype(np.float32)))
        self.nodes.append(
            helper.make_node(
                "Conv", inputs, [name], name=name, kernel_shape=[k, k],
                strides=[layer["stride"]] * 2, pads=[layer["pad"]] * 4, dilations=[1, 1], group=1,
            )
        )
        self.moment[name] = 2.0 * head_scale**2 * self.moment[x]

    def bn(self, layer: dict[str, Any]) -> None:
        """BatchNormalization node with running stats matched to the input's tracked moment."""
        from onnx import helper

        name, x, c = layer["name"], layer["inputs"][0], layer["c"]
        if layer["fix_gamma"]:  # bn_data: normalise raw BGR 0..255 pixels
            gamma = np.ones(c, np.float32)
            beta = np.zeros(c, np.float32)
            mean = np.asarray(_PIXEL_MEAN, np.float32)
            var = np.square(np.asarray(_PIXEL_STD, np.float32))
        else:
            gamma = (1.0 + 0.1 * self.rng.standard_normal(c)).astype(np.float32)
            beta = (0.1 * self.rng.standard_normal(c)).astype(np.float32)
            mean = np.zeros(c, np.float32)
            var = (self.moment[x] * np.exp(self.rng.uniform(-0.22, 0.22, c))).astype(np.float32)
        inputs = [x] + [
            self._const(f"{name}_{suffix}", arr)
            for suffix, arr in (("gamma", gamma), ("beta", beta), ("moving_mean", mean),
                                ("moving_var", var))
        ]
        self.nodes.append(
            helper.make_node("BatchNormalization", inputs, [name], name=name, epsilon=layer["eps"])
        )
        self.moment[name] = 1.0

    def simple(self, layer: dict[str, Any]) -> None:
        """ReLU, max pool, add, concat, nearest 2x upsample."""
        from onnx import helper

        op, name, xs = layer["op"], layer["name"], layer["inputs"]
        if op == "relu":
            node = helper.make_node("Relu", xs, [name], name=name)
            self.moment[name] = 0.5 * self.moment[xs[0]]
        elif op == "maxpool":
            node = helper.make_node(
                "MaxPool", xs, [name], name=name, kernel_shape=[layer["k"]] * 2,
                strides=[layer["stride"]] * 2, pads=[layer["pad"]] * 4, ceil_mode=0,
            )
            self.moment[name] = 2.0 * self.moment[xs[0]]  # max of 9 ReLU'd values: a bit larger
        elif op == "add":
            node = helper.make_node("Add", xs, [name], name=name)
            self.moment[name] = self.moment[xs[0]] + self.moment[xs[1]]
        elif op == "concat":
            node = helper.make_node("Concat", xs, [name], name=name, axis=1)
            self.moment[name] = float(np.mean([self.moment[x] for x in xs]))
        elif op == "upsample2x":
            roi = self._const(f"{name}_roi", np.zeros(0, np.float32))
            scales = self._const(f"{name}_scales", np.asarray([1, 1, 2, 2], np.float32))
            node = helper.make_node(
                "Resize", [xs[0], roi, scales], [name], name=name, mode="nearest",
                coordinate_transformation_mode="asymmetric", nearest_mode="floor",
            )
            self.moment[name] = self.moment[xs[0]]
        else:
            raise ValueError(f"unknown layer op {op!r}")
        self.nodes.append(node)

    def softmax_pairs(self, layer: dict[str, Any]) -> None:
        """1x4xHxW scores -> Reshape(0,2,-1,0) -> Softmax(axis=1) -> Reshape(0,4,-1,0)."""
        from onnx import helper

        name, x = layer["name"], layer["inputs"][0]
        base = name.replace("face_rpn_cls_prob_reshape", "face_rpn_cls_score_reshape")
        prob = name.replace("face_rpn_cls_prob_reshape", "face_rpn_cls_prob")
        shape2 = self._const(f"{base}_shape", np.asarray([0, 2, -1, 0], np.int64))
        shape4 = self._const(f"{name}_shape", np.asarray([0, 2 * NUM_ANCHORS, -1, 0], np.int64))
        self.nodes += [
            helper.make_node("Reshape", [x, shape2], [base], name=base),
            helper.make_node("Softmax", [base], [prob], name=prob, axis=1),
            helper.make_node("Reshape", [prob, shape4], [name], name=name),
        ]


def _is_head(name: str) -> bool:
    """True for the 1x1 prediction convs (scores, box deltas, landmarks)."""
    return name.startswith(("face_rpn_cls_score", "face_rpn_bbox_pred", "face_rpn_landmark_pred"))


def _head_scale(name: str) -> float:
    """Weight scale factor of a layer: box/landmark heads get small weights (deltas ~0.5);
    score heads get the per-stride spread that makes the score distribution look trained."""
    if name.startswith("face_rpn_cls_score"):
        return _SCORE_WEIGHT_SCALE[int(name.rsplit("stride", 1)[1])]
    return 0.25 if _is_head(name) else 1.0


# Face-minus-background logit of the score convs, per stride: weight scale and offset chosen
# (for this seed and builder version, on the five real WIDER fixture photos) so that the score
# distribution looks like a trained detector's: ~0.4% of the anchors above 0.5 and ~5% above
# 0.02, the rest near 0. Post-processing then does realistic work (a few hundred boxes over the
# insightface threshold; the OMZ recipe, without threshold, still sends all 16,800 to NMS).
_SCORE_WEIGHT_SCALE = {32: 4.1, 16: 2.3, 8: 3.5}
_SCORE_LOGIT_OFFSET = {32: -12.4, 16: -11.1, 8: -13.4}


def _score_bias(name: str, cout: int) -> np.ndarray:
    """Score-conv bias: background channels (0..A-1) +offset/2, face channels -offset/2."""
    half = -_SCORE_LOGIT_OFFSET[int(name.rsplit("stride", 1)[1])] / 2.0
    return np.repeat(np.asarray([half, -half], np.float32), cout // 2)


def build_model() -> Any:
    """Build the reference graph in memory: an ``onnx.ModelProto`` (checked, ~118 MB of weights)."""
    import onnx
    from onnx import TensorProto, helper

    mat = _Materialiser(SEED)
    for layer in architecture():
        if layer["op"] == "conv":
            mat.conv(layer)
        elif layer["op"] == "bn":
            mat.bn(layer)
        elif layer["op"] == "softmax_pairs":
            mat.softmax_pairs(layer)
        else:
            mat.simple(layer)
    shapes = output_shapes()
    graph = helper.make_graph(
        mat.nodes,
        "retinaface_r50_reference",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(shapes[n]))
         for n in output_names()],
        initializer=mat.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rfbench.reference_r50",
        producer_version=str(BUILDER_VERSION),
        doc_string="RetinaFace-R50 (insightface MXNet, OMZ retinaface-resnet50) architecture with "
        f"seeded weights (seed {SEED}); input raw BGR 0..255. Not a trained model.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------------
# On-disk cache
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The user cache folder: ``$RFBENCH_CACHE``, else ``$XDG_CACHE_HOME/rfbench``, else ``~/.cache/rfbench``."""
    env = os.environ.get("RFBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rfbench"


def reference_file_name() -> str:
    """Cache file name: ``retinaface-r50-reference-<first 16 hex of the architecture hash>.onnx``."""
    return f"retinaface-r50-reference-{architecture_hash()[:16]}.onnx"


def reference_model_path() -> Path:
    """Path of the reference R50 ONNX graph in the user cache, built (once) if missing.

    The file is written atomically (temp file in the same folder, then ``os.replace``), so
    concurrent callers never see a partial file; at worst two processes both build it.
    """
    folder = cache_dir()
    path = folder / reference_file_name()
    if path.is_file():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RfbenchError(f"cannot create the cache folder {folder}: {exc.strerror} "
                           "(set RFBENCH_CACHE)") from exc
    log.info("building the reference R50 graph (one-time) into %s", path)
    data = build_model().SerializeToString()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o666 & ~umask())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise RfbenchError(f"cannot write the reference graph to {path}: {exc.strerror} "
                           "(set RFBENCH_CACHE)") from exc
    log.info("wrote %s (%.1f MB)", path, len(data) / 1e6)
    return path


def umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
