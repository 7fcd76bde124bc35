"""Reading WIDER text files (GT text, prediction files): encoding, line ends, number syntax.

Every text reader of :mod:`rfbench.wider` goes through :func:`read_text_lines`, so a UTF-8
byte-order mark and Windows (CRLF) or old Mac (CR) line ends give exactly the same lines as a
plain LF file. Lines are split on line ends only (not on form feeds or Unicode separators, which
``str.splitlines`` would treat as line breaks).

Numbers are checked against the official formats' plain syntax before they are converted, so
Python literal forms (``1_38``, ``0x10``), words (``inf``, ``nan``) and non-ASCII digits are
file:line errors instead of silently different numbers:

- counts (faces per image, boxes per file): plain non-negative integers, ``[0-9]+``;
- GT values ``x y w h`` and the attributes: plain decimals with an optional sign, no exponent
  (``-2``, ``3.5``; the official file holds integers, and one negative width); the attributes
  (blur ... pose, 0..2 in the official file) must also be whole and non-negative;
- prediction values ``x y w h score``: plain decimals that may carry an exponent (``1.5e-05``), as
  C's ``%g`` (and rfbench itself) writes small scores.

Whole blocks of rows are first checked with a character class (``GT_ROW_CHARS``,
``PREDICTION_ROW_CHARS``): over those characters, what ``float`` accepts is exactly the plain
syntax above, so the fast path and the line-by-line regexes agree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rfbench.errors import RfbenchError

_SEP = r"[ \t]+"
_COUNT = r"[0-9]+"
_DECIMAL = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_FLOAT = _DECIMAL + r"(?:[eE][-+]?[0-9]+)?"

COUNT_LINE = re.compile(rf"[ \t]*{_COUNT}[ \t]*")
NEGATIVE_COUNT_LINE = re.compile(r"[ \t]*-[0-9]+[ \t]*")
# x y w h, then 0..6 attributes (blur expression illumination invalid occlusion pose).
GT_ROW_LINE = re.compile(rf"[ \t]*{_DECIMAL}(?:{_SEP}{_DECIMAL}){{3,9}}[ \t]*")
GT_ROW_CHARS = re.compile(r"[0-9 \t.+\-]*")
PREDICTION_ROW_LINE = re.compile(rf"[ \t]*{_FLOAT}(?:{_SEP}{_FLOAT}){{4}}[ \t]*")
PREDICTION_ROW_CHARS = re.compile(r"[0-9 \t.+\-eE]*")


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` without their ends: a leading BOM dropped, LF, CRLF and CR all end a line.

    A final line end does not start an extra line (``"a\\nb\\n"`` -> ``["a", "b"]``).
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":  # split always gives at least one part
        lines.pop()
    return lines


def read_text_lines(path: str | Path, what: str) -> list[str]:
    """Read a UTF-8 text file (BOM allowed) as :func:`split_lines`; RfbenchError names the file.

    ``what`` says what the file is for the error message ("ground truth", "prediction file").
    """
    try:
        text = _read_bytes(path).decode("utf-8")
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise RfbenchError(f"{path}: cannot read {what}: not UTF-8 text (byte {exc.start})") from exc
    return split_lines(text)


def _read_bytes(path: str | Path) -> bytes:
    """The file's bytes through the descriptor alone (no file object: an eval reads ~3,000
    prediction files, and this is half the time of ``open().read()``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def parse_count(text: str) -> int | None:
    """A plain non-negative integer count, or None if ``text`` is anything else."""
    return int(text) if COUNT_LINE.fullmatch(text) else None
