"""Anchors, priors, layout resolution and decoding of both RetinaFace output layouts.

Checked against the numbers in ``shared/spec/decoding.md``, against independent encoders written
here (plain loops over the spec's anchor / prior definitions), and against the real fixture
models run with ONNX Runtime.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import onnx
import pytest
from real_inputs import PARADE as IMAGE

from rfbench.decoder.anchors import anchors_a, base_anchors_a, priors_b
from rfbench.decoder.decode import ScoreFloor, decode_outputs
from rfbench.decoder.layout import OutputLayout, resolve_layout
from rfbench.errors import RfbenchError

A_NAMES = {
    f"{role}{s}": f"face_rpn_{kind}_stride{s}"
    for s in (32, 16, 8)
    for role, kind in (("cls", "cls_prob_reshape"), ("bbox", "bbox_pred"), ("landmark", "landmark_pred"))
}


# ---------------------------------------------------------------- independent references


def spec_anchor(stride: int, iy: int, ix: int, a: int) -> tuple[float, float, float, float]:
    """One layout-A anchor straight from the spec: base size 16, scales larger first, + shift."""
    k = {32: (32, 16), 16: (8, 4), 8: (2, 1)}[stride][a]
    half = 0.5 * (16 * k - 1)
    return (7.5 - half + ix * stride, 7.5 - half + iy * stride, 7.5 + half + ix * stride, 7.5 + half + iy * stride)


def spec_priors(h: int, w: int) -> list[tuple[float, float, float, float]]:
    """Layout-B priors as biubug6's PriorBox loops define them (ceil feature sizes)."""
    out = []
    for step, sizes in ((8, (16, 32)), (16, (64, 128)), (32, (256, 512))):
        for i in range(math.ceil(h / step)):
            for j in range(math.ceil(w / step)):
                for m in sizes:
                    out.append(((j + 0.5) * step / w, (i + 0.5) * step / h, m / w, m / h))
    return out


def encode_a(rng: np.random.Generator, input_hw: tuple[int, int]):
    """Random faces for every layout-A anchor, encoded into the nine NCHW output tensors.

    Returns:
        (outputs dict, expected per level: list of (boxes, scores, landmarks)).
    """
    outputs, expected = {}, []
    for s in (32, 16, 8):
        fh, fw = math.ceil(input_hw[0] / s), math.ceil(input_hw[1] / s)
        cls = np.zeros((1, 4, fh, fw), np.float32)
        bbox = np.zeros((1, 8, fh, fw), np.float32)
        lmk = np.zeros((1, 20, fh, fw), np.float32)
        boxes, scores, points = [], [], []
        for iy in range(fh):
            for ix in range(fw):
                for a in range(2):
                    x1a, y1a, x2a, y2a = spec_anchor(s, iy, ix, a)
                    wa, ha = x2a - x1a + 1, y2a - y1a + 1
                    cxa, cya = x1a + 0.5 * (wa - 1), y1a + 0.5 * (ha - 1)
                    w, h = wa * rng.uniform(0.5, 2.0), ha * rng.uniform(0.5, 2.0)
                    cx, cy = cxa + rng.uniform(-0.3, 0.3) * wa, cya + rng.uniform(-0.3, 0.3) * ha
                    p = float(np.float32(rng.uniform()))
                    cls[0, a, iy, ix], cls[0, 2 + a, iy, ix] = 1 - p, p
                    bbox[0, 4 * a:4 * a + 4, iy, ix] = ((cx - cxa) / wa, (cy - cya) / ha, math.log(w / wa), math.log(h / ha))
                    pts = np.column_stack([cx + rng.uniform(-0.5, 0.5, 5) * w, cy + rng.uniform(-0.5, 0.5, 5) * h])
                    lmk[0, 10 * a:10 * a + 10, iy, ix] = ((pts - [cxa, cya]) / [wa, ha]).ravel()
                    boxes.append((cx - 0.5 * (w - 1), cy - 0.5 * (h - 1), cx + 0.5 * (w - 1), cy + 0.5 * (h - 1)))
                    scores.append(p)
                    points.append(pts)
        outputs[f"face_rpn_cls_prob_reshape_stride{s}"] = cls
        outputs[f"face_rpn_bbox_pred_stride{s}"] = bbox
        outputs[f"face_rpn_landmark_pred_stride{s}"] = lmk
        expected.append((np.array(boxes), np.array(scores), np.array(points)))
    return outputs, expected


