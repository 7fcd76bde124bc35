"""Which model output is which: RetinaFace output layouts A and B, recognised from the outputs.

:func:`resolve_layout` maps a model's outputs to roles, from the output names (and, for layout B,
the shapes), never from the output count alone: layout A is insightface's nine per-stride heads
(``face_rpn_{cls_prob_reshape,bbox_pred,landmark_pred}_stride{32,16,8}``), layout B biubug6's
``loc`` / ``conf`` / ``landmarks`` (``[1,N,4]``, ``[1,N,2]``, ``[1,N,10]``). Spec:
``shared/spec/decoding.md``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rfbench.decoder.anchors import STRIDES_A
from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)


#: Roles of layout A, in decoding order (per stride: scores, box deltas, landmark deltas).
ROLES_A: tuple[str, ...] = tuple(f"{r}{s}" for s in STRIDES_A for r in ("cls", "bbox", "landmark"))
#: Roles of layout B.
ROLES_B: tuple[str, ...] = ("loc", "conf", "landmarks")
#: Last dimension of each layout-B output.
LAST_DIM_B: dict[str, int] = {"loc": 4, "conf": 2, "landmarks": 10}
#: Channels per layout-A output (A = 2 anchors per cell).
CHANNELS_A: dict[str, int] = {"cls": 4, "bbox": 8, "landmark": 20}

_A_NAME = re.compile(
    r"face_rpn_(?P<kind>cls_prob_reshape|bbox_pred|bbox|landmark_pred)_stride(?P<stride>\d+)(?!\d)"
)
_A_KIND = {"cls_prob_reshape": "cls", "bbox_pred": "bbox", "bbox": "bbox", "landmark_pred": "landmark"}
_B_NAME_SETS: tuple[dict[str, tuple[str, ...]], ...] = (
    {"loc": ("loc",), "conf": ("conf",), "landmarks": ("landmarks", "landms", "landmark")},
    {"loc": ("output0",), "conf": ("output1",), "landmarks": ("output2",)},
)
_EXPECTED = (
    "expected layout A (nine outputs face_rpn_cls_prob_reshape_stride{32,16,8}, "
    "face_rpn_bbox_pred_stride{s} or face_rpn_bbox_stride{s}, face_rpn_landmark_pred_stride{s}) "
    "or layout B (three outputs [1,N,4] loc, [1,N,2] conf, [1,N,10] landmarks)"
)


@dataclass(frozen=True)
class OutputLayout:
    """Which model output plays which role.

    Attributes:
        kind: ``"A"`` (insightface per-stride heads) or ``"B"`` (biubug6 loc/conf/landmarks).
        names: role -> output name; roles :data:`ROLES_A` or :data:`ROLES_B`.
    """

    kind: str
    names: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready record of the layout."""
        return {"kind": self.kind, "names": dict(self.names)}


def _clean_shape(shape: Sequence | None) -> tuple[int | None, ...] | None:
    """Shape with symbolic / unknown dimensions as None."""
    if shape is None:
        return None
    return tuple(int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None for d in shape)


def _describe(shapes: Mapping[str, tuple | None]) -> str:
    def dims(s):
        return "?" if s is None else "x".join("?" if d is None else str(d) for d in s)

    return ", ".join(f"{n} [{dims(s)}]" for n, s in shapes.items()) or "none"


def _match_a(shapes: Mapping[str, tuple | None]) -> dict[str, str]:
    """Role -> name for every output whose name is a layout-A head name."""
    found: dict[str, str] = {}
    for name in shapes:
        m = _A_NAME.search(name)
        if m is None:
            continue
        role = _A_KIND[m["kind"]] + m["stride"]
        if role in found:
            raise RfbenchError(
                f"outputs {found[role]!r} and {name!r} both look like layout-A role {role}; "
                f"name the outputs explicitly (outputs: {_describe(shapes)})"
            )
        found[role] = name
    return found


def _check_a(names: Mapping[str, str], shapes: Mapping[str, tuple | None]) -> None:
    """Channel counts and grid sizes of a layout-A mapping, where the shapes are known."""
    for s in STRIDES_A:
        grids = set()
        for kind, channels in CHANNELS_A.items():
            name = names[f"{kind}{s}"]
            shape = shapes.get(name)
            if shape is None:
                continue
            if len(shape) != 4 or shape[1] not in (None, channels):
                raise RfbenchError(
                    f"layout-A output {name!r} (role {kind}{s}) has shape {_describe({name: shape})}, "
                    f"expected [1,{channels},H,W]"
                )
            if shape[2] is not None and shape[3] is not None:
                grids.add(shape[2:])
        if len(grids) > 1:
            raise RfbenchError(f"layout-A outputs of stride {s} disagree on the grid size: {sorted(grids)}")


