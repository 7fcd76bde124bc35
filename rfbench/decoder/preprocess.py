"""Reading images and turning them into network input tensors, exactly like OMZ.

OMZ's accuracy runs: ``cv2.imread`` (BGR uint8), ``cv2.resize`` to the network size with
INTER_LINEAR on uint8 (aspect ratio not kept, no padding), then float32 NCHW with the model's
pixel normalisation. ``letterbox`` is the aspect-preserving alternative.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from rfbench.errors import RfbenchError

RESIZE_MODES = ("stretch", "letterbox")
#: Largest image read (width x height from the file's header): 100 Mpx is 300 MB decoded; a
#: WIDER image is about 0.7 Mpx, and a few bytes of PNG can declare gigapixels.
MAX_IMAGE_PIXELS = 100_000_000


@dataclass(frozen=True)
class ImageTransform:
    """Per-axis affine map from original-image pixels to network-input pixels.

    ``x_net = x_orig * scale_x + offset_x`` and ``y_net = y_orig * scale_y + offset_y``.

    Attributes:
        scale_x, scale_y: network pixels per original pixel (> 0).
        offset_x, offset_y: network-pixel offset (letterbox padding; 0 for a plain resize).
        network_hw: ``(height, width)`` of the network input in pixels, when known; the
            ``insightface`` post-processing preset clips boxes to it.
    """

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0
    network_hw: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not (self.scale_x > 0 and self.scale_y > 0):
            raise ValueError(f"ImageTransform scales must be > 0, got {self.scale_x}, {self.scale_y}")

    @classmethod
    def stretch(cls, original_hw: tuple[int, int], network_hw: tuple[int, int]) -> ImageTransform:
        """The transform of a plain resize of an ``original_hw`` image to ``network_hw``.

        Aspect ratio not kept, no padding (what OMZ's accuracy runs do with ``cv2.resize``).
        """
        (oh, ow), (nh, nw) = original_hw, network_hw
        return cls(nw / ow, nh / oh, 0.0, 0.0, (int(nh), int(nw)))

    def to_original(self, boxes_or_points: np.ndarray) -> np.ndarray:
        """Boxes ``(N, 4)`` x1, y1, x2, y2 or points ``(..., 2)`` x, y from network-input to
        original-image pixels: a float64 array of the same shape, ``(v - offset) / scale``."""
        a = np.array(boxes_or_points, dtype=np.float64, copy=True)
        if a.ndim == 0 or a.shape[-1] not in (2, 4):
            raise ValueError(f"expected points (..., 2) or boxes (N, 4), got shape {a.shape}")
        if a.shape[-1] == 4 and a.ndim != 2:
            raise ValueError(f"boxes must be (N, 4), got shape {a.shape}")
        pairs = a.reshape(-1, 2)  # x, y columns as two long strided runs (fast for (N, 5, 2))
        for axis, offset, scale in ((0, self.offset_x, self.scale_x), (1, self.offset_y, self.scale_y)):
            pairs[:, axis] -= offset
            pairs[:, axis] /= scale
        return a


@dataclass(frozen=True)
class PixelFormat:
    """How the network wants its pixels: ``(pixel[channel_order] - mean) / scale``.

    ``channel_order``: "BGR" or "RGB"; ``mean`` and ``scale``: per channel, in that order.
    """

    channel_order: str = "BGR"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """E.g. ``RGB 0..255, no mean, no scale`` or ``BGR minus (104, 117, 123)``."""
        parts = [f"{self.channel_order} 0..255"]
        mean = ", ".join(f"{v:g}" for v in self.mean)
        scale = ", ".join(f"{v:g}" for v in self.scale)
        parts.append("no mean" if not any(self.mean) else f"minus ({mean})")
        parts.append("no scale" if all(v == 1 for v in self.scale) else f"divided by ({scale})")
        return ", ".join(parts)


# Layout A (insightface MXNet via OMZ IR): raw BGR 0..255, normalisation inside the net. OMZ's
# IR was converted with the channels reversed, so it is fed BGR; insightface's own MXNet model
# (and so `rfbench import` of it) wants RGB, which the imported model declares in its metadata.
PIXELS_LAYOUT_A = PixelFormat("BGR", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
# Layout B (biubug6 exports): BGR minus (104, 117, 123), no scaling.
PIXELS_LAYOUT_B = PixelFormat("BGR", (104.0, 117.0, 123.0), (1.0, 1.0, 1.0))


class ImageReadError(RfbenchError):
    """An image file is missing, unreadable or corrupt."""


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR, the pixels ``cv2.imread`` gives; ImageReadError naming the file.

    The file is read once and decoded with ``cv2.imdecode`` (the same decoder as ``cv2.imread``).
    Grayscale, CMYK and 16-bit files come out as 8-bit BGR (cv2's conversion); an EXIF
    orientation tag is ignored (the pixels as stored, the frame WIDER's boxes are in); a file
    whose header declares more than :data:`MAX_IMAGE_PIXELS` is refused before it is decoded.
    OpenCV decodes a truncated JPEG or PNG without an error (the missing part comes out grey,
    libjpeg only writes a warning on stderr), so the file's structure is checked first: see
    :func:`truncation_problem`. Corruption inside the compressed data that libjpeg silently
    recovers from cannot be seen through OpenCV and is not detected.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: image not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read image: {exc.strerror or exc}") from exc
    if not data:  # cv2.imdecode asserts on an empty buffer (a cv2.error traceback)
        raise ImageReadError(f"{path}: empty image file (0 bytes)")
    problem = truncation_problem(data)
    if problem is not None:
        raise ImageReadError(f"{path}: truncated or corrupt image ({problem})")
    size = declared_size(data)  # other formats: OpenCV's own limit, 2**30 px, applies
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ImageReadError(f"{path}: image of {size[0]}x{size[1]} px is over the "
                             f"{MAX_IMAGE_PIXELS // 1_000_000} Mpx rfbench reads")
    # IGNORE_ORIENTATION: WIDER's boxes are in the stored pixel frame, so an EXIF orientation
    # tag must not rotate the pixels (cv2's IMREAD_COLOR alone applies it)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8),
                         cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None or image.size == 0:
        raise ImageReadError(f"{path}: not a readable image (corrupt or unsupported format)")
    return image


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) a JPEG's first frame header or a PNG's IHDR declares, else None."""
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if not data.startswith(_JPEG_START):
        return None
    for marker, pos, _ in _jpeg_segments(data):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return int(width), int(height)
    return None


_JPEG_START, _JPEG_EOI = b"\xff\xd8", b"\xff\xd9"
_JPEG_SOS = 0xDA
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0..7 carry no length
_PNG_SIGNATURE, _PNG_IEND = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def truncation_problem(data: bytes) -> str | None:
    """Why an encoded JPEG or PNG is cut short, or None (also None for other formats).

    JPEG: the header segments are walked by their lengths (so an EXIF thumbnail inside APP1 is
    skipped) to the first start-of-scan; the end-of-image marker ``FF D9`` must come after it
    (inside compressed data every ``FF`` byte is stuffed, so the marker cannot appear there by
    chance; bytes after the end marker are allowed). PNG: the ``IEND`` chunk must be present.
    """
    if data.startswith(_JPEG_START):
        scan = next((end for marker, _, end in _jpeg_segments(data) if marker == _JPEG_SOS), None)
        if scan is None or scan > len(data):
            return "JPEG ends inside its header"
        if not data.endswith(_JPEG_EOI) and data.find(_JPEG_EOI, scan) < 0:
            return "JPEG end-of-image marker missing"
    elif data.startswith(_PNG_SIGNATURE) and data.rfind(_PNG_IEND) < 0:
        return "PNG IEND chunk missing"
    return None


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """``(marker, offset, end)`` of each JPEG header segment with a length, walked by those
    lengths up to the first start-of-scan; it stops where the data ends or holds no marker."""
    pos = 2
    while pos + 1 < len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF or marker in _JPEG_STANDALONE:  # a fill byte; TEM and RST0..7
            pos += 1 if marker == 0xFF else 2
            continue
        if pos + 4 > len(data):
            return
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        yield marker, pos, end
        if marker == _JPEG_SOS:
            return
        pos = end


def resize_image(image: np.ndarray, network_hw: tuple[int, int], mode: str) -> tuple[np.ndarray, ImageTransform]:
    """Resize a (H, W, 3) uint8 image onto the network canvas.

    ``stretch``: ``cv2.resize`` to exactly ``network_hw`` (INTER_LINEAR, on uint8).
    ``letterbox``: one scale for both axes so the image fits, pasted top-left; the rest of the
    canvas is filled after normalisation with 0 (see :func:`to_tensor`). Returns the resized
    (h, w, 3) uint8 image and the original -> network transform.
    """
    height, width = image.shape[:2]
    net_h, net_w = network_hw
    if mode == "stretch":
        resized = cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
        return resized, ImageTransform.stretch((height, width), (net_h, net_w))
    if mode == "letterbox":
        scale = min(net_w / width, net_h / height)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        transform = ImageTransform(new_w / width, new_h / height, 0.0, 0.0, (net_h, net_w))
        return resized, transform
    raise RfbenchError(f"unknown resize mode {mode!r} (choose from {', '.join(RESIZE_MODES)})")


def to_tensor(resized: np.ndarray, network_hw: tuple[int, int], pixels: PixelFormat, layout: str = "NCHW") -> np.ndarray:
    """(h, w, 3) uint8 BGR -> (1, 3, H, W) float32 (or (1, H, W, 3) for NHWC), normalised;
    the area outside the resized image (letterbox) is 0."""
    net_h, net_w = network_hw
    h, w = resized.shape[:2]
    mean = np.asarray(pixels.mean, dtype=np.float32)
    scale = np.asarray(pixels.scale, dtype=np.float32)
    planes = cv2.split(resized)  # B, G, R uint8 planes: 6x faster than a float32 transpose copy
    if pixels.channel_order == "RGB":
        planes = planes[::-1]
    full = (h, w) == (net_h, net_w)
    out = np.empty((1, 3, net_h, net_w), np.float32) if full else np.zeros((1, 3, net_h, net_w), np.float32)
    for c, plane in enumerate(planes):
        region = out[0, c, :h, :w]
        # u8 -> f32 and the mean in one pass: float32(u8) - float32(mean), the exact difference
        # of two float32 numbers rounded once, as numpy's float32 subtraction gives it (tested)
        done = cv2.subtract(plane, float(mean[c]), dst=region if full else None,  # type: ignore[call-overload]
                            dtype=cv2.CV_32F)
        if done is not region:
            region[...] = done
        if scale[c] != 1.0:
            region /= scale[c]
    if layout == "NHWC":
        return np.ascontiguousarray(out[0].transpose(1, 2, 0)[None])
    return out


def preprocess(
    image: np.ndarray, network_hw: tuple[int, int], pixels: PixelFormat, mode: str = "stretch",
    layout: str = "NCHW",
) -> tuple[np.ndarray, ImageTransform]:
    """(H, W, 3) uint8 BGR image -> (network tensor, original -> network transform)."""
    resized, transform = resize_image(image, network_hw, mode)
    return to_tensor(resized, network_hw, pixels, layout), transform


def preprocess_scaled(
    image: np.ndarray, scale: float, pixels: PixelFormat, layout: str = "NCHW", *,
    float32_resize: bool = False, canvas: tuple[int, int] | None = None,
) -> tuple[np.ndarray, ImageTransform]:
    """Isotropic-scale pre-processing of the per-image size policies (:mod:`rfbench.decoder.sizing`).

    Args:
        image: (H, W, 3) uint8 BGR.
        scale: network pixels per original pixel, both axes: ``cv2.resize(img, None, fx=scale,
            fy=scale)``, INTER_LINEAR, to ``round(w * scale) x round(h * scale)`` (none at 1).
        float32_resize: resize ``np.float32(image)`` (Pytorch_Retinaface's
            ``test_widerface.py``), which OpenCV interpolates in floating point, not uint8.
        canvas: network (H, W) when larger than the resized image (padding bottom/right with 0
            after normalisation); default the resized image's size.
    Returns:
        (tensor float32 (1, 3, h, w) or (1, h, w, 3), transform ``x_net = x * scale``).
    """
    resized = image.astype(np.float32) if float32_resize else image
    if scale != 1.0:
        resized = cv2.resize(resized, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    network_hw = canvas or (int(resized.shape[0]), int(resized.shape[1]))
    tensor = to_tensor(resized, network_hw, pixels, layout)
    return tensor, ImageTransform(float(scale), float(scale), 0.0, 0.0, network_hw)