def encode_b(rng: np.random.Generator, input_hw: tuple[int, int]):
    """Random faces for every layout-B prior, encoded into loc / conf / landmarks [1, N, d]."""
    h, w = input_hw
    priors = spec_priors(h, w)
    loc, conf, lmk, boxes, points = [], [], [], [], []
    for cx0, cy0, sw, sh in priors:
        bw, bh = sw * w * rng.uniform(0.5, 2.0), sh * h * rng.uniform(0.5, 2.0)
        cx, cy = cx0 * w + rng.uniform(-0.3, 0.3) * bw, cy0 * h + rng.uniform(-0.3, 0.3) * bh
        loc.append(((cx / w - cx0) / (0.1 * sw), (cy / h - cy0) / (0.1 * sh),
                    math.log(bw / w / sw) / 0.2, math.log(bh / h / sh) / 0.2))
        pts = np.column_stack([cx + rng.uniform(-0.5, 0.5, 5) * bw, cy + rng.uniform(-0.5, 0.5, 5) * bh])
        lmk.append(((pts / [w, h] - [cx0, cy0]) / (0.1 * np.array([sw, sh]))).ravel())
        p = rng.uniform()
        conf.append((1 - p, p))
        boxes.append((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
        points.append(pts)
    outputs = {
        "loc": np.array(loc, np.float64)[None],
        "conf": np.array(conf, np.float64)[None],
        "landmarks": np.array(lmk, np.float64)[None],
    }
    return outputs, (np.array(boxes), np.array(conf)[:, 1], np.array(points))


# ---------------------------------------------------------------- anchors and priors


@pytest.mark.parametrize(
    ("stride", "table"),
    [
        (32, [[-248, -248, 263, 263], [-120, -120, 135, 135]]),
        (16, [[-56, -56, 71, 71], [-24, -24, 39, 39]]),
        (8, [[-8, -8, 23, 23], [0, 0, 15, 15]]),
    ],
)
def test_base_anchors_match_spec_table(stride, table):
    np.testing.assert_array_equal(base_anchors_a(stride), np.array(table, dtype=np.float64))


def test_anchor_grid_flat_index_and_shift():
    anchors = anchors_a(8, 80, 80)
    assert anchors.shape == (12800, 4)
    np.testing.assert_array_equal(anchors[1640], [152, 72, 183, 103])  # iy=10, ix=20, a=0
    for iy, ix, a in [(0, 0, 1), (79, 3, 0), (41, 77, 1)]:
        np.testing.assert_array_equal(anchors[(iy * 80 + ix) * 2 + a], spec_anchor(8, iy, ix, a))
    assert anchors_a(8, 80, 80) is anchors  # built once per size
    assert not anchors.flags.writeable


def test_priors_match_biubug6_loops_for_odd_size():
    h, w = 500, 700  # not multiples of 32: ceil differs from rint
    got = priors_b((h, w))
    np.testing.assert_allclose(got, np.array(spec_priors(h, w)), rtol=0, atol=1e-15)
    assert priors_b((640, 640)).shape == (16800, 4)


# ---------------------------------------------------------------- decoding


def test_worked_example_from_spec():
    outputs = {}
    for s in (32, 16, 8):
        n = 640 // s
        outputs[f"face_rpn_cls_prob_reshape_stride{s}"] = np.zeros((1, 4, n, n), np.float32)
        outputs[f"face_rpn_bbox_pred_stride{s}"] = np.zeros((1, 8, n, n), np.float32)
        outputs[f"face_rpn_landmark_pred_stride{s}"] = np.zeros((1, 20, n, n), np.float32)
    outputs["face_rpn_bbox_pred_stride8"][0, 0:4, 10, 20] = (0.1, -0.2, 0.3, -0.1)
    outputs["face_rpn_cls_prob_reshape_stride8"][0, 2, 10, 20] = 0.75
    layout = resolve_layout({k: v.shape for k, v in outputs.items()})
    levels = decode_outputs(outputs, layout, (640, 640))
    assert [len(lv) for lv in levels] == [800, 3200, 12800]
    det = levels[2]
    np.testing.assert_allclose(det.boxes[1640], [149.60226, 67.12260, 191.79774, 95.07740], atol=1e-5)
    assert det.scores[1640] == 0.75 and det.scores.dtype == np.float64
    np.testing.assert_allclose(det.landmarks[1640], np.tile([167.5, 87.5], (5, 1)))  # zero deltas: centre
    assert det.boxes.dtype == np.float64 and det.landmarks.shape == (12800, 5, 2)


@pytest.mark.parametrize("input_hw", [(640, 640), (96, 160)])
def test_layout_a_round_trip(input_hw):
    outputs, expected = encode_a(np.random.default_rng(1), input_hw)
    layout = resolve_layout({k: v.shape for k, v in outputs.items()})
    levels = decode_outputs(outputs, layout, input_hw)
    assert len(levels) == 3
    for det, (boxes, scores, points) in zip(levels, expected):
        np.testing.assert_allclose(det.boxes, boxes, rtol=0, atol=1e-3)  # float32 deltas
        np.testing.assert_allclose(det.landmarks, points, rtol=0, atol=1e-3)
        np.testing.assert_array_equal(det.scores, scores)


@pytest.mark.parametrize("input_hw", [(640, 640), (200, 328)])
def test_layout_b_round_trip(input_hw):
    outputs, (boxes, scores, points) = encode_b(np.random.default_rng(2), input_hw)
    layout = resolve_layout({k: v.shape for k, v in outputs.items()})
    assert layout.kind == "B"
    (det,) = decode_outputs(outputs, layout, input_hw)
    np.testing.assert_allclose(det.boxes, boxes, rtol=0, atol=1e-9)
    np.testing.assert_allclose(det.landmarks, points, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(det.scores, scores)


def test_layout_b_accepts_rint_sized_outputs():
    h, w = 500, 700  # OMZ's adapter sizes the maps with rint: 62 rows at step 8, not 63
    n = sum(int(np.rint(h / s)) * int(np.rint(w / s)) * 2 for s in (8, 16, 32))
    assert n != len(spec_priors(h, w))
    out = {"loc": np.zeros((1, n, 4)), "conf": np.zeros((1, n, 2)), "landmarks": np.zeros((1, n, 10))}
    (det,) = decode_outputs(out, resolve_layout({k: v.shape for k, v in out.items()}), (h, w))
    rows8, cols8 = int(np.rint(h / 8)), int(np.rint(w / 8))
    last8 = rows8 * cols8 * 2 - 1  # last prior of step 8: row rows8-1, col cols8-1, size 32
    np.testing.assert_allclose(det.boxes[last8], [(cols8 - 0.5) * 8 - 16, (rows8 - 0.5) * 8 - 16,
                                                  (cols8 - 0.5) * 8 + 16, (rows8 - 0.5) * 8 + 16])
    with pytest.raises(RfbenchError, match="N=99"):
        decode_outputs({k: v[:, :99] for k, v in out.items()}, resolve_layout({k: v.shape for k, v in out.items()}), (h, w))


# ---------------------------------------------------------------- resolve_layout


def _output_shapes(path) -> dict[str, list]:
    model = onnx.load(str(path), load_external_data=False)
    return {o.name: [d.dim_value if d.HasField("dim_value") else d.dim_param for d in o.type.tensor_type.shape.dim]
            for o in model.graph.output}


def test_resolve_fixture_models(models_dir, caplog):
    with caplog.at_level(logging.INFO, logger="rfbench.decoder.layout"):
        a = resolve_layout(_output_shapes(models_dir / "retinaface-mnet025-omzlayout.onnx"))
    assert a == OutputLayout("A", A_NAMES)
    assert "face_rpn_bbox_pred_stride8" in caplog.text and "bbox8" in caplog.text
    b = resolve_layout(_output_shapes(models_dir / "retinaface-mnet025-640.onnx"))
    assert b == OutputLayout("B", {"loc": "output0", "conf": "output1", "landmarks": "output2"})
    dyn_shapes = _output_shapes(models_dir / "retinaface-mnet025-dynamic.onnx")
    assert all(isinstance(s[-1], str) for s in dyn_shapes.values())  # symbolic: names decide
    dyn = resolve_layout(dyn_shapes)
    assert dyn == OutputLayout("B", {"loc": "loc", "conf": "conf", "landmarks": "landmarks"})


def test_resolve_b_by_shape_with_unusual_names():
    shapes = {"917": [1, 16800, 2], "845": [1, 16800, 10], "x": [1, 16800, 4]}
    assert resolve_layout(shapes).names == {"loc": "x", "conf": "917", "landmarks": "845"}


def test_resolve_seed_card_spelling_and_overrides():
    shapes = {}
    for s in (32, 16, 8):
        n = 640 // s
        shapes[f"face_rpn_cls_prob_reshape_stride{s}"] = [1, 4, n, n]
        shapes[f"face_rpn_bbox_stride{s}"] = [1, 8, n, n]
        shapes[f"face_rpn_landmark_pred_stride{s}"] = [1, 20, n, n]
    layout = resolve_layout(shapes)
    assert layout.kind == "A" and layout.names["bbox16"] == "face_rpn_bbox_stride16"
    swapped = dict(layout.names, bbox8="face_rpn_bbox_stride16", bbox16="face_rpn_bbox_stride8")
    with pytest.raises(RfbenchError, match="disagree on the grid"):
        resolve_layout(shapes, names=swapped)
    without_stride8 = {k: v for k, v in shapes.items() if "stride8" not in k}
    with pytest.raises(RfbenchError, match="no output for role"):
        resolve_layout(without_stride8, layout="A")
    b_shapes = {"a": [1, 10, 4], "b": [1, 10, 2], "c": [1, 10, 10]}
    forced = resolve_layout(b_shapes, names={"loc": "a", "conf": "b", "landmarks": "c"})
    assert forced.kind == "B"
    with pytest.raises(RfbenchError, match="not among the model outputs"):
        resolve_layout(b_shapes, names={"loc": "a", "conf": "b", "landmarks": "zzz"})
    with pytest.raises(RfbenchError, match="--layout must be A or B"):
        resolve_layout(b_shapes, layout="C")
    with pytest.raises(RfbenchError, match=r"expected \[1,N,4\]"):
        resolve_layout(b_shapes, names={"loc": "b", "conf": "a", "landmarks": "c"})


def test_resolve_error_on_wrong_model(tmp_path):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["prob"])], "classifier",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1000])],
        [onnx.helper.make_tensor_value_info("prob", onnx.TensorProto.FLOAT, [1, 1000])],
    )
    path = tmp_path / "classifier.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(RfbenchError) as err:
        resolve_layout(_output_shapes(path))
    message = str(err.value)
    assert "prob [1x1000]" in message and "face_rpn_cls_prob_reshape_stride" in message
    assert "\n" not in message


