"""VOC AP of the 27 official WIDER PR curves equals the published table (fixtures README)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from published_ap import PUBLISHED_AP

from rfbench.evaluation import voc_ap

CASES = [(m, s, ap) for m, aps in PUBLISHED_AP.items() for s, ap in zip(("easy", "medium", "hard"), aps)]


def load_pr_curve(path) -> np.ndarray:
    """(K, 2) [precision, recall] from a MATLAB v5 or v7.3 (HDF5, transposed) file."""
    try:
        return np.asarray(scipy.io.loadmat(str(path))["pr_cruve"], dtype=np.float64)
    except NotImplementedError:  # v7.3
        import h5py

        with h5py.File(path, "r") as handle:
            return np.asarray(handle["pr_cruve"], dtype=np.float64).T


@pytest.mark.parametrize(("method", "setting", "expected"), CASES, ids=[f"{m}-{s}" for m, s, _ in CASES])
def test_official_curve_ap_matches_published(fixtures_dir, method, setting, expected):
    curve = load_pr_curve(fixtures_dir / "wider-pr-curves" / f"wider_pr_info_{method}_{setting}_val.mat")
    assert curve.shape[1] == 2
    assert voc_ap(curve[:, 0], curve[:, 1]) == pytest.approx(expected, abs=1e-6)


def test_voc_ap_ignores_nan_precision_at_high_thresholds():
    precision = np.array([np.nan, np.nan, 1.0, 0.5])
    recall = np.array([0.0, 0.0, 0.5, 1.0])
    # envelope: 1.0 up to recall 0.5, then 0.5 up to 1.0
    assert voc_ap(precision, recall) == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)


def test_voc_ap_uses_the_envelope_not_the_raw_curve():
    precision = np.array([0.5, 1.0])
    recall = np.array([0.25, 0.5])
    assert voc_ap(precision, recall) == pytest.approx(0.5)
