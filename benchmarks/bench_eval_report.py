"""Wall time of ``rfbench eval --predictions`` on full val, report included: this code vs a peer.

Generates realistic predictions for the full WIDER val ground truth (3,226 images, ~45,000
predictions; tests/gen_predictions.py, fixed seed), writes them as submission files, and times
``rfbench eval --predictions DIR --out DIR`` in a fresh process (interpreter start-up
included), alternating by round between this checkout and a peer: the package of another git
revision (``--peer REV``, default ``HEAD~1``, exported with ``git archive``; the issue-25 peer
is the commit before the report shared eval's ground truth and predictions). The data root
holds the five wider-mini images, so the report's drawings find those images and note the
others. Each timed call records the CPU time other processes took on the machine meanwhile.

    python benchmarks/bench_eval_report.py [--fixtures ../shared/fixtures] [--rounds 3] [--peer REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from gen_predictions import generate_predictions, write_submission  # noqa: E402

from rfbench.latency.load import snapshot  # noqa: E402
from rfbench.wider.ground_truth import load_ground_truth  # noqa: E402


def export_revision(rev: str, dest: Path) -> Path:
    """``rfbench/`` of git revision ``rev`` under ``dest`` (a PYTHONPATH entry)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "rfbench"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def timed_eval(src: Path, argv: list[str], cwd: Path) -> tuple[float, float | None]:
    """(wall s, other processes' busy cores) of one ``python -m rfbench eval`` with ``src``.

    ``cwd``: a folder with no ``rfbench/`` (``python -m`` puts the working folder first on
    ``sys.path``, which would shadow ``src``)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before, child_before = snapshot(), os.times()
    subprocess.run([sys.executable, "-m", "rfbench", *argv], check=True, env=env, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after, child_after = snapshot(), os.times()
    wall = (after.wall_ns - before.wall_ns) / 1e9
    child = (child_after.children_user + child_after.children_system
             - child_before.children_user - child_before.children_system)
    if before.machine_busy_s is None or after.machine_busy_s is None:
        return wall, None
    other = after.machine_busy_s - before.machine_busy_s - child - (after.self_cpu_s - before.self_cpu_s)
    return wall, max(0.0, other) / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", default=os.environ.get("RFBENCH_FIXTURES",
                                                             REPO.parent / "shared" / "fixtures"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", default="HEAD~1", help="git revision to compare with")
    args = parser.parse_args()
    fixtures = Path(args.fixtures)
    gt_dir = fixtures / "wider-val-gt"
    gt_text = gt_dir / "wider_face_val_bbx_gt.txt"
    gt = load_ground_truth(gt_dir, gt_text=gt_text, mat_dir=gt_dir)
    gen = generate_predictions(gt.image_ids, gt.boxes_xywh)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write_submission(tmp / "preds", gen)
        (tmp / "root" / "WIDER_val").mkdir(parents=True)
        (tmp / "root" / "WIDER_val" / "images").symlink_to(
            (fixtures / "wider-mini" / "WIDER_val" / "images").resolve())
        peer = export_revision(args.peer, tmp / "peer")
        sources = {"this": REPO, f"peer {args.peer}": peer}
        walls: dict[str, list[float]] = {name: [] for name in sources}
        for k in range(args.rounds):
            order = list(sources) if k % 2 == 0 else list(sources)[::-1]
            for name in order:
                out = tmp / f"out-{k}-{name.split()[0]}"
                wall, other = timed_eval(sources[name], [
                    "eval", "--data-root", str(tmp / "root"), "--gt-text", str(gt_text),
                    "--gt-mat-dir", str(gt_dir), "--predictions", str(tmp / "preds"),
                    "--out", str(out)], cwd=tmp / "root")
                walls[name].append(wall)
                load = "n/a" if other is None else f"{other:.2f}"
                print(f"round {k + 1} {name:>14}: {wall:6.2f} s wall (other processes {load} cores)")
    this, base = statistics.median(walls["this"]), statistics.median(walls[f"peer {args.peer}"])
    print(f"\nmedian wall: this {this:.2f} s, peer {base:.2f} s; this / peer {this / base:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
