"""``rfbench import`` of Pytorch_Retinaface ``.pth`` state dicts: the real mobilenet0.25 release
and synthetic ResNet-50 checkpoints (legacy and zip format) equal an independent numpy forward
of biubug6's network; the restricted unpickler runs nothing it was not built to run.

The ONNX fixtures ``retinaface-mnet025-640.onnx`` / ``-dynamic.onnx`` are other training runs
(their head weights differ from this .pth by 0.5-0.7), so they are no reference here.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli
from pth_checkpoints import MAGIC, forward, resnet50_state, write_pth

from rfbench.decoder.preprocess import read_image

PTH = "mobilenet0.25_Final.pth"


def _bgr_minus_mean(path: Path, hw: tuple[int, int] | None) -> np.ndarray:
    import cv2

    image = read_image(path)
    if hw is not None:
        image = cv2.resize(image, (hw[1], hw[0]))
    x = image.astype(np.float32) - np.array([104, 117, 123], np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _import(capsys, checkpoint: Path, out: Path, *extra) -> Path:
    code, stdout, err = run_cli(capsys, "import", checkpoint, "--out", out, *extra)
    assert code == 0, err
    assert stdout.splitlines()[0].endswith("Pytorch_Retinaface .pth checkpoint")
    return out


def _run(model: Path, x: np.ndarray, runtime: str = "onnxruntime") -> dict[str, np.ndarray]:
    if runtime == "onnxruntime":
        import onnxruntime as ort

        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, {"input0": x})))
    import openvino as ov

    compiled = ov.Core().compile_model(str(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return {p.get_any_name(): v for p, v in compiled.create_infer_request().infer({"input0": x}).items()}


def _close(got: dict, want: dict, tol: float) -> None:
    for name in ("loc", "conf", "landmarks"):
        assert got[name].shape == want[name].shape, name
        scale = max(1.0, float(np.abs(want[name]).max()))
        assert np.abs(got[name] - want[name]).max() <= tol * scale, name


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_real_mobilenet_pth_equals_the_numpy_network(models_dir, wider_mini, tmp_path, capsys, runtime):
    from rfbench.models.importer.torch_pickle import load_state_dict

    model = _import(capsys, models_dir / PTH, tmp_path / "m.onnx")
    state = load_state_dict(models_dir / PTH)
    assert len(state) == 253  # 300 entries less 47 num_batches_tracked
    images = sorted((wider_mini / "WIDER_val" / "images").glob("*/*.jpg"))
    for image, hw in ((images[0], (640, 640)), (images[2], None)):  # fixed and native size
        x = _bgr_minus_mean(image, hw)
        _close(_run(model, x, runtime), forward(state, x), 1e-4)


@pytest.fixture(scope="module")
def r50_state() -> dict[str, np.ndarray]:
    return resnet50_state(seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("fmt,prefix", [("legacy", ""), ("zip", "module.")])
def test_synthetic_resnet50_pth_equals_the_numpy_network(r50_state, tmp_path, capsys, fmt, prefix):
    path = tmp_path / f"r50-{fmt}.pth"
    write_pth(path, r50_state, fmt, prefix)
    model = _import(capsys, path, tmp_path / "r50.onnx", "--input-size", "160x128")
    x = np.random.default_rng(4).uniform(-120, 130, (1, 3, 128, 160)).astype(np.float32)
    _close(_run(model, x), forward(r50_state, x), 1e-4)


def test_legacy_and_zip_read_the_same(models_dir, tmp_path):
    from rfbench.models.importer.torch_pickle import load_state_dict

    state = load_state_dict(models_dir / PTH)
    write_pth(tmp_path / "z.pth", state, "zip", "module.")
    again = load_state_dict(tmp_path / "z.pth")
    assert list(again) == list(state)
    assert all(np.array_equal(again[k], state[k]) for k in state)


class _RunsCode:
    def __init__(self, call, arg) -> None:
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


def _hostile(tmp_path: Path, payload: object, fmt: str) -> Path:
    path = tmp_path / f"evil-{fmt}.pth"
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
        return path
    out = io.BytesIO()
    for header in (MAGIC, 1001, {"little_endian": True}):
        pickle.dump(header, out, protocol=2)
    pickle.dump(payload, out, protocol=2)
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
@pytest.mark.parametrize("make", [
    lambda s: _RunsCode(os.system, f"touch {s}"),
    lambda s: _RunsCode(eval, f"open({str(s)!r}, 'w')"),
    lambda s: {"w": _RunsCode(exec, f"open({str(s)!r}, 'w')")},
])
def test_a_pickle_that_would_run_code_runs_nothing(tmp_path, capsys, fmt, make):
    sentinel = tmp_path / "SENTINEL"
    path = _hostile(tmp_path, make(sentinel), fmt)
    code, _, err = run_cli(capsys, "import", path, "--out", tmp_path / "x.onnx")
    line = one_line_error(err)
    assert code == 2 and "refusing to load: the pickle asks for global" in line
    assert any(name in line for name in ("posix.system", "builtin__.eval", "builtin__.exec"))
    assert not sentinel.exists() and not (tmp_path / "x.onnx").exists()


def test_a_class_of_the_training_code_is_refused_by_name(tmp_path):
    from rfbench.errors import RfbenchError
    from rfbench.models.importer.torch_pickle import load_state_dict

    path = _hostile(tmp_path, {"cfg": collections_counter()}, "legacy")
    with pytest.raises(RfbenchError, match="global 'collections.Counter'"):
        load_state_dict(path)


def collections_counter():
    import collections

    return collections.Counter("ab")


@pytest.mark.parametrize("cut", [20, 600, 40000, -100])
def test_truncated_pth(models_dir, tmp_path, capsys, cut):
    data = (models_dir / PTH).read_bytes()
    (tmp_path / "t.pth").write_bytes(data[:cut])
    code, _, err = run_cli(capsys, "import", tmp_path / "t.pth", "--out", tmp_path / "t.onnx")
    line = one_line_error(err)
    assert code == 2 and "t.pth" in line and not (tmp_path / "t.onnx").exists()


def test_not_a_retinaface_state_dict(models_dir, tmp_path, capsys):
    from rfbench.models.importer.torch_pickle import load_state_dict

    state = load_state_dict(models_dir / PTH)
    partial = {k: v for k, v in state.items() if not k.startswith("ssh3.")}
    write_pth(tmp_path / "p.pth", partial)
    code, _, err = run_cli(capsys, "import", tmp_path / "p.pth", "--out", tmp_path / "p.onnx")
    assert code == 2 and "has no tensor 'ssh3.conv3X3.0.weight'" in one_line_error(err)
    bad = dict(state)
    bad["fpn.merge1.0.weight"] = np.zeros((64, 64, 1, 1), np.float32)
    write_pth(tmp_path / "s.pth", bad)
    code, _, err = run_cli(capsys, "import", tmp_path / "s.pth", "--out", tmp_path / "s.onnx")
    line = one_line_error(err)
    assert code == 2 and "fpn.merge1.0.weight" in line and "s.pth" in line
    write_pth(tmp_path / "x.pth", {**state, "extra.weight": np.zeros(3, np.float32)})
    code, _, err = run_cli(capsys, "import", tmp_path / "x.pth", "--out", tmp_path / "x.onnx")
    assert code == 2 and "'extra.weight'" in one_line_error(err)
    write_pth(tmp_path / "o.pth", {"conv.weight": np.zeros((3, 3, 1, 1), np.float32)})
    code, _, err = run_cli(capsys, "import", tmp_path / "o.pth", "--out", tmp_path / "o.onnx")
    assert code == 2 and "not a Pytorch_Retinaface RetinaFace" in one_line_error(err)


def test_pth_needs_no_symbol(models_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, "import", models_dir / PTH, "--symbol", models_dir / PTH,
                           "--out", tmp_path / "m.onnx")
    assert code == 2 and "needs no symbol" in one_line_error(err)
