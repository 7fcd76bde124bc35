"""Shared test fixtures: where the real data in ``../shared/fixtures`` lives.

The path is resolved in one place: ``$RFBENCH_FIXTURES`` if set, else ``../shared/fixtures``
beside the checkout. Under CI (``CI`` set) a missing folder fails the run loudly; on a developer
machine the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def reference_r50_onnx(tmp_path_factory: pytest.TempPathFactory):
    """The reference RetinaFace-R50 ONNX graph, built once per session into a temporary
    ``RFBENCH_CACHE`` (kept set for the session, so later ``reference_model_path()`` calls reuse it)."""
    from rfbench.models.reference_r50 import reference_model_path

    patch = pytest.MonkeyPatch()
    patch.setenv("RFBENCH_CACHE", str(tmp_path_factory.mktemp("rfbench-cache")))
    yield reference_model_path()
    patch.undo()
