"""Whole-process wall time of ``rfbench eval --predictions`` on full WIDER val, with a breakdown.

Generates realistic predictions for the full val ground truth once (3,226 images, ~45,000
boxes; tests/gen_predictions.py), then:
  * runs the whole process ``rfbench -q eval --predictions DIR --out OUT --force`` (both
    protocols and the report) --repeat times after one warm-up run (warm page cache), and
    reports the median wall time;
  * with --peer PATH (another checkout, e.g. the landed main), runs that checkout's process the
    same way, interleaved run by run, and reports the ratio (same machine, same load);
  * times the stages of the same work in one fresh process (median of --repeat processes):
    interpreter + imports, load GT, load predictions, evaluators, report (results.json/csv and
    report.html);
  * reads /proc/stat around the runs for the CPU share other processes took (machine load).
Target (issue 24): whole process <= 1.0 s.

    python benchmarks/bench_scoring.py [--fixtures ../shared/fixtures] [--repeat 5] [--peer ../main]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

STAGES_SCRIPT = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from rfbench.evaluation import scoring
from rfbench.report import ScoredData, write_report
from rfbench.results.eval_record import EvalRecord
from rfbench.results.outdir import prepare_output_dir
from rfbench.results.record import record_header
from rfbench.results.writer import write_results
from rfbench.wider.ground_truth import load_ground_truth
from rfbench.wider.predictions import read_prediction_folder
t1 = time.perf_counter()
gt_dir, pred_dir, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
gt = load_ground_truth(gt_dir, gt_text=gt_dir / "wider_face_val_bbx_gt.txt", mat_dir=gt_dir)
t2 = time.perf_counter()
reading = read_prediction_folder(pred_dir, gt.image_ids)
t3 = time.perf_counter()
results, eval_s, matches = scoring.score_with_matches(gt, reading.predictions, ("wider", "omz"))
t4 = time.perf_counter()
with prepare_output_dir(out, "eval", force=True, resume=False, keep=[pred_dir]) as out_dir:
    record = EvalRecord.build(
        record_header("eval"), predictions={"source": "files", "dir": pred_dir},
        dataset={"name": "wider", "split": "val", "data_root": str(gt_dir), **gt.source,
                 "num_images_evaluated": gt.num_images, **reading.stats_fields()},
        **scoring.accuracy_fields(results), timings={"evaluator_s": eval_s, "wall_s": t4 - t1})
    write_results(out_dir, record)  # the report as eval writes it: handed what eval read
    write_report([out_dir], out_dir / "report.html",
                 scored={out_dir: ScoredData(gt, reading.predictions, matches)})
t5 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "load GT": t2 - t1, "load predictions": t3 - t2,
                  "evaluators": t4 - t3, "report": t5 - t4}))
"""


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def eval_command(gt_dir: Path, pred_dir: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "rfbench", "-q", "eval", "--dataset", "wider", "--data-root", str(gt_dir),
            "--gt-text", str(gt_dir / "wider_face_val_bbx_gt.txt"), "--gt-mat-dir", str(gt_dir),
            "--predictions", str(pred_dir), "--out", str(out), "--force"]


def timed(cmd: list[str], checkout: Path) -> tuple[float, float]:
    """Run ``cmd`` in ``checkout`` with it first on PYTHONPATH: (wall s, CPU s of the child).

    The working folder matters: ``python -m`` puts it before PYTHONPATH on sys.path."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = os.times()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=checkout)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def generate(fixtures: Path, pred_dir: Path) -> int:
    """Write the generated submission for full val into ``pred_dir``; returns the box count."""
    sys.path.insert(0, str(REPO / "tests"))
    from gen_predictions import generate_predictions, write_submission

    from rfbench.wider.ground_truth import load_ground_truth

    gt_dir = fixtures / "wider-val-gt"
    gt = load_ground_truth(gt_dir, gt_text=gt_dir / "wider_face_val_bbx_gt.txt", mat_dir=gt_dir)
    gen = generate_predictions(gt.image_ids, gt.boxes_xywh)
    write_submission(pred_dir, gen)
    return gen.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("RFBENCH_FIXTURES", REPO.parent / "shared" / "fixtures")))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer", type=Path, help="another checkout to time side by side (e.g. ../main)")
    args = parser.parse_args()
    gt_dir = args.fixtures / "wider-val-gt"
    checkouts = {"this checkout": REPO, **({"peer " + str(args.peer): args.peer.resolve()} if args.peer else {})}
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir = Path(tmp) / "preds"
        boxes = generate(args.fixtures, pred_dir)
        walls: dict[str, list[float]] = {name: [] for name in checkouts}
        cpus: dict[str, list[float]] = {name: [] for name in checkouts}
        busy0, total0 = cpu_ticks()
        for run in range(args.repeat + 1):  # the first round warms the page cache, not counted
            for name, checkout in checkouts.items():
                wall, cpu = timed(eval_command(gt_dir, pred_dir, Path(tmp) / f"out-{len(walls[name])}"), checkout)
                if run:
                    walls[name].append(wall)
                    cpus[name].append(cpu)
        busy1, total1 = cpu_ticks()
        stages = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", STAGES_SCRIPT, str(gt_dir), str(pred_dir),
                                  str(Path(tmp) / "stages")], check=True, capture_output=True, text=True,
                                 env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
            stages.append(json.loads(out.stdout.splitlines()[-1]))
    ncpu = os.cpu_count() or 1
    own = sum(sum(c) for c in cpus.values())
    other = max((busy1 - busy0) / os.sysconf("SC_CLK_TCK") - own, 0.0)
    elapsed = (total1 - total0) / os.sysconf("SC_CLK_TCK") / ncpu
    print(f"full val: {boxes:,} predicted boxes; whole process, median of {args.repeat} (warm cache)")
    for name in checkouts:
        print(f"  {name:<40} wall {statistics.median(walls[name]):6.3f} s  cpu {statistics.median(cpus[name]):6.3f} s"
              f"  (runs {', '.join(f'{w:.2f}' for w in walls[name])})")
    if args.peer:
        ratio = statistics.median(walls["this checkout"]) / statistics.median(walls[list(checkouts)[1]])
        print(f"  ratio this / peer: {ratio:.2f}")
    print("stages in one process (this checkout, median):")
    for key in stages[0]:
        print(f"  {key:<18} {statistics.median(s[key] for s in stages):6.3f} s")
    print(f"  {'sum':<18} {statistics.median(sum(s.values()) for s in stages):6.3f} s (interpreter start not included)")
    print(f"machine: other processes kept {other / max(elapsed, 1e-9):.2f} of {ncpu} CPUs busy during the "
          f"timed runs; loadavg {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
