"""Shards of an image list for a scaled-out prediction run, and the book of their attempts.

A shard is a run of consecutive images (in GT order). Workers take shards one at a time; a
shard whose worker died goes back to the queue and is retried on another worker, at most
:data:`MAX_ATTEMPTS` times in all. Each image's prediction file is written atomically, so a
retry only predicts the images of the shard that have no file yet.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a shard may be started this many times (2 retries) before the run stops
SHARDS_PER_WORKER = 4  # the first shard is 1 / (workers x this) of the images (see make_shards)
MAX_SHARD_IMAGES = 64  # at most this many images per shard (what one lost worker costs)


@dataclass(frozen=True)
class Shard:
    """Images ``image_ids`` (``"<event>/<name>"``), shard number ``index`` (0-based)."""

    index: int
    image_ids: tuple[str, ...]

    @property
    def name(self) -> str:
        """One-line label for messages: number and first image."""
        return f"shard {self.index} ({len(self.image_ids)} images from {self.image_ids[0]})"


def plan_workers(requested: int, num_images: int) -> int:
    """The worker count to use: ``requested`` (>= 1), at most one per image (logged)."""
    if requested < 1:
        raise RfbenchError(f"--workers must be at least 1, got {requested}")
    if num_images and requested > num_images:
        log.warning("--workers %d: only %d images to predict, using %d workers",
                    requested, num_images, num_images)
        return num_images
    return requested


def make_shards(image_ids: Sequence[str], workers: int,
                shards_per_worker: int = SHARDS_PER_WORKER) -> list[Shard]:
    """Consecutive shards of ``image_ids`` that shrink towards the end ("guided self-scheduling",
    Polychronopoulos and Kuck, 1987): each takes ``ceil(remaining / (workers x
    shards_per_worker))`` images, at most :data:`MAX_SHARD_IMAGES`, down to single images.

    Workers take shards one at a time, so they finish within about one image of each other; with
    shards of equal size the last one ran alone for up to a whole shard (200 images on 2 workers in
    shards of 25: up to 0.9 s with one core idle, of a ~5 s run). 200 images on 2 workers give 29
    shards (25, 22, 20, ..., 1).
    """
    shards: list[Shard] = []
    start, n, share = 0, len(image_ids), max(1, workers * shards_per_worker)
    while start < n:
        size = min(MAX_SHARD_IMAGES, math.ceil((n - start) / share))
        shards.append(Shard(len(shards), tuple(image_ids[start:start + size])))
        start += size
    return shards


def plan_pending(image_ids: Sequence[str], pred_dir: Path, workers: int,
                 shards_per_worker: int | None = None) -> tuple[list[str], int, ShardBook]:
    """A scaled-out run's plan from its prediction folder, before any model is opened: the images
    still pending there (:func:`rfbench.wider.predictions.pending_ids`), the worker count (one per
    pending image at most) and the book of their shards."""
    from rfbench.wider.predictions import pending_ids

    todo = pending_ids(pred_dir, image_ids)
    workers = plan_workers(workers, len(todo)) if todo else workers
    kwargs = {} if shards_per_worker is None else {"shards_per_worker": shards_per_worker}
    return todo, workers, ShardBook(make_shards(todo, workers, **kwargs))


@dataclass
class ShardBook:
    """Which shards wait, run and are done; attempts and retries (for the results record)."""

    shards: list[Shard]
    max_attempts: int = MAX_ATTEMPTS
    queue: deque[int] = field(init=False)
    attempts: dict[int, int] = field(init=False)
    done: set[int] = field(default_factory=set)
    retries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.queue = deque(s.index for s in self.shards)
        self.attempts = {s.index: 0 for s in self.shards}

    def next(self) -> Shard | None:
        """The next shard to start (its attempt counted), or None when none waits."""
        if not self.queue:
            return None
        index = self.queue.popleft()
        self.attempts[index] += 1
        return self.shards[index]

    def finished(self, index: int) -> None:
        self.done.add(index)

    def unstarted(self, index: int) -> None:
        """Shard ``index`` was handed out but never began (queued behind a call that failed):
        back to the front of the queue, its attempt not counted."""
        self.attempts[index] -= 1
        self.queue.appendleft(index)

    def lost(self, index: int, reason: str) -> None:
        """A worker died running shard ``index``: queue it again, or stop the run.

        Raises:
            RfbenchError: the shard has been started :attr:`max_attempts` times.
        """
        shard = self.shards[index]
        if self.attempts[index] >= self.max_attempts:
            raise RfbenchError(f"{shard.name} failed {self.attempts[index]} times, last: {reason}; "
                               "stopping (the predictions written so far are kept: --resume continues)")
        log.warning("%s lost (%s): retrying it on another worker", shard.name, reason)
        self.retries.append({"shard": index, "first_image": shard.image_ids[0],
                             "attempt": self.attempts[index], "reason": reason})
        self.queue.appendleft(index)

    @property
    def complete(self) -> bool:
        return len(self.done) == len(self.shards)
