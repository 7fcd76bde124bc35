"""Pytorch_Retinaface's ``RetinaFace`` network (biubug6), rebuilt as ONNX from a state dict.

The backbone is told by the keys: ``body.stage1.*`` is the MobileNet-0.25 of ``models/net.py``
(``cfg_mnet``: FPN/SSH width 64, so LeakyReLU 0.1 there), ``body.layer1.*`` torchvision's
ResNet-50 through ``IntermediateLayerGetter`` (``cfg_re50``: width 256, so plain ReLU).
Channel counts are read from the weights; strides, paddings and slopes are the source's.
Then the FPN (1x1 laterals, nearest upsampling to the lateral's size as ``F.interpolate(size=)``
does, 3x3 merges), one SSH per level, and the three heads per level (1x1 convs, NHWC-permuted
and reshaped to 2 anchors per position), concatenated stride 8, 16, 32 in that order.
Phase ``test``: ``conf`` is softmaxed over its last axis. Outputs ``loc`` [1, N, 4], ``conf``
[1, N, 2] and ``landmarks`` [1, N, 10] (layout B); input ``input0`` [1, 3, H, W], BGR minus
(104, 117, 123). BatchNorm eps is torch's default 1e-5 (it is not stored in a state dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.models.importer.onnx_graph import GraphBuilder, image_input, tensor_info

BN_EPS = 1e-5
INPUT_NAME = "input0"
OUTPUTS = ("loc", "conf", "landmarks")
#: MobileNetV1 (``models/net.py``): each ``conv_dw`` block's stride, per stage.
MNET_STRIDES = {"stage1": (2, 1, 2, 1, 2, 1), "stage2": (2, 1, 1, 1, 1, 1), "stage3": (2, 1)}
_HEADS = (("BboxHead", 4), ("ClassHead", 2), ("LandmarkHead", 10))


class _Net:
    """The builder and the state dict; every weight taken is checked and counted as used."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        self.b = GraphBuilder()
        self.state = state
        self.used: set[str] = set()
        self.ch: dict[str, int] = {INPUT_NAME: 3}  # value -> channels, to check each conv's input

    def take(self, key: str, shape: tuple[int | None, ...] | None = None) -> str:
        """Initializer ``key`` (its shape checked against ``shape``, None = any size)."""
        if key not in self.state:
            raise RfbenchError(f"the state dict has no tensor '{key}' (is this a "
                               "Pytorch_Retinaface RetinaFace checkpoint?)")
        array = self.state[key]
        if shape is not None and (array.ndim != len(shape) or any(
                want is not None and want != got for want, got in zip(shape, array.shape))):
            want = "x".join("?" if d is None else str(d) for d in shape)
            raise RfbenchError(f"tensor '{key}' has shape {'x'.join(map(str, array.shape))}, "
                               f"expected {want}")
        self.used.add(key)
        return self.b.weight(key, array)

    def channels(self, key: str) -> int:
        """Output channels of conv ``key`` (its weight's first dimension)."""
        self.take(f"{key}.weight")
        return int(self.state[f"{key}.weight"].shape[0])

    def conv(self, key: str, x: str, stride: int = 1, pad: int = 0, groups: int = 1,
             bias: bool = False) -> str:
        """``nn.Conv2d`` ``key``: every conv of these networks has a (2 pad + 1)-square kernel."""
        k = 2 * pad + 1
        cin = self.ch.get(x)
        weight = self.take(f"{key}.weight", (None, None if cin is None else cin // groups, k, k))
        inputs = [x, weight] + ([self.take(f"{key}.bias", (self.channels(key),))] if bias else [])
        out = self.b.node("Conv", inputs, name=key, kernel_shape=[k, k],
                          strides=[stride, stride], pads=[pad] * 4, group=groups)
        self.ch[out] = self.channels(key)
        return out

    def same(self, out: str, like: str) -> str:
        """``out`` has ``like``'s channels (BatchNorm, activations, sums, upsampling)."""
        if like in self.ch:
            self.ch[out] = self.ch[like]
        return out

    def bn(self, key: str, x: str) -> str:
        """``nn.BatchNorm2d`` ``key`` in inference mode."""
        gamma = self.state.get(f"{key}.weight")
        c = None if gamma is None else int(gamma.shape[0])
        names = [self.take(f"{key}.{p}", (c,)) for p in ("weight", "bias", "running_mean", "running_var")]
        return self.same(self.b.node("BatchNormalization", [x, *names], name=key, epsilon=BN_EPS), x)

    def act(self, x: str, slope: float) -> str:
        """``LeakyReLU(slope)`` (``nn.ReLU`` when 0)."""
        out = self.b.node("LeakyRelu", [x], alpha=slope) if slope else self.b.node("Relu", [x])
        return self.same(out, x)

    def conv_bn(self, key: str, x: str, stride: int, pad: int, slope: float | None,
                groups: int = 1) -> str:
        """Conv (``key.0``) + BN (``key.1``) + activation (none when ``slope`` is None)."""
        y = self.bn(f"{key}.1", self.conv(f"{key}.0", x, stride, pad, groups))
        return y if slope is None else self.act(y, slope)


def build_onnx(state: Mapping[str, np.ndarray],
               input_hw: tuple[int, int] | None) -> tuple[Any, dict[str, np.ndarray]]:
    """(the ``GraphProto`` without initializers, the weights by name) of the checkpoint's
    network; ``input_hw`` None leaves H and W dynamic. Unknown, missing, left-over or
    mis-shaped tensors are a one-line RfbenchError naming the tensor."""
    net = _Net(state)
    if "body.stage1.0.0.weight" in state:
        levels, width = _mobilenet(net), 64
    elif "body.conv1.weight" in state:
        levels, width = _resnet50(net), 256
    else:
        raise RfbenchError("the state dict has neither 'body.stage1.*' (MobileNet-0.25) nor "
                           "'body.conv1.*' (ResNet-50): not a Pytorch_Retinaface RetinaFace")
    slope = 0.1 if width <= 64 else 0.0
    features = [_ssh(net, f"ssh{i + 1}", f, slope) for i, f in enumerate(_fpn(net, levels, slope))]
    outputs = [_head(net, name, size, features, out) for (name, size), out in zip(_HEADS, OUTPUTS)]
    net.b.node("Softmax", [outputs[1]], outputs=["conf"], axis=-1)
    net.b.node("Identity", [outputs[0]], outputs=["loc"])
    net.b.node("Identity", [outputs[2]], outputs=["landmarks"])
    left = sorted(set(state) - net.used)
    if left:
        raise RfbenchError(f"the state dict has {len(left)} tensor(s) this network does not use "
                           f"(first: '{left[0]}'): not Pytorch_Retinaface's RetinaFace?")
    outs = [tensor_info(name, [1, "anchors", size]) for name, size in zip(OUTPUTS, (4, 2, 10))]
    return net.b.graph("pytorch_retinaface", [image_input(INPUT_NAME, input_hw)], outs), net.b.weights


def _mobilenet(net: _Net) -> list[str]:
    """``models/net.py`` MobileNetV1: ``conv_bn`` then ``conv_dw`` blocks; stage outputs."""
    x = net.conv_bn("body.stage1.0", INPUT_NAME, 2, 1, 0.1)
    levels = []
    for stage, strides in MNET_STRIDES.items():
        for i, stride in enumerate(strides):
            if stage == "stage1" and i == 0:
                continue  # the conv_bn above
            key = f"body.{stage}.{i}"
            groups = int(net.state[f"{key}.0.weight"].shape[0]) if f"{key}.0.weight" in net.state else 1
            y = net.act(net.bn(f"{key}.1", net.conv(f"{key}.0", x, stride, 1, groups)), 0.1)
            x = net.act(net.bn(f"{key}.4", net.conv(f"{key}.3", y)), 0.1)
        levels.append(x)
    return levels


def _resnet50(net: _Net) -> list[str]:
    """torchvision ResNet-50 (v1.5: the stride on each first block's 3x3); layer2-4 outputs."""
    b = net.b
    x = net.act(net.bn("body.bn1", net.conv("body.conv1", INPUT_NAME, 2, 3)), 0.0)
    x = net.same(b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), x)
    levels = []
    for layer, first_stride in (("layer1", 1), ("layer2", 2), ("layer3", 2), ("layer4", 2)):
        block = 0
        while f"body.{layer}.{block}.conv1.weight" in net.state:
            key, stride = f"body.{layer}.{block}", first_stride if block == 0 else 1
            y = net.act(net.bn(f"{key}.bn1", net.conv(f"{key}.conv1", x)), 0.0)
            y = net.act(net.bn(f"{key}.bn2", net.conv(f"{key}.conv2", y, stride, 1)), 0.0)
            y = net.bn(f"{key}.bn3", net.conv(f"{key}.conv3", y))
            if f"{key}.downsample.0.weight" in net.state:
                x = net.bn(f"{key}.downsample.1", net.conv(f"{key}.downsample.0", x, stride))
            x = net.act(net.same(b.node("Add", [y, x]), y), 0.0)
            block += 1
        if block == 0:
            raise RfbenchError(f"the state dict has no 'body.{layer}.0.*': not a ResNet-50 backbone")
        if layer != "layer1":
            levels.append(x)
    return levels


def _fpn(net: _Net, levels: list[str], slope: float) -> list[str]:
    """FPN: 1x1 laterals; the coarser level upsampled (nearest) to the finer one's size,
    added, then a 3x3 ``conv_bn`` merge: ``[output1, output2, output3]``."""
    outs = [net.conv_bn(f"fpn.output{i + 1}", level, 1, 0, slope) for i, level in enumerate(levels)]
    for i in (1, 0):  # merge2, then merge1 onto the merged output2
        summed = net.b.node("Add", [outs[i], _upsample_to(net, outs[i + 1], outs[i])])
        outs[i] = net.conv_bn(f"fpn.merge{i + 1}", net.same(summed, outs[i]), 1, 1, slope)
    return outs


def _upsample_to(net: _Net, x: str, like: str) -> str:
    """``F.interpolate(x, size=like's H, W, mode="nearest")``: source index floor(dst * in /
    out), which ONNX's Resize computes with asymmetric coordinates and floor rounding."""
    sizes = net.b.node("Shape", [like])
    return net.b.node("Resize", [x, "", "", sizes], mode="nearest",
                      coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def _ssh(net: _Net, key: str, x: str, slope: float) -> str:
    """SSH: 3x3 branch (half the width), 5x5 and 7x7 as stacked 3x3 (a quarter each), concat,
    ReLU."""
    conv3 = net.conv_bn(f"{key}.conv3X3", x, 1, 1, None)
    conv5_1 = net.conv_bn(f"{key}.conv5X5_1", x, 1, 1, slope)
    conv5 = net.conv_bn(f"{key}.conv5X5_2", conv5_1, 1, 1, None)
    conv7_2 = net.conv_bn(f"{key}.conv7X7_2", conv5_1, 1, 1, slope)
    conv7 = net.conv_bn(f"{key}.conv7x7_3", conv7_2, 1, 1, None)
    joined = net.b.node("Concat", [conv3, conv5, conv7], axis=1)
    net.ch[joined] = sum(net.ch[v] for v in (conv3, conv5, conv7))
    return net.act(joined, 0.0)


def _head(net: _Net, name: str, size: int, features: list[str], out: str) -> str:
    """One head over the three levels: 1x1 conv, NCHW -> NHWC, ``[1, -1, size]``, concat."""
    shape = net.b.const(f"{name}_shape", [0, -1, size], np.int64)
    parts = []
    for i, feature in enumerate(features):
        y = net.conv(f"{name}.{i}.conv1x1", feature, bias=True)
        y = net.b.node("Transpose", [y], perm=[0, 2, 3, 1])
        parts.append(net.b.node("Reshape", [y, shape]))
    return net.b.node("Concat", parts, name=f"{out}_levels", axis=1)
