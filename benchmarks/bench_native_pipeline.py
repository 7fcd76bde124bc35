"""Native-size eval pipeline vs bare inference at the same sizes, next to the fixed-size pipeline.

Issue 15's speed target: a native-size eval of a dynamic model keeps the pipeline ratio of the
fixed-size pipeline (images/s of ``PredictionRun`` over bare inference at the same sizes). Writes
--images generated 1024-px-wide JPEGs of a few heights into a temporary WIDER layout, then
alternates, on one compiled dynamic model, per round:
  bare-native    sync inference on tensors of each image's own size (bind + run, cycled)
  native         PredictionRun --input-size native (read, no resize, inference, decode, NMS, files)
  bare-640       sync inference on one 640x640 tensor (the same adapter, reshaped per call)
  fixed-640      PredictionRun at 640x640 stretch
and prints images/s, the two ratios and the cores other processes kept busy.

    python benchmarks/bench_native_pipeline.py --model retinaface-mnet025-dynamic.onnx [--runtime openvino]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_pipeline import make_dataset, run_images_per_s

from rfbench.accuracy.model_run import ModelRunOptions, open_model
from rfbench.accuracy.pipeline import PredictionRun
from rfbench.accuracy.sizing_run import image_sizer
from rfbench.decoder.preprocess import preprocess, read_image
from rfbench.decoder.sizing import parse_size_policy


def bare_images_per_s(adapter, name: str, tensors: list[np.ndarray], count: int) -> float:
    """Images/s of ``count`` sync inferences cycling over ``tensors`` (bind + run each)."""
    start = time.perf_counter()
    for k in range(count):
        adapter.sync_runner({name: tensors[k % len(tensors)]})()
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a model with a dynamic input size")
    parser.add_argument("--runtime", default="openvino", choices=("openvino", "onnxruntime"))
    parser.add_argument("--preset", default="insightface")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids = make_dataset(root, args.images)
        images_dir = root / "WIDER_val" / "images"
        native = ModelRunOptions(Path(args.model), runtime=args.runtime, precision="f32",
                                 input_size=parse_size_policy("native"), preset=args.preset)
        adapter, spec, preset = open_model(native)
        with adapter:
            sizer = image_sizer(spec, preset)
            assert sizer is not None
            native_tensors = [sizer(read_image(images_dir / f"{i}.jpg"))[0] for i in ids]
            fixed_tensor = preprocess(read_image(images_dir / f"{ids[0]}.jpg"), (640, 640), spec.pixels)[0]
            fixed_spec = type(spec)(spec.path, type(spec.input)(spec.input.name, spec.input.layout, (640, 640),
                                                                True, None), spec.pixels, spec.pixels_source,
                                    spec.layout)
            name = spec.input.name
            bare_images_per_s(adapter, name, native_tensors[:3], 3)  # warm-up
            rows: dict[str, list] = {"native": [], "fixed-640": []}
            for r in range(args.rounds):
                for kind in rows:
                    tensors = native_tensors if kind == "native" else [fixed_tensor]
                    before_bare = bare_images_per_s(adapter, name, tensors, len(ids))
                    runner = (PredictionRun(adapter.infer, spec, preset, "stretch", images_dir,
                                            root / f"out-{kind}-{r}", sizer=sizer) if kind == "native"
                              else PredictionRun(adapter.infer, fixed_spec, preset, "stretch", images_dir,
                                                 root / f"out-{kind}-{r}"))
                    piped, others = run_images_per_s(runner, ids)
                    after_bare = bare_images_per_s(adapter, name, tensors, len(ids))
                    rows[kind].append(((before_bare + after_bare) / 2, piped, others))
            describe = adapter.describe()
    print(f"model {Path(args.model).name}, runtime {describe['runtime']} {describe['runtime_version']}, "
          f"precision {describe['effective']['precision']}, threads {describe['effective']['threads']}, "
          f"preset {args.preset}, {args.images} JPEGs 1024 px wide")
    print(f"{'input size':<11} {'round':>5} {'bare img/s':>11} {'pipeline img/s':>15} {'ratio':>7} {'other cores':>12}")
    for kind, kind_rows in rows.items():
        for r, (bare, piped, others) in enumerate(kind_rows):
            shown = "n/a" if others is None else f"{others:.2f}"
            print(f"{kind:<11} {r:>5} {bare:11.3f} {piped:15.3f} {piped / bare:7.3f} {shown:>12}")
    medians = {k: statistics.median(p / b for b, p, _ in v) for k, v in rows.items()}
    print(f"median ratio: native {medians['native']:.3f}, fixed-640 {medians['fixed-640']:.3f} "
          f"(native / fixed {medians['native'] / medians['fixed-640']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
