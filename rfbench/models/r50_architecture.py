"""The reference R50 graph's architecture as plain layer records (no weights, no ONNX).

:func:`architecture` lists every layer of the insightface MXNet RetinaFace-R50
(``shared/spec/reference-r50.md``) as a JSON-serialisable dict in graph order; the tensor shapes
follow from the input shape and the strides. :mod:`rfbench.models.r50_weights` turns the records
into ONNX nodes; :mod:`rfbench.models.reference_r50` hashes them into the cache key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INPUT_NAME = "data"
INPUT_SHAPE = (1, 3, 640, 640)
BN_EPS = 2e-5
STRIDES = (32, 16, 8)
NUM_ANCHORS = 2


def output_names() -> list[str]:
    """The nine output names in model order: (cls, bbox, landmark) for strides 32, 16, 8."""
    return list(output_shapes())


def output_shapes() -> dict[str, tuple[int, int, int, int]]:
    """Output name -> NCHW shape at the 640x640 input (H = W = 640 / stride), in model order."""
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

    def _emit(self, channels: int, **record: Any) -> str:
        """Append one layer record; its output (named after the layer) has ``channels``."""
        self.layers.append(record)
        self.channels[record["name"]] = channels
        return str(record["name"])

    def conv(self, name: str, x: str, cout: int, k: int, stride: int = 1, bias: bool = False) -> str:
        """k x k convolution (pad k//2) of tensor ``x``; returns the output tensor name."""
        return self._emit(cout, op="conv", name=name, inputs=[x], cin=self.channels[x], cout=cout,
                          k=k, stride=stride, pad=k // 2, bias=bias)

    def bn(self, name: str, x: str, fix_gamma: bool = False) -> str:
        """BatchNormalization (inference, epsilon 2e-5) over the channels of ``x``."""
        return self._emit(self.channels[x], op="bn", name=name, inputs=[x], c=self.channels[x],
                          eps=BN_EPS, fix_gamma=fix_gamma)

    def unary(self, op: str, name: str, x: str, **attrs: Any) -> str:
        """A shape-preserving op ('relu', 'upsample2x' changes H, W only, 'maxpool' too)."""
        return self._emit(self.channels[x], op=op, name=name, inputs=[x], **attrs)

    def add(self, name: str, a: str, b: str) -> str:
        """Element-wise sum of two tensors of equal shape."""
        return self._emit(self.channels[a], op="add", name=name, inputs=[a, b])

    def concat(self, name: str, xs: list[str]) -> str:
        """Concatenation over channels."""
        channels = sum(self.channels[x] for x in xs)
        return self._emit(channels, op="concat", name=name, inputs=list(xs))

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
