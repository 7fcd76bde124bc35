"""The user's choices for a model run (``rfbench eval --model``), as one frozen record that
the model run, its size policies, the worker processes and the Ray actors all read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rfbench.accuracy.image_cache import DEFAULT_MAX_MB

if TYPE_CHECKING:
    from rfbench.decoder.sizing import SizePolicy
    from rfbench.decoder.tta import TtaPlan


@dataclass(frozen=True)
class ModelRunOptions:
    """The user's choices for a model run (CLI options, validated by the adapters)."""

    model: Path
    runtime: str | None = None
    device: str = "CPU"
    precision: str | None = "f32"
    threads: int | None = None
    streams: int | None = None
    input_hw: tuple[int, int] | None = None
    layout: str | None = None
    output_names: dict[str, str] | None = None
    channel_order: str | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    preset: str = "omz"
    resize: str = "stretch"
    strict: bool = False
    input_size: SizePolicy | None = None  # --input-size as a policy (wins over input_hw)
    tta: TtaPlan | None = None  # --flip / --scales / --merge
    image_cache: Path | None = None  # --image-cache: resized images shared between runs (sweep)
    image_cache_mb: int = DEFAULT_MAX_MB  # its bound
    #: feed OpenVINO on CPU the resized uint8 image and let it convert (exact: the same
    #: outputs, tested; ``eval``'s default, ``--feed u8``); False: the float32 tensor, which
    #: callers of :func:`~rfbench.accuracy.model_run.open_model` feed its adapter
    u8_feed: bool = False
