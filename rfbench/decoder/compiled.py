"""numba for rfbench's compiled kernels, with an on-disk cache that always has a place.

numba caches machine code next to a module (its ``__pycache__``) or in the user's cache folder;
with neither writable (a read-only install in a container without a home) ``cache=True`` fails
when the module is imported. Then ``NUMBA_CACHE_DIR`` is pointed at a folder under the system's
temporary directory before numba is imported. The kernel modules take ``numba`` from here.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

KERNEL_DIRS = (Path(__file__).parent / "decoder", Path(__file__).parent / "wider")


def _writable(folder: Path) -> bool:
    """Whether ``folder`` exists and can be written, or could be created where it would go."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def fallback_cache_dir(kernel_dirs: tuple[Path, ...], user_cache: Path, temp: Path) -> Path | None:
    """The cache folder numba must be given, or None when its own places can be written: every
    kernel folder's ``__pycache__``, else the user cache."""
    if all(_writable(d / "__pycache__") for d in kernel_dirs) or _writable(user_cache):
        return None
    return temp / f"rfbench-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


if "NUMBA_CACHE_DIR" not in os.environ and "numba" not in sys.modules:
    _user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    _chosen = fallback_cache_dir(KERNEL_DIRS, _user_cache, Path(tempfile.gettempdir()))
    if _chosen is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(_chosen)
        log.info("numba's cache: %s (rfbench's folders and the user cache are read-only)", _chosen)

import numba  # noqa: E402 -- after NUMBA_CACHE_DIR is settled

__all__ = ["numba", "fallback_cache_dir"]
