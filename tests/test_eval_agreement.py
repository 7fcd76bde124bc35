"""rfbench's vectorised WIDER evaluators against the plain reference in ``reference_eval.py``.

* The full official val GT is parsed here from the fixture files, independently of rfbench's reader.
* Generated predictions (``gen_predictions.py``, fixed seed) over all 3,226 val images are evaluated
  by both implementations: in memory, through submission files, and with GT from rfbench's loader.
* Small hand-made cases whose answers are worked out in the comments.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio
from gen_predictions import (
    GeneratedPredictions,
    format_prediction_file,
    generate_predictions,
    write_submission,
)
from published_ap import PUBLISHED_AP
from reference_eval import (
    RefResult,
    evaluate_official_reference,
    evaluate_omz_reference,
    omz_ground_truth,
    voc_ap,
)

SETTINGS = ("easy", "medium", "hard")
NAN = float("nan")


# ----------------------------------------------------------------------------------------------
# Ground truth, parsed here (not with rfbench.wider.ground_truth)
# ----------------------------------------------------------------------------------------------


@dataclass
class ValGT:
    image_ids: list[str]
    boxes: list[np.ndarray]  # (n, 4) float64 x y w h, all-zero rows removed
    invalid: list[np.ndarray]  # (n,) bool
    settings: dict[str, list[np.ndarray]]  # 0-based indices per image
    num_rows: int  # rows in the .mat, all-zero rows included
    faceless: list[str]


def _cell_str(cell) -> str:
    return str(np.asarray(cell).ravel()[0])


def parse_val_mat(val_gt_dir: Path) -> ValGT:
    face = sio.loadmat(val_gt_dir / "wider_face_val.mat")
    image_ids: list[str] = []
    boxes: list[np.ndarray] = []
    invalid: list[np.ndarray] = []
    zero_rows: list[np.ndarray] = []
    faceless: list[str] = []
    num_rows = 0
    for e in range(face["event_list"].shape[0]):
        event = _cell_str(face["event_list"][e, 0])
        files = face["file_list"][e, 0]
        bbx = face["face_bbx_list"][e, 0]
        inv = face["invalid_label_list"][e, 0]
        for i in range(files.shape[0]):
            image_id = f"{event}/{_cell_str(files[i, 0])}"
            b = np.asarray(bbx[i, 0], dtype=np.float64).reshape(-1, 4)
            flags = np.asarray(inv[i, 0]).ravel().astype(bool)
            num_rows += len(b)
            zero = (b == 0).all(axis=1)
            if zero.any():
                faceless.append(image_id)
            image_ids.append(image_id)
            boxes.append(b[~zero])
            invalid.append(flags[~zero])
            zero_rows.append(zero)
    settings: dict[str, list[np.ndarray]] = {}
    for setting in SETTINGS:
        mat = sio.loadmat(val_gt_dir / f"wider_{setting}_val.mat")
        lists: list[np.ndarray] = []
        n = 0
        for e in range(mat["event_list"].shape[0]):
            event = _cell_str(mat["event_list"][e, 0])
            files = mat["file_list"][e, 0]
            for i in range(files.shape[0]):
                assert f"{event}/{_cell_str(files[i, 0])}" == image_ids[n]
                one_based = np.asarray(mat["gt_list"][e, 0][i, 0]).ravel().astype(np.int64)
                zero = zero_rows[n]
                # 1-based rows of the .mat -> 0-based rows with the all-zero rows removed
                new_index = np.cumsum(~zero) - 1
                assert not zero[one_based - 1].any(), "gt_list points at an all-zero row"
                lists.append(new_index[one_based - 1].astype(np.int64))
                n += 1
        assert n == len(image_ids)
        settings[setting] = lists
    return ValGT(image_ids, boxes, invalid, settings, num_rows, faceless)


def parse_gt_text(path: Path) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """The official GT text: name, count N, N rows (count 0 or 1 plus a zero row when face-less).
    Returns ids (no extension), boxes x y w h (all-zero rows dropped), invalid flags."""
    lines = path.read_text().splitlines()
    ids, boxes, invalid = [], [], []
    pos = 0
    while pos < len(lines):
        name = lines[pos].strip()
        if not name:
            pos += 1
            continue
        count = int(lines[pos + 1])
        rows = [[int(v) for v in lines[pos + 2 + j].split()] for j in range(max(count, 1))]
        pos += 2 + max(count, 1)
        arr = np.array(rows, dtype=np.float64).reshape(-1, 10)
        arr = arr[~(arr[:, :4] == 0).all(axis=1)]
        ids.append(name[: -len(".jpg")] if name.endswith(".jpg") else name)
        boxes.append(arr[:, :4].copy())
        invalid.append(arr[:, 7].astype(bool))
    return ids, boxes, invalid


@pytest.fixture(scope="module")
def val_gt(val_gt_dir: Path) -> ValGT:
    return parse_val_mat(val_gt_dir)


@pytest.fixture(scope="module")
def generated(val_gt: ValGT) -> GeneratedPredictions:
    return generate_predictions(val_gt.image_ids, val_gt.boxes)


@pytest.fixture(scope="module")
def reference_results(val_gt: ValGT, generated: GeneratedPredictions) -> dict[str, RefResult]:
    preds = generated.as_list()
    out = {
        s: evaluate_official_reference(val_gt.boxes, val_gt.settings[s], preds) for s in SETTINGS
    }
    out["omz"] = evaluate_omz_reference(val_gt.boxes, preds)
    return out


@pytest.fixture(scope="module")
def rf_gt(val_gt: ValGT):
    from rfbench.wider.ground_truth import WiderGroundTruth

    return WiderGroundTruth.from_arrays(
        val_gt.image_ids, val_gt.boxes, setting_indices=val_gt.settings, invalid=val_gt.invalid
    )


# ----------------------------------------------------------------------------------------------
# Comparison helpers
# ----------------------------------------------------------------------------------------------


def assert_same_result(
    got, ref: RefResult, *, num_images: int, num_predictions: int, what: str, zero_for_nan=False
):
    """Same AP (1e-12), counts and PR arrays. ``zero_for_nan``: where the reference precision is
    0/0 (NaN), 0 is accepted too (the OMZ accuracy checker reports 0 there)."""
    assert abs(got.ap - ref.ap) <= 1e-12, f"{what}: AP {got.ap!r} != reference {ref.ap!r}"
    assert got.num_faces == ref.num_faces, what
    assert got.num_images == num_images, what
    assert got.num_predictions == num_predictions, what
    precision = np.asarray(got.precision, dtype=np.float64)
    recall = np.asarray(got.recall, dtype=np.float64)
    assert precision.shape == ref.precision.shape, what
    assert recall.shape == ref.recall.shape, what
    np.testing.assert_allclose(recall, ref.recall, rtol=0, atol=1e-12, err_msg=f"{what}: recall")
    expected = ref.precision
    if zero_for_nan:
        undefined = np.isnan(expected)
        assert np.all(np.isnan(precision[undefined]) | (precision[undefined] == 0)), what
        precision = np.where(undefined, np.nan, precision)
    np.testing.assert_allclose(
        precision, expected, rtol=0, atol=1e-12, equal_nan=True, err_msg=f"{what}: precision"
    )


def check_all(official: dict, omz, reference_results, *, num_images: int, num_predictions: int):
    assert set(official) == set(SETTINGS)
    for s in SETTINGS:
        assert_same_result(
            official[s],
            reference_results[s],
            num_images=num_images,
            num_predictions=num_predictions,
            what=f"official {s}",
        )
    assert_same_result(
        omz,
        reference_results["omz"],
        num_images=num_images,
        num_predictions=num_predictions,
        what="omz",
        zero_for_nan=True,
    )


def check_full_val(official: dict, omz, reference_results, val_gt: ValGT,
                   generated: GeneratedPredictions) -> None:
    """:func:`check_all` for the generated predictions on the full val set."""
    check_all(official, omz, reference_results, num_images=len(val_gt.image_ids),
              num_predictions=generated.total)


# ----------------------------------------------------------------------------------------------
# The ground truth itself
# ----------------------------------------------------------------------------------------------


def test_val_gt_counts(val_gt: ValGT):
    assert len(val_gt.image_ids) == 3226
    assert len({i.split("/")[0] for i in val_gt.image_ids}) == 61
    assert val_gt.num_rows == 39708
    assert sum(len(b) for b in val_gt.boxes) == 39704
    assert len(val_gt.faceless) == 4
    assert sum(int(v.sum()) for v in val_gt.invalid) == 585
    counts = {s: sum(len(g) for g in val_gt.settings[s]) for s in SETTINGS}
    assert counts == {"easy": 7211, "medium": 13319, "hard": 31958}
    for s in SETTINGS:  # no duplicates, all in range
        for b, g in zip(val_gt.boxes, val_gt.settings[s], strict=True):
            assert len(np.unique(g)) == len(g)
            assert g.size == 0 or (g.min() >= 0 and g.max() < len(b))


def test_gt_text_matches_mat_and_omz_count(val_gt: ValGT, val_gt_dir: Path):
    ids, boxes, invalid = parse_gt_text(val_gt_dir / "wider_face_val_bbx_gt.txt")
    assert ids == val_gt.image_ids
    for a, b in zip(boxes, val_gt.boxes, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(invalid, val_gt.invalid, strict=True):
        np.testing.assert_array_equal(a, b)
    counted = sum(int((~omz_ground_truth(b)[1]).sum()) for b in boxes)
    assert counted == 5044
    assert evaluate_omz_reference(boxes, [None] * len(boxes)).num_faces == 5044


def _read_pr_curve(path: Path) -> np.ndarray:
    try:
        curve = sio.loadmat(path)["pr_cruve"]
    except NotImplementedError:  # MATLAB v7.3 = HDF5, arrays transposed
        with h5py.File(path, "r") as f:
            curve = np.asarray(f["pr_cruve"]).T
    return np.asarray(curve, dtype=np.float64)


def test_reference_voc_ap_on_published_curves(fixtures_dir: Path):
    """The reference VOC AP (NaN-ignoring envelope) reproduces the published table."""
    folder = fixtures_dir / "wider-pr-curves"
    for method, aps in PUBLISHED_AP.items():
        for setting, expected in zip(SETTINGS, aps, strict=True):
            curve = _read_pr_curve(folder / f"wider_pr_info_{method}_{setting}_val.mat")
            assert curve.ndim == 2 and curve.shape[1] == 2  # 100, 1000 or 3000 rows
            assert abs(voc_ap(curve[:, 0], curve[:, 1]) - expected) < 5e-7, (method, setting)


# ----------------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_generated_predictions_are_realistic(val_gt: ValGT, generated: GeneratedPredictions):
    assert 40_000 <= generated.total <= 50_000
    assert len(generated.missing) > 50 and len(generated.empty) > 30
    for image_id in generated.missing:
        assert image_id not in generated.predictions
    for image_id in generated.empty:
        assert generated.predictions[image_id].shape == (0, 5)
    for image_id in val_gt.faceless:
        assert len(generated.predictions[image_id]) > 0
    scores = np.concatenate([p[:, 4] for p in generated.predictions.values()])
    assert scores.min() == 0.0 and scores.max() == 1.0
    assert len(np.unique(scores)) < len(scores) * 0.8  # plenty of ties
    unsorted = sum(
        1 for p in generated.predictions.values() if len(p) > 1 and (np.diff(p[:, 4]) > 0).any()
    )
    assert unsorted > 1500
    within_ties = sum(1 for p in generated.predictions.values() if len(np.unique(p[:, 4])) < len(p))
    assert within_ties > 300
    again = generate_predictions(val_gt.image_ids, val_gt.boxes)
    assert again.missing == generated.missing
    for k, v in generated.predictions.items():
        np.testing.assert_array_equal(again.predictions[k], v)


# ----------------------------------------------------------------------------------------------
# Agreement on the full val GT
# ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_agreement_in_memory(rf_gt, val_gt, generated, reference_results):
    from rfbench.evaluation import evaluate_official, evaluate_omz

    official = evaluate_official(rf_gt, generated.predictions)
    omz = evaluate_omz(rf_gt, generated.predictions)
    check_full_val(official, omz, reference_results, val_gt, generated)


@pytest.mark.slow
def test_agreement_through_files(rf_gt, val_gt, generated, reference_results, tmp_path_factory):
    from rfbench.evaluation import evaluate_official, evaluate_omz
    from rfbench.wider.predictions import read_predictions

    pred_dir = tmp_path_factory.mktemp("submission")
    assert write_submission(pred_dir, generated) == len(generated.predictions)
    preds, missing = read_predictions(pred_dir, val_gt.image_ids)
    assert sorted(missing) == sorted(generated.missing)
    assert set(preds) == set(generated.predictions)
    for image_id, expected in generated.predictions.items():
        got = np.asarray(preds[image_id], dtype=np.float64)
        assert got.shape == expected.shape, image_id
        np.testing.assert_array_equal(got, expected, err_msg=image_id)  # file order kept, exact
    official = evaluate_official(rf_gt, preds)
    omz = evaluate_omz(rf_gt, preds)
    check_full_val(official, omz, reference_results, val_gt, generated)


@pytest.mark.slow
def test_agreement_with_loaded_gt(val_gt, val_gt_dir, generated, reference_results, tmp_path):
    from rfbench.evaluation import evaluate_official, evaluate_omz
    from rfbench.wider.ground_truth import load_ground_truth

    root = tmp_path / "WIDER"
    (root / "wider_face_split").mkdir(parents=True)
    (root / "eval_tools" / "ground_truth").mkdir(parents=True)
    os.symlink(
        val_gt_dir / "wider_face_val_bbx_gt.txt",
        root / "wider_face_split" / "wider_face_val_bbx_gt.txt",
    )
    for name in ("face", *SETTINGS):
        os.symlink(
            val_gt_dir / f"wider_{name}_val.mat",
            root / "eval_tools" / "ground_truth" / f"wider_{name}_val.mat",
        )
    gt = load_ground_truth(root)
    assert list(gt.image_ids) == val_gt.image_ids
    for image_id, a, b in zip(gt.image_ids, gt.boxes_xywh, val_gt.boxes, strict=True):
        np.testing.assert_array_equal(np.asarray(a, dtype=np.float64).reshape(-1, 4), b, image_id)
    for a, b in zip(gt.invalid, val_gt.invalid, strict=True):
        np.testing.assert_array_equal(np.asarray(a, dtype=bool), b)
    assert set(gt.setting_indices) == set(SETTINGS)
    for s in SETTINGS:
        for image_id, a, b in zip(
            gt.image_ids, gt.setting_indices[s], val_gt.settings[s], strict=True
        ):
            np.testing.assert_array_equal(
                np.sort(np.asarray(a, dtype=np.int64)), np.sort(b), image_id
            )
    official = evaluate_official(gt, generated.predictions)
    omz = evaluate_omz(gt, generated.predictions)
    check_full_val(official, omz, reference_results, val_gt, generated)


# ----------------------------------------------------------------------------------------------
# Hand-made cases: answers worked out by hand, checked on both implementations
# ----------------------------------------------------------------------------------------------

IMPLS = ("reference", "rfbench")


def run_official(impl, image_ids, boxes, gt_lists, preds: dict) -> RefResult:
    """One setting (the same gt_list is given for easy, medium and hard)."""
    boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    gt_lists = [np.asarray(g, dtype=np.int64) for g in gt_lists]
    preds = {k: np.asarray(v, dtype=np.float64).reshape(-1, 5) for k, v in preds.items()}
    if impl == "reference":
        return evaluate_official_reference(boxes, gt_lists, [preds.get(i) for i in image_ids])
    from rfbench.evaluation import evaluate_official
    from rfbench.wider.ground_truth import WiderGroundTruth

    gt = WiderGroundTruth.from_arrays(
        image_ids, boxes, setting_indices={s: gt_lists for s in SETTINGS}
    )
    results = evaluate_official(gt, preds)
    for s in SETTINGS[1:]:
        assert results[s].ap == results["easy"].ap
    r = results["hard"]
    return RefResult(r.ap, np.asarray(r.precision), np.asarray(r.recall), r.num_faces)


def run_omz(impl, image_ids, boxes, preds: dict) -> RefResult:
    boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    preds = {k: np.asarray(v, dtype=np.float64).reshape(-1, 5) for k, v in preds.items()}
    if impl == "reference":
        return evaluate_omz_reference(boxes, [preds.get(i) for i in image_ids])
    from rfbench.evaluation import evaluate_omz
    from rfbench.wider.ground_truth import WiderGroundTruth

    r = evaluate_omz(WiderGroundTruth.from_arrays(image_ids, boxes), preds)
    return RefResult(r.ap, np.asarray(r.precision), np.asarray(r.recall), r.num_faces)


def steps(*pieces: tuple[int, float]) -> np.ndarray:
    """A 1000-long array over k = 1..1000: value v from threshold index k onwards."""
    out = np.full(1000, NAN)
    for k, v in pieces:
        out[k - 1 :] = v
    return out


def assert_pr(res: RefResult, precision, recall, ap):
    np.testing.assert_allclose(res.recall, recall, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.precision, precision, rtol=0, atol=1e-12, equal_nan=True)
    assert res.ap == pytest.approx(ap, abs=1e-12)


# Case A: one image, two faces, a duplicate hit (no one-to-one matching).
# G1 = (0,0,100,100), G2 = (200,0,100,100), both evaluated. Predictions, score order:
#   P1 = G1 exact 0.9 | P2 = G1 exact again 0.8 | P3 far away 0.7 | P4 = G2 exact 0.6
# normalised (min 0.6, max 0.9): 1, 0.667, 0.333, 0 -> enter at k = 1, 334, 667, 1000.
#   k 1..333: 1 proposal, 1 recalled  -> P 1,   R 0.5
#   k 334..666: P2 is a 2nd hit on G1, still a proposal -> 2, 1 -> P 0.5
#   k 667..999: 3, 1 -> P 1/3;   k 1000: 4, 2 -> P 0.5, R 1
# AP = 0.5 * 1 + 0.5 * 0.5 = 0.75 (one-to-one matching would give 0.5 + 0.5 * 2/3).
CASE_A_GT = [[0, 0, 100, 100], [200, 0, 100, 100]]
CASE_A_PRED = [
    [0, 0, 100, 100, 0.9],
    [0, 0, 100, 100, 0.8],
    [600, 600, 50, 50, 0.7],
    [200, 0, 100, 100, 0.6],
]
CASE_A_P = steps((1, 1.0), (334, 0.5), (667, 1 / 3), (1000, 0.5))
CASE_A_R = steps((1, 0.5), (1000, 1.0))


@pytest.mark.parametrize("impl", IMPLS)
def test_official_duplicate_hit(impl):
    res = run_official(impl, ["e/a"], [CASE_A_GT], [[0, 1]], {"e/a": CASE_A_PRED})
    assert res.num_faces == 2
    assert_pr(res, CASE_A_P, CASE_A_R, 0.75)


@pytest.mark.parametrize("impl", IMPLS)
def test_official_best_gt_outside_gt_list_is_dropped(impl):
    # G1 = (0,0,100,100) evaluated, G2 = (20,0,100,100) NOT evaluated, G3 = (400,0,100,100) evaluated.
    # P = (22,0,100,100) score 1.0: IoU(+1) with G2 = 9999/10403 = 0.961 (best), with G1
    #   7979/12423 = 0.642 >= 0.5, but the best GT is outside gt_list -> dropped, not a proposal.
    # P3 = G3 exact 0.4567 (enters at k = 544), P1 = G1 exact 0.0 (k = 1000). Scores already in [0, 1].
    #   k 1..543: 0 proposals -> P NaN, R 0;  k 544..999: 1, 1 -> P 1, R 0.5;  k 1000: 2, 2 -> 1, 1.
    # AP = 1.0. (Best over gt_list only would give P 1, R 0.5 already at k = 1 and P 2/3 at k = 1000.)
    gt = [[0, 0, 100, 100], [20, 0, 100, 100], [400, 0, 100, 100]]
    preds = [[22, 0, 100, 100, 1.0], [400, 0, 100, 100, 0.4567], [0, 0, 100, 100, 0.0]]
    res = run_official(impl, ["e/b"], [gt], [[0, 2]], {"e/b": preds})
    assert res.num_faces == 2
    assert_pr(res, steps((544, 1.0)), steps((1, 0.0), (544, 0.5), (1000, 1.0)), 1.0)


@pytest.mark.parametrize("impl", IMPLS)
def test_official_tied_scores_in_any_order(impl):
    # G1 = (0,0,100,100), G2 = (300,0,100,100). Pa = (2,2,100,100) 1.0 hits G1 (IoU 9801/10601).
    # Three tied at 0.4567 (enter at k = 544): G1 exact, a far FP, G2 exact. Pz far FP 0.0 (k = 1000).
    #   k 1..543: 1, 1 -> P 1, R 0.5;  k 544..999: 4, 2 -> P 0.5, R 1;  k 1000: 5, 2 -> P 0.4.
    # AP = 0.5 + 0.5 * 0.5 = 0.75, whatever the order of the ties (or of the whole file).
    gt = [[0, 0, 100, 100], [300, 0, 100, 100]]
    tied = [[0, 0, 100, 100, 0.4567], [700, 700, 60, 60, 0.4567], [300, 0, 100, 100, 0.4567]]
    pa, pz = [2, 2, 100, 100, 1.0], [800, 100, 30, 30, 0.0]
    expected_p = steps((1, 1.0), (544, 0.5), (1000, 0.4))
    expected_r = steps((1, 0.5), (544, 1.0))
    orders = [[pa, *perm, pz] for perm in itertools.permutations(tied)]
    orders.append([pz, tied[2], pa, tied[0], tied[1]])
    for preds in orders:
        res = run_official(impl, ["e/d"], [gt], [[0, 1]], {"e/d": preds})
        assert_pr(res, expected_p, expected_r, 0.75)


@pytest.mark.parametrize("impl", IMPLS)
def test_official_faceless_image_predictions(impl):
    # Image 1: G1 = (0,0,100,100) evaluated; P1 = G1 exact 0.55, Pf far FP 0.3123.
    # Image 2: face-less (MATLAB keeps its all-zero row, gt_list empty): F1 0.9, F2 0.1 far from
    # (0,0,0,0): both are proposals (false positives); they also set the global min/max.
    # normalised: F1 1 (k >= 1), P1 0.5625 (k >= 438), Pf 0.265375 (k >= 735), F2 0 (k = 1000).
    #   k 1..437: 1 proposal, 0 recalled -> P 0, R 0;   k 438..734: 2, 1 -> P 0.5, R 1
    #   k 735..999: 3, 1 -> P 1/3;   k 1000: 4, 1 -> P 0.25.   AP = 0.5.
    # (Spec step 3 read literally, all-zero row removed and the image skipped: AP = 1.0.)
    preds = {
        "e/one": [[500, 500, 20, 20, 0.3123], [0, 0, 100, 100, 0.55]],
        "e/none": [[10, 10, 50, 50, 0.9], [200, 200, 50, 50, 0.1]],
    }
    ids, boxes, lists = ["e/one", "e/none"], [[[0, 0, 100, 100]], np.zeros((0, 4))], [[0], []]
    res = run_official(impl, ids, boxes, lists, preds)
    assert res.num_faces == 1
    assert_pr(
        res,
        steps((1, 0.0), (438, 0.5), (735, 1 / 3), (1000, 0.25)),
        steps((1, 0.0), (438, 1.0)),
        0.5,
    )
    # a prediction whose best IoU (+1) with the all-zero row is >= 0.5 is dropped, as in MATLAB:
    # (0,0,0.3,0.3) -> IoU 1 / (1 + 1.69 - 1) = 0.59
    preds["e/none"] = [[0, 0, 0.3, 0.3, 0.9], [200, 200, 50, 50, 0.1]]
    res = run_official(impl, ids, boxes, lists, preds)
    #   k 1..437: 0 proposals -> NaN;  k 438..734: 1, 1 -> 1;  k 735..999: 2, 1;  k 1000: 3, 1
    assert_pr(
        res,
        steps((438, 1.0), (735, 0.5), (1000, 1 / 3)),
        steps((1, 0.0), (438, 1.0)),
        1.0,
    )
    if impl == "reference":
        skip = evaluate_official_reference(
            [np.array(b, dtype=np.float64).reshape(-1, 4) for b in boxes],
            [np.array(g, dtype=np.int64) for g in lists],
            [np.array(preds[i], dtype=np.float64) for i in ids],
            faceless="skip",
        )
        assert skip.ap == 1.0 and np.isnan(skip.precision[:437]).all()


def test_official_unsorted_files_give_the_sorted_answer(tmp_path: Path):
    """Case A written sorted, reversed and shuffled, read back with rfbench's reader."""
    from rfbench.evaluation import evaluate_official
    from rfbench.wider.ground_truth import WiderGroundTruth
    from rfbench.wider.predictions import read_predictions

    gt = WiderGroundTruth.from_arrays(
        ["e/a"],
        [np.array(CASE_A_GT, dtype=np.float64)],
        setting_indices={s: [np.array([0, 1])] for s in SETTINGS},
    )
    pred = np.array(CASE_A_PRED, dtype=np.float64)
    for n, order in enumerate(([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1])):
        folder = tmp_path / f"run{n}"
        (folder / "e").mkdir(parents=True)
        (folder / "e" / "a.txt").write_text(format_prediction_file("e/a", pred[order]))
        preds, missing = read_predictions(folder, ["e/a"])
        assert list(missing) == []
        np.testing.assert_array_equal(preds["e/a"], pred[order])  # file order kept
        r = evaluate_official(gt, preds)["hard"]
        assert_pr(RefResult(r.ap, r.precision, r.recall, r.num_faces), CASE_A_P, CASE_A_R, 0.75)
        ref = evaluate_official_reference(
            [np.array(CASE_A_GT, float)], [np.array([0, 1])], [pred[order]]
        )
        assert_pr(ref, CASE_A_P, CASE_A_R, 0.75)


