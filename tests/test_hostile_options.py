"""Out-of-range options (issue 25): each is one ``rfbench: error:`` line naming the option (argparse
errors too: ``cli.OneLineParser`` replaces argparse's many-line usage dump), exit 2, before any
work, and no output folder left. Existing cases not repeated: ``eval --workers 0``
(test_workers.py), bad ``--input-shape`` syntax (test_options.py), ``--min-time`` / budget
rules (test_latency_budget.py)."""

from __future__ import annotations

import pytest

from rfbench.cli import main
from rfbench.quantize.calibration import draw_subset

MNET = "{models}/retinaface-mnet025-640.onnx"
DYNAMIC = "{models}/retinaface-mnet025-dynamic.onnx"
ROOT = "{wider_mini}"

CASES = [
    (["latency", "--model", MNET, "--time", "-1"], "--time: '-1'"),
    (["latency", "--model", MNET, "--time", "0"], "--time: '0'"),
    (["latency", "--model", MNET, "--time", "nan"], "--time: 'nan'"),
    (["latency", "--model", MNET, "--time", "1e400"], "--time: '1e400'"),
    (["latency", "--model", MNET, "--iterations", "0"], "--iterations: '0'"),
    (["latency", "--model", MNET, "--warmup", "-1"], "--warmup: '-1'"),
    (["latency", "--model", MNET, "--threads", "0"], "--threads: '0'"),
    (["latency", "--model", MNET, "--streams", "0"], "--streams: '0'"),
    (["latency", "--model", MNET, "--batch", "0"], "--batch: '0'"),
    (["latency", "--model", DYNAMIC, "--input-shape", "1x3x100000x100000"], "--input-shape"),
    (["latency", "--model", DYNAMIC, "--input-size", "20000x20000"], "--input-size"),
    (["eval", "--data-root", ROOT, "--model", DYNAMIC, "--input-size", "0x0"], "--input-size '0x0'"),
    (["eval", "--data-root", ROOT, "--model", DYNAMIC, "--input-size", "-5x5"], "--input-size"),
    (["eval", "--data-root", ROOT, "--model", DYNAMIC, "--input-size", "100000x100000"],
     "--input-size '100000x100000': a side over 8192"),
    (["eval", "--data-root", ROOT, "--model", DYNAMIC, "--input-size", "0:0"], "--input-size '0:0'"),
    (["eval", "--data-root", ROOT, "--model", DYNAMIC, "--scales", "0"], "--scales '0'"),
    (["eval", "--data-root", ROOT, "--model", MNET, "--limit", "0"], "--limit: '0'"),
    (["eval", "--data-root", ROOT, "--model", MNET, "--workers", "-1"], "--workers"),
    (["eval", "--data-root", ROOT, "--model", MNET, "--threads", "-2"], "--threads: '-2'"),
    (["quantize", "--model", MNET, "--data-root", ROOT, "--subset-size", "0"], "--subset-size: '0'"),
    (["quantize", "--model", MNET, "--data-root", ROOT, "--subset-size", "-5"], "--subset-size"),
    (["sweep", "--model", MNET, "--time", "-1"], "--time: '-1'"),
    (["sweep", "--model", MNET, "--min-iterations", "0"], "--min-iterations: '0'"),
    (["sweep", "--model", MNET, "--ray", "--workers", "0"], "--workers: '0'"),
    (["eval", "--protocol", "everything"], "--protocol: invalid choice"),
]


@pytest.mark.parametrize(("argv", "needle"), CASES,
                         ids=[f"{a[0]}{a[-2]}={a[-1]}" for a, _ in CASES])
def test_out_of_range_option_is_one_line_naming_it(capsys, tmp_path, models_dir, wider_mini, argv,
                                                   needle):
    out = tmp_path / "out"
    full = [a.format(models=models_dir, wider_mini=wider_mini) for a in argv] + ["--out", str(out)]
    try:
        code = main(full)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("WARNING")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("rfbench: error:") and needle in lines[0], lines[0]
    assert not out.exists()


def test_absurd_subset_size_calibrates_on_every_image():
    ids = [f"e/{k}" for k in range(7)]
    subset = draw_subset(ids, 10**12, seed=4)
    assert sorted(subset.image_ids) == ids and subset.requested_size == 10**12


def test_absurd_limit_scores_every_image(capsys, tmp_path, wider_mini, val_gt_dir):
    """``--limit`` far beyond the GT is every image (a legitimate 'no limit')."""
    from rfbench.wider.ground_truth import load_ground_truth, subset

    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    assert subset(gt, 10**20).image_ids == gt.image_ids
