"""Several images in flight in one process: ``eval --streams N`` on OpenVINO.

Each lane is a thread that takes the next pending image and runs every stage on it in turn
(read, pre-process, inference on a request of its own, decode, post-process, write), as a
one-core ``--workers`` worker does; the calling thread is lane 0. With N streams of one thread
each on N cores this is the throughput of N one-thread workers without their start-up (a
process, its imports, its model and numba's kernels each): ``benchmarks/bench_workers.py``
compares them. The files are those of a one-process run with one thread per stream.

An error in any lane (an unreadable image under ``--strict``, outputs that do not decode, a full
disk) stops the others after the image each is on; Ctrl-C in the calling thread does the same.
Every file written is complete (atomic writes), so the folder resumes as after any stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

OnImage = Callable[[str, int | None], None]


class PredictionRun(Protocol):
    """The parts of :class:`rfbench.accuracy.pipeline.PredictionRun` a lane uses (that module
    imports this one)."""

    lanes: int

    def prepare(self, image_id: str) -> Any: ...
    def infer_checked(self, item: Any) -> tuple[dict, float]: ...
    def finish(self, image_id: str, outputs: dict, transform: Any) -> int: ...
    def skipped(self, stats: Any, bar: Any, item: Any, on_image: OnImage | None) -> None: ...
    def count(self, stats: Any, bar: Any, done: tuple[str, int], on_image: OnImage | None) -> None: ...


class _Lanes:
    """What the lanes of one run share: the pending images, the counts, the first error."""

    def __init__(self, run: PredictionRun, todo: Sequence[str], stats: Any, bar,
                 on_image: OnImage | None) -> None:
        self.run, self.stats, self.bar, self.on_image = run, stats, bar, on_image
        self.next_ids: Iterator[str] = iter(todo)
        self.lock = threading.Lock()  # the iterator, the counts, the progress bar, on_image
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def take(self) -> str | None:
        """The next pending image, or None when none is left or the run is stopping."""
        with self.lock:
            return None if self.stop.is_set() else next(self.next_ids, None)

    def lane(self) -> None:
        """Take images until none is left: every stage of each in turn, in this thread."""
        run = self.run
        while (image_id := self.take()) is not None:
            item = run.prepare(image_id)
            if item.error is not None:
                with self.lock:
                    run.skipped(self.stats, self.bar, item, self.on_image)
                continue
            outputs, infer_s = run.infer_checked(item)
            assert item.transform is not None
            found = run.finish(image_id, outputs, item.transform)
            with self.lock:
                self.stats.infer_s += infer_s
                run.count(self.stats, self.bar, (image_id, found), self.on_image)

    def guarded_lane(self) -> None:
        """:meth:`lane` in a thread of its own: its error stops the other lanes."""
        try:
            self.lane()
        except BaseException as exc:  # noqa: BLE001 -- re-raised by the calling thread
            self.errors.append(exc)
            self.stop.set()


def run_lanes(run: PredictionRun, todo: Sequence[str], stats: Any, bar, on_image: OnImage | None) -> None:
    """Predict ``todo`` with ``run.lanes`` lanes (see the module docstring), counting into
    ``stats`` (a ``PipelineStats``); unreadable images land in ``stats.failed`` in ``todo``'s order."""
    lanes = _Lanes(run, todo, stats, bar, on_image)
    threads = [threading.Thread(target=lanes.guarded_lane, name=f"rfbench-lane-{k}", daemon=True)
               for k in range(1, run.lanes)]
    for thread in threads:
        thread.start()
    try:
        lanes.lane()
    except BaseException:
        lanes.stop.set()  # the other lanes finish the image each is on, then leave
        raise
    finally:
        for thread in threads:
            thread.join()
        position = {image_id: k for k, image_id in enumerate(todo)}
        stats.failed.sort(key=lambda failure: position[failure[0]])  # as one lane reports them
    if lanes.errors:
        raise lanes.errors[0]
