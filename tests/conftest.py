"""Shared test fixtures: where the real data in ``../shared/fixtures`` lives, and the set-up
several test files need (the ONNX Runtime run of the fixture models on a real image, the real
results folders of the report tests).

The path is resolved in one place: ``$RFBENCH_FIXTURES`` if set, else ``../shared/fixtures``
beside the checkout. Under CI (``CI`` set) a missing folder fails the run loudly; on a developer
machine the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from real_inputs import BIUBUG6_MEAN_BGR, network_input

REPO_ROOT = Path(__file__).resolve().parents[1]


def _fixtures_root() -> Path:
    env = os.environ.get("RFBENCH_FIXTURES")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "fixtures"


def pytest_sessionstart(session: pytest.Session) -> None:
    root = _fixtures_root()
    if os.environ.get("CI") and not (root / "README.md").is_file():
        raise pytest.UsageError(
            f"test fixtures not found at {root}: set RFBENCH_FIXTURES or put shared/ beside the checkout"
        )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Root of the shared fixtures (wider-mini, wider-val-gt, wider-pr-curves, models)."""
    root = _fixtures_root()
    if not (root / "README.md").is_file():
        pytest.skip(f"fixtures not found at {root} (set RFBENCH_FIXTURES)")
    return root


@pytest.fixture(scope="session")
def wider_mini(fixtures_dir: Path) -> Path:
    """Data root with five real WIDER val images and their GT text."""
    return fixtures_dir / "wider-mini"


@pytest.fixture(scope="session")
def val_gt_dir(fixtures_dir: Path) -> Path:
    """Full official val ground truth: the four .mat files and the GT text."""
    return fixtures_dir / "wider-val-gt"


@pytest.fixture(scope="session")
def models_dir(fixtures_dir: Path) -> Path:
    """Trained RetinaFace MobileNet-0.25 ONNX models (layouts A and B)."""
    return fixtures_dir / "models"


@pytest.fixture()
def twenty_images(tmp_path: Path, wider_mini: Path) -> tuple[Path, list[str]]:
    """(images folder, 20 image ids): 4 copies of each of the 5 fixture images in a WIDER images
    folder under ``tmp_path``; copies, so that a test may spoil one."""
    sources = sorted((wider_mini / "WIDER_val" / "images").rglob("*.jpg"))
    images = tmp_path / "images"
    ids = []
    for copy in range(4):
        for src in sources:
            image_id = f"{src.parent.name}/c{copy}_{src.stem}"
            (images / src.parent.name).mkdir(parents=True, exist_ok=True)
            (images / f"{image_id}.jpg").write_bytes(src.read_bytes())
            ids.append(image_id)
    return images, ids


@pytest.fixture(scope="session")
def reference_r50_onnx(tmp_path_factory: pytest.TempPathFactory):
    """The reference RetinaFace-R50 ONNX graph, built once per session into a temporary
    ``RFBENCH_CACHE`` (kept set for the session, so later ``reference_model_path()`` calls reuse it)."""
    from rfbench.models.reference_r50 import reference_model_path

    patch = pytest.MonkeyPatch()
    patch.setenv("RFBENCH_CACHE", str(tmp_path_factory.mktemp("rfbench-cache")))
    yield reference_model_path()
    patch.undo()


#: The trained fixture models the ORT run covers: name -> BGR mean subtracted from the input.
MNET_FEEDS = {"omzlayout": None, "640": BIUBUG6_MEAN_BGR}


@pytest.fixture(scope="session")
def mnet_ort_outputs(models_dir: Path, wider_mini: Path
                     ) -> Callable[[str], dict[str, dict[str, np.ndarray]]]:
    """ONNX Runtime (CPU, plain ``InferenceSession``) outputs of the layout-A and layout-B
    fixture models on one wider-mini image, run once per image for the whole session.

    ``mnet_ort_outputs(image)`` (``image`` relative to the data root) returns
    ``{"omzlayout": {...}, "640": {...}}``, each ``{output name: float32 array}``, from a
    1x3x640x640 bilinear resize: raw BGR 0..255 for ``omzlayout`` (layout A, nine heads),
    BGR minus (104, 117, 123) for ``640`` (layout B, three heads). The arrays are shared, so
    they are read-only.
    """
    ort = pytest.importorskip("onnxruntime")
    sessions = {name: ort.InferenceSession(str(models_dir / f"retinaface-mnet025-{name}.onnx"),
                                           providers=["CPUExecutionProvider"])
                for name in MNET_FEEDS}
    cache: dict[str, dict[str, dict[str, np.ndarray]]] = {}

    def run(image: str) -> dict[str, dict[str, np.ndarray]]:
        if image not in cache:
            result = {}
            for name, mean in MNET_FEEDS.items():
                sess = sessions[name]
                feed = network_input(wider_mini / image, 640, 640, mean)
                out = sess.run(None, {sess.get_inputs()[0].name: feed})
                for array in out:
                    array.flags.writeable = False
                result[name] = dict(zip([o.name for o in sess.get_outputs()], out))
            cache[image] = result
        return cache[image]

    return run


def _cli(*argv: str) -> int:
    from rfbench.cli import main

    return main(list(argv))


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory, wider_mini: Path, val_gt_dir: Path,
              models_dir: Path) -> dict[str, Path]:
    """Real results folders of the 640 model on ONNX Runtime, made once per session: ``eval``
    (five images), ``lat`` (a short latency run) and ``prof`` (profile).

    The latency run is short on purpose: an iteration budget of 10 with validity minimums of 10
    inferences and no minimum time, so its length and verdict do not depend on the machine's
    load. Its exit status must still agree with its verdict.
    """
    root = tmp_path_factory.mktemp("runs")
    model = str(models_dir / "retinaface-mnet025-640.onnx")
    assert _cli("-q", "eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir),
                "--model", model, "--runtime", "onnxruntime", "--out", str(root / "eval")) == 0
    code = _cli("-q", "latency", "--model", model, "--runtime", "onnxruntime", "--iterations", "10",
                "--min-time", "0", "--min-iterations", "10", "--warmup", "1", "--out", str(root / "lat"))
    record = json.loads((root / "lat" / "results.json").read_text())
    assert code == (0 if record["valid"] else 1), (code, record.get("runs"))
    assert record["valid"] or all(run["invalid_reason"] for run in record["runs"] if not run["valid"])
    assert _cli("-q", "profile", "--model", model, "--out", str(root / "prof")) == 0
    return {"eval": root / "eval", "lat": root / "lat", "prof": root / "prof"}
