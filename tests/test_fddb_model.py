"""``rfbench eval --dataset fddb --model``: a real model over an FDDB-shaped data root built from
the five real WIDER images, and the ``biubug6-fddb`` preset (Pytorch_Retinaface test_fddb.py).

References: test_fddb.py's own steps written in the test (``test_biubug6``'s reference decode and
NMS, then its ``int(xmin) int(ymin) int(w) int(h)`` lines with ``w = xmax - xmin + 1``), and the
WIDER run of the same model over the same images (the FDDB lines must carry its boxes).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import interrupt_inference_at
from test_biubug6 import reference_dets, reference_input

from rfbench.cli import main
from rfbench.decoder.detections import Detections
from rfbench.decoder.postprocess import get_preset, submission_xywhs
from rfbench.fddb.detections import detections_text, read_detections
from rfbench.fddb.evaluate import evaluate
from rfbench.fddb.folds import load_folds

#: WIDER-mini image (relative to WIDER_val/images) -> its FDDB-style name; two folds.
NAMES = {
    "0--Parade/0_Parade_marchingband_1_149": "2002/08/11/big/img_591",
    "2--Demonstration/2_Demonstration_Demonstration_Or_Protest_2_58": "2002/08/11/big/img_592",
    "12--Group/12_Group_Group_12_Group_Group_12_10": "2002/07/19/big/img_130",
    "12--Group/12_Group_Group_12_Group_Group_12_29": "2003/01/13/big/img_1087",
    "17--Ceremony/17_Ceremony_Ceremony_17_171": "2003/01/13/big/img_1088",
}
FOLDS = {1: list(NAMES.values())[:3], 2: list(NAMES.values())[3:]}


def wider_boxes(wider_mini: Path) -> dict[str, list[list[float]]]:
    """WIDER-mini's GT boxes ``x y w h`` per image id (the official text, read here)."""
    lines = (wider_mini / "wider_face_split" / "wider_face_val_bbx_gt.txt").read_text().split("\n")
    boxes, i = {}, 0
    while i < len(lines) and lines[i].strip():
        image_id, count = lines[i].strip()[: -len(".jpg")], int(lines[i + 1])
        rows = lines[i + 2: i + 2 + max(count, 1)]
        boxes[image_id] = [[float(v) for v in r.split()[:4]] for r in rows[:count]]
        i += 2 + max(count, 1)
    return boxes


def make_fddb_root(root: Path, wider_mini: Path) -> Path:
    """originalPics/<name>.jpg (the real JPEGs, copied) and the fold lists, each face an upright
    ellipse around its WIDER box (major radius along y)."""
    boxes = wider_boxes(wider_mini)
    (root / "FDDB-folds").mkdir(parents=True)
    for image_id, name in NAMES.items():
        target = root / "originalPics" / f"{name}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wider_mini / "WIDER_val" / "images" / f"{image_id}.jpg", target)
    for fold, names in FOLDS.items():
        ids = {v: k for k, v in NAMES.items()}
        text = []
        for name in names:
            faces = [b for b in boxes[ids[name]] if b[2] > 0 and b[3] > 0]
            text += [name, str(len(faces))]
            text += [f"{b[3] / 2:.6f} {b[2] / 2:.6f} {math.pi / 2:.6f} {b[0] + b[2] / 2:.6f} "
                     f"{b[1] + b[3] / 2:.6f}  1" for b in faces]
        (root / "FDDB-folds" / f"FDDB-fold-{fold:02d}.txt").write_text("".join(f"{n}\n" for n in names))
        (root / "FDDB-folds" / f"FDDB-fold-{fold:02d}-ellipseList.txt").write_text("\n".join(text) + "\n")
    return root


@pytest.fixture(scope="module")
def fddb_root(tmp_path_factory, wider_mini) -> Path:
    return make_fddb_root(tmp_path_factory.mktemp("fddb") / "fddb", wider_mini)


def eval_fddb(root: Path, out: Path, *extra: str) -> int:
    return main(["-q", "eval", "--dataset", "fddb", "--data-root", str(root), "--out", str(out), *extra])


