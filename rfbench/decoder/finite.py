"""Non-finite raw outputs are an error, never a silent AP of 0 or a NaN box in a prediction file.

A model that outputs NaN or inf (a broken export, an overflow at low precision) would otherwise
lose its NaN scores silently in the score threshold and write NaN boxes into prediction files.
:func:`check_finite_outputs` runs on the raw output tensors of each inference, before decoding
(``eval --model``), and on the first inference of each runtime (``latency``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from rfbench.errors import RfbenchError


class NonFiniteOutputError(RfbenchError):
    """A model output holds NaN or inf (the message names the model, the output and the input)."""


def check_finite_outputs(outputs: Mapping[str, np.ndarray], model_path: str | os.PathLike[str],
                         image_id: str) -> None:
    """RfbenchError (one line) if any output array holds NaN or +-inf.

    ``outputs``: ``{output name: array}`` as the runtime returned them (any shape, float or
    integer dtype; integer arrays are always finite). ``model_path`` and ``image_id`` (an image
    id, or a description of the input such as ``"random input (seed 0)"``) name the culprit.
    Cost: one pass over the outputs (``np.isfinite(...).all()``), small next to inference.
    """
    for name, array in outputs.items():
        values = np.asarray(array)
        if values.dtype.kind not in "fc" or np.isfinite(values).all():
            continue
        nan = int(np.isnan(values).sum())
        inf = int(np.isinf(values).sum())
        raise NonFiniteOutputError(
            f"{model_path}: output '{name}' holds non-finite values on {image_id} "
            f"({nan} NaN, {inf} inf of {values.size}); stopped before decoding, nothing was "
            "written for this input"
        )
