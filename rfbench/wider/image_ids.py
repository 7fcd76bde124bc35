"""WIDER image ids (``"<event>/<name>"``) and the one way paths are built from them.

An id is exactly two non-empty path parts joined by one ``/``: no ``.`` or ``..`` part, no
absolute or drive part, no backslash, colon, control character or surrounding blank. The GT
reader refuses anything else with the file and line; :func:`safe_join` checks again wherever an
image path or a prediction path is built, so an id that came from elsewhere (an API caller, a
future list format) still cannot read outside the images folder or write outside ``--out``.

The check is lexical: symbolic links a user placed inside the data root are followed as usual.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rfbench.errors import RfbenchError

_FORBIDDEN_CHARACTERS = ("\\", ":")


#: Ids of letters, digits, ``_``, ``-`` and inner dots (WIDER's): plain, without the checks below.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_\-.]*/[A-Za-z0-9_\-][A-Za-z0-9_\-.]*")


def image_id_problem(image_id: str) -> str | None:
    """Why ``image_id`` is not a plain ``<event>/<name>``, or None when it is one."""
    if _PLAIN_ID.fullmatch(image_id):
        return None
    parts = image_id.split("/")
    if len(parts) != 2:
        return f"{len(parts) - 1} '/' separators instead of one"
    for part in parts:
        if part in ("", ".", ".."):
            return f"path part {part!r} is empty, '.' or '..'"
        if part != part.strip() or not part.isprintable():
            return f"path part {part!r} has blanks around it or control characters"
        bad = [c for c in _FORBIDDEN_CHARACTERS if c in part]
        if bad:
            return f"path part {part!r} contains {bad[0]!r}"
    return None


def safe_join(root: str | Path, image_id: str, suffix: str) -> Path:
    """``root/<event>/<name><suffix>`` for a plain id; RfbenchError naming ``root`` otherwise.

    ``suffix`` is a file extension such as ``".jpg"`` or ``".txt"`` (no separator allowed).
    """
    problem = image_id_problem(image_id)
    if problem is None and ("/" in suffix or "\\" in suffix):
        problem = f"suffix {suffix!r} contains a separator"
    if problem is not None:
        raise RfbenchError(
            f"{root}: refusing image id {image_id!r}: {problem} (an id is '<event>/<name>')"
        )
    event, name = image_id.split("/")
    return Path(os.path.join(root, event, name + suffix))  # one Path built (3x faster than two /)
