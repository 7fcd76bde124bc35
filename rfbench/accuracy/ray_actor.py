"""The Ray actor of ``rfbench eval --ray`` (:class:`ShardWorker`) and what it reports.

Kept free of ``import ray``: the driver (:mod:`rfbench.accuracy.ray_pool`) wraps the class with
``ray.remote``. Each actor opens the model once, runs the ordinary
:class:`~rfbench.accuracy.pipeline.PredictionRun` on one shard per call into a scratch folder
on its node and returns the prediction files' bytes.
"""

from __future__ import annotations

import os
import platform
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.errors import RfbenchError

if TYPE_CHECKING:
    from rfbench.accuracy.options import ModelRunOptions

VERSION_KEYS = ("rfbench_version", "runtime", "runtime_version")


def describe_host() -> dict[str, Any]:
    """Where this process runs: host, CPU model, CPU count and the versions that matter."""
    import cv2
    import numpy

    from rfbench import __version__

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"pid": os.getpid(), "host": socket.gethostname(), "cpu": cpu, "cpus": os.cpu_count(),
            "python": platform.python_version(), "rfbench_version": __version__,
            "numpy": numpy.__version__, "opencv": cv2.__version__}


class ShardWorker:
    """A Ray actor's state: the model opened once; one shard predicted per call."""

    def __init__(self, options: ModelRunOptions, images_dir: str, ship_images: bool) -> None:
        from rfbench.accuracy.model_run import open_placed

        self.info = describe_host()
        self.images_dir, self.ship_images = images_dir, ship_images
        self.problem: str | None = None
        if not ship_images and not Path(images_dir).is_dir():
            self.problem = (f"worker on host {self.info['host']} cannot see the data root: {images_dir} "
                            "(use a shared filesystem or --ship-images)")
            return
        if not Path(options.model).is_file():
            self.problem = f"worker on host {self.info['host']} cannot see the model: {options.model}"
            return
        self.options = options
        placed, (self.adapter, self.spec, self.preset) = open_placed(options, None)  # no slice: its
        self.info.update(placed)  # node's other actors' cores are unknown
        describe = self.adapter.describe()
        self.info.update(threads=describe["effective"].get("threads"), runtime=describe["runtime"],
                         runtime_version=describe["runtime_version"])

    def ready(self) -> dict[str, Any]:
        """Host, CPU, versions and threads of this actor, or ``{"problem": one line}``."""
        return {"problem": self.problem} if self.problem else dict(self.info)

    def predict(self, image_ids: list[str], images: list[bytes] | None) -> dict[str, Any]:
        """Predict ``image_ids``; returns ``files`` (image id -> prediction file bytes),
        ``failed`` ((image id, reason) of unreadable images) and ``infer_s``.

        ``images``: the JPEG bytes in ``image_ids`` order (``--ship-images``), else read from
        the shared data root.
        """
        from rfbench.accuracy.landmarks import landmarks_path
        from rfbench.accuracy.pipeline import PredictionRun
        from rfbench.wider.predictions import prediction_path

        with tempfile.TemporaryDirectory(prefix="rfbench-shard-") as scratch:
            images_dir = Path(self.images_dir)
            if images is not None:
                images_dir = Path(scratch) / "images"
                for image_id, data in zip(image_ids, images, strict=True):
                    path = images_dir / f"{image_id}.jpg"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if data:  # empty: unreadable on the driver; reported as not found
                        path.write_bytes(data)
            pred_dir = Path(scratch) / "predictions"
            runner = PredictionRun(self.adapter.infer, self.spec, self.preset, self.options.resize,
                                   images_dir, pred_dir, strict=self.options.strict,
                                   overlap=(self.options.threads or 1) > 1,  # Ray gave it that many CPUs
                                   u8_images=self.adapter.image_pixels is not None)
            stats = runner.run(image_ids, progress=False)
            failed = [(i, reason.replace(str(images_dir), self.images_dir)) for i, reason in stats.failed]
            unread = {i for i, _ in failed}
            predicted = [i for i in image_ids if i not in unread]
            files = {i: prediction_path(pred_dir, i).read_bytes() for i in predicted}
            landmarks = {i: landmarks_path(pred_dir, i).read_bytes() for i in predicted}
        from rfbench.accuracy.placement import peak_rss_mb

        return {"files": files, "landmarks": landmarks, "failed": failed, "infer_s": stats.infer_s,
                "peak_rss_mb": peak_rss_mb()}


def versions_of(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info.get(k) for k in VERSION_KEYS}


def check_versions(info: dict[str, Any], driver: dict[str, Any]) -> None:
    """RfbenchError (one line) when the actor's rfbench/runtime versions differ from the driver's."""
    theirs = versions_of(info)
    if theirs != driver:
        differ = ", ".join(f"{k} {theirs[k]} (driver: {driver[k]})" for k in VERSION_KEYS if theirs[k] != driver[k])
        raise RfbenchError(f"worker on host {info.get('host')} (pid {info.get('pid')}) refused: {differ}; "
                           "install the same versions on every node")
