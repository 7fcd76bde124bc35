"""Decode + post-processing speed on a real layout-A output set, against the plain NMS peers.

Runs ``retinaface-mnet025-omzlayout.onnx`` once with ONNX Runtime on a fixture image (OMZ
pre-processing: cv2.imread BGR, resize to 640x640 INTER_LINEAR, float32 NCHW, no mean), keeps
the raw tensors, then times in the same process:

- ``decode``: :func:`rfbench.decoder.decode.decode_outputs` (16,800 anchors);
- ``decode + omz``: decode plus the full ``omz`` post-processing (per-stride NMS, map back);
- ``+ prediction text``: that plus the submission-file text (``x y w h score`` rows, ``%.9g``);
- ``prediction text``: that text alone (:func:`rfbench.wider.g9text.rows_text`), against
  Python's ``%`` formatting of the same rows (checked equal);
- ``nms stride 8``: :func:`rfbench.decoder.nms.nms` on the 12,800 stride-8 boxes (IoU > 0.5, no threshold);
- ``plain numpy greedy`` and ``cv2.dnn.NMSBoxes`` on the same stride-8 boxes.

Kept sets are checked to be equal. Medians over repetitions of the wall time and of the
thread's CPU time (less sensitive to other processes on a shared machine); ratios against the
fast NMS; the cores other processes kept busy meanwhile are printed.
Usage: ``python benchmarks/bench_decode.py [--fixtures DIR] [--image REL] [--reps N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.layout import resolve_layout
from rfbench.decoder.nms import nms
from rfbench.decoder.postprocess import get_preset, postprocess, submission_xywhs
from rfbench.decoder.preprocess import ImageTransform
from rfbench.latency.load import LoadAccumulator, snapshot
from rfbench.wider.g9text import rows_text
from rfbench.wider.predictions import format_prediction_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = "wider-mini/WIDER_val/images/0--Parade/0_Parade_marchingband_1_149.jpg"


def plain_greedy(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """The plain numpy greedy loop of OMZ's accuracy checker (no +1, suppress IoU > thr).

    Order: score descending, ties by lower index (stable), as rfbench documents.
    """
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        union = areas[i] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)
        order = rest[iou <= thr]
    return np.array(keep, dtype=np.int64)


def python_text(rows32: np.ndarray) -> str:
    """The same rows through Python's ``%`` formatting (what rfbench wrote before rows_text)."""
    return ("%.9g %.9g %.9g %.9g %.9g\n" * len(rows32)) % tuple(rows32.astype(np.float64).ravel().tolist())


CPU_MS: dict[float, float] = {}  # median wall ms -> median thread CPU ms of the same calls


