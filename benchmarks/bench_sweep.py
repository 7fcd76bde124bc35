"""A 6-cell ``rfbench sweep`` with the resized-image cache against the same sweep without it.

Data: the five wider-mini JPEGs repeated --copies times under a temporary data root (distinct
image ids, the same GT rows), so decoding and resizing are a visible share of a cell. Cells:
the three MobileNet-0.25 fixtures (640 layout B, 640 layout A, dynamic fed 640x640) x OpenVINO
and ONNX Runtime, f32: 6 cells at one input size.

Reports, for each sweep (run one after the other on the same machine): its wall time, the sum
of its cells' eval wall times (results.json ``timings.wall_s``) and the decode + resize passes
over the images (reads of an image file by the decoder, counted in-process), with the ratio
cached / uncached and the machine's load. The prediction files of both sweeps are compared
byte for byte.

    python benchmarks/bench_sweep.py [--copies 20] [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("retinaface-mnet025-640.onnx", "retinaface-mnet025-omzlayout.onnx", "retinaface-mnet025-dynamic.onnx")


def make_data_root(mini: Path, root: Path, copies: int) -> int:
    """``copies`` x the wider-mini images (copies of the files: each a file of its own, as distinct
    images are) and a GT text listing them; the image count."""
    from rfbench.wider.ground_truth import load_ground_truth

    gt = load_ground_truth(mini)
    lines = []
    for copy in range(copies):
        for image_id, boxes in zip(gt.image_ids, gt.boxes_xywh):
            event, name = image_id.split("/")
            target = root / "WIDER_val" / "images" / event / f"{name}_c{copy}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mini / "WIDER_val" / "images" / f"{image_id}.jpg", target)
            lines += [f"{event}/{name}_c{copy}.jpg", str(len(boxes))]
            lines += [" ".join(f"{v:g}" for v in row) + " 0 0 0 0 0 0" for row in boxes.tolist()]
    (root / "wider_face_split").mkdir(parents=True)
    (root / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text("\n".join(lines) + "\n")
    return copies * gt.num_images


def run_sweep(models_dir: Path, data_root: Path, out: Path, cache_mb: int) -> tuple[float, int]:
    """One sweep in this process; (wall s, decoder reads of image files)."""
    from rfbench.cli import main
    from rfbench.decoder import preprocess

    reads = 0
    original = preprocess.read_image

    def counting(path):
        nonlocal reads
        reads += 1
        return original(path)

    argv = ["-q", "sweep", "--model", ",".join(str(models_dir / m) for m in MODELS),
            "--runtime", "openvino,onnxruntime", "--precision", "f32", "--data-root", str(data_root),
            "--protocol", "omz", "--time", "0.5", "--min-time", "0", "--min-iterations", "3",
            "--image-cache-mb", str(cache_mb), "--out", str(out)]
    patched = _modules_with_read_image()
    for module in patched:
        module.read_image = counting
    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0
        wall = time.perf_counter() - start
    finally:
        for module in patched:
            module.read_image = original
    return wall, reads


def _modules_with_read_image() -> list:
    from rfbench.accuracy import image_cache, pipeline

    return [pipeline, image_cache]


def cells_wall(out: Path) -> tuple[int, float]:
    """(runnable cells, sum of their evals' wall_s)."""
    walls = [json.loads(p.read_text())["timings"]["wall_s"] for p in sorted(out.glob("cells/*/eval/results.json"))]
    return len(walls), sum(walls)


def predictions(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("cells/*/eval/*/*/*.txt"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("RFBENCH_FIXTURES", REPO.parent / "shared" / "fixtures")))
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        images = make_data_root(args.fixtures / "wider-mini", root, args.copies)
        rows = {}
        load0 = os.getloadavg()[0]
        for name, cache_mb in (("uncached", 0), ("cached", 4096)):
            out = Path(tmp) / name
            wall, reads = run_sweep(args.fixtures / "models", root, out, cache_mb)
            cells, cell_sum = cells_wall(out)
            cache = out / "image-cache"
            size = sum(p.stat().st_size for p in cache.glob("*.npz")) if cache.is_dir() else 0
            rows[name] = (wall, cells, cell_sum, reads, size, predictions(out))
    print(f"{images} images (wider-mini x {args.copies}), one input size (640x640)")
    print(f"{'sweep':<10} {'wall s':>8} {'cells':>6} {'sum of cell evals s':>20} {'decode passes':>14} {'cache MB':>9}")
    for name, (wall, cells, cell_sum, reads, size, _) in rows.items():
        print(f"{name:<10} {wall:8.2f} {cells:6d} {cell_sum:20.2f} {reads / images:14.2f} {size / 2**20:9.1f}")
    same = rows["cached"][5] == rows["uncached"][5] and len(rows["cached"][5]) > 0
    print(f"cached / uncached: sweep wall {rows['cached'][0] / rows['uncached'][0]:.2f}, "
          f"cell evals {rows['cached'][2] / rows['uncached'][2]:.2f}; prediction files "
          f"{'identical' if same else 'DIFFERENT'} ({len(rows['cached'][5])} files)")
    print(f"loadavg {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
