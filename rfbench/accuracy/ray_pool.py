"""``rfbench eval --ray [ADDRESS]``: the prediction run spread over Ray actors (local or a cluster).

The shards are those of ``--workers`` (:mod:`rfbench.accuracy.shards`, one :class:`ShardBook`
for attempts and retries). Each actor (:class:`ShardWorker`, ``num_cpus`` = its threads) opens
the model once and runs the ordinary :class:`~rfbench.accuracy.pipeline.PredictionRun` on one
shard at a time into a scratch folder on its node, then returns the bytes of the prediction
files and landmark sidecars; the driver writes them, atomically, into ``--out`` (byte for byte
the files of one process). Each actor holds a second shard's call queued behind the running one,
so it starts the next shard without waiting for the driver's round trip.
With ``--ship-images`` the driver reads the images and sends their bytes through Ray's object
store; otherwise the data root must be visible at the same path on every node.

Each actor asks Ray for ``num_cpus`` = its threads and, for a non-CPU ``--device``, for the
resource naming that device (:mod:`rfbench.accuracy.ray_devices`); a cluster without it is a
one-line error before any actor is made. Actors are restartable (``max_restarts``); a shard's call is not retried by Ray
(``max_task_retries=0``) but by the book, so each retry is recorded, and a killed actor or a lost
node costs only its shard. Every actor reports its host, CPU and package versions; an actor whose
rfbench or runtime version differs from the driver's stops the run with a one-line error.
Every wait has a timeout.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.accuracy.landmarks import landmarks_path
from rfbench.accuracy.ray_actor import ShardWorker, check_versions, versions_of
from rfbench.accuracy.ray_devices import RAY_GPU, device_resources, size_on_cluster
from rfbench.accuracy.shards import Shard, ShardBook, plan_pending, plan_workers
from rfbench.errors import RfbenchError
from rfbench.fileio import atomic_write_bytes
from rfbench.wider.predictions import prediction_path

if TYPE_CHECKING:
    from rfbench.accuracy.options import ModelRunOptions
    from rfbench.accuracy.pipeline import PipelineStats

log = logging.getLogger(__name__)

INSTALL_HINT = "--ray needs Ray: pip install 'rfbench[ray]'"
CONNECT_TIMEOUT_S = 10.0  # a cluster address must accept a TCP connection within this time
STARTUP_TIMEOUT_S = 600.0  # an actor must have opened the model within this time
STALL_TIMEOUT_S = 900.0  # a shard running this long is treated as lost (its actor is killed)
POLL_S = 0.5

Observer = Callable[[str, dict[str, Any]], None]


def import_ray() -> Any:
    """The ``ray`` module, or a one-line RfbenchError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RfbenchError(INSTALL_HINT) from exc
    return ray


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast (one line) when ``address`` (``[ray://]host:port``) takes no TCP connection:
    ``ray.init`` itself retries an unreachable cluster for minutes."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return  # "auto" (ray's address file) or a form ray checks itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RfbenchError(f"--ray {address}: no Ray cluster reachable there within {timeout_s:.0f} s "
                           f"({exc.strerror or exc})") from exc


@dataclass
class RaySession:
    """A connection to Ray: started here (``--ray`` alone), joined (an address) or reused."""

    ray: Any
    address: str
    started_here: bool
    start_s: float

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def connect(address: str | None, num_cpus: int) -> RaySession:
    """Start a local cluster of ``num_cpus`` CPUs (``address`` None) or join ``address``.

    A process already connected to Ray (``ray.init`` called by the caller) keeps its connection.
    """
    ray = import_ray()
    start = time.perf_counter()
    if ray.is_initialized():
        return RaySession(ray, address or "existing connection", False, 0.0)
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
              "configure_logging": False}
    if address is None:
        ray.init(num_cpus=num_cpus, **common)
        label = "local"
    else:
        check_reachable(address)
        try:
            ray.init(address=address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RfbenchError(f"--ray {address}: cannot join the cluster: {str(exc).splitlines()[0]}") from exc
        label = address
    return RaySession(ray, label, True, time.perf_counter() - start)


def predict_with_ray(options: ModelRunOptions, image_ids: list[str], images_dir: Path, out_dir: Path,
                     resume: bool, workers: int | None, *, address: str | None = None, ship_images: bool = False,
                     shards_per_worker: int | None = None, observer: Observer | None = None,
                     progress: bool = True) -> tuple[dict[str, Any], PipelineStats, Path]:
    """The prediction run over Ray actors; returns what :func:`~rfbench.accuracy.model_run.predict` returns.

    ``workers``: actors (None: one per CPU of the cluster at ``--threads`` or 1 thread each; for
    a non-CPU ``--device``, one per unit of its Ray resource, :mod:`rfbench.accuracy.ray_devices`).
    ``address``: None starts a local cluster (this machine's cores); else joined (``auto``,
    ``host:port``, ``ray://host:port``). ``observer(event, info)`` sees the pool's events.
    """
    from rfbench import __version__
    from rfbench.accuracy.model_run import PREDICTIONS_DIR, open_run
    from rfbench.accuracy.placement import usable_cores

    if workers is not None:
        plan_workers(workers, len(image_ids) or 1)
    session = connect(address, num_cpus=max(usable_cores(), (workers or 1) * (options.threads or 1)))
    try:
        cluster_cpus, needed, workers, threads, threads_source = size_on_cluster(
            session.ray.cluster_resources(), options.device, options.threads, workers)
        options = replace(options, threads=threads)
        pred_dir = Path(out_dir) / PREDICTIONS_DIR  # what prepare_output checks and creates
        todo, workers, book = plan_pending(image_ids, pred_dir, workers, shards_per_worker)
        pool = RayPool(session.ray, options, Path(images_dir), pred_dir, ship_images, observer)
        pool.start(book, workers)  # the actors open the model while the driver does below
        try:
            adapter, _spec, _preset, record, _dtype = open_run(options, out_dir, resume)
            with adapter:
                driver = versions_of({"rfbench_version": __version__, **adapter.describe()})
        except BaseException:
            pool.stop_all()  # a joined cluster (or a sweep's next cell) gets its CPUs back now
            raise
        stats = pool.run(book, workers, todo, driver, progress)
        nodes = sum(1 for node in session.ray.nodes() if node.get("Alive"))
    finally:
        session.close()
    stats.images_total, stats.images_resumed = len(image_ids), len(image_ids) - len(todo)
    record["scale_out"] = {
        "mode": "ray", "address": session.address, "nodes": nodes, "workers": workers,
        "threads_per_worker": options.threads, "threads_source": threads_source, "cores": cluster_cpus,
        "shards": len(book.shards), "max_attempts_per_shard": book.max_attempts, "retries": book.retries,
        "worker_starts": pool.starts, "worker_info": pool.infos, "ship_images": ship_images,
        "cluster_start_s": session.start_s, "placement": "unpinned (Ray actors)",
        "device_resources": needed,
    }
    return record, stats, pred_dir


@dataclass
class _Slot:
    """One actor and what it is waiting for: its ``ready`` call or a shard's ``predict`` call
    (``ref``, ``shard``, running since ``since``), and the call queued behind that one."""

    actor: Any
    ref: Any = None
    shard: Shard | None = None
    since: float = 0.0
    ready: bool = False
    info: dict[str, Any] | None = None  # the actor's entry of scale_out.worker_info (from "ready")
    queued: tuple[Shard, Any] | None = None  # (shard, ref): starts when the running call ends


class RayPool:
    """Ray actors fed shard by shard; the driver writes what they return."""

    def __init__(self, ray: Any, options: ModelRunOptions, images_dir: Path, pred_dir: Path, ship_images: bool,
                 observer: Observer | None = None) -> None:
        self.ray, self.options, self.images_dir, self.pred_dir = ray, options, images_dir, pred_dir
        self.ship_images, self.observer = ship_images, observer
        self.driver: dict[str, Any] = {}  # the driver's versions, given to run()
        self.slots: list[_Slot] = []
        self.starts = 0
        self.infos: list[dict[str, Any]] = []

    def run(self, book: ShardBook, workers: int, todo: list[str], driver_versions: dict[str, Any],
            progress: bool = True) -> PipelineStats:
        """Predict every shard of ``book`` on ``workers`` actors (started here unless
        :meth:`start` did it); returns the gathered stats. ``driver_versions``: the driver's
        rfbench/runtime versions, which every actor's must equal when it is ready."""
        self.driver = driver_versions
        from tqdm import tqdm

        from rfbench.accuracy.pipeline import PipelineStats

        stats = PipelineStats()
        self.counts: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        start = time.perf_counter()
        bar = tqdm(total=len(todo), unit="img", desc=f"eval (ray, {workers} workers)",
                   disable=None if progress else True)
        try:
            if not self.slots:
                self.start(book, workers)
            while not book.complete:
                self._step(book, stats, bar)
        finally:
            self.stop_all()
            bar.close()
            stats.wall_s = time.perf_counter() - start
        stats.images_predicted, stats.num_detections = len(self.counts), sum(self.counts.values())
        stats.failed = [(i, self.failed[i]) for i in todo if i in self.failed]  # GT order
        return stats

    def start(self, book: ShardBook, workers: int) -> None:
        """Create ``workers`` actors (at most one per shard of ``book``); each opens the model and
        answers its ``ready`` call, checked against the driver's versions in :meth:`run`. Ray restarts
        a lost actor up to once per shard attempt."""
        needed = device_resources(self.options.device)  # what a non-CPU device asks Ray for
        actor_class = self.ray.remote(ShardWorker).options(
            num_cpus=self.options.threads, num_gpus=needed.pop(RAY_GPU, 0), resources=needed,
            max_restarts=max(1, len(book.shards) * book.max_attempts), max_task_retries=0)
        try:
            for _ in range(min(workers, len(book.shards))):
                slot = _Slot(actor_class.remote(self.options, str(self.images_dir), self.ship_images))
                self.slots.append(slot)
                self._await_ready(slot)
        except BaseException:
            self.stop_all()
            raise

    def stop_all(self) -> None:
        """Kill every actor (no restart)."""
        for slot in self.slots:
            self.ray.kill(slot.actor, no_restart=True)
        self.slots = []

    def _await_ready(self, slot: _Slot) -> None:
        # retried by Ray while a killed actor restarts (bounded by max_restarts)
        slot.ref, slot.shard, slot.since, slot.ready = slot.actor.ready.options(max_task_retries=-1).remote(), \
            None, time.monotonic(), False
        slot.queued = None
        self.starts += 1

    def _promote(self, slot: _Slot) -> None:
        """The running call (``ready`` or a shard) ended: the queued one (if any) is now running."""
        slot.ref, slot.shard = None, None
        if slot.queued is not None:
            (slot.shard, slot.ref), slot.queued = slot.queued, None
            slot.since = time.monotonic()

    def _step(self, book: ShardBook, stats: PipelineStats, bar) -> None:
        ray = self.ray
        busy = [s for s in self.slots if s.ref is not None]
        if not busy:
            raise RfbenchError("--ray: no worker left to run the remaining shards")  # not expected
        done, _ = ray.wait([s.ref for s in busy], num_returns=1, timeout=POLL_S)
        for slot in [s for s in busy if s.ref in done]:
            ref, shard = slot.ref, slot.shard
            try:
                result = ray.get(ref, timeout=STARTUP_TIMEOUT_S)
            except ray.exceptions.RayTaskError as exc:  # a Python error inside the actor
                where = f" ({shard.name})" if shard else ""
                raise RfbenchError(f"worker failed{where}: {_first_line(exc)}") from exc
            except ray.exceptions.RayError as exc:  # actor killed, node lost, object lost
                self._lost(slot, book, f"{type(exc).__name__}: {_first_line(exc)}")
                continue
            self._promote(slot)  # the call ended: the queued one (if any) runs now
            if shard is None:
                self._on_ready(slot, result)
            else:
                self._on_done(shard, slot, result, book, stats, bar)
            self._assign(slot, book)
        now = time.monotonic()
        for slot in self.slots:
            if slot.ref is None:
                continue
            if slot.shard is None and now - slot.since > STARTUP_TIMEOUT_S:
                raise RfbenchError(f"--ray: a worker did not open the model within {STARTUP_TIMEOUT_S:.0f} s "
                                   "(are there free CPUs on the cluster?)")
            if slot.shard is not None and now - slot.since > STALL_TIMEOUT_S:
                ray.kill(slot.actor, no_restart=False)  # restarted by Ray; the call fails: lost shard

    def _on_ready(self, slot: _Slot, info: dict[str, Any]) -> None:
        if info.get("problem"):
            raise RfbenchError(info["problem"])
        check_versions(info, self.driver)
        slot.ready, slot.info = True, info
        self.infos.append(info)
        self._notify("ready", {"actor": slot.actor, "payload": info})

    def _on_done(self, shard: Shard, slot: _Slot, result: dict[str, Any], book: ShardBook,
                 stats: PipelineStats, bar) -> None:
        for image_id, data in result["files"].items():  # the sidecar first: a prediction file
            _write(landmarks_path(self.pred_dir, image_id), result["landmarks"][image_id])  # marks it done
            _write(prediction_path(self.pred_dir, image_id), data)
            self.counts[image_id] = int(data.split(b"\n", 2)[1])
        self.failed.update(dict(result["failed"]))
        stats.infer_s += result["infer_s"]
        if slot.info is not None:  # the actor's record keeps its peak memory so far
            slot.info["peak_rss_mb"] = result["peak_rss_mb"]
        book.finished(shard.index)
        bar.update(len(shard.image_ids))
        self._notify("done", {"actor": slot.actor, "shard": shard.index})

    def _assign(self, slot: _Slot, book: ShardBook) -> None:
        """Keep a ready actor's running call and its queued one filled from the book."""
        while slot.ready and slot.queued is None and (shard := book.next()) is not None:
            ids = list(shard.image_ids)
            images = [_read_bytes(self.images_dir, i) for i in ids] if self.ship_images else None
            ref = slot.actor.predict.remote(ids, images)
            if slot.ref is None:
                slot.ref, slot.shard, slot.since = ref, shard, time.monotonic()
            else:
                slot.queued = (shard, ref)
            self._notify("assigned", {"actor": slot.actor, "shard": shard.index, "images": len(ids)})

    def _lost(self, slot: _Slot, book: ShardBook, reason: str) -> None:
        """The actor died: its running shard goes back to the book as a retry, its queued one
        as never started; Ray restarts the actor."""
        self._notify("lost", {"actor": slot.actor, "shard": slot.shard and slot.shard.index, "reason": reason})
        if slot.shard is None:
            raise RfbenchError(f"--ray: a worker could not start: {reason}")
        if slot.queued is not None:
            book.unstarted(slot.queued[0].index)
        book.lost(slot.shard.index, reason)  # raises when the shard is out of attempts
        self._await_ready(slot)
        for other in self.slots:
            self._assign(other, book)

    def _notify(self, event: str, info: dict[str, Any]) -> None:
        if self.observer is not None:
            self.observer(event, info)


def _write(path: Path, data: bytes) -> None:
    """A file a worker sent back, written atomically under the driver's --out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _read_bytes(images_dir: Path, image_id: str) -> bytes:
    """An image's file bytes for ``--ship-images`` (empty when unreadable: the actor reports it)."""
    from rfbench.wider.image_ids import safe_join

    try:
        return safe_join(images_dir, image_id, ".jpg").read_bytes()
    except OSError:
        return b""


def _first_line(exc: BaseException) -> str:
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return text[0] if text else type(exc).__name__
