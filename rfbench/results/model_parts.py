"""Parts of a record that describe how rfbench reads a model, shared by several kinds
(``eval``'s ``model``, ``quantize``'s calibration pre-processing)."""

from __future__ import annotations

from rfbench.results.record import Part, Real


class PixelFormat(Part):
    """Network input pixels: ``(pixel - mean) / scale`` per channel, in ``channel_order``."""

    channel_order: str
    mean: list[Real]
    scale: list[Real]


class OutputLayout(Part):
    """Decoder layout ``A`` (insightface heads) or ``B`` (biubug6) and its output names by role."""

    kind: str
    names: dict[str, str]
