"""Network inputs made from the real WIDER images of ``wider-mini``, independently of rfbench's
own pre-processing (plain OpenCV + NumPy), for the tests that feed a model directly.

Shared by ``conftest.py`` (the session-wide ONNX Runtime run of the fixture models) and the tests
that build their own feeds (runtimes, reference graph).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: Image paths relative to the ``wider_mini`` data root.
PARADE = "WIDER_val/images/0--Parade/0_Parade_marchingband_1_149.jpg"  # 24 faces
DEMONSTRATION = "WIDER_val/images/2--Demonstration/2_Demonstration_Demonstration_Or_Protest_2_58.jpg"
GROUP = "WIDER_val/images/12--Group/12_Group_Group_12_Group_Group_12_10.jpg"

#: Per-channel BGR mean the biubug6 models (layout B, ``retinaface-mnet025-640``) subtract.
BIUBUG6_MEAN_BGR = (104.0, 117.0, 123.0)


def network_input(image_path: Path, width: int, height: int,
                  mean_bgr: tuple[float, float, float] | None = None) -> np.ndarray:
    """The image as a network input: BGR resized (bilinear) to ``height x width``, as float32,
    minus ``mean_bgr`` when given (raw 0..255 otherwise); C-contiguous, shape (1, 3, H, W)."""
    image = cv2.imread(str(image_path))
    assert image is not None, image_path
    x = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if mean_bgr is not None:
        x -= np.asarray(mean_bgr, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
