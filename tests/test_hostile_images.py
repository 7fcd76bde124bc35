"""Hostile images (issue 25): 1x1, huge, grayscale, CMYK, 16-bit, alpha, EXIF-rotated, empty,
a folder. Legitimate ones read as 8-bit BGR in the stored pixel frame (checked against Pillow's
decode, an independent decoder); a huge one is refused from its header, before decoding, with
one line naming the file.

EXIF orientation is NOT applied: WIDER's boxes are in the stored pixel frame (the official
tools read pixels as stored), so a rotated decode would misplace every GT box. cv2's
``IMREAD_COLOR`` alone applies it; rfbench reads with ``IMREAD_IGNORE_ORIENTATION``.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli
from PIL import Image

from rfbench.decoder.preprocess import (
    MAX_IMAGE_PIXELS,
    ImageReadError,
    PixelFormat,
    preprocess,
    read_image,
)

MODEL = "retinaface-mnet025-640.onnx"
PARADE = "0--Parade/0_Parade_marchingband_1_149"


def jpeg_bytes(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **save)
    return buffer.getvalue()


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The same JPEG (same compressed pixels) with an EXIF APP1 segment saying ``orientation``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()  # b"Exif\0\0" + the TIFF structure
    assert payload.startswith(b"Exif\x00\x00")
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose IHDR declares ``width`` x ``height`` (CRC correct)."""
    real = cv2.imencode(".png", np.zeros((2, 2), np.uint8))[1].tobytes()
    ihdr = b"IHDR" + struct.pack(">II", width, height) + real[24:29]
    return real[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + real[33:]


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(jpeg_bytes(Image.new("RGB", (8, 8))))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def pil_bgr(path: Path) -> np.ndarray:
    """Pillow's decode as stored (no EXIF transpose), as 8-bit BGR."""
    with Image.open(path) as image:
        if image.mode == "I;16":
            rgb = np.repeat((np.asarray(image, dtype=np.float64) / 257.0)[..., None], 3, axis=2)
            return np.rint(rgb).astype(np.uint8)
        return np.asarray(image.convert("RGB"))[..., ::-1]


@pytest.fixture()
def parade_jpeg(wider_mini) -> bytes:
    return (wider_mini / "WIDER_val" / "images" / f"{PARADE}.jpg").read_bytes()


def test_one_by_one_image_reads_and_feeds_the_network(tmp_path):
    path = tmp_path / "one.jpg"
    path.write_bytes(jpeg_bytes(Image.new("RGB", (1, 1), (10, 200, 30))))
    image = read_image(path)
    assert image.shape == (1, 1, 3)
    tensor, transform = preprocess(image, (640, 640), PixelFormat())
    assert tensor.shape == (1, 3, 640, 640) and transform.scale_x == 640.0


@pytest.mark.parametrize("kind", ["grayscale", "cmyk", "alpha-png", "16-bit-png"])
def test_other_pixel_formats_read_as_8_bit_bgr_like_pillow(tmp_path, kind):
    rng = np.random.default_rng(1)
    path = tmp_path / "x.jpg"
    if kind == "grayscale":
        path.write_bytes(jpeg_bytes(Image.fromarray(rng.integers(0, 256, (24, 40), np.uint8))))
    elif kind == "cmyk":
        path.write_bytes(jpeg_bytes(Image.fromarray(rng.integers(0, 256, (24, 40, 4), np.uint8),
                                                    "CMYK")))
    elif kind == "alpha-png":
        path.write_bytes(cv2.imencode(".png", rng.integers(0, 256, (24, 40, 4), np.uint8))[1])
    else:
        path.write_bytes(cv2.imencode(".png", rng.integers(0, 65536, (24, 40), np.uint16))[1])
    image = read_image(path)
    assert image.shape == (24, 40, 3) and image.dtype == np.uint8
    if kind == "alpha-png":
        assert np.array_equal(image, cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., :3])
    else:  # two JPEG decoders (libjpeg-turbo builds) may differ by a level or two
        assert np.abs(image.astype(int) - pil_bgr(path).astype(int)).max() <= 3, kind


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_not_applied(tmp_path, parade_jpeg, orientation):
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(with_exif_orientation(parade_jpeg, orientation))
    with Image.open(rotated) as check:
        assert check.getexif().get(0x0112) == orientation  # the tag is really there
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(parade_jpeg)
    assert np.array_equal(read_image(rotated), read_image(plain))  # the stored frame
    assert cv2.imdecode(np.frombuffer(rotated.read_bytes(), np.uint8), cv2.IMREAD_COLOR).shape \
        != read_image(plain).shape or orientation == 3  # what a plain cv2 read would give


@pytest.mark.parametrize(("fmt", "width", "height"), [
    ("png", 20_000, 20_000), ("png", 2_000_000, 1), ("jpeg", 60_000, 60_000),
    ("png", 200_000, 200_000)], ids=["png-400mpx", "png-2mpx-wide", "jpeg-3600mpx", "png-bomb"])
