"""``--workers`` throughput vs bare single-process inference, same model and runtime, one run.

Writes --images JPEGs (``--dataset``, as ``bench_pipeline.py`` does), then alternates, per preset:
  bare        one process, the adapter's synchronous inference on one prepared tensor at the
              runtime's default threads (--images / 2 calls, at least 20)
  W x T       ``predict_with_workers`` with W worker processes of T threads each (W = 1: the
              plain in-process ``PredictionRun`` at default threads), into a fresh folder
  1 x T s S   one process, OpenVINO S streams over T threads: S images in flight, each
              through every stage in its own thread (``eval --threads T --streams S``)
and reports, per split: images/s over the whole run (worker start-up and model compilation
included) and after start-up ("steady": first to last image reported by the workers), the ratio
of each to bare (mean of the bare runs just before and after it, both printed: their gap is this
machine's drift), the start-up (from the call to its first image), the cores other processes
kept busy meanwhile and the cores the hypervisor stole ("steal"), and the peak RSS of the parent
and of the largest worker process. "other cores" leaves out this benchmark's own worker
processes. Issue 14's figure is the ratio after start-up, as the one-process baseline of
``bench_pipeline.py`` it came from (its model already open, the kernels warm); on a run this
short (200 images, ~5 s of work) the start-up, a second or two, weighs on the whole-run ratio.

With ``--ray`` a local Ray cluster is started once (its start-up time reported on its own line;
with ``--ray-fresh`` one per Ray run, shut down after it, as ``rfbench eval --ray`` does: the
first run on a new cluster gets Ray's pre-started worker processes, later ones start new
processes that import Ray) and every split of W >= 2 workers is also run as ``--ray`` with W actors of T threads, right
after its ``--workers`` run (right before it in odd rounds: the pair's order alternates); the Ray overhead is (Ray wall time / --workers wall time) - 1 per
pair (actor start and model compilation included in both, as in the ``--workers`` figure). For
the Ray runs "other cores" counts the actors themselves and Ray's daemons (they are not this
process's children), so compare the 1-minute load averages printed beside them.

    python benchmarks/bench_workers.py [--model PATH] [--images 200] [--splits 1x0,2x1,1x2s2] [--rounds 1] [--ray [--ray-fresh]]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import DATASET_HELP, bare_images_per_s, dataset

from rfbench.accuracy.model_run import ModelRunOptions, open_model, prediction_runner
from rfbench.accuracy.placement import peak_rss_mb
from rfbench.accuracy.workers import predict_with_workers
from rfbench.latency.load import LoadAccumulator, snapshot

PRESETS = ("insightface", "omz")
DEFAULT_MODEL = Path(os.environ.get("RFBENCH_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")) \
    / "models" / "retinaface-mnet025-640.onnx"


def run_split(model: Path, preset: str, workers: int, threads: int, images_dir: Path, ids: list[str],
              out: Path, on_ray: bool = False, streams: int = 0) -> dict:
    """One run of ``workers`` x ``threads`` (threads 0: the runtime's default) over ``ids``
    (``on_ray``: as Ray actors on the cluster this process is connected to; ``streams``: the
    runtime's streams, 0: its default)."""
    options = ModelRunOptions(model, preset=preset, threads=threads or None, streams=streams or None,
                              u8_feed=True)  # as eval
    stamps: list[float] = []
    record: dict = {}
    children_before = _children_cpu_s()
    load, before = LoadAccumulator(), snapshot()
    start = time.perf_counter()
    if on_ray:
        from rfbench.accuracy.ray_pool import predict_with_ray

        def observe_shards(event: str, info: dict) -> None:
            if event == "done":
                stamps.append(time.perf_counter())

        record, stats, _ = predict_with_ray(options, ids, images_dir, out, False, workers, observer=observe_shards,
                                       progress=False)
    elif workers == 1:
        adapter, spec, preset_obj = open_model(options)
        with adapter:
            runner, _, _ = prediction_runner(options, adapter, spec, preset_obj, images_dir, out)
            stats = runner.run(ids, progress=False, on_image=lambda i, n: stamps.append(time.perf_counter()))
    else:
        def observe(event: str, info: dict) -> None:
            if event == "image":
                stamps.append(time.perf_counter())

        record, stats, _ = predict_with_workers(options, ids, images_dir, out, False, workers, observer=observe,
                                          progress=False)
    wall = time.perf_counter() - start
    load.add(before, snapshot())
    workers_cores = (_children_cpu_s() - children_before) / wall  # our workers, not "other" load
    peaks = [w.get("peak_rss_mb") for w in record.get("scale_out", {}).get("worker_info", [])]
    others, steal = load.as_dict()["other_busy_cores"], load.as_dict()["steal_cores"]
    assert stats.images_predicted == len(ids) and not stats.failed
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and not on_ray else float("nan")
    first_s = stamps[0] - start if stamps else float("nan")  # start-up: the call to its first image
    return {"total": len(ids) / wall, "steady": steady, "wall_s": wall, "loadavg": os.getloadavg()[0],
            "first_s": first_s, "steal": steal,
            "others": None if others is None else max(0.0, others - workers_cores),
            "worker_rss_mb": max((p for p in peaks if p is not None), default=None)}


def _start_ray(num_cpus: int) -> float:
    """Start a local Ray cluster of ``num_cpus`` CPUs; its start-up seconds."""
    from rfbench.accuracy.ray_pool import connect

    return connect(None, num_cpus).start_s


def _fresh_ray_run(num_cpus: int, starts: list[float], *run_args) -> dict:
    """One ``--ray`` run on a local cluster started for it and shut down after it, as
    ``rfbench eval --ray`` does (its start-up appended to ``starts``, not in the run's time)."""
    import ray

    starts.append(_start_ray(num_cpus))
    try:
        return run_split(*run_args, on_ray=True)
    finally:
        ray.shutdown()


def _print_ray(starts: list[float], fresh: bool, pairs: list[tuple[str, str, dict, dict]]) -> None:
    """The --ray rows: wall time of each --workers run and of the Ray run beside it."""
    how = "a fresh cluster per run" if fresh else "one cluster for all runs"
    print(f"ray ({how}): local cluster start-up {min(starts):.1f}-{max(starts):.1f} s (not in the figures below)")
    print(f"{'preset':<12} {'split':>10} {'workers s':>9} {'ray s':>7} {'overhead':>8} {'load1 w/ray':>11} "
          f"{'other cores w/ray(+actors)':>26}")
    for preset, split, local, on_ray in pairs:
        others = "/".join("n/a" if g["others"] is None else f"{g['others']:.2f}" for g in (local, on_ray))
        print(f"{preset:<12} {split:>10} {local['wall_s']:9.2f} {on_ray['wall_s']:7.2f} "
              f"{on_ray['wall_s'] / local['wall_s'] - 1:+8.1%} {local['loadavg']:5.1f}/{on_ray['loadavg']:<5.1f} "
              f"{others:>26}")
    overheads = [r["wall_s"] / w["wall_s"] - 1 for *_, w, r in pairs]
    if overheads:
        print(f"ray overhead vs --workers: median {statistics.median(overheads):+.1%} over {len(overheads)} pairs")


def _split(text: str) -> tuple[int, int, int]:
    """``"2x1"`` -> (2, 1, 0); ``"1x2s2"`` -> (1, 2, 2): workers, threads, streams (one process)."""
    workers, _, rest = text.partition("x")
    threads, _, streams = rest.partition("s")
    split = (int(workers), int(threads), int(streams or 0))
    if split[2] and split[0] != 1:
        raise SystemExit(f"--splits {text}: streams are for one process (1xTsS)")
    return split


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished (joined) children: the worker processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--splits", default="1x0,2x1",
                        help="comma-separated WORKERSxTHREADS[sSTREAMS] (threads 0: runtime default; "
                             "sSTREAMS: one process, that many OpenVINO streams; default 1x0,2x1)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dataset", choices=("real", "synthetic"), default="real", help=DATASET_HELP)
    parser.add_argument("--ray", action="store_true",
                        help="also run the splits of >= 2 workers on a local Ray cluster (needs rfbench[ray])")
    parser.add_argument("--ray-fresh", action="store_true",
                        help="with --ray: start a new local cluster for each Ray run and shut it down after it, "
                             "as `rfbench eval --ray` does (default: one cluster for the whole benchmark, "
                             "as when joining a running cluster)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    splits = [_split(s) for s in args.splits.split(",")]
    adapter, spec, _ = open_model(ModelRunOptions(args.model))
    rows = []
    ray_pairs: list[tuple[str, str, dict, dict]] = []
    ray_cpus = max(os.cpu_count() or 1, *(w * max(t, 1) for w, t, _ in splits))
    ray_starts: list[float] = []
    if args.ray and not args.ray_fresh:
        ray_starts.append(_start_ray(ray_cpus))
    with tempfile.TemporaryDirectory() as tmp, adapter:
        root = Path(tmp)
        ids = dataset(args.dataset, root, args.images)
        bare_count = max(20, args.images // 2)
        bare_images_per_s(adapter, spec, 5)
        bare = bare_images_per_s(adapter, spec, bare_count)
        for r in range(args.rounds):
            for preset in PRESETS:
                for w, t, streams in splits:
                    name = f"{w}x{t or 'default'}" + (f"s{streams}" if streams else "")
                    with_ray = args.ray and w >= 2
                    ray_first = with_ray and r % 2 == 1  # the pair's order alternates by round

                    ray_args = (args.model, preset, w, t, root / "WIDER_val" / "images", ids,
                                root / f"ray-{preset}-{w}x{t}-{r}")

                    def ray_run(ray_args=ray_args) -> dict:
                        if args.ray_fresh:
                            return _fresh_ray_run(ray_cpus, ray_starts, *ray_args)
                        return run_split(*ray_args, on_ray=True)

                    on_ray = ray_run() if ray_first else None
                    got = run_split(args.model, preset, w, t, root / "WIDER_val" / "images", ids,
                                    root / f"out-{preset}-{name}-{r}", streams=streams)
                    after = bare_images_per_s(adapter, spec, bare_count)
                    got["bare_pair"] = (bare, after)
                    rows.append((preset, name, (bare + after) / 2, got))
                    bare = after
                    if with_ray:
                        ray_pairs.append((preset, name, got, on_ray or ray_run()))
        describe = adapter.describe()
    print(f"model {args.model.name}, runtime {describe['runtime']} {describe['runtime_version']}, "
          f"bare threads {describe['effective']['threads']}, {args.images} JPEGs ({args.dataset}), {os.cpu_count()} cores")
    print(f"{'preset':<12} {'split':>10} {'bare before/after':>17} {'total img/s':>11} {'ratio':>6} "
          f"{'start s':>7} {'steady img/s':>12} {'ratio':>6} {'other cores':>11} {'steal':>5}")
    for preset, split, bare_ips, got in rows:
        others = "n/a" if got["others"] is None else f"{got['others']:.2f}"
        steal = "n/a" if got["steal"] is None else f"{got['steal']:.2f}"
        pair = "/".join(f"{b:.1f}" for b in got["bare_pair"])
        print(f"{preset:<12} {split:>10} {pair:>17} {got['total']:11.2f} {got['total'] / bare_ips:6.3f} "
              f"{got['first_s']:7.2f} {got['steady']:12.2f} {got['steady'] / bare_ips:6.3f} {others:>11} {steal:>5}")
    for preset in PRESETS:
        for split in dict.fromkeys(s for p, s, _, _ in rows if p == preset):
            runs = [(g, b) for p, s, b, g in rows if p == preset and s == split]
            total = statistics.median(g["total"] / b for g, b in runs)
            steady = statistics.median(g["steady"] / b for g, b in runs)
            print(f"{preset} {split}: median ratio after start-up {steady:.3f} (issue 14's figure: >= 0.85 for "
                  f"the best split), whole run {total:.3f}, start-up median "
                  f"{statistics.median(g['first_s'] for g, _ in runs):.2f} s")
    if args.ray:
        _print_ray(ray_starts, args.ray_fresh, ray_pairs)
    worker_peaks = [g["worker_rss_mb"] for *_, g in rows if g["worker_rss_mb"] is not None]
    print(f"peak RSS (VmHWM): this process {peak_rss_mb()} MB (it holds the bare-inference model too), "
          f"largest worker {max(worker_peaks, default=float('nan')):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
