"""Latency at the sizes an eval uses: ``rfbench latency --input-size native|S:L --input-data DIR``.

The images of ``DIR`` (``*.jpg``, ``*.png``, recursively, sorted; at most :data:`MAX_IMAGES`
and :data:`MAX_INPUT_BYTES` of tensors) are read and sized with the eval's policy
(:mod:`rfbench.decoder.sizing`) before any timing, as raw BGR float32 (pixel values do not change
the timing). Each timed call feeds the next image's tensor (cycling): the adapter binds that
size and runs one synchronous inference; the bind is inside the timed call. Besides the latency
per image, the run reports the latency per megapixel: the summed latencies over the summed
megapixels of the inputs they ran on.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.decoder.preprocess import PixelFormat, read_image
from rfbench.decoder.sizing import ImageSizer, SizePolicy, size_summary
from rfbench.errors import RfbenchError
from rfbench.latency.loop import SyncWorkload
from rfbench.models.spec import plan_input

log = logging.getLogger(__name__)

MAX_IMAGES = 16
MAX_INPUT_BYTES = 1 << 30
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class SizedInputs:
    """Prepared inputs of the images of ``data_dir`` at the policy's sizes."""

    policy: SizePolicy
    data_dir: Path
    input_name: str
    adapter_shape: tuple[int, ...]
    tensors: list[np.ndarray]
    megapixels: list[float]  # of each tensor's H x W
    sizer: ImageSizer = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """The policy and the sizes of the inputs (``input_sizes`` of the eval record's form)."""
        h_dim, w_dim = (2, 3) if self.adapter_shape[1] == 3 else (1, 2)
        sizes = Counter((int(t.shape[h_dim]), int(t.shape[w_dim])) for t in self.tensors)
        return size_summary(self.policy, sizes, self.sizer.tally.padded)


def load_sized_inputs(model: Path, policy: SizePolicy, data_dir: Path) -> SizedInputs:
    """Read and size the images of ``data_dir`` for ``model`` (a dynamic model; RfbenchError if not)."""
    if not policy.per_image:
        raise RfbenchError(f"--input-size {policy.text} with --input-data: give native or SHORT:LONG "
                           f"(a fixed size is --input-shape 1x3x{policy.hw[0] if policy.hw else 'H'}x"
                           f"{policy.hw[1] if policy.hw else 'W'})")
    plan = plan_input(model, policy)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise RfbenchError(f"--input-data {data_dir}: not a folder")
    paths = sorted(p for p in data_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise RfbenchError(f"--input-data {data_dir}: no .jpg or .png images found")
    sizer = ImageSizer(policy, PixelFormat(), plan.layout)
    tensors: list[np.ndarray] = []
    megapixels: list[float] = []
    total = 0
    for path in paths[:MAX_IMAGES]:
        tensor, transform = sizer(read_image(path), str(path.relative_to(data_dir)))
        if tensors and total + tensor.nbytes > MAX_INPUT_BYTES:
            break
        assert transform.network_hw is not None
        tensors.append(tensor)
        megapixels.append(transform.network_hw[0] * transform.network_hw[1] / 1e6)
        total += tensor.nbytes
    if len(tensors) < len(paths):
        log.info("--input-data: timing the first %d of %d images", len(tensors), len(paths))
    assert plan.adapter_shape is not None
    return SizedInputs(policy, data_dir, plan.name, plan.adapter_shape, tensors, megapixels, sizer)


class SizedSyncWorkload(SyncWorkload):
    """Latency mode over inputs of several sizes: each call binds the next one and runs it.

    ``timed_megapixels``: the megapixels of every timed (recorded) call, in order.
    """

    def __init__(self, adapter: Any, inputs: SizedInputs) -> None:
        self.adapter, self.inputs = adapter, inputs
        self.timed_megapixels: list[float] = []
        self._next = 0
        self._timing = True
        super().__init__(self._run_next)

    def _run_next(self) -> None:
        k = self._next % len(self.inputs.tensors)
        self.adapter.sync_runner({self.inputs.input_name: self.inputs.tensors[k]})()
        self._next += 1
        if self._timing:
            self.timed_megapixels.append(self.inputs.megapixels[k])

    def warm(self) -> None:
        self._timing = False
        try:
            super().warm()
        finally:
            self._timing = True


def sized_run_fields(workload: SizedSyncWorkload, latencies_ns: list[int] | np.ndarray) -> dict[str, Any]:
    """The extra fields of a latency run at the eval's sizes (per image and per megapixel)."""
    lat_ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    mp = np.asarray(workload.timed_megapixels[: lat_ms.size], dtype=np.float64)
    per_mp = float(lat_ms[: mp.size].sum() / mp.sum()) if mp.size and mp.sum() > 0 else None
    return {
        "input_size_policy": workload.inputs.policy.text,
        "input_data": str(workload.inputs.data_dir),
        "input_images": len(workload.inputs.tensors),
        "latency_per_megapixel_ms": per_mp,
        "megapixels_mean": float(mp.mean()) if mp.size else None,
        "input_sizes": workload.inputs.summary(),
    }