def median_ms(fn, reps: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` in ms over ``reps`` calls (after one warm-up) and its result.

    The median thread CPU time of the same calls is stored in :data:`CPU_MS` under the result.
    """
    result = fn()
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c0) * 1e3)
        times.append((time.perf_counter() - t0) * 1e3)
    wall = statistics.median(times)
    CPU_MS[wall] = statistics.median(cpu)
    return wall, result


def run_model(fixtures: Path, image_rel: str) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Raw outputs of the layout-A fixture model on one image, and the image (H, W)."""
    import onnxruntime as ort

    image = cv2.imread(str(fixtures / image_rel))
    if image is None:
        raise SystemExit(f"cannot read image {fixtures / image_rel}")
    x = cv2.resize(image, (640, 640), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    sess = ort.InferenceSession(str(fixtures / "models" / "retinaface-mnet025-omzlayout.onnx"),
                                providers=["CPUExecutionProvider"])
    out = sess.run(None, {"data": x.transpose(2, 0, 1)[None]})
    return dict(zip([o.name for o in sess.get_outputs()], out)), image.shape[:2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("RFBENCH_FIXTURES", REPO.parent / "shared" / "fixtures")))
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="image path relative to --fixtures")
    parser.add_argument("--reps", type=int, default=50, help="repetitions of the fast paths")
    parser.add_argument("--slow-reps", type=int, default=3, help="repetitions of the plain peers")
    args = parser.parse_args()

    outputs, hw = run_model(args.fixtures, args.image)
    layout = resolve_layout({k: v.shape for k, v in outputs.items()})
    preset = get_preset("omz", "A")
    transform = ImageTransform.stretch(hw, (640, 640))
    levels = decode_outputs(outputs, layout, (640, 640))
    s8 = levels[2]
    xywh = np.column_stack([s8.boxes[:, :2], s8.boxes[:, 2:] - s8.boxes[:, :2]])
    xywh_list, scores_list = xywh.tolist(), s8.scores.tolist()

    def full_with_text() -> str:
        dets = postprocess(decode_outputs(outputs, layout, (640, 640)), preset, transform)
        return format_prediction_file("0--Parade/image", submission_xywhs(dets, preset))

    load, before = LoadAccumulator(), snapshot()
    rows = []
    t_dec, _ = median_ms(lambda: decode_outputs(outputs, layout, (640, 640)), args.reps)
    rows.append(("decode (3 levels, 16,800 anchors)", t_dec, None))
    t_full, dets = median_ms(lambda: postprocess(decode_outputs(outputs, layout, (640, 640)), preset, transform),
                             args.reps)
    rows.append(("decode + omz post-processing", t_full, len(dets)))
    t_text, _ = median_ms(full_with_text, args.reps)
    rows.append(("  + prediction file text", t_text, len(dets)))
    rows32 = np.asarray(submission_xywhs(dets, preset), np.float32)
    t_g9, text = median_ms(lambda: rows_text(rows32), args.reps)
    rows.append(("prediction text, compiled %.9g", t_g9, len(dets)))
    t_pct, text_pct = median_ms(lambda: python_text(rows32), args.reps)
    rows.append(("prediction text, Python %", t_pct, len(dets)))
    t_fast, keep = median_ms(lambda: nms(s8.boxes, s8.scores, 0.5), args.reps)
    rows.append(("rfbench nms, stride 8", t_fast, len(keep)))
    t_plain, keep_plain = median_ms(lambda: plain_greedy(s8.boxes, s8.scores, 0.5), args.slow_reps)
    rows.append(("plain numpy greedy, stride 8", t_plain, len(keep_plain)))
    t_cv, keep_cv = median_ms(lambda: cv2.dnn.NMSBoxes(xywh_list, scores_list, 0.0, 0.5), args.slow_reps)
    keep_cv = np.asarray(keep_cv, dtype=np.int64).ravel()
    rows.append(("cv2.dnn.NMSBoxes, stride 8", t_cv, len(keep_cv)))
    load.add(before, snapshot())

    same_plain = np.array_equal(keep, keep_plain)
    same_text = text == text_pct
    same_cv = set(keep.tolist()) == set(keep_cv.tolist())
    print(f"image {args.image} ({hw[1]}x{hw[0]}), stride 8: {len(s8)} boxes")
    print(f"{'step':36s} {'median ms':>10s} {'cpu ms':>8s} {'x rfbench nms':>14s} {'kept':>6s}")
    for name, ms, kept in rows:
        print(f"{name:36s} {ms:10.2f} {CPU_MS[ms]:8.2f} {ms / t_fast:14.2f} {'' if kept is None else kept:>6}")
    print(f"other processes kept {load.as_dict()['other_busy_cores']} cores busy (load average "
          f"{os.getloadavg()[0]:.2f})")
    print(f"kept sets equal: plain greedy {same_plain} (same order), cv2 {same_cv}; "
          f"texts equal: {same_text} (compiled / Python % = {t_g9 / t_pct:.2f})")
    return 0 if same_plain and same_cv and same_text else 1


if __name__ == "__main__":
    raise SystemExit(main())
