"""The counting rules: what one runtime layer costs (params, MACs, FLOPs), and the totals.

:data:`RULES` names every rule a reported figure is computed under; :class:`Layer` is one
operation as the runtime runs it, whichever front-end read it; :func:`fold` merges the affine
ops a runtime fuses into the conv before them; :func:`count_layers` sums the folded layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

RULE_PARAMS = "runtime-folded-weights"
RULE_MACS = "conv-and-matmul-macs"
RULE_OMZ = "omz-model-analyzer-2019"
RULE_2X = "2x-macs"
RULE_CURRENT = "model-analyzer-current"

RULES: dict[str, str] = {
    RULE_PARAMS: "weights after the runtime folds each BatchNorm/per-channel affine directly "
    "after a conv or FC into it (+Cout bias); other BatchNorms count 2*C (scale + shift)",
    RULE_MACS: "multiply-accumulates of all convolutions and matrix products (Cin/groups*kh*kw "
    "per conv output element)",
    RULE_OMZ: "OpenVINO model_analyzer 2019 (Open Model Zoo cards): conv 2*Cin/g*kh*kw per "
    "output, bias free; ReLU 2; pool kh*kw; eltwise 2n-1; scale-shift 2; softmax 5; data moves 0",
    RULE_2X: "2 x MACs of convolutions and matrix products only (the convention of most papers)",
    RULE_CURRENT: "current model_analyzer: as 2019, plus 1 per output element for a conv/FC bias; "
    "element-wise add/sub/mul/div 1 per element; scale-shift 1 per Multiply/Add",
}

# kind -> flops per output element (the 2019 rules and the current ones agree on these).
# conv/fc, scale-shift, eltwise and pooling are computed from their own attributes instead.
PER_ELEMENT: dict[str, int] = {
    "relu": 2, "leaky relu": 2, "prelu": 2, "clamp": 2, "elu": 3, "sigmoid": 3, "tanh": 6,
    "hard sigmoid": 4, "hswish": 4, "exp": 1, "log": 1, "sqrt": 1, "softmax": 5,
    "log softmax": 6, "interpolate (linear)": 9,
}
DATA_KINDS = (
    "concat", "reshape", "transpose", "slice", "gather", "upsample (nearest)", "identity", "pad",
    "broadcast",
)


@dataclass
class Layer:
    """One operation as the runtime sees it (front-end independent).

    ``kind`` is the counting category (``conv``, ``fc``, ``affine``, ``relu``, ``add``, ...).
    ``inputs`` are the non-constant tensors it reads, ``output`` the tensor it writes (the last
    folded op's), ``out_shape`` that tensor's static shape (NCHW for convs).
    Kind-specific fields: ``macs_per_element`` (conv/fc: MACs per output element), ``weights``,
    ``bias`` and ``cout`` (conv/fc); ``scale`` / ``shift`` ('' | 'scalar' | 'channel': extent of
    the coefficients of an affine op) and ``n_ops`` (Multiply/Add ops it is made of);
    ``kernel`` (pooling window elements); ``n_inputs`` (element-wise ops); ``params`` (PReLU
    slopes).
    """

    name: str
    kind: str
    inputs: list[str]
    output: str
    out_shape: tuple[int, ...]
    macs_per_element: int = 0
    weights: int = 0
    bias: bool = False
    cout: int = 0
    kernel: int = 0
    n_inputs: int = 2
    n_ops: int = 1
    scale: str = ""  # affine: "" (none), "scalar" or "channel"
    shift: str = ""
    params: int = 0  # other params (PReLU slopes)
    int8: bool | None = None  # conv/fc of a quantized model: runs in INT8 (None: not quantized)

    @property
    def elements(self) -> int:
        """Number of output elements."""
        return math.prod(self.out_shape)


@dataclass(frozen=True)
class Figure:
    """One reported figure: ``name`` (with unit), ``value``, the ``rule`` and its description."""

    name: str
    value: float
    rule: str
    description: str


@dataclass
class BreakdownRow:
    """Totals of one operation type: count, GFLOPs under both model_analyzer rules, GMACs, params."""

    op_type: str
    count: int = 0
    gflops_omz: float = 0.0
    gflops_current: float = 0.0
    gmacs: float = 0.0
    params: int = 0


def fold(layers: list[Layer], graph_outputs: set[str]) -> list[Layer]:
    """Fold runtime-fusable affine ops; return the layers as the runtime runs them.

    1. A per-channel/scalar affine op (BatchNorm, Mul/Div/Add/Sub by a constant) that is the
       only consumer of a conv/FC output is folded into it (a shift gives it a bias).
    2. Chains of such affine ops elsewhere merge into one scale-shift (its ``n_ops`` adds up).
    """
    by_input: dict[str, list[Layer]] = {}  # tensor -> a layer per input slot reading it
    for layer in layers:
        for t in layer.inputs:
            by_input.setdefault(t, []).append(layer)
    removed: set[int] = set()

    def sole_affine_consumer(tensor: str) -> Layer | None:
        users = by_input.get(tensor, [])
        if (len(users) == 1 and tensor not in graph_outputs and users[0].kind == "affine"
                and users[0].inputs == [tensor]):
            return users[0]
        return None

    for layer in layers:
        if id(layer) in removed or layer.kind not in ("conv", "fc", "affine"):
            continue
        while (nxt := sole_affine_consumer(layer.output)) is not None:
            removed.add(id(nxt))
            layer.output = nxt.output
            if layer.kind == "affine":
                layer.n_ops += nxt.n_ops
                if layer.shift and nxt.scale:  # s * (x + b): the shift is rescaled
                    layer.shift = _wider(layer.shift, nxt.scale)
                layer.scale = _wider(layer.scale, nxt.scale)
                layer.shift = _wider(layer.shift, nxt.shift)
            elif nxt.shift:
                layer.bias = True
    return [layer for layer in layers if id(layer) not in removed]


def _wider(a: str, b: str) -> str:
    """The wider of two coefficient extents ('' < 'scalar' < 'channel')."""
    order = {"": 0, "scalar": 1, "channel": 2}
    return a if order[a] >= order[b] else b


def layer_cost(layer: Layer) -> tuple[int, float, float, int, str]:
    """(MACs, FLOPs under 2019 rules, FLOPs under current rules, params, breakdown label)."""
    n = layer.elements
    if layer.kind in ("conv", "fc"):
        macs = n * layer.macs_per_element
        bias = layer.cout if layer.bias else 0
        return macs, 2.0 * macs, 2.0 * macs + (n if layer.bias else 0), layer.weights + bias, \
            layer.kind
    if layer.kind == "affine":
        channels = layer.out_shape[1] if len(layer.out_shape) > 1 else 1
        params = channels * ((layer.scale == "channel") + (layer.shift == "channel"))
        return 0, 2.0 * n, float(layer.n_ops * n), params, "scale-shift"
    if layer.kind in ("add", "sub", "mul", "div", "max", "min"):
        return 0, float((2 * layer.n_inputs - 1) * n), float((layer.n_inputs - 1) * n), 0, \
            layer.kind
    if layer.kind in ("max pool", "avg pool"):
        return 0, float(layer.kernel * n), float(layer.kernel * n), 0, layer.kind
    if layer.kind in PER_ELEMENT:
        flops = PER_ELEMENT[layer.kind] * n
        return 0, flops, flops, layer.params, layer.kind
    if layer.kind in DATA_KINDS:
        return 0, 0.0, 0.0, 0, layer.kind
    raise ValueError(f"no cost rule for kind {layer.kind!r}")


def count_layers(layers: Sequence[Layer]) -> tuple[int, int, float, float, list[BreakdownRow]]:
    """Sum (params, MACs, FLOPs 2019, FLOPs current) and per-type rows over folded layers."""
    rows: dict[str, BreakdownRow] = {}
    params = macs = 0
    flops_omz = flops_current = 0.0
    for layer in layers:
        l_macs, l_omz, l_cur, l_params, label = layer_cost(layer)
        row = rows.setdefault(label, BreakdownRow(label))
        row.count += 1
        row.gflops_omz += l_omz / 1e9
        row.gflops_current += l_cur / 1e9
        row.gmacs += l_macs / 1e9
        row.params += l_params
        params += l_params
        macs += l_macs
        flops_omz += l_omz
        flops_current += l_cur
    ordered = sorted(rows.values(), key=lambda r: (-r.gflops_omz, -r.params, r.op_type))
    return params, macs, flops_omz, flops_current, ordered
