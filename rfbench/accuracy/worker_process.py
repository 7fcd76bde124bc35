"""One ``--workers`` worker process: its cores, the model opened once, then every shard the
parent sends, predicted with the same pipeline as one process; messages back on its pipe.

Messages to the parent: ``("ready", None, info)``, ``("image", shard, (id, n))`` per image,
``("done", shard, stats)``, ``("fatal", shard or None, reason)``. The parent's side is
:class:`rfbench.accuracy.workers.LocalPool`.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from rfbench.accuracy.options import ModelRunOptions
from rfbench.accuracy.placement import peak_rss_mb


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker needs (pickled to it): the model options and the folders."""

    options: ModelRunOptions
    images_dir: Path
    pred_dir: Path
    core_slices: tuple[tuple[int, ...], ...] | None = None  # cores of worker slot k, when they fit


def _leave(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds: started prediction files are finished or removed


def worker_main(conn: Connection, setup: WorkerSetup, slot: int = 0) -> None:
    """A worker process: take its cores (:mod:`rfbench.accuracy.placement`), open the model,
    then predict the shards the parent sends.

    SIGTERM (the parent stopping it) unwinds the stages, so a started prediction file is
    finished or its temporary file removed, then ends the process at once: the interpreter's
    teardown (OpenVINO, numba; 0.6-1.9 s on a loaded 2-core VM) is skipped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    signal.signal(signal.SIGTERM, _leave)
    try:
        _serve(conn, setup, slot)
    except SystemExit as exc:  # from _leave, after every finally block below has run
        _exit_now(exc.code if isinstance(exc.code, int) else 1)


def _serve(conn: Connection, setup: WorkerSetup, slot: int) -> None:
    """The body of :func:`worker_main`."""
    from rfbench.accuracy.model_run import open_placed, prediction_runner

    try:  # placed first, from the main thread: the threads started later inherit the cores
        placed, (adapter, spec, preset) = open_placed(
            setup.options, setup.core_slices[slot] if setup.core_slices else None)
    except Exception as exc:  # noqa: BLE001 -- process boundary: the parent reports it
        conn.send(("fatal", None, f"worker could not open the model: {exc}"))
        return
    with adapter:
        from rfbench import __version__

        describe = adapter.describe()
        conn.send(("ready", None, {"pid": os.getpid(), "host": socket.gethostname(),
                                   "threads": describe["effective"].get("threads"),
                                   "rfbench_version": __version__,
                                   "runtime": describe["runtime"],
                                   "runtime_version": describe["runtime_version"], **placed}))
        runner, _sizer, _tta = prediction_runner(setup.options, adapter, spec, preset,
                                                 setup.images_dir, setup.pred_dir)
        while True:
            kind, index, ids = conn.recv()
            if kind == "stop":  # every file it wrote is complete (atomic writes): skip the
                _exit_now()      # interpreter's teardown (~0.5 s of OpenVINO and numba)
            try:
                stats = runner.run(ids, progress=False, on_image=_reporter(conn, index))
            except Exception as exc:  # noqa: BLE001 -- process boundary: the parent reports it
                conn.send(("fatal", index, f"{type(exc).__name__}: {exc}"))
                return
            conn.send(("done", index, {"failed": stats.failed, "infer_s": stats.infer_s,
                                       "peak_rss_mb": peak_rss_mb()}))




def _exit_now(code: int = 0) -> None:
    """End this worker process at once, streams flushed."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _reporter(conn: Connection, index: int) -> Callable[[str, int | None], None]:
    """Progress callback of shard ``index``: one message per finished image."""
    def report(image_id: str, n: int | None) -> None:
        conn.send(("image", index, (image_id, n)))
    return report
