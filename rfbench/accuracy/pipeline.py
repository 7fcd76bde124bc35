"""Run a model over a dataset and write its detections as WIDER prediction files.

Three stages overlap: a reader thread decodes and pre-processes the next images, the calling
thread runs inference, and a writer thread decodes the outputs, post-processes them and
writes each image's prediction file atomically (a file is either complete or absent, so an
interrupted run resumes exactly where it stopped).

A process that may use one core only (a ``--workers`` worker of one thread, pinned to its core)
runs the same stages one after another in the calling thread instead: on one core threads
overlap nothing and only add context switches, and each switch in the middle of an inference
evicts its working set from the cache (``benchmarks/bench_stages.py`` compares the two).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from rfbench.accuracy.image_cache import ResizedImageCache
from rfbench.accuracy.landmarks import landmarks_dir_for, write_landmarks_file
from rfbench.accuracy.lanes import run_lanes
from rfbench.accuracy.placement import usable_cores
from rfbench.decoder.decode import decode_outputs
from rfbench.decoder.finite import check_finite_outputs
from rfbench.decoder.postprocess import postprocess, score_floor, submission_xywhs
from rfbench.decoder.preprocess import (
    ImageReadError,
    ImageTransform,
    preprocess,
    read_image,
    resize_image,
    to_tensor,
)
from rfbench.decoder.sizing import ImageSizer
from rfbench.errors import RfbenchError
from rfbench.models.spec import ModelSpec
from rfbench.wider.image_ids import safe_join
from rfbench.wider.predictions import pending_ids, write_prediction_file

log = logging.getLogger(__name__)

PREFETCH = 3  # images read ahead of inference by the reader thread (inline: none)
WRITE_BACKLOG = 3  # inference results waiting for post-processing
_SLOW_WARM_UP_S = 2.0


def warm_up_kernels() -> float:
    """Compile, or load from numba's cache, the compiled kernels of decoding and writing (NMS,
    score order, ``%.9g`` text) before anything is timed; returns the seconds it took.

    The first run on a machine compiles them (~10 s, said in one log line); later runs and
    worker processes load numba's cache (~1 s).
    """
    from rfbench.decoder.nms import nms
    from rfbench.wider.g9text import rows_text

    start = time.perf_counter()
    nms(np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]]), np.array([0.9, 0.8]), 0.5)
    rows_text(np.ones((1, 5), np.float32))
    took = time.perf_counter() - start
    if took > _SLOW_WARM_UP_S:
        log.info("compiled the decoder's numba kernels in %.1f s (once per machine: numba caches them)", took)
    return took


class _InlineExecutor:
    """The part of ThreadPoolExecutor the pipeline uses, running each call at once in the
    calling thread (the one-core mode): the future it returns is already done."""

    def submit(self, fn: Callable, /, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 -- delivered by .result(), as from a thread
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing runs in the background: nothing to wait for."""


def _stage_executor(overlap: bool, name: str) -> ThreadPoolExecutor | _InlineExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix=name) if overlap else _InlineExecutor()


@dataclass
class PipelineStats:
    """What a prediction run did. Times in seconds."""

    images_total: int = 0
    images_predicted: int = 0
    images_resumed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    num_detections: int = 0
    wall_s: float = 0.0
    infer_s: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.images_predicted / self.wall_s if self.wall_s > 0 else float("nan")


@dataclass(frozen=True)
class Prepared:
    image_id: str
    tensor: np.ndarray | None
    transform: ImageTransform | None
    error: str | None = None


