"""The reference RetinaFace-R50 graph: interface of the OMZ model, cache, determinism, inference."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from real_inputs import PARADE, network_input

from rfbench.cli import main
from rfbench.errors import RfbenchError
from rfbench.models import reference_r50

# The model card's outputs (seed/retinaface-resnet50-model-card.txt) in its order, with the real
# box names (face_rpn_bbox_pred_*) and the stride-8 rows under their stride-8 names.
EXPECTED_OUTPUTS = [
    ("face_rpn_cls_prob_reshape_stride32", [1, 4, 20, 20]),
    ("face_rpn_bbox_pred_stride32", [1, 8, 20, 20]),
    ("face_rpn_landmark_pred_stride32", [1, 20, 20, 20]),
    ("face_rpn_cls_prob_reshape_stride16", [1, 4, 40, 40]),
    ("face_rpn_bbox_pred_stride16", [1, 8, 40, 40]),
    ("face_rpn_landmark_pred_stride16", [1, 20, 40, 40]),
    ("face_rpn_cls_prob_reshape_stride8", [1, 4, 80, 80]),
    ("face_rpn_bbox_pred_stride8", [1, 8, 80, 80]),
    ("face_rpn_landmark_pred_stride8", [1, 20, 80, 80]),
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graph(reference_r50_onnx: Path) -> onnx.ModelProto:
    return onnx.load(str(reference_r50_onnx))


def test_interface_matches_model_card(graph: onnx.ModelProto) -> None:
    inputs = [(i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]) for i in graph.graph.input]
    assert inputs == [("data", [1, 3, 640, 640])]
    outputs = [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim])
               for o in graph.graph.output]
    assert outputs == EXPECTED_OUTPUTS
    assert reference_r50.output_names() == [name for name, _ in EXPECTED_OUTPUTS]


def test_shape_inference_agrees_with_declared_outputs(graph: onnx.ModelProto) -> None:
    inferred = onnx.shape_inference.infer_shapes(graph, strict_mode=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in inferred.graph.value_info}
    # taps of the spec: c1 = stage3_unit1_relu2 (256 x 80 x 80), c2, c3 = relu1 (2048 x 20 x 20)
    assert shapes["stage3_unit1_relu2"] == [1, 256, 80, 80]
    assert shapes["stage4_unit1_relu2"] == [1, 512, 40, 40]
    assert shapes["relu1"] == [1, 2048, 20, 20]
    assert shapes["pooling0"] == [1, 64, 160, 160]
    assert shapes["ssh_m1_det_concat"] == [1, 512, 80, 80]


def test_graph_structure(graph: onnx.ModelProto) -> None:
    ops = Counter(n.op_type for n in graph.graph.node)
    # 53 backbone convs (1 + 16*3 + 4 projections), 5 neck, 15 SSH, 9 heads
    assert ops["Conv"] == 82
    # a BN after 53 convs (conv0, conv1 and conv2 of the 16 units, 5 neck, 15 SSH; not after
    # conv3, the projections or the heads) + bn_data + 16 pre-activation bn1 + the final bn1
    assert ops["BatchNormalization"] == 53 + 18
    assert ops["Softmax"] == 3 and ops["Resize"] == 2 and ops["MaxPool"] == 1
    assert ops["Add"] == 16 + 2
    eps = {a.f for n in graph.graph.node if n.op_type == "BatchNormalization"
           for a in n.attribute if a.name == "epsilon"}
    assert len(eps) == 1 and eps.pop() == pytest.approx(2e-5)
    softmax = [n for n in graph.graph.node if n.op_type == "Softmax"]
    assert all(a.i == 1 for n in softmax for a in n.attribute if a.name == "axis")


def test_cache_is_reused_and_keyed_by_hash(reference_r50_onnx: Path) -> None:
    assert reference_r50_onnx.parent == reference_r50.cache_dir()
    assert reference_r50.architecture_hash()[:16] in reference_r50_onnx.name
    before = reference_r50_onnx.stat().st_mtime_ns
    assert reference_r50.reference_model_path() == reference_r50_onnx
    assert reference_r50_onnx.stat().st_mtime_ns == before
    leftovers = [p for p in reference_r50_onnx.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_hash_depends_on_seed_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    base = reference_r50.architecture_hash()
    assert reference_r50.architecture_hash() == base
    monkeypatch.setattr(reference_r50, "SEED", reference_r50.SEED + 1)
    assert reference_r50.architecture_hash() != base
    monkeypatch.undo()
    monkeypatch.setattr(reference_r50, "BUILDER_VERSION", reference_r50.BUILDER_VERSION + 1)
    assert reference_r50.architecture_hash() != base


def test_cache_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RFBENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert reference_r50.cache_dir() == tmp_path / "xdg" / "rfbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert reference_r50.cache_dir() == tmp_path / "home" / ".cache" / "rfbench"
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "mine"))
    assert reference_r50.cache_dir() == tmp_path / "mine"


def _export_in_fresh_process(folder: Path, hash_seed: str) -> subprocess.Popen:
    """Start ``python -m rfbench export-reference`` in a new interpreter with its own empty
    ``RFBENCH_CACHE`` (so it builds the graph itself) and its own ``PYTHONHASHSEED``."""
    import rfbench

    folder.mkdir()
    package_root = str(Path(rfbench.__file__).resolve().parents[1])  # the rfbench this run tests
    env = {**os.environ, "RFBENCH_CACHE": str(folder / "cache"), "PYTHONHASHSEED": hash_seed,
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "rfbench", "-q", "export-reference",
                             "--out", str(folder / "r50.onnx")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_build_is_deterministic(reference_r50_onnx: Path, tmp_path: Path) -> None:
    """Two separate processes (other hash seeds, no shared cache) build the same bytes as this one."""
    folders = [tmp_path / "one", tmp_path / "two"]
    procs = [_export_in_fresh_process(folder, seed) for folder, seed in zip(folders, ("1", "2"))]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    hashes = []
    for folder in folders:
        (built,) = (folder / "cache").iterdir()  # built there, not found in another cache
        assert built.name == reference_r50_onnx.name
        assert _sha256(built) == _sha256(folder / "r50.onnx")
        hashes.append(_sha256(folder / "r50.onnx"))
    assert hashes[0] == hashes[1] == _sha256(reference_r50_onnx)


def test_unwritable_cache_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RFBENCH_CACHE", str(blocker / "cache"))
    with pytest.raises(RfbenchError, match="cache folder"):
        reference_r50.reference_model_path()


@pytest.mark.slow
def test_runs_in_onnxruntime_and_openvino(reference_r50_onnx: Path, wider_mini: Path) -> None:
    import onnxruntime as ort
    import openvino as ov

    data = network_input(wider_mini / PARADE, 640, 640)  # raw BGR 0..255, as the OMZ model takes it
    session = ort.InferenceSession(str(reference_r50_onnx), providers=["CPUExecutionProvider"])
    ort_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"data": data})))
    compiled = ov.Core().compile_model(str(reference_r50_onnx), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    ov_result = compiled({"data": data})
    fired = 0
    for name, shape in EXPECTED_OUTPUTS:
        out = ort_out[name]
        assert list(out.shape) == shape and out.dtype == np.float32
        assert np.isfinite(out).all()
        np.testing.assert_allclose(ov_result[compiled.output(name)], out, atol=1e-3, rtol=1e-3)
        if "cls_prob" in name:
            assert out.min() >= 0.0 and out.max() <= 1.0
            np.testing.assert_allclose(out[:, :2] + out[:, 2:], 1.0, atol=1e-5)
            fired += int((out[:, 2:] > 0.5).sum())
        else:  # box / landmark deltas: O(1), not saturated
            assert 0.05 < float(out.std()) < 2.0
    # a few detections (neither none nor most of the 33,600 anchor scores)
    assert 0 < fired < 0.05 * 2 * (400 + 1600 + 6400)


@pytest.mark.slow
def test_export_reference_onnx_and_ir(reference_r50_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "r50.onnx"
    assert main(["export-reference", "--out", str(out)]) == 0
    assert _sha256(out) == _sha256(reference_r50_onnx)
    assert main(["export-reference", "--out", str(tmp_path / "ir" / "r50.xml"), "--ir"]) == 2
    (tmp_path / "ir").mkdir()
    assert main(["export-reference", "--out", str(tmp_path / "ir" / "r50.xml"), "--ir"]) == 0
    assert (tmp_path / "ir" / "r50.xml").is_file()
    # f32 weights: the .bin holds the 29.4M parameters (BN folded) as float32
    assert (tmp_path / "ir" / "r50.bin").stat().st_size > 29_000_000 * 4
    assert sorted(os.listdir(tmp_path / "ir")) == ["r50.bin", "r50.xml"]
