"""numba's cache always has a writable place (a read-only install must still import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rfbench.decoder.compiled import fallback_cache_dir


def test_no_fallback_while_numba_has_a_place(tmp_path):
    kernels = (tmp_path / "pkg" / "decoder", tmp_path / "pkg" / "wider")
    for folder in kernels:
        folder.mkdir(parents=True)
    assert fallback_cache_dir(kernels, tmp_path / "home" / ".cache" / "numba", tmp_path / "tmp") is None


def test_fallback_for_folders_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    kernels = (blocker / "decoder",)  # under a file: never writable
    chosen = fallback_cache_dir(kernels, blocker / ".cache" / "numba", tmp_path / "tmp")
    assert chosen is not None and chosen.parent == tmp_path / "tmp" and chosen.name.startswith("rfbench-numba-")


def test_a_given_numba_cache_dir_is_used(tmp_path):
    probe = ("import numpy as np; from rfbench.decoder.nms import nms; "
             "print(len(nms(np.array([[0, 0, 9, 9.], [1, 1, 9, 9]]), np.array([.9, .8]), .5)))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"
    assert any(Path(tmp_path / "cache").rglob("*.nbi"))  # numba wrote its index there