class PredictionRun:
    """Predict ``image_ids`` (``"<event>/<name>"``) from ``images_dir`` into ``pred_dir``.

    ``infer``: ``{input name: tensor} -> {output name: array}`` (a runtime adapter's infer);
    ``preset``: a post-processing preset; ``resize``: "stretch" or "letterbox";
    ``strict``: an unreadable image stops the run instead of being skipped and counted;
    ``sizer``: pre-processing of a per-image size policy (``--input-size native`` or ``S:L``,
    :mod:`rfbench.decoder.sizing`) instead of ``resize`` to ``spec.input.hw``;
    ``overlap``: reader and writer threads beside inference (True), or the stages one after
    another in the calling thread (False); default: overlap when this process may use more than
    one core (:func:`usable_cores`). The files written are the same either way.
    ``image_cache``: resized images shared with other runs (:mod:`rfbench.accuracy.image_cache`,
    fixed sizes only; ``rfbench sweep``); the tensors and files are the same with or without it.
    ``u8_images``: ``infer`` takes the resized (1, H, W, 3) uint8 image and applies the pixel
    format itself (OpenVINO ``PrePostProcessor``, :mod:`rfbench.runtimes.base`): no tensor is
    built here; the outputs are the same.
    ``lanes``: that many images in flight, each taken through every stage in turn by a thread
    of its own (:mod:`rfbench.accuracy.lanes`; ``infer`` must take that many calls at once:
    OpenVINO streams); ``overlap`` then does not apply.
    """

    def __init__(self, infer: Callable[[dict], dict], spec: ModelSpec, preset, resize: str,
                 images_dir: Path, pred_dir: Path, *, strict: bool = False,
                 image_suffix: str = ".jpg", sizer: ImageSizer | None = None,
                 overlap: bool | None = None, image_cache: ResizedImageCache | None = None,
                 u8_images: bool = False, lanes: int = 1) -> None:
        self.infer, self.spec, self.preset, self.resize = infer, spec, preset, resize
        if u8_images and (sizer is not None or resize != "stretch"):
            raise ValueError("uint8 images are fed at one fixed size, stretched")
        self.u8_images = u8_images
        self.image_cache = image_cache if sizer is None else None
        self.images_dir, self.pred_dir = Path(images_dir), Path(pred_dir)
        self.strict, self.image_suffix, self.sizer = strict, image_suffix, sizer
        self.overlap, self.lanes = overlap, lanes

    def pending(self, image_ids: Sequence[str]) -> list[str]:
        """Images without a prediction file yet (all of them in a fresh folder)."""
        return pending_ids(self.pred_dir, image_ids)

    def read(self, image_id: str) -> np.ndarray | Prepared:
        """The image (BGR uint8), or the skipped item of an unreadable one (raises with --strict)."""
        try:
            return read_image(safe_join(self.images_dir, image_id, self.image_suffix))
        except ImageReadError as exc:
            if self.strict:
                raise
            return Prepared(image_id, None, None, str(exc))

    def prepare(self, image_id: str) -> Prepared:
        """Read and pre-process one image (reader thread)."""
        if self.image_cache is not None:
            return self._prepare_cached(image_id)
        image = self.read(image_id)
        if isinstance(image, Prepared):
            return image
        if self.sizer is not None:  # size policy hook (native, short:long)
            tensor, transform = self.sizer(image, image_id)
            return Prepared(image_id, tensor, transform)
        assert self.spec.input.hw is not None
        if self.u8_images:
            resized, transform = resize_image(image, self.spec.input.hw, self.resize)
            return Prepared(image_id, self._u8_feed(resized), transform)
        tensor, transform = preprocess(image, self.spec.input.hw, self.spec.pixels, self.resize,
                                       self.spec.input.layout)
        return Prepared(image_id, tensor, transform)

    def _prepare_cached(self, image_id: str) -> Prepared:
        """:meth:`prepare` through the resized-image cache: the tensor built from the cached
        uint8 image exactly as :func:`preprocess` builds it from a fresh resize."""
        assert self.image_cache is not None and self.spec.input.hw is not None
        try:
            resized, transform = self.image_cache.resized(
                safe_join(self.images_dir, image_id, self.image_suffix), self.spec.input.hw, self.resize)
        except ImageReadError as exc:
            if self.strict:
                raise
            return Prepared(image_id, None, None, str(exc))
        if self.u8_images:
            return Prepared(image_id, self._u8_feed(resized), transform)
        tensor = to_tensor(resized, self.spec.input.hw, self.spec.pixels, self.spec.input.layout)
        return Prepared(image_id, tensor, transform)

    def _u8_feed(self, resized: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) uint8 in the model's channel order, from the resized BGR image."""
        if self.spec.pixels.channel_order == "RGB":
            return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)[None]
        return np.ascontiguousarray(resized)[None]

    def finish(self, image_id: str, outputs: dict, transform: ImageTransform) -> int:
        """Decode, post-process and write one image's detections (writer thread)."""
        network_hw = transform.network_hw or self.spec.input.hw  # size policy hook: per image
        assert network_hw is not None
        try:
            levels = decode_outputs(outputs, self.spec.layout, network_hw, score_floor(self.preset))
        except RfbenchError as exc:  # outputs that do not fit the layout: name the model
            raise RfbenchError(f"{self.spec.path}: {exc}") from exc
        dets = postprocess(levels, self.preset, transform)
        if not np.isfinite(dets.boxes).all():  # finite outputs whose box regression overflowed
            raise RfbenchError(
                f"{self.spec.path}: its outputs decode to non-finite boxes on {image_id} (box "
                "regressions too large for exp: not a RetinaFace output?); nothing was written "
                "for this image")
        # the sidecar first: the prediction file marks the image done for --resume, so a write
        # that fails between the two (a full disk) must not leave a done image without landmarks
        write_landmarks_file(landmarks_dir_for(self.pred_dir), image_id, dets)  # for the report
        write_prediction_file(self.pred_dir, image_id, submission_xywhs(dets, self.preset))
        return len(dets)

    def run(self, image_ids: Sequence[str], progress: bool = True,
            on_image: Callable[[str, int | None], None] | None = None) -> PipelineStats:
        """Predict every image still pending; interruption keeps every file already written.

        ``progress``: show a display on stderr (a bar with rate and ETA on a terminal, a line
        every ~10 s otherwise; silent under ``rfbench -q``). ``on_image(image_id, n)`` is called
        after each image: n detections written, or None for an image skipped as unreadable (a
        worker process reports progress with it).
        """
        from rfbench.console.progress import make_progress

        todo = self.pending(image_ids)
        if todo:
            warm_up_kernels()
        stats = PipelineStats(images_total=len(image_ids), images_resumed=len(image_ids) - len(todo))
        if stats.images_resumed:
            log.info("resuming: %d of %d images already predicted", stats.images_resumed, len(image_ids))
        start = time.perf_counter()
        bar = make_progress(len(todo), desc="eval", unit="img", enabled=None if progress else False)
        try:
            if self.lanes > 1:
                run_lanes(self, todo, stats, bar, on_image)
            else:
                self._run_stages(todo, stats, bar, on_image)
        except BaseException:
            getattr(bar, "abandon", bar.close)()  # no "done" line under the run's error
            raise
        finally:
            bar.close()
            stats.wall_s = time.perf_counter() - start
        return stats

    def _run_stages(self, todo: Sequence[str], stats: PipelineStats, bar,
                    on_image: Callable[[str, int | None], None] | None) -> None:
        """One image at a time through inference, the reader and writer threads beside it, or
        (``overlap`` False) every stage in turn in this thread."""
        overlap = self.overlap if self.overlap is not None else usable_cores() > 1
        reader = _stage_executor(overlap, "rfbench-read")
        writer = _stage_executor(overlap, "rfbench-write")
        written: deque[Future] = deque()
        try:
            for item in self._prefetched(reader, todo, PREFETCH if overlap else 0):
                if item.error is not None:
                    self.skipped(stats, bar, item, on_image)
                    continue
                outputs, infer_s = self.infer_checked(item)
                stats.infer_s += infer_s
                written.append(writer.submit(self._finish_one, item.image_id, outputs, item.transform))
                del item, outputs  # freed before the next image is read (inline: its memory is reused)
                while len(written) > WRITE_BACKLOG or (written and written[0].done()):
                    self.count(stats, bar, written.popleft().result(), on_image)
            while written:
                self.count(stats, bar, written.popleft().result(), on_image)
        finally:
            reader.shutdown(wait=True, cancel_futures=True)
            writer.shutdown(wait=True)  # let started writes land: nothing half-done is lost

    def infer_checked(self, item: Prepared) -> tuple[dict, float]:
        """Inference on a prepared image: (outputs, seconds it took); non-finite outputs raise."""
        t0 = time.perf_counter()
        outputs = self.infer({self.spec.input.name: item.tensor})
        took = time.perf_counter() - t0
        check_finite_outputs(outputs, self.spec.path, item.image_id)
        return outputs, took

    @staticmethod
    def skipped(stats: PipelineStats, bar, item: Prepared,
                on_image: Callable[[str, int | None], None] | None) -> None:
        """Count an unreadable image (skipped, not --strict)."""
        assert item.error is not None
        log.warning("skipping image: %s", item.error)
        stats.failed.append((item.image_id, item.error))
        bar.update(1)
        if on_image is not None:
            on_image(item.image_id, None)

    def _finish_one(self, image_id: str, outputs: dict, transform: ImageTransform | None) -> tuple[str, int]:
        if transform is None:  # a prepared image always has one
            raise ValueError(f"{image_id}: no pre-processing transform")
        return image_id, self.finish(image_id, outputs, transform)

    @staticmethod
    def count(stats: PipelineStats, bar, done: tuple[str, int],
              on_image: Callable[[str, int | None], None] | None) -> None:
        """Count an image written: ``done`` is (image id, detections)."""
        stats.num_detections += done[1]
        stats.images_predicted += 1
        bar.update(1)
        if on_image is not None:
            on_image(*done)

    def _prefetched(self, reader: ThreadPoolExecutor | _InlineExecutor, todo: Sequence[str],
                    ahead: int) -> Iterator[Prepared]:
        """The prepared images in order, with ``ahead`` more submitted while each is in use (the
        reader thread works meanwhile); ``ahead`` 0 (inline): the next image is read only once
        the consumer asks for it, so its tensor is still in the cache at its inference."""
        queue: deque[Future] = deque()
        ids = iter(todo)

        def top_up(size: int) -> None:
            while len(queue) < size and (image_id := next(ids, None)) is not None:
                queue.append(reader.submit(self.prepare, image_id))

        top_up(max(ahead, 1))
        while queue:
            item = queue.popleft().result()
            top_up(ahead)
            yield item
            del item  # the image just used is freed before the next one is read
            top_up(1)
