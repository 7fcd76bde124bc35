"""``rfbench eval --workers N``: the prediction run spread over N local worker processes.

Each worker process (started with ``spawn``) takes a slice of the cores of its own when the
slices fit (:mod:`rfbench.accuracy.placement`), opens the model once, with ``--threads`` threads
(default: cores // N), and runs :class:`~rfbench.accuracy.pipeline.PredictionRun` on one shard
of the image list at a time (:mod:`rfbench.accuracy.shards`). The parent hands out shards over
one pipe per worker, shows one progress bar and gathers the counts; scoring happens once, after
all shards, in the caller. Prediction files are written by the workers, atomically, into the
run's folder, so files, APs and results.json (timing fields and ``scale_out`` aside) are those
of a single-process run with the same settings.

A worker that dies (killed, out of memory) has its shard queued again for another worker (a new
worker replaces it), at most :data:`~rfbench.accuracy.shards.MAX_ATTEMPTS` starts per shard;
each retry is recorded. Ctrl-C stops every worker; the folder resumes with ``--resume``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.accuracy.shards import Shard, ShardBook, plan_pending, plan_workers
from rfbench.accuracy.worker_process import WorkerSetup, worker_main
from rfbench.errors import RfbenchError

if TYPE_CHECKING:  # heavy modules are imported where used: this one is loaded at CLI start
    from rfbench.accuracy.options import ModelRunOptions
    from rfbench.accuracy.pipeline import PipelineStats
    from rfbench.models.spec import ModelSpec

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 600.0  # a worker must have opened the model within this time
STALL_TIMEOUT_S = 900.0  # a busy worker silent this long is treated as dead
STOP_TIMEOUT_S = 10.0  # grace for workers to leave after 'stop' / SIGTERM, then SIGKILL
POLL_S = 0.5

Observer = Callable[[str, dict[str, Any]], None]


def predict_scaled(args: argparse.Namespace, options: ModelRunOptions, image_ids: list[str],
                   images_dir: Path, out_dir: Path, resume: bool) -> tuple[dict[str, Any], PipelineStats, Path]:
    """:func:`~rfbench.accuracy.model_run.predict`, or the same over ``args.workers`` processes."""
    from rfbench.accuracy.model_run import predict

    workers = getattr(args, "workers", None)
    ray_address = getattr(args, "ray", None)
    if ray_address is not None:
        from rfbench.accuracy.ray_pool import predict_with_ray

        return predict_with_ray(options, image_ids, images_dir, out_dir, resume, workers,
                                address=None if ray_address == "local" else ray_address,
                                ship_images=args.ship_images)
    if getattr(args, "ship_images", False):
        raise RfbenchError("--ship-images needs --ray")
    workers = 1 if workers is None else workers
    if workers == 1:
        return predict(options, image_ids, images_dir, out_dir, resume)
    return predict_with_workers(options, image_ids, images_dir, out_dir, resume, workers)


def predict_with_workers(options: ModelRunOptions, image_ids: list[str], images_dir: Path, out_dir: Path,
                         resume: bool, workers: int, *, shards_per_worker: int | None = None,
                         observer: Observer | None = None, progress: bool = True) -> tuple[dict[str, Any], PipelineStats, Path]:
    """The prediction run over ``workers`` processes; returns what ``predict`` returns.

    The workers are started first; while they open the model, it is opened here once too
    (settings, fingerprint, record; then closed), so the two overlap. Shards go out only after
    the folder is checked. ``observer(event, info)`` sees the pool's events (tests kill a
    worker with it).
    """
    from rfbench.accuracy.model_run import PREDICTIONS_DIR
    from rfbench.accuracy.placement import core_slices, usable_cores

    plan_workers(workers, len(image_ids) or 1)
    cores = usable_cores()
    threads_source = "--threads" if options.threads else "cores // workers"
    options = replace(options, threads=options.threads or max(1, cores // workers))
    pred_dir = Path(out_dir) / PREDICTIONS_DIR  # what prepare_output checks and creates
    todo, workers, book = plan_pending(image_ids, pred_dir, workers, shards_per_worker)
    slices = core_slices(workers, options.threads or 1)
    pool = LocalPool(WorkerSetup(options, Path(images_dir), pred_dir,
                                 None if slices is None else tuple(slices)), workers, observer)
    try:
        pool.start(book)
        record = _open_and_check(options, workers, out_dir, resume)
    except BaseException:
        pool.stop_all()
        raise
    stats = pool.run(book, todo, progress)
    stats.images_total, stats.images_resumed = len(image_ids), len(image_ids) - len(todo)
    record["scale_out"] = {
        "mode": "local processes", "workers": workers, "threads_per_worker": options.threads,
        "threads_source": threads_source, "cores": cores,
        "placement": "a core slice per worker" if slices else "unpinned (more threads than cores)",
        "shards": len(book.shards),
        "max_attempts_per_shard": book.max_attempts, "retries": book.retries,
        "worker_starts": pool.starts, "worker_info": pool.infos,
    }
    return record, stats, pred_dir


def _open_and_check(options: ModelRunOptions, workers: int, out_dir: Path, resume: bool) -> dict[str, Any]:
    """Open the model here (then close it): refuse what workers cannot run, check or create the
    run's folder (:func:`~rfbench.accuracy.model_run.open_run`); returns the record's
    model/runtime/preset fields."""
    from rfbench.accuracy.model_run import open_run

    def refuse(spec: ModelSpec) -> None:
        if spec.input.per_image or (options.tta is not None and options.tta.active):
            raise RfbenchError(f"--workers {workers} runs at one fixed input size: per-image sizes "
                               "(--input-size native or SHORT:LONG) and --scales/--flip need --workers 1")

    adapter, _spec, _preset, record, _dtype = open_run(options, out_dir, resume, refuse)
    adapter.close()
    return record


@dataclass
class _Worker:
    process: Any  # multiprocessing.context.SpawnProcess
    conn: Connection
    started: float
    slot: int  # which core slice (WorkerSetup.core_slices) it runs on
    released: bool = False  # told to stop: no shard was left for it
    info: dict[str, Any] | None = None  # its entry of scale_out.worker_info (from "ready")
    shard: int | None = None
    ready: bool = False
    last_heard: float = field(default_factory=time.monotonic)


class LocalPool:
    """Worker processes on this machine, fed shard by shard over one pipe each."""

    def __init__(self, setup: WorkerSetup, workers: int, observer: Observer | None = None) -> None:
        self.setup, self.size, self.observer = setup, workers, observer
        self.context = mp.get_context("spawn")
        self.workers: list[_Worker] = []
        self.starts = 0
        self.infos: list[dict[str, Any]] = []
        self.max_starts = 0

    def run(self, book: ShardBook, todo: list[str], progress: bool = True) -> PipelineStats:
        """Predict every shard of ``book``; returns the gathered stats (wall time included)."""
        from tqdm import tqdm

        from rfbench.accuracy.pipeline import PipelineStats
        from rfbench.wider.predictions import prediction_path

        stats = PipelineStats()
        counts: dict[str, int] = {}
        failed: dict[str, str] = {}
        seen: set[str] = set()
        start = time.perf_counter()
        bar = tqdm(total=len(todo), unit="img", desc=f"eval ({self.size} workers)",
                   disable=None if progress else True)
        try:
            if not self.workers:
                self.start(book)
            while not book.complete:
                self._step(book, stats, counts, failed, seen, bar)
        finally:
            self.stop_all()
            bar.close()
            stats.wall_s = time.perf_counter() - start
        for image_id in todo:  # written by a worker that died before reporting it
            if image_id not in counts and image_id not in failed:
                counts[image_id] = _count_in_file(prediction_path(self.setup.pred_dir, image_id))
        stats.images_predicted, stats.num_detections = len(counts), sum(counts.values())
        stats.failed = [(i, failed[i]) for i in todo if i in failed]  # GT order, as in one process
        return stats

    def start(self, book: ShardBook) -> None:
        """Start a worker per slot, as many as ``book`` has shards; they open the model and wait
        for shards (replacements included, at most size + shards x attempts starts)."""
        self.max_starts = self.size + len(book.shards) * book.max_attempts
        for slot in range(min(self.size, len(book.shards))):
            self._start(slot)

    def _start(self, slot: int) -> None:
        if self.starts >= self.max_starts:
            raise RfbenchError(f"worker processes keep dying ({self.starts} started); stopping")
        parent_end, child_end = self.context.Pipe()
        process = self.context.Process(target=worker_main, args=(child_end, self.setup, slot),
                                       name=f"rfbench-worker-{self.starts}", daemon=True)
        process.start()
        child_end.close()
        self.starts += 1
        self.workers.append(_Worker(process, parent_end, time.monotonic(), slot))

    def _step(self, book: ShardBook, stats: PipelineStats, counts: dict[str, int],
              failed: dict[str, str], seen: set[str], bar) -> None:
        by_conn = {w.conn: w for w in self.workers}
        sentinels = {w.process.sentinel: w for w in self.workers}
        for ready in wait(list(by_conn) + list(sentinels), timeout=POLL_S):
            worker = by_conn.get(ready)  # type: ignore[call-overload]
            if worker is None or worker not in self.workers:
                continue
            try:
                while worker.conn.poll():
                    self._handle(worker, worker.conn.recv(), book, stats, counts, failed, seen, bar)
            except (EOFError, OSError):
                pass  # the worker is gone: its sentinel reports it below
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.released and not worker.process.is_alive():
                self.workers.remove(worker)  # left as told, its exit overlapping the others' work
                worker.process.join(STOP_TIMEOUT_S)
                worker.conn.close()
            elif not worker.process.is_alive():
                self._lost(worker, book, f"worker pid {worker.process.pid} {_exit_text(worker.process.exitcode)}")
            elif not worker.ready and now - worker.started > STARTUP_TIMEOUT_S:
                raise RfbenchError(f"a worker did not open the model within {STARTUP_TIMEOUT_S:.0f} s; stopping")
            elif worker.shard is not None and now - worker.last_heard > STALL_TIMEOUT_S:
                worker.process.kill()
                worker.process.join(STOP_TIMEOUT_S)
                self._lost(worker, book, f"worker pid {worker.process.pid} silent for {STALL_TIMEOUT_S:.0f} s")

    def _handle(self, worker: _Worker, message: tuple, book: ShardBook, stats: PipelineStats,
                counts: dict[str, int], failed: dict[str, str], seen: set[str], bar) -> None:
        kind, index, payload = message
        worker.last_heard = time.monotonic()
        if kind == "fatal":
            where = f" ({book.shards[index].name})" if index is not None else ""
            raise RfbenchError(f"{payload}{where}")
        if kind == "ready":
            worker.ready, worker.info = True, payload
            self.infos.append(payload)
        elif kind == "image":
            image_id, n = payload
            if n is not None:
                counts[image_id] = n
            if image_id not in seen:
                seen.add(image_id)
                bar.update(1)
        elif kind == "done":
            book.finished(index)
            worker.shard = None
            stats.infer_s += payload["infer_s"]
            failed.update(dict(payload["failed"]))
            if worker.info is not None:  # its record keeps its peak memory so far
                worker.info["peak_rss_mb"] = payload["peak_rss_mb"]
        self._notify(kind, {"pid": worker.process.pid, "shard": index, "payload": payload})
        if worker.ready and worker.shard is None and not worker.released and worker.process.is_alive():
            self._assign(worker, book)

    def _assign(self, worker: _Worker, book: ShardBook) -> None:
        shard: Shard | None = book.next()
        if shard is None:
            if not book.queue:  # nothing left to hand out: let it exit while the others finish
                worker.released = True
                worker.conn.send(("stop", None, None))
            return
        worker.shard = shard.index
        worker.conn.send(("shard", shard.index, list(shard.image_ids)))
        self._notify("assigned", {"pid": worker.process.pid, "shard": shard.index,
                                  "images": len(shard.image_ids)})

    def _lost(self, worker: _Worker, book: ShardBook, reason: str) -> None:
        self.workers.remove(worker)
        worker.conn.close()
        self._notify("lost", {"pid": worker.process.pid, "shard": worker.shard, "reason": reason})
        if worker.shard is not None:
            book.lost(worker.shard, reason)  # raises when the shard is out of attempts
        elif not worker.ready:
            if not self.infos and self.starts >= 2 * self.size:  # none has ever started: it won't
                raise RfbenchError(f"worker processes die while starting ({reason}; {self.starts} "
                                   "started, none ready); stopping")
            log.warning("a worker died while opening the model (%s)", reason)
        if not book.complete and (book.queue or not self.workers):
            self._start(worker.slot)  # the replacement takes the lost worker's cores
            idle = [w for w in self.workers if w.ready and w.shard is None and not w.released]
            for other in idle:
                self._assign(other, book)

    def _notify(self, event: str, info: dict[str, Any]) -> None:
        if self.observer is not None:
            self.observer(event, info)

    def stop_all(self) -> None:
        """Stop every worker: 'stop' to an idle one, SIGTERM to a busy one or one still opening
        the model (it would read 'stop' only when ready), SIGKILL after :data:`STOP_TIMEOUT_S`."""
        for worker in self.workers:
            try:
                worker.conn.send(("stop", None, None)) if worker.ready and worker.shard is None \
                    else worker.process.terminate()
            except (BrokenPipeError, OSError):
                worker.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(STOP_TIMEOUT_S)
            worker.conn.close()
        self.workers = []


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {-code} ({signal.Signals(-code).name})"
    return f"exited with status {code}"


def _count_in_file(path: Path) -> int:
    """The box count (line 2) of a prediction file."""
    with open(path, encoding="utf-8") as handle:
        handle.readline()
        return int(handle.readline())