# ---------------------------------------------------------------- real models


@pytest.fixture(scope="module")
def real_outputs(mnet_ort_outputs):
    """Outputs of the layout-A and layout-B fixture models on one real image (ORT, CPU)."""
    return mnet_ort_outputs(IMAGE)


def test_omzlayout_as_a_equals_640_as_b(real_outputs):
    a_out, b_out = real_outputs["omzlayout"], real_outputs["640"]
    levels = decode_outputs(a_out, resolve_layout({k: v.shape for k, v in a_out.items()}), (640, 640))
    (b,) = decode_outputs(b_out, resolve_layout({k: v.shape for k, v in b_out.items()}), (640, 640))
    offset = {8: 0, 16: 12800, 32: 16000}  # B's levels run 8, 16, 32; within a cell small first
    for det, s in zip(levels, (32, 16, 8)):
        cells = np.arange((640 // s) ** 2)
        ia = (cells[:, None] * 2 + np.arange(2)).ravel()
        ib = offset[s] + (cells[:, None] * 2 + 1 - np.arange(2)).ravel()
        np.testing.assert_allclose(det.boxes[ia], b.boxes[ib], rtol=0, atol=1e-3)
        np.testing.assert_allclose(det.landmarks[ia], b.landmarks[ib], rtol=0, atol=1e-3)
        np.testing.assert_array_equal(det.scores[ia], b.scores[ib])
    assert b.scores.max() > 0.9  # a real face is in there


def _assert_floor_selects_rows(outputs: dict, input_hw: tuple[int, int], floor: ScoreFloor) -> int:
    """Decoding with ``floor`` gives, bit for bit, the rows of the full decode that pass it
    (selected here by hand, in order); returns how many rows passed."""
    layout = resolve_layout({k: v.shape for k, v in outputs.items()})
    full = decode_outputs(outputs, layout, input_hw)
    floored = decode_outputs(outputs, layout, input_hw, floor)
    passed = 0
    for whole, part in zip(full, floored, strict=True):
        keep = [i for i, v in enumerate(whole.scores.tolist())
                if (v >= floor.threshold if floor.inclusive else v > floor.threshold)]
        passed += len(keep)
        for name in ("boxes", "scores", "landmarks"):
            assert getattr(part, name).tobytes() == getattr(whole, name)[keep].tobytes(), name
    return passed


@pytest.mark.parametrize("inclusive", [True, False])
def test_score_floor_decodes_exactly_the_rows_that_pass(inclusive, real_outputs):
    at = float(np.float32(0.3))  # a float32 score can equal it: >= and > differ there
    rng = np.random.default_rng(5)
    a_out, _ = encode_a(rng, (96, 160))
    b_out, _ = encode_b(rng, (96, 160))
    for out, name in ((a_out, "face_rpn_cls_prob_reshape_stride8"), (b_out, "conf")):
        scores = out[name][0, 2:] if name.startswith("face") else out[name][0, :, 1]
        scores[...] = rng.choice(np.float32([0.0, 0.01, at, 0.31, 0.9]), size=scores.shape)
        assert 0 < _assert_floor_selects_rows(out, (96, 160), ScoreFloor(at, inclusive))
    for out in real_outputs.values():  # the real models on a real image: all but ~800 of 16,800 drop out
        assert 0 < _assert_floor_selects_rows(out, (640, 640), ScoreFloor(0.02, inclusive)) < 16800