def test_fddb_line_format_worked_examples():
    """test_fddb.py: int() toward zero of xmin, ymin and of w = xmax - xmin + 1 (float32)."""
    boxes = np.array([[-3.7, 10.2, 20.5, 30.0], [0.5, -0.5, 0.9, 0.1], [5.0, 6.0, 5.0, 6.0]])
    dets = Detections(boxes, np.array([0.987654321, 0.5, 0.03]), np.zeros((3, 5, 2)))
    rows = submission_xywhs(dets, get_preset("biubug6-fddb", "B"))
    # -3.7 -> -3; w = 20.5 + 3.7 + 1 = 25.2 -> 25; h = 30 - 10.2 + 1 = 20.8 -> 20
    assert rows[:, :4].tolist() == [[-3, 10, 25, 20], [0, 0, 1, 1], [5, 6, 1, 1]]
    text = detections_text(["a/img_1", "a/img_2"], {"a/img_1": rows}, script_format=True)
    assert text.splitlines() == ["a/img_1", "3.0", "-3 10 25 20 0.9876543210", "0 0 1 1 0.5000000000",
                                 "5 6 1 1 0.0300000000", "a/img_2", "0.0"]
    assert detections_text(["a/img_1"], {"a/img_1": rows[:1]}).splitlines()[1:] == ["1", "-3 10 25 20 0.987654321"]


def test_biubug6_fddb_is_test_fddb_py(tmp_path, fddb_root, models_dir):
    """The fold files equal test_fddb.py's lines for every image (its decode written in the test)."""
    ort = pytest.importorskip("onnxruntime")
    model = models_dir / "retinaface-mnet025-dynamic.onnx"
    out = tmp_path / "out"
    assert eval_fddb(fddb_root, out, "--model", str(model), "--runtime", "onnxruntime",
                     "--preset", "biubug6-fddb") == 0
    files = sorted(p.name for p in (out / "detections").iterdir())
    assert files == ["fold-01-out.txt", "fold-02-out.txt"]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    written = read_detections(out / "detections", set(NAMES.values()))
    for name in NAMES.values():
        feed, resize = reference_input(cv2.imread(str(fddb_root / "originalPics" / f"{name}.jpg")), True)
        outputs = dict(zip(names, session.run(None, {session.get_inputs()[0].name: feed})))
        dets = reference_dets(outputs["loc"], outputs["conf"], feed.shape[2:], resize)
        expected = np.array([[int(b[0]), int(b[1]), int(b[2] - b[0] + 1), int(b[3] - b[1] + 1), b[4]]
                             for b in dets], np.float64).reshape(-1, 5)
        rows = written[name]
        assert len(rows) > 5 and rows.shape == expected.shape, name
        np.testing.assert_array_equal(rows[:, 4], np.round(expected[:, 4], 10))  # '{:.10f}'
        diff = np.abs(rows[:, :4] - expected[:, :4])  # float64 vs float32 decode: 1 px, rarely
        assert diff.max() <= 1 and (diff > 0).mean() < 0.02, name
    fold1 = (out / "detections" / "fold-01-out.txt").read_text().splitlines()
    assert fold1[0] == FOLDS[1][0] and fold1[1].endswith(".0")
    record = json.loads((out / "results.json").read_text())
    assert record["preset"]["name"] == "biubug6-fddb" and record["model"]["input_size_policy"] == "native"
    assert record["fddb"]["detection_files"] == str(out / "detections")
    assert record["predictions"]["source"] == "model"
    roc = evaluate(load_folds(fddb_root), written)
    assert (out / "DiscROC.txt").read_text() == roc.disc_text()
    assert record["fddb"]["tpr_at_fp"][0]["tpr_discrete_step"] > 0.5


