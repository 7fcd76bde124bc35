"""The sweep matrix: which cells there are, which can run, and why the others cannot.

A cell is (model file, runtime, precision). ``int8`` means "quantize this model for this
runtime" (``rfbench quantize``); ``f32`` / ``bf16`` run the model as it is. From the command
line (comma lists) or a TOML file (``models``, ``runtimes``, ``precisions`` and the optional
tables ``[data]``, ``[latency]``, ``[quantize]``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError

RUNTIMES = ("openvino", "onnxruntime")
PRECISIONS = ("f32", "bf16", "int8")


@dataclass(frozen=True)
class Cell:
    """One configuration; ``key`` names its results folder."""

    model: Path
    runtime: str
    precision: str

    @property
    def key(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model.stem)
        return f"{stem}--{self.runtime}--{self.precision}"

    @property
    def baseline(self) -> Cell:
        """The f32 cell of the same model and runtime (what deltas are taken against)."""
        return Cell(self.model, self.runtime, "f32")


def static_skip_reason(cell: Cell) -> str | None:
    """Why a cell cannot run, decided from the matrix alone (None: try it)."""
    if cell.runtime == "onnxruntime" and cell.model.suffix.lower() == ".xml":
        return "ONNX Runtime cannot read an OpenVINO IR (.xml)"
    if cell.runtime == "onnxruntime" and cell.precision == "bf16":
        return "ONNX Runtime's CPU provider has no bf16 inference precision"
    return None


def split_list(text: str | list[str] | None, what: str, choices: tuple[str, ...] | None = None) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ["a", "b"], checked against ``choices``."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text or []) if s.strip()]
    if not items:
        raise RfbenchError(f"--{what}: give at least one value")
    for item in items:
        if choices and item not in choices:
            raise RfbenchError(f"--{what} {item!r}: choose from {', '.join(choices)}")
    return items


def build_cells(models: list[str], runtimes: list[str], precisions: list[str]) -> list[Cell]:
    """Every combination, in model, runtime, precision order; unknown model files fail here."""
    for model in models:
        if not Path(model).is_file():
            raise RfbenchError(f"--model {model}: file not found")
    return [Cell(Path(m), r, p) for m, r, p in itertools.product(models, runtimes, precisions)]


def read_config(path: Path) -> dict[str, Any]:
    """A sweep TOML file as a dict; RfbenchError names the file and the problem."""
    try:
        import tomllib
    except ImportError as exc:  # Python 3.10
        raise RfbenchError("--config needs Python 3.11 or newer (tomllib)") from exc
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RfbenchError(f"{path}: not valid TOML ({exc})") from exc
    known = {"models", "runtimes", "precisions", "data", "latency", "quantize", "out"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise RfbenchError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return config
