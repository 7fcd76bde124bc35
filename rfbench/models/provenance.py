"""Where a model came from, when ``rfbench quantize`` made it: the provenance sidecar beside it.

``<stem>.quantize.json`` is written by :mod:`rfbench.quantize.output` and read here by the
records of the commands that run a model (``eval`` and ``latency`` show it).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)


def sidecar_path(model_path: Path) -> Path:
    """The provenance JSON beside a quantized model: ``<stem>.quantize.json``."""
    return Path(model_path).with_suffix(".quantize.json")


def read_provenance(model_path: str | os.PathLike) -> dict[str, Any] | None:
    """The sidecar of a model made by ``rfbench quantize``, or None.

    None when there is no sidecar, it is unreadable or not a
    :class:`~rfbench.results.quantize_record.Provenance`, or its recorded sha256 is not the
    model's (a model replaced after quantization). For ``eval`` / ``latency`` to show where a
    model came from (their records' ``provenance``).
    """
    from pydantic import ValidationError

    from rfbench.models.files import model_sha256
    from rfbench.results.quantize_record import Provenance

    path = sidecar_path(Path(model_path))
    if not path.is_file():
        return None
    try:
        sidecar = Provenance.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("%s: not a valid quantize provenance sidecar, ignored (%s)", path,
                    str(exc).splitlines()[0])
        return None
    recorded = sidecar.quantized_model.sha256
    try:
        actual = model_sha256(Path(model_path))
    except RfbenchError:
        return None
    if recorded != actual:
        log.warning("%s: its model's sha256 is no longer the one it records, ignored", path)
        return None
    return sidecar.model_dump(mode="json", exclude_unset=True)


def provenance_field(model_path: str | os.PathLike) -> dict[str, Any]:
    """``{"provenance": sidecar}`` for a model made by ``rfbench quantize`` (its sidecar
    matches the model's sha256), else ``{}``: the eval / latency record's optional
    ``provenance`` stays absent for every other model."""
    sidecar = read_provenance(model_path)
    return {} if sidecar is None else {"provenance": sidecar}