def test_huge_image_is_refused_from_its_header(tmp_path, fmt, width, height):
    path = tmp_path / "huge.jpg"
    path.write_bytes((png_claiming if fmt == "png" else jpeg_claiming)(width, height))
    if width * height <= MAX_IMAGE_PIXELS:  # within the limit: decoded (and corrupt, here)
        with pytest.raises(ImageReadError, match="huge.jpg") as exc:
            read_image(path)
        assert "Mpx" not in str(exc.value)
        return
    with pytest.raises(ImageReadError, match=r"huge\.jpg: image .*over the 100 Mpx"):
        read_image(path)


@pytest.mark.parametrize("make", ["empty", "folder", "text", "fifo"])
def test_image_that_is_not_an_image_file_names_it(tmp_path, make):
    import os

    path = tmp_path / "x.jpg"
    if make == "empty":
        path.write_bytes(b"")
    elif make == "folder":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)  # reading it would block forever
    else:
        path.write_text("GIF89a? no: just text\n")
    with pytest.raises(ImageReadError, match="x.jpg"):
        read_image(path)


def _data_root(tmp_path: Path, images: dict[str, bytes]) -> tuple[Path, Path]:
    root = tmp_path / "root"
    for image_id, data in images.items():
        path = root / "WIDER_val" / "images" / f"{image_id}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{i}.jpg\n1\n10 10 80 80 0 0 0 0 0 0\n" for i in images))
    return root, gt


@pytest.mark.slow
def test_eval_over_odd_but_legitimate_images_scores_them_all(capsys, tmp_path, parade_jpeg,
                                                             models_dir):
    """One eval over a 1x1, grayscale, CMYK, 16-bit, alpha and EXIF-rotated image: exit 0, a
    prediction file for each; the EXIF-rotated Parade image's file is byte for byte the plain
    one's (the tag changes nothing)."""
    rng = np.random.default_rng(2)
    images = {
        "e/one": jpeg_bytes(Image.new("RGB", (1, 1))),
        "e/gray": jpeg_bytes(Image.fromarray(rng.integers(0, 256, (64, 96), np.uint8))),
        "e/cmyk": jpeg_bytes(Image.fromarray(rng.integers(0, 256, (64, 96, 4), np.uint8), "CMYK")),
        "e/deep": cv2.imencode(".png", rng.integers(0, 65536, (64, 96), np.uint16))[1].tobytes(),
        "e/alpha": cv2.imencode(".png", rng.integers(0, 256, (64, 96, 4), np.uint8))[1].tobytes(),
        "p/plain": parade_jpeg,
        "p/rotated": with_exif_orientation(parade_jpeg, 6),
    }
    root, gt = _data_root(tmp_path, images)
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "eval", "--data-root", root, "--gt-text", gt, "--protocol",
                           "omz", "--model", models_dir / MODEL, "--runtime", "onnxruntime",
                           "--strict", "--out", out)
    assert code == 0, err
    preds = out / "predictions"
    assert all((preds / f"{i}.txt").is_file() for i in images)
    plain = (preds / "p/plain.txt").read_text().splitlines()[1:]
    rotated = (preds / "p/rotated.txt").read_text().splitlines()[1:]
    assert plain == rotated and int(plain[0]) >= 24


def test_eval_strict_stops_at_a_huge_image_with_one_line(capsys, tmp_path, models_dir):
    root, gt = _data_root(tmp_path, {"e/huge": png_claiming(30_000, 30_000)})
    code, _, err = run_cli(capsys, "eval", "--data-root", root, "--gt-text", gt, "--protocol",
                           "omz", "--model", models_dir / MODEL, "--runtime", "onnxruntime",
                           "--strict", "--out", tmp_path / "out")
    assert code == 2
    line = one_line_error(err)
    assert "huge.jpg" in line and "30000x30000" in line
    assert not (tmp_path / "out" / "predictions" / "e" / "huge.txt").exists()


def test_latency_input_data_with_a_huge_image_names_it(capsys, tmp_path, models_dir):
    data = tmp_path / "data"
    data.mkdir()
    (data / "big.png").write_bytes(png_claiming(50_000, 50_000))
    code, _, err = run_cli(capsys, "latency", "--model", models_dir / "retinaface-mnet025-dynamic.onnx",
                           "--runtime", "onnxruntime", "--input-size", "native", "--input-data",
                           data, "--iterations", "2", "--out", tmp_path / "lat")
    assert code == 2 and "big.png" in one_line_error(err)
    assert not (tmp_path / "lat").exists()


def test_declared_size_agrees_with_pillow_on_real_and_made_files(tmp_path, wider_mini, parade_jpeg):
    from rfbench.decoder.preprocess import declared_size

    files = [p.read_bytes() for p in sorted((wider_mini / "WIDER_val" / "images").rglob("*.jpg"))]
    files += [with_exif_orientation(parade_jpeg, 6), png_claiming(123, 45), jpeg_claiming(77, 5),
              cv2.imencode(".png", np.zeros((9, 31, 3), np.uint8))[1].tobytes(),
              jpeg_bytes(Image.new("CMYK", (13, 7)), progressive=True)]
    for data in files:
        with Image.open(io.BytesIO(data)) as image:
            assert declared_size(data) == image.size
    assert declared_size(b"BM not a jpeg or png") is None
