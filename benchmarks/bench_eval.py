"""Speed of scoring prediction files: rfbench's evaluators vs a plain per-image loop.

Generates realistic predictions for the full WIDER val ground truth (3,226 images, ~45,000
predictions; generator in tests/gen_predictions.py), writes them as submission files, then in
the same run times:
  * rfbench's evaluators alone (both protocols, in memory): median of --repeat runs;
  * ``rfbench eval --predictions`` end to end in a fresh process (wall, incl. reading the GT
    and the 3,226 files, interpreter start-up included and reported separately);
  * the deliberately plain loop implementations in tests/reference_eval.py (once), whose
    APs must equal rfbench's.
Targets (issue 2): evaluator <= 0.5 s, wall <= 3 s.

    python benchmarks/bench_eval.py [--fixtures ../shared/fixtures] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from gen_predictions import generate_predictions, write_submission  # noqa: E402
from reference_eval import evaluate_official_reference, evaluate_omz_reference  # noqa: E402

from rfbench.evaluation import evaluate_official, evaluate_omz  # noqa: E402
from rfbench.wider.ground_truth import load_ground_truth  # noqa: E402


def time_call(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=os.environ.get("RFBENCH_FIXTURES", REPO.parent / "shared" / "fixtures"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    gt_dir = Path(args.fixtures) / "wider-val-gt"
    gt = load_ground_truth(gt_dir, gt_text=gt_dir / "wider_face_val_bbx_gt.txt", mat_dir=gt_dir)
    gen = generate_predictions(gt.image_ids, gt.boxes_xywh)
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir = Path(tmp) / "preds"
        write_submission(pred_dir, gen)
        preds = gen.predictions

        def both():
            return evaluate_official(gt, preds), evaluate_omz(gt, preds)

        eval_s, (official, omz) = time_call(both, args.repeat)
        cmd = [sys.executable, "-m", "rfbench", "-q", "eval", "--dataset", "wider", "--data-root", str(gt_dir),
               "--gt-text", str(gt_dir / "wider_face_val_bbx_gt.txt"), "--gt-mat-dir", str(gt_dir),
               "--predictions", str(pred_dir), "--out", str(Path(tmp) / "out"), "--force"]  # 3 runs, one folder
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import rfbench.cli, pandas, scipy.io"], check=True)
        startup_s = time.perf_counter() - start
        import json

        timings = json.loads((Path(tmp) / "out" / "results.json").read_text())["timings"]

        plain = gen.as_list()
        start = time.perf_counter()
        ref = {s: evaluate_official_reference(gt.boxes_xywh, gt.setting_indices[s], plain) for s in official}
        ref_omz = evaluate_omz_reference(gt.boxes_xywh, plain)
        plain_s = time.perf_counter() - start

    print(f"images {gt.num_images}, predictions {gen.total:,}")
    print(f"{'what':<52} {'seconds':>9}")
    print(f"{'rfbench evaluators, both protocols (median)':<52} {eval_s:9.3f}   target <= 0.5")
    print(f"{'rfbench eval --predictions, in-process wall':<52} {timings['wall_s']:9.3f}   target <= 3")
    print(f"{'rfbench eval --predictions, whole process (median)':<52} {statistics.median(walls):9.3f}")
    print(f"{'  of which interpreter + imports':<52} {startup_s:9.3f}")
    print(f"{'plain loop reference, both protocols':<52} {plain_s:9.3f}   ratio {plain_s / eval_s:.0f}x")
    for setting, res in official.items():
        same = abs(res.ap - ref[setting].ap) < 1e-12
        print(f"  official {setting:<7} AP {res.ap:.6f}  plain {ref[setting].ap:.6f}  {'equal' if same else 'DIFFERENT'}")
    same = abs(omz.ap - ref_omz.ap) < 1e-12
    print(f"  omz 64px AP {omz.ap:.6f}  plain {ref_omz.ap:.6f}  {'equal' if same else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
