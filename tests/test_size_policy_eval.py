"""``rfbench eval --input-size native | 1600:2150`` end to end on the dynamic MobileNet fixture
and the five wider-mini images, with OpenVINO and ONNX Runtime (equal APs at f32), the sizes
recorded in results.json checked against the images' own sizes and the scale rule."""

from __future__ import annotations

import json

import cv2
import pytest
from test_size_policy import reference_scale

from rfbench.cli import main


def _eval(tmp_path, wider_mini, val_gt_dir, models_dir, runtime, size, *extra):
    out = tmp_path / f"{runtime}-{size.replace(':', '_')}"
    code = main(["-q", "eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--model", str(models_dir / "retinaface-mnet025-dynamic.onnx"), "--runtime", runtime,
                 "--input-size", size, "--out", str(out), *extra])
    assert code == 0
    return json.loads((out / "results.json").read_text())


def _expected_sizes(wider_mini, size):
    counts: dict[tuple[int, int], int] = {}
    for path in sorted((wider_mini / "WIDER_val/images").rglob("*.jpg")):
        hw = cv2.imread(str(path)).shape[:2]
        r = 1.0 if size == "native" else reference_scale(hw)
        out = hw if r == 1.0 else cv2.resize(cv2.imread(str(path)), None, None, fx=r, fy=r).shape[:2]
        counts[out] = counts.get(out, 0) + 1
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("size", ["native", "1600:2150"])
def test_dynamic_sizes_both_runtimes_agree(tmp_path, wider_mini, val_gt_dir, models_dir, size):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    records = {rt: _eval(tmp_path, wider_mini, val_gt_dir, models_dir, rt, size)
               for rt in ("openvino", "onnxruntime")}
    aps = {rt: {(m["protocol"], m["setting"]): m["ap"] for m in r["metrics"]} for rt, r in records.items()}
    for key, ap in aps["openvino"].items():
        assert ap == pytest.approx(aps["onnxruntime"][key], abs=1e-9), key
    assert aps["openvino"][("wider", "hard")] > 0.6
    expected = _expected_sizes(wider_mini, size)
    for record in records.values():
        sizes = record["input_sizes"]
        assert sizes["policy"] == size and sizes["images"] == 5
        assert {(s["height"], s["width"]): s["images"] for s in sizes["sizes"]} == expected
        assert record["model"]["input_size_policy"] == size and record["model"]["input_height"] is None
        assert record["preprocessing"]["size_policy"] == size
        assert record["runtime"]["inputs"][0]["shape"] == [1, 3, None, None]
    if size == "1600:2150":  # 1024-wide images hit the 2150 cap
        assert all(w == 2150 for _, w in expected)


def test_static_model_native_is_one_line_error(tmp_path, capsys, wider_mini, val_gt_dir, models_dir):
    code = main(["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                 "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--input-size", "native",
                 "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is fixed at 640x640" in err[0] and "native" in err[0]