def test_fddb_model_run_prints_what_was_measured(tmp_path, fddb_root, models_dir, capsys):
    model = models_dir / "retinaface-mnet025-640.onnx"
    assert main(["eval", "--dataset", "fddb", "--data-root", str(fddb_root), "--model", str(model),
                 "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"model:           {model.name} (sha256 ")
    assert "protocols:       fddb" in out and "TPR at 1000 FP" in out


def test_fddb_lines_carry_the_wider_runs_boxes(tmp_path, fddb_root, wider_mini, models_dir):
    """Default preset on the fixed-size model: each image's FDDB rows are, exactly, the rows
    the WIDER eval of the same model writes for that image; then --resume rebuilds a lost file."""
    from rfbench.wider.predictions import read_predictions

    model = str(models_dir / "retinaface-mnet025-640.onnx")
    out = tmp_path / "fddb-out"
    assert eval_fddb(fddb_root, out, "--model", model) == 0
    assert main(["-q", "eval", "--data-root", str(wider_mini), "--model", model, "--protocol", "omz",
                 "--out", str(tmp_path / "wider-out")]) == 0
    wider, missing = read_predictions(tmp_path / "wider-out" / "predictions", list(NAMES))
    assert not missing
    fddb = read_detections(out / "detections", set(NAMES.values()))
    for image_id, name in NAMES.items():
        np.testing.assert_array_equal(fddb[name], wider[image_id].astype(np.float64), err_msg=name)
    before = {p.name: p.read_bytes() for p in (out / "detections").iterdir()}
    lost = next((out / "predictions").rglob("*.txt"))
    lost.unlink()
    (out / "detections" / "fold-02-out.txt").unlink()
    assert eval_fddb(fddb_root, out, "--model", model, "--resume") == 0
    assert {p.name: p.read_bytes() for p in (out / "detections").iterdir()} == before
    assert lost.is_file()


@pytest.mark.slow
def test_fddb_resume_after_interrupt_gives_identical_files(tmp_path, fddb_root, models_dir,
                                                           monkeypatch, capsys):
    """Ctrl-C during the model run (the third image): exit 130 naming --resume, no fold file
    written; the run resumed gives byte-identical fold files, DiscROC.txt and ContROC.txt to an
    uninterrupted run (preset biubug6-fddb, test_fddb.py's line format, at native size)."""
    args = ("--model", str(models_dir / "retinaface-mnet025-dynamic.onnx"), "--runtime",
            "onnxruntime", "--preset", "biubug6-fddb")
    assert eval_fddb(fddb_root, tmp_path / "full", *args) == 0
    interrupt_inference_at(monkeypatch, 3)
    capsys.readouterr()
    cut = tmp_path / "cut"
    assert eval_fddb(fddb_root, cut, *args) == 130
    assert "--resume" in capsys.readouterr().err
    assert len(list((cut / "predictions").rglob("*.txt"))) == 2
    assert not (cut / "detections").exists() and not (cut / "results.json").exists()
    monkeypatch.undo()  # inference runs for real again
    assert eval_fddb(fddb_root, cut, *args) == 2  # refuses to mix runs without --resume
    assert eval_fddb(fddb_root, cut, *args, "--resume") == 0
    for name in ("detections/fold-01-out.txt", "detections/fold-02-out.txt", "DiscROC.txt",
                 "ContROC.txt", "roc.csv"):
        assert (cut / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    record = json.loads((cut / "results.json").read_text())
    assert record["prediction_run"]["images_resumed"] == 2


def test_fddb_model_refusals(tmp_path, fddb_root, models_dir, capsys):
    model = str(models_dir / "retinaface-mnet025-640.onnx")
    broken = tmp_path / "broken"
    shutil.copytree(fddb_root, broken)
    (broken / "originalPics" / f"{FOLDS[2][0]}.jpg").unlink()
    capsys.readouterr()
    assert eval_fddb(broken, tmp_path / "o1", "--model", model) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{FOLDS[2][0]}.jpg: image not found (1 of the 5" in err
    assert not (tmp_path / "o1").exists()
    assert eval_fddb(fddb_root, tmp_path / "o2", "--model", model, "--protocol", "omz") == 2
    assert "--protocol applies to --dataset wider, not fddb" in capsys.readouterr().err
    assert main(["-q", "eval", "--data-root", str(fddb_root), "--model", model, "--folds", "1",
                 "--out", str(tmp_path / "o3")]) == 2
    assert "--folds applies to --dataset fddb, not wider" in capsys.readouterr().err


def test_fddb_model_where_images_cannot_be_linked(tmp_path, fddb_root, models_dir, capsys, monkeypatch):
    """A file system without symbolic links: one line naming the link, exit 2."""
    import errno

    def refuse(self, target, target_is_directory=False):
        raise OSError(errno.EPERM, "Operation not permitted", str(self))

    monkeypatch.setattr(Path, "symlink_to", refuse)
    capsys.readouterr()
    assert eval_fddb(fddb_root, tmp_path / "o", "--model", str(models_dir / "retinaface-mnet025-640.onnx")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot link the image" in err and "Operation not permitted" in err
