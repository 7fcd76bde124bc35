"""``rfbench import`` refuses bad input in one line naming the file, node or tensor, exits 2 and
writes nothing: LFS pointers, empty / truncated / wrong-magic files, missing or mismatched
symbols, unknown operators, shape mismatches, bad --out / --input-size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli
from mxnet_checkpoints import write_params

MNET = "retinaface-mnet025-mxnet"


@pytest.fixture()
def mnet(models_dir: Path, tmp_path: Path) -> Path:
    """A copy of the mnet.25 pair as ``tmp/m-symbol.json`` + ``tmp/m-0000.params``."""
    shutil.copy(models_dir / f"{MNET}-symbol.json", tmp_path / "m-symbol.json")
    shutil.copy(models_dir / f"{MNET}-0000.params", tmp_path / "m-0000.params")
    return tmp_path / "m-0000.params"


def _refused(capsys, tmp_path: Path, *argv) -> str:
    """Run ``rfbench import ARGV --out tmp/out.onnx``: exit 2, one line, out not written."""
    out = tmp_path / "out.onnx"
    code, _, err = run_cli(capsys, "import", *argv, "--out", out)
    assert code == 2, err
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    return one_line_error(err)


def test_git_lfs_pointer(models_dir, tmp_path, capsys):
    line = _refused(capsys, tmp_path, models_dir / "retinaface-r50-mxnet-0000.params.lfs-pointer",
                    "--symbol", models_dir / "retinaface-r50-mxnet-symbol.json")
    assert "this is a Git LFS pointer" in line and "fetch the real file" in line
    assert "118,010,124 bytes" in line


def test_lfs_pointer_found_through_the_symbol(models_dir, tmp_path, capsys):
    shutil.copy(models_dir / "retinaface-r50-mxnet-symbol.json", tmp_path / "R50-symbol.json")
    shutil.copy(models_dir / "retinaface-r50-mxnet-0000.params.lfs-pointer", tmp_path / "R50-0000.params")
    assert "Git LFS pointer" in _refused(capsys, tmp_path, tmp_path / "R50-symbol.json")


@pytest.mark.parametrize("cut", [10, 30, 5000, -3])
def test_truncated_params(mnet, tmp_path, capsys, cut):
    data = mnet.read_bytes()
    mnet.write_bytes(data[:cut])
    line = _refused(capsys, tmp_path, mnet)
    assert str(mnet) in line and ("truncated" in line or "not a checkpoint" in line)


def test_wrong_magic_and_empty_file(tmp_path, capsys):
    (tmp_path / "x-0000.params").write_bytes(b"\x00" * 64)
    assert "not a checkpoint rfbench can import" in _refused(capsys, tmp_path, tmp_path / "x-0000.params")
    (tmp_path / "y.pth").write_bytes(b"")
    assert "empty file" in _refused(capsys, tmp_path, tmp_path / "y.pth")
    (tmp_path / "z.pth").mkdir()
    assert "not a file" in _refused(capsys, tmp_path, tmp_path / "z.pth")
    assert "not found" in _refused(capsys, tmp_path, tmp_path / "missing.params")


def test_missing_symbol(mnet, tmp_path, capsys):
    (tmp_path / "m-symbol.json").unlink()
    line = _refused(capsys, tmp_path, mnet)
    assert "m-symbol.json is not beside it" in line and "--symbol" in line


def test_mismatched_symbol(mnet, models_dir, tmp_path, capsys):
    line = _refused(capsys, tmp_path, mnet, "--symbol", models_dir / "retinaface-r50-mxnet-symbol.json")
    assert str(mnet) in line and "is this the symbol of these weights?" in line


def test_symbol_that_is_not_json(mnet, tmp_path, capsys):
    (tmp_path / "m-symbol.json").write_text("{not json")
    assert "not an MXNet symbol file" in _refused(capsys, tmp_path, mnet)


def _edit_symbol(path: Path, edit) -> None:
    symbol = json.loads(path.read_text())
    edit(symbol["nodes"])
    path.write_text(json.dumps(symbol))


def test_unknown_operator_names_op_and_node(mnet, tmp_path, capsys):
    def edit(nodes):
        conv = next(n for n in nodes if n["op"] == "Convolution")
        conv["op"] = "DeformableConvolution"
    _edit_symbol(tmp_path / "m-symbol.json", edit)
    line = _refused(capsys, tmp_path, mnet)
    assert "operator 'DeformableConvolution'" in line and "node 'mobilenet0_conv0_fwd'" in line


def test_unsupported_attribute_value_names_the_node(mnet, tmp_path, capsys):
    def edit(nodes):
        node = next(n for n in nodes if n["op"] == "Reshape")
        node["attrs"]["shape"] = "(-3, -2)"
    _edit_symbol(tmp_path / "m-symbol.json", edit)
    line = _refused(capsys, tmp_path, mnet)
    assert "face_rpn_cls_score_reshape_stride32" in line and "-2/-3/-4" in line


def test_shape_mismatch_names_the_tensor(mnet, tmp_path, capsys):
    from rfbench.models.importer.mxnet_params import read_params

    params = read_params(mnet)
    args = dict(params.args)
    args["mobilenet0_conv0_weight"] = np.zeros((8, 3, 5, 5), np.float32)
    write_params(mnet, args, params.aux)
    line = _refused(capsys, tmp_path, mnet)
    assert "tensor 'mobilenet0_conv0_weight' has shape 8x3x5x5" in line and "needs 8x3x3x3" in line


def test_out_must_be_onnx_or_xml_and_new(mnet, tmp_path, capsys):
    code, _, err = run_cli(capsys, "import", mnet, "--out", tmp_path / "m.pb")
    assert code == 2 and "expected a .onnx or .xml" in one_line_error(err)
    (tmp_path / "there.onnx").write_text("keep me")
    code, _, err = run_cli(capsys, "import", mnet, "--out", tmp_path / "there.onnx")
    assert code == 2 and "exists (use --force" in one_line_error(err)
    assert (tmp_path / "there.onnx").read_text() == "keep me"
    code, _, err = run_cli(capsys, "import", mnet, "--out", tmp_path / "no" / "m.onnx")
    assert code == 2 and "does not exist" in one_line_error(err)


@pytest.mark.parametrize("size", ["0x0", "640", "axb", "-1x640"])
def test_bad_input_size(mnet, tmp_path, capsys, size):
    code, _, err = run_cli(capsys, "import", mnet, "--out", tmp_path / "m.onnx", f"--input-size={size}")
    assert code == 2 and "--input-size" in one_line_error(err)


def test_a_model_file_is_not_a_checkpoint(models_dir, tmp_path, capsys):
    line = _refused(capsys, tmp_path, models_dir / "retinaface-mnet025-640.onnx")
    assert "not a checkpoint rfbench can import" in line


def test_contradicting_declared_metadata_is_refused_by_the_spec(tmp_path):
    from rfbench.errors import RfbenchError
    from rfbench.models.spec import declared_pixels

    bad = {"rfbench.pixels.channel_order": "RGBA"}
    with pytest.raises(RfbenchError, match="expected BGR or RGB"):
        declared_pixels(tmp_path / "m.onnx", bad)
    with pytest.raises(RfbenchError, match="three numbers"):
        declared_pixels(tmp_path / "m.onnx", {"rfbench.pixels.channel_order": "RGB",
                                              "rfbench.pixels.mean": "a b c"})
