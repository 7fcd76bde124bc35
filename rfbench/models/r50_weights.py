"""Seeded weights for the reference R50 graph: layer records -> ONNX nodes and initializers.

The values are not trained: they are scaled so that every tensor has the magnitude of a trained
network's (BatchNorm outputs O(1), score logits distributed like a trained detector's), which is
all latency and complexity need. Deterministic for a given seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rfbench.models.r50_architecture import INPUT_NAME, NUM_ANCHORS

# Per-channel BGR statistics of natural images (0..255), used as bn_data's running stats so the
# normalised input is O(1), as the trained model's bn_data does.
_PIXEL_MEAN = (104.0, 117.0, 123.0)
_PIXEL_STD = (57.4, 57.1, 58.4)


class Materialiser:
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
        return self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

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