@pytest.mark.parametrize("impl", IMPLS)
def test_omz_prediction_on_ignored_face(impl):
    # G1 = (0,0,100,100) counted (h 100); G2 = (300,0,40,40) ignored (h 40 < 64). One counted face.
    #   0.9 on G2: no counted GT >= 0.5, ignored G2 hit the first time -> neither (P 0/0, R 0)
    #   0.8 on G2 again -> FP (P 0);  0.7 on G1 -> TP (P 1/2, R 1);  0.6 far away -> FP (P 1/3)
    # AP = 1 * 0.5 = 0.5 (ignored hits as FP: 1/3; every ignored hit neutral: 1.0).
    gt = [[0, 0, 100, 100], [300, 0, 40, 40]]
    preds = [
        [300, 0, 40, 40, 0.9],
        [600, 600, 50, 50, 0.6],
        [0, 0, 100, 100, 0.7],
        [300, 0, 40, 40, 0.8],
    ]
    res = run_omz(impl, ["e/c"], [gt], {"e/c": preds})
    assert res.num_faces == 1
    assert np.isnan(res.precision[0]) or res.precision[0] == 0  # 0/0
    np.testing.assert_allclose(res.precision[1:], [0, 0.5, 1 / 3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.recall, [0, 0, 1, 1], atol=1e-12)
    assert res.ap == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_omz_counted_face_wins_over_better_ignored_one(impl):
    # G1 = (0,0,100,100) counted; G2 = (0,0,100,60) ignored. P = (0,0,100,70):
    # IoU G1 0.7, IoU G2 6000/7000 = 0.857; the best counted GT is >= 0.5 -> TP. AP = 1.
    res = run_omz(
        impl, ["e/h"], [[[0, 0, 100, 100], [0, 0, 100, 60]]], {"e/h": [[0, 0, 100, 70, 0.5]]}
    )
    assert res.num_faces == 1
    assert_pr(res, [1.0], [1.0], 1.0)


@pytest.mark.parametrize("impl", IMPLS)
def test_omz_rounding_clipping_and_faceless_image(impl):
    # Image 1 GT: A (0,0,100,100) counted; B (1030,0,100,100) clipped to x 1024..1024, empty ->
    # ignored; C (0,1000,100,100) clipped to h 24 -> ignored; D (500,0,50,1030) clipped to h 1024
    # -> ignored (not < 1024); E (300,0,10,64) counted (width never checked); F (320,0,10,63) ignored.
    # Counted faces: 2.  Image 2: no GT at all.
    #   0.9 (50.5,0,49.5,100) -> corners (50.5,0,100,100) -> rint half-to-even (50,0,100,100):
    #       IoU with A = 5000/10000 = 0.5 -> TP (half-up 51 or no rounding: < 0.5, FP)
    #   0.8 on image 2 -> FP;  0.7 = E exact -> TP
    # P 1, 1/2, 2/3; R 0.5, 0.5, 1 -> AP = 0.5 * 1 + 0.5 * 2/3 = 0.8333...
    gt1 = [
        [0, 0, 100, 100],
        [1030, 0, 100, 100],
        [0, 1000, 100, 100],
        [500, 0, 50, 1030],
        [300, 0, 10, 64],
        [320, 0, 10, 63],
    ]
    preds = {
        "e/g1": [[300, 0, 10, 64, 0.7], [50.5, 0, 49.5, 100, 0.9]],
        "e/g2": [[10, 10, 50, 50, 0.8]],
    }
    res = run_omz(impl, ["e/g1", "e/g2"], [gt1, np.zeros((0, 4))], preds)
    assert res.num_faces == 2
    assert_pr(res, [1.0, 0.5, 2 / 3], [0.5, 0.5, 1.0], 0.5 + 0.5 * 2 / 3)


# Exact IoU ties in OMZ: A = (100,0,100,100), B = (104,0,100,100), both counted.
# T = (102,0,100,100) has IoU 9800/10200 with both. The accuracy checker takes every GT at the
# best IoU together (np.where(overlaps == max_overlap)): TP only if none is used, then all used.
OMZ_A, OMZ_B, OMZ_T = [100, 0, 100, 100], [104, 0, 100, 100], [102, 0, 100, 100]


@pytest.mark.parametrize("impl", IMPLS)
def test_omz_tie_consumes_all_tied_faces(impl):
    # T 0.9 -> TP (A and B both used);  A exact 0.8 -> FP;  B exact 0.7 -> FP.
    # P 1, 1/2, 1/3; R 0.5, 0.5, 0.5; AP = 0.5.
    preds = {"e/t": [[*OMZ_T, 0.9], [*OMZ_A, 0.8], [*OMZ_B, 0.7]]}
    res = run_omz(impl, ["e/t"], [[OMZ_A, OMZ_B]], preds)
    assert_pr(res, [1.0, 0.5, 1 / 3], [0.5, 0.5, 0.5], 0.5)


@pytest.mark.parametrize("impl", IMPLS)
def test_omz_false_positive_on_a_tie_marks_nothing(impl):
    # A' = (98,0,100,100) 0.9 -> TP on A (IoU 9800/10200 with A beats 9400/10600 with B).
    # T 0.8: tied A (used) and B -> FP, and nothing is marked (only a TP marks).
    # B exact 0.7 -> B unused -> TP.   P 1, 1/2, 2/3; R 0.5, 0.5, 1; AP = 0.5 + 0.5 * 2/3.
    preds = {"e/t": [[98, 0, 100, 100, 0.9], [*OMZ_T, 0.8], [*OMZ_B, 0.7]]}
    res = run_omz(impl, ["e/t"], [[OMZ_A, OMZ_B]], preds)
    assert_pr(res, [1.0, 0.5, 2 / 3], [0.5, 0.5, 1.0], 0.5 + 0.5 * 2 / 3)


@pytest.mark.parametrize("impl", IMPLS)
def test_omz_tie_between_counted_and_ignored_face(impl):
    # C = (0,0,100,100) counted; I = (0,0,200,50) ignored (h 50). P = (0,0,100,50): IoU 0.5 with
    # both. An ignored GT among the tied best -> an ignored hit: neither TP nor FP, C and I used.
    # Then C exact -> FP.  P 0/0 (NaN; 0 accepted), 0; R 0, 0; AP = 0.
    preds = {"e/m": [[0, 0, 100, 50, 0.9], [0, 0, 100, 100, 0.8]]}
    res = run_omz(impl, ["e/m"], [[[0, 0, 100, 100], [0, 0, 200, 50]]], preds)
    assert res.num_faces == 1
    assert np.isnan(res.precision[0]) or res.precision[0] == 0
    np.testing.assert_allclose(res.precision[1:], [0.0])
    np.testing.assert_allclose(res.recall, [0.0, 0.0])
    assert res.ap == 0.0