def _match_b_by_shape(shapes: Mapping[str, tuple | None]) -> dict[str, str] | None:
    """Role -> name from the last dimensions 4, 2, 10 of three rank-3 outputs, else None."""
    by_dim: dict[int, list[str]] = {}
    for name, shape in shapes.items():
        if shape is not None and len(shape) == 3 and shape[2] is not None:
            by_dim.setdefault(shape[2], []).append(name)
    picked = {role: by_dim.get(dim, []) for role, dim in LAST_DIM_B.items()}
    if any(len(v) != 1 for v in picked.values()):
        return None
    names = {role: v[0] for role, v in picked.items()}
    counts = {shape[1] for n in names.values() if (shape := shapes[n]) is not None} - {None}
    return names if len(counts) <= 1 else None


def _match_b_by_name(shapes: Mapping[str, tuple | None]) -> dict[str, str] | None:
    """Role -> name from a known exporter naming (loc/conf/landmarks, output0/1/2), else None."""
    for name_set in _B_NAME_SETS:
        hits = {role: [c for c in candidates if c in shapes] for role, candidates in name_set.items()}
        if all(len(h) == 1 for h in hits.values()):
            return {role: h[0] for role, h in hits.items()}
    return None


def _check_b(names: Mapping[str, str], shapes: Mapping[str, tuple | None]) -> None:
    """Rank, last dimension and common N of a layout-B mapping, where the shapes are known."""
    counts = set()
    for role, dim in LAST_DIM_B.items():
        name = names[role]
        shape = shapes.get(name)
        if shape is None:
            continue
        if len(shape) != 3 or shape[2] not in (None, dim):
            raise RfbenchError(
                f"layout-B output {name!r} (role {role}) has shape {_describe({name: shape})}, "
                f"expected [1,N,{dim}]"
            )
        if shape[1] is not None:
            counts.add(shape[1])
    if len(counts) > 1:
        raise RfbenchError(f"layout-B outputs disagree on the number of priors N: {sorted(counts)}")


def _explicit(names: Mapping[str, str], layout: str | None, shapes: Mapping[str, tuple | None]) -> OutputLayout:
    """Layout from a user-given role -> name mapping."""
    roles = set(names)
    if layout is None:
        layout = "A" if roles <= set(ROLES_A) else "B" if roles <= set(ROLES_B) else None
    expected = ROLES_A if layout == "A" else ROLES_B
    if layout is None or set(expected) != roles:
        raise RfbenchError(
            f"output names given for roles {sorted(roles)}; expected exactly the roles "
            f"{list(ROLES_A)} (layout A) or {list(ROLES_B)} (layout B)"
        )
    unknown = [n for n in names.values() if n not in shapes]
    if unknown:
        raise RfbenchError(f"output name(s) {unknown} not among the model outputs: {_describe(shapes)}")
    return OutputLayout(layout, {r: names[r] for r in expected})


def resolve_layout(
    output_shapes: Mapping[str, Sequence[int | None]],
    layout: str | None = None,
    names: Mapping[str, str] | None = None,
) -> OutputLayout:
    """Decide the output layout of a model and which output plays which role.

    Args:
        output_shapes: output name -> shape (dimensions may be None or symbolic strings).
        layout: ``"A"`` or ``"B"`` to force a layout; None to recognise it: A from the nine
            ``face_rpn_*_stride{32,16,8}`` names; B from the last dimensions (4, 2, 10) of three
            ``[1, N, d]`` outputs, else from the names ``loc/conf/landmarks`` or ``output0/1/2``.
        names: role -> output name, overriding the recognition (all roles of the layout).
    Returns:
        The :class:`OutputLayout`; the choice is logged at INFO level.
    Raises:
        RfbenchError: the outputs match no layout (message lists the outputs found and the
            expected ones), or ``layout`` / ``names`` are invalid.
    """
    shapes = {n: _clean_shape(s) for n, s in output_shapes.items()}
    if layout is not None:
        layout = str(layout).upper()
        if layout not in ("A", "B"):
            raise RfbenchError(f"--layout must be A or B, not {layout!r}")
    if names:
        result = _explicit(names, layout, shapes)
    else:
        result = _recognise(shapes, layout)
    (_check_a if result.kind == "A" else _check_b)(result.names, shapes)
    log.info("output layout %s: %s", result.kind,
             ", ".join(f"{role}={name}" for role, name in result.names.items()))
    return result


def _recognise(shapes: Mapping[str, tuple | None], layout: str | None) -> OutputLayout:
    """Layout recognised from names (A) or shapes and names (B)."""
    a_names = _match_a(shapes)
    if layout == "A" or (layout is None and a_names):
        missing = [r for r in ROLES_A if r not in a_names]
        if missing:
            raise RfbenchError(
                f"layout A: no output for role(s) {missing}; outputs found: {_describe(shapes)}; {_EXPECTED}"
            )
        return OutputLayout("A", {r: a_names[r] for r in ROLES_A})
    b_names = _match_b_by_shape(shapes) or _match_b_by_name(shapes)
    if b_names is None:
        raise RfbenchError(f"the model outputs match no known layout; outputs found: {_describe(shapes)}; {_EXPECTED}")
    return OutputLayout("B", b_names)
